"""The ``socseq`` command line: thin commands over the Python API (the only package using click).

Each command lives in its own module and is imported only when it runs, so ``socseq --help``
and ``socseq rothc`` never load the geospatial and machine-learning stack. Every
:class:`~socseq.exceptions.SocseqError` and operating-system error reaches the user as one
line on standard error and exit status 2, never as a traceback (:func:`main`).
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any, NoReturn

import click

from socseq import __version__
from socseq.exceptions import SocseqError
from socseq.outputs import exit_after_hdf5_failure

__all__ = ["cli", "error_line", "fail", "main"]

#: Command name → (module under socseq.cli, attribute, one-line help shown by --help).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("demo", "demo", "Run the whole chain and the report on the embedded demo region."),
    "fetch": ("fetch", "fetch_command", "Download public inputs for a box and write socseq.toml."),
    "dsm": ("dsm", "dsm", "Digital soil mapping of the baseline SOC stock 0–30 cm (t C/ha)."),
    "report": ("report", "report", "Rebuild the HTML report of a finished run folder."),
    "rothc": ("rothc", "rothc", "Run one site from an official RothC input file."),
    "run": ("run", "run_command", "Run the whole chain on CONFIG and publish the products."),
    "validate": ("run", "validate_command", "Check CONFIG and every input without running."),
}


class LazyGroup(click.Group):
    """A click group whose commands are imported when they are invoked, not when listed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command: click.Command = getattr(import_module(f"socseq.cli.{module}"), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a socseq or operating-system error becomes one line, exit 2."""
        try:
            return super().invoke(ctx)
        except (SocseqError, OSError) as exc:
            fail(error_line(exc))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="socseq")
def cli() -> None:
    """socseq: soil organic carbon sequestration maps with RothC and digital soil mapping."""


def fail(message: str, status: int = 2) -> NoReturn:
    """Print one line on standard error, verbatim, and exit with ``status``.

    The message is written with :func:`click.echo`, not rich: rich reads ``[...]`` as markup
    and would drop e.g. ``[dsm.samples]`` or ``[1]`` from the message.
    """
    click.echo(message, err=True)
    exit_after_hdf5_failure(status)  # libhdf5 may crash at shutdown after a full disk
    sys.exit(status)


def error_line(exc: SocseqError | OSError) -> str:
    """Return the one-line message of a socseq error or an operating-system error."""
    if isinstance(exc, SocseqError):
        return f"error: {exc}"
    # OSError(strerror, filename) reads "No such file or directory: path"; others their text.
    text = (
        f"{exc.strerror}: {exc.filename}"
        if exc.strerror and exc.filename
        else (exc.strerror or str(exc))
    )
    return f"error: {text}"


def main(args: Any = None) -> None:
    """Entry point: run the CLI and turn socseq errors into one line and exit status 2."""
    # GDAL's block cache defaults to 5 % of the machine's memory (1.2 GB here) and keeps what a
    # run read and wrote, though windows rarely read a block twice: 256 MB lowers the peak of a
    # 10^7-cell run. A GDAL_CACHEMAX set by the user wins.
    os.environ.setdefault("GDAL_CACHEMAX", "256")
    try:
        cli.main(args=args, standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (SocseqError, OSError) as exc:
        fail(error_line(exc))
