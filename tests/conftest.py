"""Shared fixtures: access to ../shared reference data with the skip/require rule."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


# Each worker runs whole pipelines with thread pools of their own: capped so that a many-core
# machine does not start dozens of them at once.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for ``-n auto``: one per core this process may use, at most :data:`MAX_WORKERS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(MAX_WORKERS, cores or 1))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow check: opt in with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared, skipping (or failing when required) if it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        message = f"{path} is absent: the shared reference data sit beside the repository"
        if os.environ.get("SOCSEQ_REQUIRE_SHARED") == "1":
            pytest.fail(message + " and SOCSEQ_REQUIRE_SHARED=1 requires them")
        pytest.skip(message)
    return path


@pytest.fixture
def shared() -> type:
    """Give tests the :func:`shared_path` helper."""

    class _Shared:
        path = staticmethod(shared_path)

    return _Shared


@dataclass(frozen=True)
class DemoRun:
    """A finished ``socseq demo`` run: its folder and what the command printed."""

    path: Path
    output: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One ``socseq demo`` run, shared by the tests that read its products (about a minute)."""
    from click.testing import CliRunner

    from socseq.cli import cli

    out = tmp_path_factory.mktemp("demo") / "socseq-demo"
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return DemoRun(out, result.output)
