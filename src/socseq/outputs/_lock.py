"""The folder lock: one writer per output folder (fcntl.flock, PID-file fallback)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from socseq.exceptions import OutputBusyError

try:  # POSIX; elsewhere the PID-file fallback is used
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    pass
from socseq.outputs._common import _UNAVAILABLE, LOCK_FILE


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
