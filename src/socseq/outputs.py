"""One writer per output folder, private scratch space, and all-or-nothing publishing.

A command that writes products into an output folder (``socseq run``, ``socseq demo``,
``socseq dsm cv|train|predict``, ``socseq report``) works inside an
:func:`output_transaction`:

1. **Lock.** It takes an exclusive lock on the folder (``OUTPUT/.socseq.lock``, an
   :func:`fcntl.flock` held for the whole command). A second command on the same folder refuses
   at once with one line naming the folder and the holder (:class:`OutputBusyError`). The
   operating system drops the lock when the holder dies, even by ``kill -9``, so a lock left by a
   killed run is stale by construction and is simply taken over.
2. **Recover.** Holding the lock, it finishes a publish that a killed run had committed (see 4)
   and deletes what dead runs left behind (their private folders).
3. **Stage.** It computes in a private folder ``OUTPUT/.socseq-run-<id>/`` (``work/`` for scratch
   such as the Zarr stores, ``stage/`` for the new products laid out as they will be published).
   Nothing outside that folder changes while the run computes, so a failure, a full disk or a
   kill before step 4 leaves the previous products byte-identical.
4. **Publish.** Once every product is staged (and flushed to disk), it writes a journal
   (``OUTPUT/.socseq-publish.json``, atomically): the commit point. It then moves the previous
   marker (``run.json``) aside first, swaps every top-level product (file or folder) with one
   rename each, retires previous products the new set does not have, puts the new marker in
   place last and deletes the journal. The renames stay in one file system, so they need no
   space. If the process dies after the commit, the next command on the folder replays the
   journal (every step is idempotent), so the folder ends with the new complete set.

Readers can rely on the marker: a folder holding ``run.json`` holds the complete set that
``run.json`` describes; while a publish is being applied ``run.json`` is absent.

Disk space: :func:`require_free_space` refuses a run before its big writes when the file system
has less room than the run needs (:func:`run_space_needs`), and :func:`disk_full_guard` turns a
``No space left on device`` raised anywhere inside it (Python, GDAL or HDF5) into one line that
names the path and the space needed (:class:`DiskFullError`).

This module is a leaf: it imports only the standard library and :mod:`socseq.exceptions`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socseq.exceptions import SocseqError

try:  # POSIX; elsewhere the PID-file fallback is used
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from socseq.io.grid import GridSpec
    from socseq.pipeline.config import RunConfig

__all__ = [
    "JOURNAL",
    "KEPT_WORK",
    "LOCK_FILE",
    "RUN_PRODUCTS",
    "DiskFullError",
    "Holder",
    "OutputBusyError",
    "OutputLock",
    "PublishError",
    "Staging",
    "disk_full_guard",
    "exit_after_hdf5_failure",
    "format_bytes",
    "lock_output",
    "output_transaction",
    "product_entries",
    "recover",
    "require_free_space",
    "run_space_needs",
]

#: The lock file (holds the holder's PID, host, command and start time as JSON).
LOCK_FILE = ".socseq.lock"
#: The publish journal; its presence means a committed publish is not yet fully applied.
JOURNAL = ".socseq-publish.json"
#: Prefix of each command's private folder (``work/``, ``stage/``, ``old/``).
RUN_PREFIX = ".socseq-run-"
#: Where ``--keep-work`` leaves the scratch of the last successful run.
KEPT_WORK = ".socseq-work"
#: Where ``--keep-work`` leaves the scratch of the last failed run.
KEPT_FAILED_WORK = ".socseq-work-failed"
#: Staging folder of socseq versions before the journal (deleted at the next start).
LEGACY_PARTIAL = ".socseq-partial"
#: The marker of a complete run folder, published last.
MARKER = "run.json"

#: Top-level names a ``socseq run`` may publish. A new run retires those it does not publish
#: (with those listed in the previous ``run.json``), so no product of an older configuration
#: lingers beside the new set.
RUN_PRODUCTS = (
    "maps",
    "soc_stocks.nc",
    "summary.csv",
    "summary.json",
    "timeseries.csv",
    "exclusions.csv",
    "uncertainty",
    "dsm",
    "report.html",
    "figures",
    MARKER,
)

_JOURNAL_FORMAT = 1
_UNAVAILABLE = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_DISK_FULL_TEXT = re.compile(
    r"No space left on device|Disk quota exceeded|errno = 28\b|Free disk space available"
)
_HDF5_FILE = re.compile(r"filename = '([^']+)'")


class OutputBusyError(SocseqError):
    """Another socseq command holds the output folder's lock."""


