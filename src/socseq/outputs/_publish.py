"""Private staging and the journalled, all-or-nothing publish of a run folder."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socseq.exceptions import PublishError
from socseq.outputs._common import (
    _JOURNAL_FORMAT,
    JOURNAL,
    KEPT_FAILED_WORK,
    KEPT_WORK,
    LEGACY_PARTIAL,
    MARKER,
    RUN_PREFIX,
    RUN_PRODUCTS,
)
from socseq.outputs._lock import _live_roots, lock_output


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform opens directories
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _write_json_durably(obj: Any, path: Path) -> None:
    """Write JSON under a temporary name, flush it, and rename it over ``path``."""
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(obj, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def product_entries(folder: str | os.PathLike[str]) -> list[str]:
    """Top-level product names of a folder: every entry whose name does not start with a dot."""
    return sorted(p.name for p in Path(folder).iterdir() if not p.name.startswith("."))


def _previous_products(folder: Path) -> set[str]:
    """Top-level names the folder's current ``run.json`` lists as products."""
    try:
        manifest = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        listed = manifest.get("products", [])
    except (OSError, ValueError, AttributeError):
        return set()
    names = set()
    for rel in listed if isinstance(listed, list) else []:
        first = Path(str(rel)).parts[:1]
        if first and not first[0].startswith(".") and first[0] not in ("..", "/"):
            names.add(first[0])
    return names


def _move_aside(path: Path, trash: Path) -> None:
    target = trash / path.name
    if os.path.lexists(target):
        target = trash / f"{path.name}.{uuid.uuid4().hex[:8]}"
    os.rename(path, target)


def _apply(folder: Path, journal: dict[str, Any]) -> None:
    """Apply a committed publish; every step is idempotent, so a replay after a kill is safe."""
    root = folder / journal["run"]
    stage = root / "stage"
    trash = root / "old"
    if not trash.is_dir():
        trash = folder / f"{RUN_PREFIX}recovered-{uuid.uuid4().hex[:8]}"
        trash.mkdir()
    marker = journal.get("marker")
    # 1. The marker goes first: from here until step 4 the folder shows it is incomplete.
    if marker and os.path.lexists(stage / marker) and os.path.lexists(folder / marker):
        _move_aside(folder / marker, trash)
    # 2. Each staged product replaces its namesake (which, while staged, is the old one).
    for name in journal["entries"]:
        if name == marker or not os.path.lexists(stage / name):
            continue
        if os.path.lexists(folder / name):
            _move_aside(folder / name, trash)
        os.rename(stage / name, folder / name)
    # 3. Previous products the new set does not have.
    for name in journal["retire"]:
        if os.path.lexists(folder / name):
            _move_aside(folder / name, trash)
    # 4. The marker last.
    if marker and os.path.lexists(stage / marker):
        os.rename(stage / marker, folder / marker)
    _fsync_dir(folder)
    missing = [n for n in journal["entries"] if not os.path.lexists(folder / n)]
    if missing:
        raise PublishError(
            f"output folder {folder}: the staged products {', '.join(missing)} of an "
            "interrupted publish are gone (was a .socseq-run-* folder deleted?); run again"
        )


def recover(folder: str | os.PathLike[str]) -> list[str]:
    """Finish an interrupted publish and delete what dead runs left; the caller holds the lock.

    Returns
    -------
    list of str
        What was done, one phrase each (empty when the folder was clean).
    """
    folder = Path(folder)
    done: list[str] = []
    journal_path = folder / JOURNAL
    if journal_path.exists():
        journal = json.loads(journal_path.read_text(encoding="utf-8"))
        if journal.get("format") != _JOURNAL_FORMAT:
            raise PublishError(
                f"{journal_path}: written by another socseq version; finish that version's "
                "run or remove the file"
            )
        _apply(folder, journal)
        journal_path.unlink()
        _fsync_dir(folder)
        done.append(f"completed the interrupted publish of {journal['run']}")
    for entry in folder.iterdir():
        name = entry.name
        if os.path.realpath(entry) in _live_roots:
            continue  # a staging of this process (a nested transaction)
        if name.startswith(RUN_PREFIX) or name == LEGACY_PARTIAL:
            _remove(entry)
            done.append(f"removed {name}")
        elif name.startswith(f"{JOURNAL}.tmp-") or name.startswith(f"{MARKER}.tmp-"):
            _remove(entry)
    return done


