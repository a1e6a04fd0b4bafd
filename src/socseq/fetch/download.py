"""HTTP downloads that resume, retry, verify and never leave a partial file under a final name.

One file is fetched by :func:`download`:

- the bytes go to ``NAME.part`` beside the destination (with ``NAME.part.json`` holding the
  URL and the server's validator); only a complete, verified file is renamed to ``NAME``, so
  a partial file never looks complete;
- an interrupted download resumes with an HTTP ``Range`` request (``If-Range`` guards against
  a file that changed upstream; a server that ignores ranges sends the whole file again);
- timeouts, dropped connections and HTTP 408/429/5xx are retried with exponential backoff;
  other HTTP errors fail at once;
- the size is checked against ``Content-Length``/``Content-Range``, a published checksum
  (``sha256:…`` or ``md5:…``) when the source table has one, and a format check of the
  caller (a readable zip, NetCDF, GeoTIFF);
- every failure is one line naming the URL, what happened and what to do.

Only the standard library is used (``urllib``), so fetching adds no dependency.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from socseq import __version__
from socseq.atomic import write_json_atomic
from socseq.exceptions import (
    ChecksumError,
    DownloadError,
    OfflineError,
    SourceFormatError,
    TransientDownloadError,
)
from socseq.progress import Progress

__all__ = [
    "HttpOptions",
    "RemoteInfo",
    "describe_network_error",
    "download",
    "file_digest",
    "head",
    "is_complete",
]

_CHUNK = 1 << 20
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class HttpOptions:
    """Network settings of a fetch.

    Attributes
    ----------
    timeout_s : float
        Seconds to wait for a connection or for the next bytes of a response.
    retries : int
        Further attempts after a timeout, dropped connection or HTTP 408/429/5xx.
    backoff_s : float
        Wait before the first retry; it doubles with every further retry.
    offline : bool
        Never touch the network: only cached files are used.
    """

    timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 2.0
    offline: bool = False

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1, 2, ...)."""
        return self.backoff_s * 2 ** (attempt - 1)


@dataclass(frozen=True)
class RemoteInfo:
    """What a HEAD request tells about a file."""

    size: int | None
    etag: str | None
    last_modified: str | None


def _request(url: str, headers: dict[str, str] | None = None, method: str = "GET"):
    req = urllib.request.Request(url, method=method)  # noqa: S310  (http(s) URLs)
    req.add_header("User-Agent", f"socseq/{__version__}")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    return req


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def describe_network_error(url: str, exc: BaseException, options: HttpOptions) -> Exception:
    """Turn a network exception into the one-line error (or a retryable marker)."""
    if isinstance(exc, urllib.error.HTTPError):
        code = exc.code
        text = f"{url}: HTTP {code} {exc.reason}"
        if code in _RETRY_STATUS:
            return TransientDownloadError(f"{text}; the server has trouble, try again later")
        if code == 404:
            return DownloadError(
                f"{text}: the file is not there; check the source's base URL (--base-url "
                "NAME=URL) and path in the source table, or whether the provider moved it"
            )
        if code in (401, 403):
            return DownloadError(
                f"{text}: the server refuses access; check the URL in the source table (the "
                "built-in sources need no login)"
            )
        return DownloadError(f"{text}; check the URL and the request parameters")
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError | socket.timeout):
        return TransientDownloadError(
            f"{url}: no answer within {options.timeout_s:g} s; try again later or raise --timeout"
        )
    if isinstance(reason, socket.gaierror | ConnectionRefusedError) or (
        isinstance(reason, OSError) and reason.errno in (101, 113)  # network/host unreachable
    ):
        return OfflineError(
            f"{url}: cannot reach {_host(url)} ({reason}); check the network connection "
            "(files already in the cache are used without it: see --offline)"
        )
    if isinstance(reason, ConnectionError | http.client.HTTPException | OSError):
        return TransientDownloadError(f"{url}: the connection broke ({reason}); try again later")
    return DownloadError(f"{url}: {reason}")


