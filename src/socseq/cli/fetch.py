"""``socseq fetch``: download the public inputs for a box and write ``socseq.toml``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import click

from socseq.progress import Progress

if TYPE_CHECKING:  # the fetch package is imported when the command runs
    from socseq.fetch import FetchPlan, HttpOptions


def _human(size: int | None, exact: bool) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            text = f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
            return text if exact else f"≈ {text}"
        value /= 1000
    return "?"  # pragma: no cover


@contextmanager
def _bars(quiet: bool) -> Iterator[Progress | None]:
    """One rich bar per file on standard error (bytes, or rows of a remote window)."""
    if quiet:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f} %"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as bar:

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total or None)
            bar.update(tasks[label], completed=done, total=total or None)

        yield update


class _Common(TypedDict):
    """The keyword arguments that ``plan_fetch`` and ``fetch`` share, typed for both calls."""

    boundary: Path | None
    years: str
    out: Path
    sources: tuple[str, ...] | None
    sources_file: Path | None
    base_urls: dict[str, str]
    resolution: float
    cache_dir: Path | None
    options: HttpOptions


def _print_plan(plan: FetchPlan) -> None:
    """``--dry-run``: a table of the files, their sizes and cache state, then the total."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"socseq fetch --dry-run: {len(plan.items)} files", show_edge=False)
    for column in ("source", "file", "size", "cache", "URL"):
        table.add_column(column, overflow="fold")
    total = 0
    for row in plan.rows():
        size = None if row["cached"] else row["size_bytes"]
        total += size or 0
        table.add_row(
            row["source"],
            row["file"],
            _human(row["size_bytes"], row["size_exact"]),
            "cached" if row["cached"] else ("to fetch" if not row["error"] else "ERROR"),
            row["url"],
        )
    Console(width=200).print(table)
    for row in plan.rows():
        if row["error"]:
            click.echo(f"error: {row['error']}", err=True)
    click.echo(f"to fetch: {_human(total, False)} ('≈': estimate of the uncompressed data)")


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, url = value.partition("=")
        if not sep or not key or not url:
            raise click.BadParameter(f"{value!r}: give NAME=URL", param_hint="--base-url")
        out[key] = url
    return out


@click.command("fetch")
@click.option("--bbox", help="WEST,SOUTH,EAST,NORTH in degrees (EPSG:4326).")
@click.option(
    "--boundary",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Vector file (GeoPackage, GeoJSON, Shapefile) of the area; replaces --bbox.",
)
@click.option("--years", default="1981-2020", show_default=True, help="FIRST-LAST of the series.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("socseq-inputs"),
    show_default=True,
    help="Output folder (layers, socseq.toml, sources.json).",
)
@click.option(
    "--source",
    "sources",
    multiple=True,
    help="Source to fetch (repeat); default: terraclimate, soilgrids-clay, soilgrids-soc, "
    "worldcover.",
)
@click.option(
    "--sources-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML file extending or overriding the source table.",
)
@click.option("--base-url", multiple=True, help="NAME=URL: another server for a source.")
@click.option(
    "--resolution",
    type=float,
    default=30.0,
    show_default=True,
    help="Output cell size in arc-seconds.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cache folder (default $SOCSEQ_CACHE_DIR or ~/.cache/socseq).",
)
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds.")
@click.option("--retries", type=click.IntRange(min=0), default=4, show_default=True)
@click.option("--offline", is_flag=True, help="Use the cache only; never touch the network.")
@click.option("--dry-run", is_flag=True, help="List what would be fetched and its size.")
@click.option("--iso", default="XXX", show_default=True, help="ISO 3166-1 alpha-3 for [run].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def fetch_command(
    bbox: str | None,
    boundary: Path | None,
    years: str,
    out_dir: Path,
    sources: tuple[str, ...],
    sources_file: Path | None,
    base_url: tuple[str, ...],
    resolution: float,
    cache_dir: Path | None,
    timeout: float,
    retries: int,
    offline: bool,
    dry_run: bool,
    iso: str,
    quiet: bool,
) -> None:
    """Download public inputs (TerraClimate, SoilGrids, WorldCover, WorldClim) for a box.

    Writes aligned, unit-labelled layers, sources.json (URLs, licences, citations) and a
    socseq.toml that `socseq validate` accepts. Only this command touches the network;
    `socseq run` reads the files it wrote.
    """
    from socseq.fetch import HttpOptions, fetch, plan_fetch

    common: _Common = {
        "boundary": boundary,
        "years": years,
        "out": out_dir,
        "sources": sources or None,
        "sources_file": sources_file,
        "base_urls": _pairs(base_url),
        "resolution": resolution / 3600.0,
        "cache_dir": cache_dir,
        "options": HttpOptions(timeout_s=timeout, retries=retries, offline=offline),
    }
    if dry_run:
        _print_plan(plan_fetch(bbox, sizes=not offline, **common))
        return
    with _bars(quiet) as progress:
        result = fetch(bbox, iso=iso, progress=progress, **common)
    click.echo(
        f"fetched {len(result.fetched)} file(s), {len(result.cache_hits)} from the cache"
        + (f", {len(result.missing)} absent upstream (sea tiles)" if result.missing else "")
    )
    if result.incomplete:
        click.echo(
            f"warning: {result.config} lacks {', '.join(result.incomplete)} (no fetched source "
            "gave them); add --source NAME or fill the keys by hand",
            err=True,
        )
    click.echo(f"wrote {result.config}; next: socseq validate {result.config}")
