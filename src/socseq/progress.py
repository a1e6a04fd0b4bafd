"""The progress callback type the APIs take (the bars that show it live in :mod:`socseq.cli`)."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Progress"]

#: ``progress(stage, done, total)``: called by the APIs as long steps advance.
Progress = Callable[[str, int, int], None]
