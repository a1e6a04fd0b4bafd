"""``socseq demo``: the whole chain on the embedded demo region, ending with the report."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console

from socseq.cli.progress import progress_bars
from socseq.cli.run import (
    no_reuse_option,
    print_dsm_line,
    print_summary,
    run_line,
    threads_option,
)
from socseq.demo.region import DEFAULT_SEED, build_region
from socseq.pipeline.config import load_run_config
from socseq.pipeline.run import run_pipeline

console = Console()

#: What the report says about the demo's inputs (docs/demo-region.md has the details).
DEMO_NOTES = (
    "Demo region: real coastline (GLOBE via the global-land-mask package) and real MODIS "
    "MCD12C1 2019 land cover (0.05°, reclassified to the FAO classes); everything else is "
    "synthetic and deterministic: terrain, clay, NDVI, the 1981–2020 monthly climate, the "
    "paddy share of lowland cropland, and the soil samples, whose SOC follows a known "
    "equation plus noise (docs/demo-region.md).",
    "The numbers describe this synthetic region, not Taiwan.",
)


@click.command("demo")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("socseq-demo"),
    show_default=True,
    help="Folder for the region's inputs (region/) and the run's products.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Run on a dask.distributed LocalCluster with N worker processes.",
)
@click.option(
    "--seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="Seed of the synthetic fields of the region.",
)
@threads_option
@no_reuse_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def demo(
    out_dir: Path,
    workers: int | None,
    seed: int,
    threads: int | None,
    no_reuse: bool,
    quiet: bool,
) -> None:
    """Run DSM → spin-up → warm-up → BAU, SSM1–3 → products → report on the demo region.

    Safe to re-run into the same folder: the region is rebuilt only when missing, the DSM of
    the previous run is reused when its inputs are unchanged, and the products are replaced
    only when the new run has succeeded.
    """
    from socseq.outputs import lock_output
    from socseq.report import build_report
    from socseq.report.numbers import fmt_number

    started = time.perf_counter()
    reported = 0.0

    def report_into(stage: Path) -> None:
        """Build the report into the run's stage, so it is published with the products."""
        nonlocal reported
        began = time.perf_counter()
        build_report(stage)
        reported = time.perf_counter() - began

    # One writer per folder: the lock covers the region build too (the run re-enters it).
    with lock_output(out_dir, "demo"):
        region = out_dir / "region"
        config_path = build_region(region, seed=seed)
        built = time.perf_counter() - started
        config = load_run_config(config_path)
        with progress_bars(quiet) as progress:
            result = run_pipeline(
                config,
                output_dir=out_dir,
                workers=workers,
                threads=threads,
                progress=progress,
                notes=list(DEMO_NOTES),
                before_publish=report_into,
                reuse_dsm=not no_reuse,
            )
    report = result.output_dir / "report.html"
    print_summary(result.summary_csv)
    # One timing source: the run's stage times are run.json's; the region and the report
    # are timed here, outside the run, and named so.
    console.print(run_line(result.manifest["timings_s"]), highlight=False, markup=False)
    print_dsm_line(result.manifest)
    console.print(
        f"besides the run: region {fmt_number(built, 'seconds')} s (built on the first run, "
        f"then reused), report {fmt_number(reported, 'seconds')} s",
        highlight=False,
        markup=False,
    )
    console.print(f"report: {report}", highlight=False, markup=False)
