"""The downloader against injected faults: resume, retry, timeout, 404, checksum, offline."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from socseq.exceptions import SourceFormatError
from socseq.fetch import ChecksumError, DownloadError, HttpOptions, OfflineError
from socseq.fetch.download import download, is_complete

ZIP = "/climate/worldclim/2_1/base/wc2.1_10m_tavg.zip"


def test_download_and_record(server, tmp_path: Path, fast: HttpOptions) -> None:
    dest = tmp_path / "a.zip"
    seen: list[tuple[int, int]] = []
    download(server.url + ZIP, dest, options=fast, progress=lambda _l, d, t: seen.append((d, t)))
    body = server.files[ZIP]
    assert dest.read_bytes() == body
    record = json.loads((tmp_path / "a.zip.json").read_text())
    assert record["sha256"] == hashlib.sha256(body).hexdigest() and record["size"] == len(body)
    assert seen[-1] == (len(body), len(body))
    assert not (tmp_path / "a.zip.part").exists()


def test_resume_after_dropped_connection(server, tmp_path: Path, fast: HttpOptions) -> None:
    server.fault(ZIP, "drop")
    dest = tmp_path / "a.zip"
    download(server.url + ZIP, dest, options=fast, sleep=lambda s: None)
    assert dest.read_bytes() == server.files[ZIP]
    gets = [r for r in server.requests if r[0] == "GET" and r[1] == ZIP]
    assert len(gets) == 2
    # The second request asked only for the missing half.
    assert gets[1][2] == f"bytes={len(server.files[ZIP]) // 2}-"


def test_partial_file_never_looks_complete(server, tmp_path: Path) -> None:
    server.fault(ZIP, "drop", times=-1)
    dest = tmp_path / "a.zip"
    no_retry = HttpOptions(timeout_s=1.0, retries=0, backoff_s=0.0)
    with pytest.raises(DownloadError, match=r"closed after \d+ of \d+ bytes.*gave up after 1"):
        download(server.url + ZIP, dest, options=no_retry)
    assert not dest.exists() and not is_complete(dest)
    part = tmp_path / "a.zip.part"
    assert part.exists() and 0 < part.stat().st_size < len(server.files[ZIP])
    # The next run resumes from the part instead of starting again.
    server.faults.clear()
    download(server.url + ZIP, dest, options=no_retry)
    assert dest.read_bytes() == server.files[ZIP]
    assert server.requests[-1][2] == f"bytes={len(server.files[ZIP]) // 2}-"


def test_retry_on_server_error_with_backoff(server, tmp_path: Path) -> None:
    server.fault(ZIP, "500", times=2)
    waits: list[float] = []
    options = HttpOptions(timeout_s=1.0, retries=3, backoff_s=0.5)
    download(server.url + ZIP, tmp_path / "a.zip", options=options, sleep=waits.append)
    assert waits == [0.5, 1.0]  # exponential backoff


def test_errors_are_one_line_naming_the_url(server, tmp_path: Path, fast: HttpOptions) -> None:
    url = server.url + "/climate/worldclim/2_1/base/wc2.1_10m_nope.zip"
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download(url, tmp_path / "x.zip", options=fast)
    message = str(info.value)
    assert url in message and "\n" not in message and "--base-url" in message
    server.fault(ZIP, "500", times=-1)
    with pytest.raises(DownloadError, match=r"HTTP 500.*try again later.*gave up after 3"):
        download(server.url + ZIP, tmp_path / "y.zip", options=fast, sleep=lambda s: None)


def test_timeout(server, tmp_path: Path) -> None:
    server.fault(ZIP, "slow", times=-1, delay_s=1.5)
    options = HttpOptions(timeout_s=0.5, retries=1, backoff_s=0.0)
    with pytest.raises(DownloadError, match=r"no answer within 0.5 s.*raise --timeout"):
        download(server.url + ZIP, tmp_path / "a.zip", options=options)
    assert not (tmp_path / "a.zip").exists()


def test_checksum_mismatch_deletes_the_download(server, tmp_path: Path, fast) -> None:
    body = server.files[ZIP]
    good = "sha256:" + hashlib.sha256(body).hexdigest()
    download(server.url + ZIP, tmp_path / "ok.zip", options=fast, checksum=good)
    bad = "md5:" + "0" * 32
    with pytest.raises(ChecksumError, match=r"md5 [0-9a-f]{32} differs from the published 0+"):
        download(server.url + ZIP, tmp_path / "bad.zip", options=fast, checksum=bad)
    assert not (tmp_path / "bad.zip").exists() and not (tmp_path / "bad.zip.part").exists()


def test_corrupt_file_fails_the_format_check(server, tmp_path: Path, fast) -> None:
    from socseq.fetch.plan import _validate_zip

    server.fault(ZIP, "corrupt")
    members = [f"wc2.1_10m_tavg_{m:02d}.tif" for m in range(1, 13)]
    url = server.url + ZIP
    with pytest.raises(SourceFormatError, match="not a valid zip"):
        download(url, tmp_path / "a.zip", options=fast, validate=_validate_zip(members, url))
    assert not (tmp_path / "a.zip").exists()
    download(url, tmp_path / "a.zip", options=fast, validate=_validate_zip(members, url))


def test_offline(tmp_path: Path) -> None:
    # A port nobody listens on: the connection is refused, as when the network is down.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/file.zip"
    with pytest.raises(OfflineError, match=r"cannot reach 127.0.0.1.*network connection"):
        download(url, tmp_path / "a.zip", options=HttpOptions(timeout_s=1.0, retries=0))
    with pytest.raises(OfflineError, match="--offline given"):
        download(url, tmp_path / "a.zip", options=HttpOptions(offline=True))
