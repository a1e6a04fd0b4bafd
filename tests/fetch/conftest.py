"""A provider server on 127.0.0.1 per test, serving synthetic files in each layout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import xarray as xr

from socseq.fetch import BUILTIN_SOURCES, HttpOptions

from . import providers
from .server import ProviderServer, start


@pytest.fixture(scope="session")
def provider_content() -> tuple[dict[str, bytes], dict[str, xr.Dataset]]:
    files = {**providers.worldclim(("tavg", "prec", "tmin", "tmax")), **providers.soilgrids()}
    files.update(providers.worldcover())
    return files, providers.terraclimate()


@pytest.fixture
def server(provider_content) -> Iterator[ProviderServer]:
    files, ncss = provider_content
    state = ProviderServer(files=dict(files), ncss=dict(ncss))
    httpd, thread = start(state)
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def base_urls(server: ProviderServer) -> dict[str, str]:
    """Every built-in source pointed at the local server (the same code path as real URLs)."""
    return {name: server.url for name in BUILTIN_SOURCES}


@pytest.fixture
def fast() -> HttpOptions:
    """Short timeouts and no waiting between retries."""
    return HttpOptions(timeout_s=1.0, retries=2, backoff_s=0.0)


@pytest.fixture
def sources_file(tmp_path: Path) -> Path:
    return providers.write_sources_file(tmp_path / "sources.toml")
