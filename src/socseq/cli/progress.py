"""Rich progress bars on standard error, one per stage, fed by :data:`socseq.progress.Progress`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from socseq.progress import Progress

__all__ = ["progress_bars"]


@contextmanager
def progress_bars(quiet: bool) -> Iterator[Progress | None]:
    """Show a rich progress display on standard error, one bar per stage (None when quiet)."""
    if quiet:
        yield None
        return
    tasks: dict[str, TaskID] = {}
    with RichProgress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update
