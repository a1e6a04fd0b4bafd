"""Where fetched files are kept: one folder per source, version, variable, time and bbox.

A cache entry's path spells its key, ``ROOT/source/version/variable/time/bbox/FILE``, so two
fetches that need the same data share it and a fetch of another box, period or version never
mistakes it for its own. An entry counts only when the file and its record
(``FILE.json``: URL, size, SHA-256, date) both exist; partial downloads sit under
``FILE.part`` and are resumed, never used.

The root is ``--cache-dir``, else ``$SOCSEQ_CACHE_DIR``, else ``$XDG_CACHE_HOME/socseq``,
else ``~/.cache/socseq``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from socseq.fetch.download import is_complete

__all__ = ["Cache", "default_cache_dir"]


def default_cache_dir() -> Path:
    """Return the cache root from the environment (see the module docstring)."""
    if os.environ.get("SOCSEQ_CACHE_DIR"):
        return Path(os.environ["SOCSEQ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "socseq"


def _slug(text: str) -> str:
    """Return a path-safe spelling of one key part."""
    slug = re.sub(r"[^A-Za-z0-9._+-]+", "-", str(text)).strip("-.")
    return slug or "_"


def bbox_key(bbox: tuple[float, float, float, float] | None) -> str:
    """Key part of a lon/lat box (west, south, east, north), or ``global``."""
    if bbox is None:
        return "global"
    return "bbox_" + "_".join(f"{v:.5f}" for v in bbox)


@dataclass(frozen=True)
class Cache:
    """The fetch cache under ``root``."""

    root: Path

    def path(
        self,
        source: str,
        version: str,
        variable: str,
        period: str,
        bbox: tuple[float, float, float, float] | None,
        filename: str,
    ) -> Path:
        """Path of the entry keyed by source, version, variable, time period and bbox."""
        parts = (source, version, variable, period, bbox_key(bbox))
        return self.root.joinpath(*(_slug(p) for p in parts), _slug(filename))

    @staticmethod
    def hit(path: Path) -> bool:
        """Whether the entry is complete (a resumable ``.part`` is not)."""
        return is_complete(path)
