"""Fault injection: a tiny synthetic region, two clean reference runs, and set comparison.

Two configurations of the same region give two different product sets: ``A`` (the default
BAU, SSM1–3 over 5 forward years) stands for the previous run's products, ``B`` (BAU and one
other scenario over 4 years) for the new run's. After any fault the output folder must hold
exactly one of them, which :func:`product_digest` checks file by file against clean runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr

from pipeline.conftest import write_region  # tests/ is on sys.path (rootdir packages)
from socseq.cli import main
from socseq.outputs import LOCK_FILE

#: Short periods keep a run at a few seconds (the pipeline's own tests cover the defaults).
PERIODS = """
[periods]
spinup = [1981, 1985]
warmup = [1986, 1990]
forward_years = {years}
"""

SCENARIOS_B = """
[[scenarios]]
name = "BAU"
[[scenarios]]
name = "MORE"
input_multiplier = 1.3
"""

#: run.json keys whose values change from run to run by design (time, duration).
VOLATILE = {"created_utc", "timings_s", "created", "mapped"}


@dataclass(frozen=True)
class FaultRegion:
    """The region's two configurations and their clean product sets."""

    root: Path
    config_a: Path
    config_b: Path
    clean_a: Path
    clean_b: Path


def invoke(args: list[str], capsys: pytest.CaptureFixture[str] | None = None) -> tuple[int, str]:
    """Run the CLI in this process; return the exit status and standard error."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err if capsys is not None else ""
    return code, err


def cli_command(*args: str) -> list[str]:
    """The command line that runs ``socseq ARGS`` in a fresh interpreter."""
    return [sys.executable, "-c", "from socseq.cli import main; main()", *args]


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``socseq ARGS`` as a subprocess."""
    return subprocess.Popen(
        cli_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _digest_file(path: Path, run_digest: str | None) -> str:
    """A digest of what a product means, without the timestamps it carries by design."""
    suffix = path.suffix
    h = hashlib.sha256()
    if suffix == ".tif":
        with rasterio.open(path) as src:
            h.update(src.read().tobytes())
            layout = (src.dtypes, src.nodata, src.crs.to_wkt(), tuple(src.transform))
            h.update(repr(layout).encode())
    elif suffix == ".nc":
        with xr.open_dataset(path, decode_times=False) as ds:
            for name in sorted(map(str, ds.variables)):
                values = np.asarray(ds[name].values)
                h.update(name.encode() + str(values.dtype).encode() + values.tobytes())
    elif suffix == ".json":
        h.update(json.dumps(_strip(json.loads(path.read_text())), sort_keys=True).encode())
    elif suffix == ".html":
        # Dated by design: it must belong to the same run as the run.json beside it.
        text = path.read_text()
        h.update(b"report of the run beside it" if run_digest and run_digest in text else b"?")
    elif suffix == ".png":
        h.update(b"figure")  # drawn from the products above; presence is what matters
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def product_digest(folder: Path) -> dict[str, str]:
    """Digest of every product file of a run folder (entries whose names start with a dot are
    bookkeeping: locks, journals, private staging)."""
    manifest = folder / "run.json"
    run_digest = json.loads(manifest.read_text())["config_digest"] if manifest.exists() else None
    return {
        str(p.relative_to(folder)): _digest_file(p, run_digest)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def bookkeeping(folder: Path) -> list[str]:
    """Top-level dot entries left in the folder (none after a clean finish or a recovery)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def copy_set(src: Path, dst: Path) -> Path:
    """A byte copy of a run folder (the "previous products" a faulty run must not damage)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".*"))
    return dst


def which_set(folder: Path, region: FaultRegion) -> str:
    """``"A"`` or ``"B"`` when the folder holds exactly that clean set, else a diff summary."""
    got = product_digest(folder)
    for name, clean in (("A", region.clean_a), ("B", region.clean_b)):
        if got == product_digest(clean):
            return name
    a = product_digest(region.clean_a)
    b = product_digest(region.clean_b)
    return (
        f"neither: {len(set(got) - set(a) - set(b))} files of no set, "
        f"{sum(got.get(k) != v for k, v in a.items())} differ from A, "
        f"{sum(got.get(k) != v for k, v in b.items())} differ from B"
    )


@pytest.fixture(scope="session")
def fault_region(tmp_path_factory: pytest.TempPathFactory) -> FaultRegion:
    """The region and the clean runs of A (with report) and B (with report)."""
    root = tmp_path_factory.mktemp("faults")
    region = write_region(root / "region", ny=6, nx=8, extra=PERIODS.format(years=5))
    config_a = region.config
    config_b = root / "region" / "run_b.toml"
    text = config_a.read_text().replace("forward_years = 5", "forward_years = 4")
    config_b.write_text(text + SCENARIOS_B)
    clean_a, clean_b = root / "clean_a", root / "clean_b"
    for config, out in ((config_a, clean_a), (config_b, clean_b)):
        code, _ = invoke(["run", str(config), "--out", str(out), "-q", "--no-report"])
        assert code == 0
        assert bookkeeping(out) == [] and not (out / LOCK_FILE).exists()
    assert product_digest(clean_a) != product_digest(clean_b)
    return FaultRegion(root / "region", config_a, config_b, clean_a, clean_b)