def head(url: str, options: HttpOptions) -> RemoteInfo:
    """Ask the server for a file's size and validators without downloading it."""
    if options.offline:
        raise OfflineError(f"{url}: not asked, --offline given")
    try:
        with urllib.request.urlopen(  # noqa: S310  (http(s) URLs of the source table)
            _request(url, method="HEAD"), timeout=options.timeout_s
        ) as resp:
            length = resp.headers.get("Content-Length")
            return RemoteInfo(
                size=int(length) if length is not None else None,
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
            )
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise describe_network_error(url, exc, options) from exc


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file (``sha256``, ``md5``, ...)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def is_complete(path: Path) -> bool:
    """Whether ``path`` is a finished download: the file and its record both exist."""
    return path.is_file() and _meta_path(path).is_file()


def _parse_content_range(value: str | None) -> tuple[int, int | None] | None:
    """``bytes 100-199/1000`` → (100, 1000); ``bytes 100-199/*`` → (100, None)."""
    if not value or not value.startswith("bytes "):
        return None
    span, _, total = value[6:].partition("/")
    start = span.split("-")[0]
    if not start.isdigit():
        return None
    return int(start), (int(total) if total.isdigit() else None)


def _resume_point(url: str, part: Path) -> tuple[int, str | None]:
    """Bytes already in ``part`` for ``url`` and the server validator they were fetched under.

    A partial file of another URL, or one without its record, starts again from byte 0.
    """
    part_meta = _meta_path(part)
    if part.exists() and part_meta.exists():
        try:
            record = json.loads(part_meta.read_text())
        except (OSError, ValueError):
            record = {}
        if record.get("url") == url:
            return part.stat().st_size, record.get("etag") or record.get("last_modified")
    part.unlink(missing_ok=True)
    return 0, None


def _open(url: str, part: Path, offset: int, validator: str | None, options: HttpOptions) -> Any:
    """Send the GET (a ``Range`` request from ``offset`` when resuming)."""
    headers = {}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:
            headers["If-Range"] = validator
    try:
        return urllib.request.urlopen(  # noqa: S310  (http(s) URLs of the source table)
            _request(url, headers), timeout=options.timeout_s
        )
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing after offset: start again from scratch
            part.unlink(missing_ok=True)
            _meta_path(part).unlink(missing_ok=True)
            raise TransientDownloadError(f"{url}: the server refused to resume; try again") from exc
        raise


def _start_and_total(url: str, resp: Any, offset: int, part: Path) -> tuple[int, int | None]:
    """Where the response's bytes go in ``part`` and the file's full size, if announced.

    A 206 must resume exactly at ``offset`` (RFC 9110 §14.4); a 200 is the whole file again
    (a server that ignores ranges, or an ``If-Range`` that no longer matches).
    """
    if resp.status == 206:
        parsed = _parse_content_range(resp.headers.get("Content-Range"))
        if parsed is None or parsed[0] != offset:
            part.unlink(missing_ok=True)
            raise TransientDownloadError(f"{url}: the server resumed at the wrong byte; try again")
        return offset, parsed[1]
    length = resp.headers.get("Content-Length")
    return 0, (int(length) if length is not None else None)


def _copy(
    resp: Any, part: Path, offset: int, total: int | None, progress: Progress | None, label: str
) -> int:
    """Append the response body to ``part`` from ``offset``; return the bytes now in it."""
    done = offset
    with open(part, "ab" if offset else "wb") as handle:
        while block := resp.read(_CHUNK):
            handle.write(block)
            done += len(block)
            if progress is not None:
                progress(label, done, total or 0)
    return done


def _attempt(
    url: str,
    part: Path,
    options: HttpOptions,
    progress: Progress | None,
    label: str,
) -> int | None:
    """One GET into ``part`` (resuming it); return the expected total size if known."""
    offset, validator = _resume_point(url, part)
    with _open(url, part, offset, validator, options) as resp:
        offset, total = _start_and_total(url, resp, offset, part)
        write_json_atomic(
            {
                "url": url,
                "etag": resp.headers.get("ETag"),
                "last_modified": resp.headers.get("Last-Modified"),
            },
            _meta_path(part),
        )
        done = _copy(resp, part, offset, total, progress, label)
    if total is not None and done < total:
        raise TransientDownloadError(
            f"{url}: the connection closed after {done} of {total} bytes; try again later"
        )
    return total


