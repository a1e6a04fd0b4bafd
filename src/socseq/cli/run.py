"""``socseq run CONFIG`` and ``socseq validate CONFIG``: thin shells over :mod:`socseq.pipeline`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from socseq.cli.progress import progress_bars
from socseq.pipeline.config import load_run_config
from socseq.pipeline.validate import validate_config
from socseq.report.numbers import fmt_number, timing_line

console = Console()
err_console = Console(stderr=True)


def summary_table(summary: Path | pd.DataFrame) -> Table:
    """Build the domain-wide scenario table of a run's ``summary.csv`` as the terminal shows it.

    Numbers are formatted as in the report (:mod:`socseq.report.numbers`); the 4-per-1000
    share stands beside its denominator, the simulated cropland area, and the caption gives
    the area of the means and totals.
    """
    frame = pd.read_csv(summary) if isinstance(summary, Path) else summary
    frame = frame[frame["zone"] == "all"]
    first = frame.iloc[0] if len(frame) else None
    caption = None
    if first is not None:
        caption = (
            f"means and totals over {fmt_number(first['simulated_area_ha'], 'area')} ha "
            f"simulated ({int(first['simulated_cells']):,} cells)"
        )
    table = Table(
        title="Scenario summary (area-weighted means over simulated cells)",
        caption=caption,
        show_edge=False,
    )
    for column in (
        "scenario",
        "mean ASR\nt C/ha/yr",
        "mean RSR\nt C/ha/yr",
        "total ASR\nt C/yr",
        "simulated\ncropland (ha)",
        "reaching 4 per 1000\n(% of that cropland)",
    ):
        table.add_column(column, justify="right")
    for _, row in frame.iterrows():
        table.add_row(
            str(row["scenario"]),
            fmt_number(row["mean_asr_t_ha_yr"], "rate"),
            fmt_number(row["mean_rsr_t_ha_yr"], "rate"),
            fmt_number(row["total_asr_t_yr"], "total"),
            fmt_number(row["simulated_cropland_area_ha"], "area"),
            fmt_number(row["share_4p1000_pct"], "share"),
        )
    return table


def print_summary(summary_csv: Path, *, target: Console | None = None) -> None:
    """Print the domain-wide scenario table of a run's ``summary.csv``."""
    (target or console).print(summary_table(summary_csv))


def run_line(timings: dict[str, float]) -> str:
    """Return the run's stage times as ``run.json`` and the report give them."""
    return f"run: {timing_line(timings)} (as in run.json and the report)"


def print_dsm_line(manifest: dict[str, Any]) -> None:
    """Say whether the ``[dsm]`` baseline was reused or computed, and why (``run.json``'s note)."""
    dsm = manifest.get("dsm")
    if isinstance(dsm, dict) and dsm.get("note"):
        # One line, unwrapped: the key is copied from it.
        console.print(f"dsm: {dsm['note']}", highlight=False, markup=False, soft_wrap=True)


#: The ``--threads`` option of ``socseq run`` and ``socseq demo``.
threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Cores the run may use (default: all); tasks × threads per task stay within it.",
)

#: The ``--no-reuse`` option of ``socseq run`` and ``socseq demo``.
no_reuse_option = click.option(
    "--no-reuse",
    is_flag=True,
    help="Recompute the [dsm] baseline even when the previous run's dsm/ was made from the "
    "same inputs, settings and software.",
)