@dataclass
class Staging:
    """One command's private folder inside the output folder.

    Attributes
    ----------
    folder : pathlib.Path
        The output folder.
    root : pathlib.Path
        ``OUTPUT/.socseq-run-<id>``.
    work : pathlib.Path
        Scratch space (Zarr stores...), private to this command.
    stage : pathlib.Path
        Where the new products are written, laid out as in the output folder.
    marker : str or None
        The file that marks a complete set (``run.json``), moved aside first and published
        last; None for folders without one (``socseq dsm``).
    """

    folder: Path
    root: Path
    marker: str | None = MARKER
    work: Path = field(init=False)
    stage: Path = field(init=False)
    trash: Path = field(init=False)
    published: bool = False

    def __post_init__(self) -> None:
        self.work = self.root / "work"
        self.stage = self.root / "stage"
        self.trash = self.root / "old"

    @classmethod
    def create(cls, folder: Path, *, marker: str | None = MARKER) -> Staging:
        """Create a fresh private folder, with its ``old/`` (so publishing creates no folder)."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        root = folder / f"{RUN_PREFIX}{stamp}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        staging = cls(folder, root, marker=marker)
        for path in (root, staging.work, staging.stage, staging.trash):
            path.mkdir()
        _live_roots.add(os.path.realpath(root))
        return staging

    def publish(self, *, replaces: Iterable[str] = ()) -> list[str]:
        """Make the staged products the folder's products, all at once.

        Parameters
        ----------
        replaces : iterable of str
            Top-level names of the previous set that go even if the new set lacks them
            (:data:`RUN_PRODUCTS` for a run); names listed in the previous ``run.json`` are
            added.

        Returns
        -------
        list of str
            The published top-level names.
        """
        marker = self.marker
        entries = product_entries(self.stage)
        if marker is not None and marker not in entries:
            raise PublishError(f"{self.stage}: the staged products lack {marker}")
        retire = set(replaces)
        if marker is not None:
            retire |= _previous_products(self.folder) | {marker}
        journal = {
            "format": _JOURNAL_FORMAT,
            "run": self.root.name,
            "entries": entries,
            "retire": sorted(retire - set(entries)),
            "marker": marker,
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        _fsync_tree(self.stage)
        _write_json_durably(journal, self.folder / JOURNAL)  # the commit point
        try:
            _apply(self.folder, journal)
        except OSError as exc:
            raise PublishError(
                f"output folder {self.folder}: publishing was interrupted ({exc}); the next "
                "socseq command on this folder completes it"
            ) from exc
        (self.folder / JOURNAL).unlink()
        _fsync_dir(self.folder)
        self.published = True
        return entries

    def close(self, *, keep_work: bool = False) -> None:
        """Remove the private folder; with ``keep_work`` move its scratch beside the products.

        After a publish the scratch goes to :data:`KEPT_WORK` (replacing the previous run's);
        after a failure to :data:`KEPT_FAILED_WORK`. Without ``keep_work`` a successful
        publish also removes the previous run's kept scratch, which described the old set.
        """
        if self.published:
            kept = self.folder / KEPT_WORK
            _remove(kept)
            if keep_work and self.work.is_dir():
                os.rename(self.work, kept)
        elif keep_work and self.work.is_dir():
            kept = self.folder / KEPT_FAILED_WORK
            _remove(kept)
            os.rename(self.work, kept)
        _remove(self.root)
        _live_roots.discard(os.path.realpath(self.root))


@contextlib.contextmanager
def output_transaction(
    folder: str | os.PathLike[str],
    command: str,
    *,
    keep_work: bool = False,
    marker: str | None = MARKER,
) -> Iterator[Staging]:
    """Lock ``folder``, recover it, and yield a private :class:`Staging` for one command.

    The caller writes scratch into ``staging.work`` and products into ``staging.stage`` and
    calls :meth:`Staging.publish` when all succeeded. Leaving the block without publishing (an
    exception, ``KeyboardInterrupt``) discards the staged products and leaves the folder's
    products as they were; a folder this call created is removed again when it ends empty.
    ``marker`` is the file that marks a complete set (``run.json`` for a run; None for
    ``socseq dsm`` folders, whose staged files replace their namesakes only).

    Raises
    ------
    OutputBusyError
        Another command holds the folder.
    """
    folder = Path(folder)
    created = not folder.exists()
    published = False
    try:
        with lock_output(folder, command) as lock:
            assert lock is not None
            recover(folder)
            if marker is not None:
                _refuse_foreign_products(folder, marker)
            staging = Staging.create(folder, marker=marker)
            try:
                yield staging
            finally:
                published = staging.published
                staging.close(keep_work=keep_work)
    finally:
        if created and not published:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty


def _refuse_foreign_products(folder: Path, marker: str) -> None:
    """Refuse to replace product-named entries that no finished socseq run published."""
    if (folder / marker).exists():
        return
    foreign = [n for n in RUN_PRODUCTS if os.path.lexists(folder / n)]
    if foreign:
        raise PublishError(
            f"output folder {folder}: holds {', '.join(foreign)} but no run.json, so they were "
            "not published by a finished socseq run; move them away or choose another folder"
        )
