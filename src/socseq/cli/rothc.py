"""``socseq rothc``: one site from an official Rothamsted input file (no geospatial stack)."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from socseq.cli import error_line, fail
from socseq.exceptions import SocseqError

__all__ = ["rothc"]

console = Console()
err_console = Console(stderr=True)

EXAMPLE_INPUT = "example_rothc_input.dat"


@click.command("rothc")
@click.argument("input_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("socseq-out/rothc"),
    show_default=True,
    help="Folder for month_results and year_results.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "rothamsted"]),
    default="csv",
    show_default=True,
    help="csv: full precision, official v2 column names; rothamsted: the official "
    "month_results.out/year_results.out text layout.",
)
@click.option(
    "--spinup",
    type=click.Choice(["rothamsted", "exact"]),
    default="rothamsted",
    show_default=True,
    help="rothamsted: the official iteration (reproduces the official month count); "
    "exact: the periodic equilibrium solved directly.",
)
@click.option(
    "--constants",
    type=click.Choice(["official", "decimal"]),
    default="official",
    show_default=True,
    help="official: float32 literals as the Fortran code (byte-identical outputs); "
    "decimal: the published decimal values (as RothC_Py and RothC_R).",
)
@click.option(
    "--example",
    is_flag=True,
    help="Run the example input shipped with socseq instead of INPUT_FILE.",
)
def rothc(
    input_file: Path | None, out_dir: Path, fmt: str, spinup: str, constants: str, example: bool
) -> None:
    """Run one site from an official RothC input file (v2, v1 or v1 without month column).

    Drop-in for the Rothamsted RothC 2.0.0 program: reads RothC_input.dat, spins up on the
    first 12 rows, runs the rest forward and writes month and year results, both or neither.
    A malformed input is reported in one line (file, line, column) with exit status 2, and
    nothing is written.
    """
    from socseq.rothc.parameters import RothCParameters
    from socseq.rothc.rothamsted_io import read_rothamsted_input, write_results
    from socseq.rothc.site import run_rothamsted

    if example == (input_file is not None):
        raise click.UsageError("give either INPUT_FILE or --example")
    started = time.perf_counter()
    try:
        if example:
            with resources.as_file(resources.files("socseq.data") / EXAMPLE_INPUT) as path:
                site = read_rothamsted_input(path)
        else:
            assert input_file is not None
            site = read_rothamsted_input(input_file)
        params = (
            RothCParameters.rothamsted() if constants == "official" else RothCParameters.decimal()
        )
        with err_console.status("running RothC (spin-up, forward)"):
            month, year = run_rothamsted(
                site, spinup="exact" if spinup == "exact" else "rothamsted", params=params
            )
        written = write_results(
            out_dir, month, year, fmt="rothamsted" if fmt == "rothamsted" else "csv"
        )
    except (SocseqError, OSError) as exc:
        fail(error_line(exc))
    elapsed = time.perf_counter() - started

    table = Table(
        title=escape(f"RothC {site.source.name}"),
        caption=f"layout {site.layout}, opt_RMmoist {site.opt_rmmoist}, "
        f"opt_SMDbare {site.opt_smdbare}",
        show_edge=False,
    )
    for column in ("Year", "SOC_t_C_ha", "CO2_t_C_ha", "deltaC"):
        table.add_column(column, justify="right")
    shown = year if len(year) <= 8 else year.iloc[[0, 1, 2, 3, -3, -2, -1]]
    for _, row in shown.iterrows():
        delta = "" if row["deltaC"] != row["deltaC"] else f"{row['deltaC']:.2f}"
        table.add_row(
            str(int(row["Year"])), f"{row['SOC_t_C_ha']:.4f}", f"{row['CO2_t_C_ha']:.4f}", delta
        )
    console.print(table)
    console.print(
        f"spin-up: {int(month['Month'].iloc[1])} months; forward: "
        f"{len(month) - 2} months; {elapsed:.2f} s",
        highlight=False,
    )
    for path in written:
        console.print(f"wrote {path}", highlight=False, markup=False)
