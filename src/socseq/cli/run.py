"""``socseq run CONFIG`` and ``socseq validate CONFIG``: thin shells over :mod:`socseq.pipeline`."""

from __future__ import annotations

import math
from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from socseq.cli.progress import progress_bars
from socseq.pipeline.config import load_run_config
from socseq.pipeline.run import run_pipeline, validate_config

console = Console()
err_console = Console(stderr=True)


def print_summary(summary_csv: Path) -> None:
    """Print the domain-wide scenario table of a run's ``summary.csv``."""
    frame = pd.read_csv(summary_csv)
    frame = frame[frame["zone"] == "all"]
    table = Table(
        title="Scenario summary (area-weighted means over simulated cells)", show_edge=False
    )
    for column in (
        "scenario",
        "mean ASR\nt C/ha/yr",
        "mean RSR\nt C/ha/yr",
        "total ASR\nt C/yr",
        "cropland reaching\n4 per 1000 (%)",
    ):
        table.add_column(column, justify="right")
    for _, row in frame.iterrows():
        rsr = row["mean_rsr_t_ha_yr"]
        table.add_row(
            str(row["scenario"]),
            f"{row['mean_asr_t_ha_yr']:.4f}",
            "–" if isinstance(rsr, float) and math.isnan(rsr) else f"{rsr:.4f}",
            f"{row['total_asr_t_yr']:,.0f}",
            f"{row['share_4p1000_pct']:.1f}",
        )
    console.print(table)


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
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Cores the run may use (default: all); tasks × threads per task stay within it.",
)
@click.option(
    "--keep-work",
    is_flag=True,
    help="Keep the scratch stores: DSM maps and window results (OUTPUT/.socseq-work).",
)
@click.option("--no-report", is_flag=True, help="Skip the HTML report.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def run_command(
    config_path: Path,
    out_dir: Path | None,
    workers: int | None,
    scheduler: str | None,
    threads: int | None,
    keep_work: bool,
    no_report: bool,
    quiet: bool,
) -> None:
    """Run the whole chain on CONFIG: (DSM →) spin-up → warm-up → scenarios → products."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    config = load_run_config(config_path)
    with progress_bars(quiet) as progress:
        result = run_pipeline(
            config,
            output_dir=out_dir,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            keep_work=keep_work,
            threads=threads,
        )
    print_summary(result.summary_csv)
    cells = result.manifest["cells"]
    console.print(
        f"{cells['simulated']:,} cells simulated, "
        f"{sum(cells['excluded'].values()):,} agricultural cells excluded "
        f"(see exclusions.csv); {result.timings_s['total']:.1f} s",
        highlight=False,
    )
    if config.outputs.report and not no_report:
        from socseq.report import build_report

        report = build_report(result.output_dir)
        console.print(f"report: {report}", highlight=False, markup=False)
    console.print(f"products: {result.output_dir}", highlight=False, markup=False)


@click.command("validate")
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Only the first line.")
def validate_command(config_path: Path, quiet: bool) -> None:
    """Check CONFIG and every input (files, CRS, units, legend, overlap) without running."""
    config = load_run_config(config_path)
    info = validate_config(config)
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


def _say(text: str) -> None:
    console.print(text, highlight=False, markup=False)