class DiskFullError(SocseqError):
    """The file system of the output folder has no room for what the run writes."""


class PublishError(SocseqError):
    """A committed publish could not be applied; the next command on the folder retries it."""


# --------------------------------------------------------------------------------------------
# Lock
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) an output folder's lock, as written in the lock file."""

    pid: int
    host: str
    command: str = "?"
    started_utc: str = "?"

    @classmethod
    def me(cls, command: str) -> Holder:
        """Describe this process."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), command, now)

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        """Read a lock file's content; None when it is empty or unreadable."""
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), data["command"], data["started_utc"])
        except (ValueError, KeyError, TypeError):
            return None

    def dumps(self) -> str:
        """Serialise for the lock file."""
        return json.dumps(self.__dict__)

    def describe(self) -> str:
        """``"socseq run (PID 123 on host, since 2026-01-01T10:00:00+00:00)"``."""
        return f"socseq {self.command} (PID {self.pid} on {self.host}, since {self.started_utc})"

    def alive(self) -> bool:
        """Whether the holder still runs; a holder on another host is assumed alive."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


_held: dict[tuple[str, int], OutputLock] = {}
_held_guard = threading.Lock()
#: Private folders of this process's open transactions (never removed by :func:`recover`).
_live_roots: set[str] = set()


class OutputLock:
    """Exclusive lock on an output folder for the life of one command.

    Parameters
    ----------
    folder : path-like
        The output folder (created when missing).
    command : str
        What holds the lock, for the message a second command shows (``"run"``).

    Attributes
    ----------
    stale : Holder or None
        The holder recorded in a lock file left behind by a process that died (taken over).

    Notes
    -----
    The lock is an :func:`fcntl.flock` on ``OUTPUT/.socseq.lock``: the kernel releases it when
    the holder exits or is killed, so there is no stale-lock timeout to guess. On NFS, Linux
    maps ``flock`` to NFS byte-range locks, which the server drops when the client's lease
    expires (a crashed host). Where locking is unavailable (``ENOLCK``, no :mod:`fcntl`), the
    lock file is created exclusively and a stale one is recognised by a holder PID that no
    longer runs on this host; a file left by another host cannot be checked and must be removed
    by hand. The lock is re-entrant within one thread (``socseq demo`` holds it around the
    run; another thread is refused like another process): use it through :func:`lock_output`,
    which releases the lock :meth:`acquire` returned.
    """

    def __init__(self, folder: str | os.PathLike[str], command: str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.command = command
        self.stale: Holder | None = None
        self._fd: int | None = None
        self._depth = 0
        self._flock = fcntl is not None

    def _key(self) -> tuple[str, int]:
        # Re-entrant per thread: another thread of this process is refused like another process.
        return os.path.realpath(self.folder), threading.get_ident()

    def acquire(self) -> OutputLock:
        """Take the lock or raise :class:`OutputBusyError`; return the lock actually held."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with _held_guard:
            held = _held.get(self._key())
            if held is not None:
                held._depth += 1
                return held
            self._acquire()
            self._depth = 1
            _held[self._key()] = self
        return self

    def _busy(self, holder: Holder | None) -> OutputBusyError:
        who = holder.describe() if holder is not None else "another socseq command"
        return OutputBusyError(
            f"output folder {self.folder} is in use by {who}; wait for it to finish or choose "
            "another output folder"
        )

    def _acquire(self) -> None:
        me = Holder.me(self.command)
        for _ in range(50):
            if self._flock:
                try:
                    if self._try_flock(me):
                        return
                except OSError as exc:
                    if exc.errno not in _UNAVAILABLE:
                        raise
                    self._flock = False  # e.g. NFS without lockd: PID file instead
            elif self._try_pidfile(me):
                return
        raise self._busy(None)

    def _try_flock(self, me: Holder) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            created = True
        except FileExistsError:
            try:
                fd = os.open(self.path, os.O_RDWR)
            except FileNotFoundError:
                return False  # its holder just finished: try again
            created = False
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self._busy(Holder.parse(_read_fd(fd))) from None
            except OSError as exc:
                if created and exc.errno in _UNAVAILABLE:
                    self.path.unlink()  # leave no empty file for the PID-file fallback
                raise
            # The file may have been unlinked by a holder that finished meanwhile; then this
            # lock is on a dead inode and the path must be opened again.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                return False
            previous = Holder.parse(_read_fd(fd))
            if previous is not None:
                self.stale = previous  # its process is gone: the kernel dropped its lock
            os.ftruncate(fd, 0)
            os.pwrite(fd, me.dumps().encode(), 0)
            os.fsync(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        self._fd = fd
        return True

    def _try_pidfile(self, me: Holder) -> bool:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return False
            holder = Holder.parse(text)
            if holder is not None and holder.alive():
                raise self._busy(holder) from None
            if holder is None and time.time() - _mtime(self.path) < 10:
                raise self._busy(None) from None  # being written right now
            self.stale = holder
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return False
        os.write(fd, me.dumps().encode())
        os.fsync(fd)
        self._fd = fd
        return True

    def release(self) -> None:
        """Release the lock (the lock file is removed while still held)."""
        with _held_guard:
            self._depth -= 1
            if self._depth > 0:
                return
            _held.pop(self._key(), None)
            fd, self._fd = self._fd, None
            if fd is None:
                return
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(fd)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _read_fd(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""


@contextlib.contextmanager
def lock_output(
    folder: str | os.PathLike[str], command: str, *, create: bool = True
) -> Iterator[OutputLock | None]:
    """Hold the output folder's lock for the ``with`` block (see :class:`OutputLock`).

    With ``create=False`` a missing folder is neither created nor locked (yields None), for
    commands that only rewrite part of an existing run folder.
    """
    if not create and not Path(folder).is_dir():
        yield None
        return
    lock = OutputLock(folder, command).acquire()
    try:
        yield lock
    finally:
        lock.release()


# --------------------------------------------------------------------------------------------
# Staging and publishing
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Disk space
# --------------------------------------------------------------------------------------------


def format_bytes(n: float) -> str:
    """``1536`` -> ``"1.5 KB"`` (powers of 1024, one decimal)."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def require_free_space(folder: str | os.PathLike[str], need: int, what: str) -> None:
    """Raise :class:`DiskFullError` unless ``folder``'s file system has ``need`` bytes free.

    Parameters
    ----------
    folder : path-like
        A folder on the file system that will receive the data.
    need : int
        Bytes about to be written.
    what : str
        What they are, for the message (``"scratch and products"``).
    """
    free = shutil.disk_usage(folder).free
    if free < need:
        raise DiskFullError(
            f"output folder {folder}: not enough free space for the {what}: about "
            f"{format_bytes(need)} needed, {format_bytes(free)} free; free some space or choose "
            "another output folder (--out)"
        )


def run_space_needs(
    config: RunConfig, grid: GridSpec, *, n_warmup_years: int | None = None
) -> dict[str, int]:
    """Rough bytes a run writes: ``{"scratch": ..., "products": ...}`` (uncompressed sizes).

    Products: the cube ``soc_t_ha`` (cells x scenarios x (forward years + 1) x 4 B), the
    warm-up stocks, the float64 layers of ``soc_stocks.nc``, the GeoTIFFs, the uncertainty
    layers and the DSM maps, plus 2 MB for tables, report and figures. Scratch: the staged
    inputs (monthly climate as float32, layers as float64) and the phase results.
    """
    cells = int(grid.width) * int(grid.height)
    n_scen = len(config.scenarios)
    fwd = int(config.periods.forward_years)
    warm = (
        n_warmup_years
        if n_warmup_years is not None
        else config.periods.warmup[1] - config.periods.warmup[0] + 1
    )
    out = config.outputs
    per_cell = 0
    if out.netcdf:
        per_cell += n_scen * (fwd + 1) * 4 + (warm * 4 if out.warmup_stocks else 0)
        per_cell += (3 * n_scen + 8) * 8
    if out.geotiff:
        per_cell += (5 * n_scen - 1) * 4 + n_scen
    if config.uncertainty is not None:
        per_cell += n_scen * 10 * 8
    if config.dsm is not None:
        per_cell += 7 * 4 * 2
    products = cells * per_cell + 2 * 1024**2
    forward_months = 12 * fwd if config.climate.forward is not None else 12
    inputs = 12 * 8 + 3 * 12 * 8 + 3 * 12 * warm * 4 + warm * 8 + 3 * forward_months * 8 + 12 * 4
    results = 2 * (6 * 8) + 3 * 8 + warm * 8 + n_scen * (fwd + 1) * 8
    members = config.uncertainty.members if config.uncertainty is not None else 0
    if config.uncertainty is not None and config.uncertainty.mode == "gsocseq":
        members = 2
    scratch = cells * (inputs + results * (1 + members))
    return {"scratch": int(scratch), "products": int(products)}


def _disk_full_cause(exc: BaseException | None) -> BaseException | None:
    """Return the exception in ``exc``'s chain that reports a full disk, if any."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            return exc
        if _DISK_FULL_TEXT.search(str(exc)):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


#: Set when libhdf5 failed on a full disk: its library may crash when the process tears down.
_hdf5_failed = False


def _from_hdf5(exc: BaseException | None) -> bool:
    """Whether an exception chain passed through h5py or h5netcdf."""
    while exc is not None:
        tb = exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            if "h5py" in name or "h5netcdf" in name:
                return True
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__
    return False


def exit_after_hdf5_failure(status: int) -> None:
    """Leave at once (``os._exit``) when libhdf5 failed on a full disk; return otherwise.

    After such a failure libhdf5 can crash while Python shuts down (segmentation fault when it
    closes the broken file), which would turn the one-line error and exit status into a crash.
    The command line calls this after printing its message; nothing is left to flush then.
    """
    if _hdf5_failed:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


_TEMPORARY = re.compile(r"^\.(.+)\.(?:tmp|old)-[0-9a-f]{8}(.*)$")


def _shown_path(path: str) -> str:
    """Return the path a user recognises: a staged product where it will be published."""
    parts = Path(path).parts
    for i, part in enumerate(parts):
        if part.startswith(RUN_PREFIX) and i + 1 < len(parts):
            base, area, rest = Path(*parts[:i]), parts[i + 1], parts[i + 2 :]
            if area == "work":  # scratch: name the store, not the chunk
                return str(Path(*parts[: i + 2 + min(1, len(rest))]))
            if area == "stage" and rest:
                *head, name = rest
                match = _TEMPORARY.match(name)
                return str(base.joinpath(*head, "".join(match.groups()) if match else name))
    return path


def _disk_full_path(exc: BaseException, folder: Path) -> str:
    filename = getattr(exc, "filename", None)
    if filename:
        return _shown_path(os.fspath(filename))
    match = _HDF5_FILE.search(str(exc))
    return _shown_path(match.group(1)) if match else str(folder)


@contextlib.contextmanager
def disk_full_guard(
    folder: str | os.PathLike[str], need: Callable[[], int] | int | None = None
) -> Iterator[None]:
    """Turn a full disk anywhere in the block into one :class:`DiskFullError` line.

    Recognises ``OSError`` with ``ENOSPC``/``EDQUOT`` anywhere in the exception chain and the
    messages GDAL and HDF5 give for it. While the block runs, the reports that h5py prints
    when it closes a file whose write failed (through :data:`sys.unraisablehook` and
    :data:`sys.excepthook`) are dropped when they are the same full disk, so the user sees one
    line. libhdf5 itself can still crash the process after such a failure (seen with
    h5netcdf); :func:`require_free_space` before the big writes is what prevents it.

    Parameters
    ----------
    folder : path-like
        The output folder (named when the failing path is unknown; its free space is shown).
    need : int or callable, optional
        Bytes the run needs (or a function returning them once known), shown in the message.
    """
    folder = Path(folder)
    previous_hook, previous_excepthook = sys.unraisablehook, sys.excepthook

    def quiet_hook(unraisable: Any) -> None:
        if _disk_full_cause(unraisable.exc_value) is None:
            previous_hook(unraisable)

    def quiet_excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        # h5py's deallocators print their failures through PyErr_Print, i.e. sys.excepthook.
        if _disk_full_cause(value) is None:
            previous_excepthook(kind, value, tb)

    sys.unraisablehook, sys.excepthook = quiet_hook, quiet_excepthook
    failed = False
    try:
        yield
    except DiskFullError:
        failed = True
        raise
    except Exception as exc:
        cause = _disk_full_cause(exc)
        if cause is None:
            raise
        failed = True
        if _from_hdf5(exc):
            global _hdf5_failed
            _hdf5_failed = True
        needed = need() if callable(need) else need
        try:
            free = format_bytes(shutil.disk_usage(folder).free) if folder.exists() else "?"
        except OSError:
            free = "?"
        amount = f"about {format_bytes(needed)} needed, " if needed else ""
        raise DiskFullError(
            f"no space left on device writing {_disk_full_path(cause, folder)}: {amount}{free} "
            f"free in {folder}; free some space or choose another output folder (--out)"
        ) from exc
    finally:
        if not failed:  # after a full disk, h5py may still report it while closing files
            sys.unraisablehook, sys.excepthook = previous_hook, previous_excepthook
