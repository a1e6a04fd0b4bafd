"""``socseq report RUN_DIR``: rebuild the HTML report of a finished run.

A thin shell over :func:`socseq.report.build_report`. A
:class:`~socseq.exceptions.SocseqError` (e.g. a run folder without ``run.json``) propagates to
the main command, which prints it as one line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["report"]


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def report(run_dir: Path) -> None:
    """Rebuild RUN_DIR/report.html and RUN_DIR/figures/ from a finished run folder."""
    from socseq.outputs import lock_output, recover
    from socseq.report import build_report

    # Not while a run writes into the folder; finish a publish a killed run left first.
    with lock_output(run_dir, "report", create=False) as lock:
        if lock is not None:
            recover(run_dir)
        path = build_report(run_dir)
    click.echo(str(path))
