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
    "--keep-work",
    is_flag=True,
    help="Keep the staged inputs and phase results (OUTPUT/.socseq-work).",
)
@click.option("--no-report", is_flag=True, help="Skip the HTML report.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def run_command(
    config_path: Path,
    out_dir: Path | None,
    workers: int | None,
    scheduler: str | None,
    keep_work: bool,
    no_report: bool,
    quiet: bool,
) -> None:
    """Run the whole chain on CONFIG: (DSM →) spin-up → warm-up → scenarios → products."""
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers or --scheduler, not both")
    config = load_run_config(config_path)
    report = None
    if config.outputs.report and not no_report:
        from socseq.report import build_report as report
    with progress_bars(quiet) as progress:
        result = run_pipeline(
            config,
            output_dir=out_dir,
            workers=workers,
            scheduler=scheduler,
            progress=progress,
            keep_work=keep_work,
            before_publish=report,  # the report is published with the products
        )
    print_summary(result.summary_csv)
    cells = result.manifest["cells"]
    console.print(
        f"{cells['simulated']:,} cells simulated, "
        f"{sum(cells['excluded'].values()):,} agricultural cells excluded "
        f"(see exclusions.csv); {result.timings_s['total']:.1f} s",
        highlight=False,
    )
    if report is not None:
        console.print(f"report: {result.output_dir / 'report.html'}", highlight=False, markup=False)
    console.print(f"products: {result.output_dir}", highlight=False, markup=False)


@click.command("validate")
@click.argument("config_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def validate_command(config_path: Path, quiet: bool) -> None:
    """Check CONFIG and every input (files, CRS, units, ranges, overlap) without running."""
    config = load_run_config(config_path)
    with progress_bars(quiet) as progress:
        info = validate_config(config, progress=progress)
    console.print(f"configuration OK: {info['grid']}", highlight=False, markup=False)
    console.print(
        f"{info['candidate_cells']:,} agricultural cells of {info['cells']:,} grid cells",
        highlight=False,
    )
    for name, cells in info["coastal_filled_cells"].items():
        if cells:
            console.print(
                f"{name}: {cells:,} coastal cells filled from the nearest cell",
                highlight=False,
                markup=False,
            )