def _attempts(
    url: str,
    part: Path,
    options: HttpOptions,
    progress: Progress | None,
    label: str,
    sleep: Callable[[float], None],
) -> int | None:
    """Run :func:`_attempt` until it succeeds, retrying transient failures with backoff."""
    last = ""
    for attempt in range(options.retries + 1):
        if attempt:
            sleep(options.delay(attempt))
        try:
            return _attempt(url, part, options, progress, label)
        except TransientDownloadError as exc:
            last = str(exc)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            error = describe_network_error(url, exc, options)
            if not isinstance(error, TransientDownloadError):
                raise error from exc
            last = str(error)
    raise DownloadError(f"{last} (gave up after {options.retries + 1} attempts)")


def _verify(
    url: str,
    part: Path,
    total: int | None,
    checksum: str | None,
    validate: Callable[[Path], None] | None,
) -> str:
    """Check size, published checksum and format of a finished ``part``; return its SHA-256."""
    size = part.stat().st_size
    if total is not None and size != total:
        raise SourceFormatError(
            f"{url}: downloaded {size} bytes but the server announced {total}; run again"
        )
    sha256 = file_digest(part, "sha256")
    if checksum:
        algorithm, _, expected = checksum.partition(":")
        got = sha256 if algorithm == "sha256" else file_digest(part, algorithm)
        if got.lower() != expected.lower():
            raise ChecksumError(
                f"{url}: {algorithm} {got} differs from the published {expected}; the "
                "download was deleted: run again, and if it repeats the file changed "
                "upstream (update the checksum in the source table)"
            )
    if validate is not None:
        validate(part)
    return sha256


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    options: HttpOptions,
    checksum: str | None = None,
    validate: Callable[[Path], None] | None = None,
    progress: Progress | None = None,
    label: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``url`` to ``dest`` (resuming, retrying, verifying); return ``dest``.

    Parameters
    ----------
    url : str
        HTTP(S) address.
    dest : path-like
        Final path. Nothing is downloaded when it already holds a complete download.
    options : HttpOptions
        Timeout, retries, backoff, offline.
    checksum : str, optional
        ``"sha256:HEX"`` or ``"md5:HEX"`` published by the provider.
    validate : callable, optional
        Format check on the finished temporary file; raises
        :class:`~socseq.exceptions.SourceFormatError` (or any ``SocseqError``) if the
        file is corrupt.
    progress : callable, optional
        ``progress(label, bytes_done, bytes_total)``; ``bytes_total`` is 0 when unknown.
    label : str, optional
        Name of the file in the progress display (default: the file name).
    sleep : callable
        Waits between retries (tests pass a no-op).

    Raises
    ------
    OfflineError
        The host cannot be reached, or ``options.offline`` and the file is not cached.
    DownloadError
        HTTP error, or retries exhausted (timeouts, dropped connections, 5xx).
    ChecksumError
        The file does not match ``checksum`` (the download is deleted).
    SourceFormatError
        ``validate`` rejected the file (the download is deleted).
    """
    dest = Path(dest)
    if is_complete(dest):
        return dest
    if options.offline:
        raise OfflineError(
            f"{url}: not in the cache ({dest}) and --offline given; run once with a network "
            "connection"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    total = _attempts(url, part, options, progress, label or dest.name, sleep)
    try:
        sha256 = _verify(url, part, total, checksum, validate)
    except BaseException:
        part.unlink(missing_ok=True)
        _meta_path(part).unlink(missing_ok=True)
        raise
    size = part.stat().st_size
    os.replace(part, dest)
    _meta_path(part).unlink(missing_ok=True)
    write_json_atomic(
        {
            "url": url,
            "size": size,
            "sha256": sha256,
            "fetched": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        },
        _meta_path(dest),
    )
    return dest