@click.command("run")
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (overrides run.output_dir).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Run on a dask.distributed LocalCluster with N worker processes.",
)
@click.option("--scheduler", help="Address of an existing dask.distributed scheduler.")
@threads_option
@click.option(
    "--keep-work",
    is_flag=True,
    help="Keep the scratch stores: DSM maps and window results (OUTPUT/.socseq-work).",
)
@click.option("--no-report", is_flag=True, help="Skip the HTML report.")
@no_reuse_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def run_command(
    config_path: Path,
    out_dir: Path | None,
    workers: int | None,
    scheduler: str | None,
    threads: int | None,
    keep_work: bool,
    no_report: bool,
    no_reuse: bool,
    quiet: bool,
) -> None:
    """Run the whole chain on CONFIG: (DSM →) spin-up → warm-up → scenarios → products."""
    # Imported here: `socseq validate` lives in this module too and needs none of the run's
    # engine, scratch stores and products (numba, zarr: half a second of imports).
    from socseq.pipeline.run import run_pipeline

    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    config = load_run_config(config_path)
    reported: float | None = None

    def report_into(stage: Path) -> None:
        """Build the report into the run's stage, so it is published with the products."""
        from socseq.report import build_report

        nonlocal reported
        began = time.perf_counter()
        build_report(stage)
        reported = time.perf_counter() - began

    wants_report = config.outputs.report and not no_report
    with progress_bars(quiet) as progress:
        result = run_pipeline(
            config,
            output_dir=out_dir,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            keep_work=keep_work,
            threads=threads,
            # The report is built into the stage and published with the products.
            before_publish=report_into if wants_report else None,
            reuse_dsm=not no_reuse,
        )
    print_summary(result.summary_csv)
    cells = result.manifest["cells"]
    console.print(
        f"{cells['simulated']:,} cells simulated, "
        f"{sum(cells['excluded'].values()):,} agricultural cells excluded "
        "(see exclusions.csv)",
        highlight=False,
    )
    console.print(run_line(result.manifest["timings_s"]), highlight=False, markup=False)
    print_dsm_line(result.manifest)
    if reported is not None:
        console.print(
            f"report: {result.output_dir / 'report.html'} ({fmt_number(reported, 'seconds')} s)",
            highlight=False,
            markup=False,
        )
    console.print(f"products: {result.output_dir}", highlight=False, markup=False)


@click.command("validate")
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Only the first line.")
def validate_command(config_path: Path, quiet: bool) -> None:
    """Check CONFIG and every input (files, CRS, units, legend, overlap) without running."""
    config = load_run_config(config_path)
    info = validate_config(config)
    for warning in info["warnings"]:
        click.echo(f"warning: {warning}", err=True)  # even with -q: a warning is not progress
    grid = info["grid"]
    res = " × ".join(f"{r:g}" for r in grid["resolution"])
    say = _say
    say(
        f"configuration OK: {grid['width']} × {grid['height']} cells of {res} "
        f"({grid['crs']}), {info['candidate_cells']:,} agricultural cells"
    )
    if quiet:
        return
    periods = info["periods"]
    say(
        f"periods: spin-up {periods['spinup'][0]}–{periods['spinup'][1]}, warm-up "
        f"{periods['warmup'][0]}–{periods['warmup'][1]}, forward {periods['forward_years']} "
        f"years; SOC baseline from {info['baseline']}"
    )
    say(f"land use: {info['land_use']}")
    if info["domain"] is not None:
        say(_domain_line(info["domain"]))
    table = Table(title="Agricultural and other classes on the grid", show_edge=False)
    for column in ("code", "class", "cells", "area (ha)"):
        table.add_column(column, justify="right" if column != "class" else "left")
    for code, row in sorted(info["by_class"].items()):
        table.add_row(str(code), str(row["name"]), f"{row['cells']:,}", f"{row['area_ha']:,.0f}")
    console.print(table)
    say(
        f"{info['survey_cells']:,} cells would be simulated "
        f"({info['survey_area_ha']:,.0f} ha); excluded:"
    )
    for reason, cells in info["excluded"].items():
        if cells:
            say(f"  {reason}: {cells:,}")
    say("  (climate checked in the first month of each series; a run checks every month)")
    for name, cells in info["coastal_filled_cells"].items():
        if cells:
            say(f"{name}: {cells:,} coastal cells filled from the nearest climate cell")
    methods = ", ".join(f"{k} {v}" for k, v in info["resampling"].items())
    say(f"resampling: {methods}")


def _domain_line(domain: dict[str, Any]) -> str:
    """Say how much of the grid and of the cropland lies inside the ``[domain]``."""

    def share(part: float, whole: float) -> str:
        return f"{100 * part / whole:.3g} %" if whole > 0 else "–"

    return (
        f"domain {domain['path']}: {domain['cells']:,} of {domain['grid_cells']:,} grid cells "
        f"inside ({share(domain['cells'], domain['grid_cells'])}); cropland inside: "
        f"{domain['cropland_cells']:,} of {domain['cropland_cells_all']:,} cells, "
        f"{domain['cropland_area_ha']:,.0f} of {domain['cropland_area_ha_all']:,.0f} ha "
        f"({share(domain['cropland_area_ha'], domain['cropland_area_ha_all'])})"
    )


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False)
