"""Rich progress bars on standard error, one per stage, fed by :data:`socseq.progress.Progress`.

Each bar shows the time its stage took: from the stage's start to its last step. A stage
starts when it first reports (``done == 0`` announces the start); a stage first heard of with
steps already done started when the stage before it reported last, so a stage that reports
only when it finishes (one window, one file) shows the time it really took, not 0:00:00.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, ProgressColumn, Task, TaskID, TextColumn
from rich.progress import Progress as RichProgress
from rich.text import Text

from socseq.progress import Progress

__all__ = ["StageTimeColumn", "progress_bars"]


class StageTimeColumn(ProgressColumn):
    """Time of a stage: its start to its last step, or to now while it runs."""

    def render(self, task: Task) -> Text:
        """Render ``m:ss`` (or ``h:mm:ss``) from the task's ``started``/``ended`` fields."""
        started = task.fields.get("started")
        if started is None:
            return Text("-:--:--", style="progress.elapsed")
        ended = task.fields.get("ended")
        seconds = max(0.0, (ended if ended is not None else time.monotonic()) - started)
        minutes, secs = divmod(int(round(seconds)), 60)
        hours, minutes = divmod(minutes, 60)
        text = f"{hours}:{minutes:02d}:{secs:02d}"
        return Text(text, style="progress.elapsed")


@contextmanager
def progress_bars(quiet: bool) -> Iterator[Progress | None]:
    """Show a rich progress display on standard error, one bar per stage (None when quiet)."""
    if quiet:
        yield None
        return
    tasks: dict[str, TaskID] = {}
    last_event = [time.monotonic()]
    with RichProgress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        StageTimeColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:

        def update(stage: str, done: int, total: int) -> None:
            now = time.monotonic()
            if stage not in tasks:
                started = now if done == 0 else last_event[0]
                tasks[stage] = bar.add_task(stage, total=total, started=started, ended=None)
            ended = now if total and done >= total else None
            bar.update(tasks[stage], completed=done, total=total, ended=ended)
            last_event[0] = now

        yield update
