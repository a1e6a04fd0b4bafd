"""A run reuses the previous run's ``dsm/`` only when the same inputs made it (issue 12).

Each test runs a small ``[dsm]`` region two or three times into one folder (the DSM key holds
the output folder's path, as the outputs' provenance does, so a copied folder would not reuse).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr

import socseq.pipeline.run
from faults.conftest import PERIODS, SCENARIOS_B, VOLATILE, product_digest
from socseq.cli import main
from socseq.dsm.api import MODEL_FILE, load_trained
from socseq.outputs import file_digest, folder_digests, link_verified

from .conftest import Region, write_dsm_region

#: ``run.json``'s ``dsm`` entries that say how ``dsm/`` came to be: they differ by design.
HOW = {"reused", "note", "computed_utc", "files"}
#: Attributes and tags that date a DSM output: a reused file keeps its computation's.
TIMES = {"created", "mapped", "history"}


@pytest.fixture
def region(tmp_path: Path) -> Region:
    """40 samples with one decimal, the first 12.5 t C/ha; BAU and one scenario for 3 years."""
    rng = np.random.default_rng(3)
    cells = rng.choice(80, 40, replace=False)
    stock = np.round(55.0 + rng.normal(0, 5, 40), 1)
    stock[0] = 12.5
    extra = PERIODS.format(years=3) + SCENARIOS_B
    return write_dsm_region(tmp_path / "r", cells, stock, extra=extra)


def _run(
    region: Region, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> dict[str, Any]:
    """Run the region into ``out``; return ``run.json``'s ``dsm`` entry, checked against stdout."""
    try:
        main(["run", str(region.config), "--out", str(out), "-q", "--no-report", *extra])
    except SystemExit as exc:  # pragma: no cover - a failure shows its message
        assert exc.code in (0, None), capsys.readouterr().err
    dsm = json.loads((out / "run.json").read_text())["dsm"]
    assert f"dsm: {dsm['note']}\n" in capsys.readouterr().out
    return dsm


def _meaning(out: Path) -> dict[str, Any]:
    """What a reused and a recomputed DSM must agree on, over every product of the folder.

    :func:`product_digest` compares the data of rasters and NetCDF files, JSON without its
    times and timings, tables byte for byte; this adds the DSM maps' tags and attributes and
    compares the saved model by its content (without their times), and leaves out of
    ``run.json`` how ``dsm/`` came to be.
    """
    found: dict[str, Any] = product_digest(out)
    manifest = json.loads((out / "run.json").read_text())
    manifest["dsm"] = {k: v for k, v in manifest["dsm"].items() if k not in HOW}
    found["run.json"] = {k: v for k, v in manifest.items() if k not in VOLATILE}
    for path in sorted((out / "dsm").glob("*.tif")):
        with rasterio.open(path) as src:
            found[f"{path.name} tags"] = {k: v for k, v in src.tags().items() if k not in TIMES}
    for path in sorted((out / "dsm").glob("*.nc")):
        with xr.open_dataset(path) as ds:
            found[f"{path.name} attrs"] = {k: v for k, v in ds.attrs.items() if k not in TIMES}
    found[f"dsm/{MODEL_FILE}"] = _model_digest(out / "dsm" / MODEL_FILE)
    return found


def _model_digest(path: Path) -> str:
    """Digest of a saved model without its time, and of each tree field by field.

    scikit-learn's tree nodes are records of 57 bytes padded to 64, and the padding is not
    initialised, so two fits of the same trees pickle to different bytes.
    """
    trained = load_trained(path)
    trained.provenance["created"] = ""
    h = hashlib.sha256()
    for tree in trained.model.regressor_.estimators_:
        state = tree.tree_.__getstate__()
        for field in state["nodes"].dtype.names:
            h.update(state["nodes"][field].tobytes())
        h.update(state["values"].tobytes())
        del tree.tree_
    h.update(pickle.dumps(trained))
    return h.hexdigest()


def test_a_rerun_reuses_the_dsm_and_publishes_what_a_recomputation_does(
    region: Region, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    first = _run(region, out, capsys)
    assert not first["reused"] and first["note"] == "computed: no earlier run in this folder"
    assert first["key"] and first["files"] == folder_digests(out / "dsm")
    files = {p.name: p.read_bytes() for p in (out / "dsm").iterdir()}

    second = _run(region, out, capsys)
    assert second["reused"] and second["key"] == first["key"]
    assert second["computed_utc"] == first["computed_utc"]
    assert second["note"] == (
        f"reused dsm/ computed {first['computed_utc']} (key {first['key']}): same inputs, "
        "settings and software"
    )
    # The previous files, byte for byte, published again.
    assert {p.name: p.read_bytes() for p in (out / "dsm").iterdir()} == files
    reused = _meaning(out)

    third = _run(region, out, capsys, "--no-reuse")
    assert not third["reused"] and third["note"] == "computed: reuse switched off"
    assert third["key"] == first["key"]
    # A recomputation writes the same outputs and products, but for their times.
    assert _meaning(out) == reused


def test_an_edited_sample_of_the_same_size_and_time_is_recomputed(
    region: Region, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    first = _run(region, out, capsys)
    samples = region.root / "samples.csv"
    stat = samples.stat()
    text = samples.read_text()
    assert text.count(",12.5\n") == 1
    samples.write_text(text.replace(",12.5\n", ",13.5\n"))
    os.utime(samples, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (samples.stat().st_size, samples.stat().st_mtime_ns) == (
        stat.st_size,
        stat.st_mtime_ns,
    )

    second = _run(region, out, capsys)
    assert not second["reused"] and second["key"] != first["key"]
    assert second["note"] == f"computed: samples changed since the earlier run (key {first['key']})"
    training = (out / "dsm" / "training_samples.csv").read_text()
    assert ",13.5," in training and ",12.5," not in training


def test_a_damaged_previous_dsm_is_recomputed_and_a_failed_run_leaves_it_alone(
    region: Region, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    out = tmp_path / "out"
    _run(region, out, capsys)
    clean = _meaning(out)
    nc = out / "dsm" / "soc_0_30cm.nc"

    # A run that fails after reusing dsm/ leaves the previous files as they were: it only read
    # them (the stage holds links to them) and never published.
    before = {p.name: (p.read_bytes(), p.stat().st_ino) for p in (out / "dsm").iterdir()}

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(socseq.pipeline.run, "_simulate_windows", fail)
        with pytest.raises(SystemExit) as interrupted:
            main(["run", str(region.config), "--out", str(out), "-q", "--no-report"])
    assert interrupted.value.code == 130  # Ctrl-C after the DSM was reused
    assert {p.name: (p.read_bytes(), p.stat().st_ino) for p in (out / "dsm").iterdir()} == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".socseq-run-")] == []

    # One flipped byte in the maps (same size, same time): the digest catches it.
    stat = nc.stat()
    data = bytearray(nc.read_bytes())
    data[len(data) // 2] ^= 0xFF
    nc.write_bytes(bytes(data))
    os.utime(nc, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = _run(region, out, capsys)
    assert not second["reused"]
    assert second["note"] == f"computed: {nc} differs from what its run recorded"
    assert _meaning(out) == clean


def test_link_verified_links_checked_files_or_leaves_nothing(tmp_path: Path) -> None:
    # A missing or changed file takes the same way back to a recomputation as the damaged
    # NetCDF above: link_verified names it and leaves no partial folder in the stage.
    source = tmp_path / "old"
    source.mkdir()
    (source / "a.csv").write_text("x\n1\n")
    (source / "b.tif").write_bytes(b"\x00" * 64)
    digests = folder_digests(source)

    assert link_verified(source, tmp_path / "new", digests) is None
    assert folder_digests(tmp_path / "new") == digests
    assert (tmp_path / "new" / "a.csv").stat().st_ino == (source / "a.csv").stat().st_ino

    for name, recorded, why in (
        ("changed", {**digests, "a.csv": file_digest(source / "b.tif")}, "differs from"),
        ("missing", {**digests, "c.nc": digests["a.csv"]}, "cannot be read"),
        ("outside", {"../old/a.csv": digests["a.csv"]}, "lies outside"),
        ("empty", {}, "no file was recorded"),
    ):
        target = tmp_path / name
        reason = link_verified(source, target, recorded)
        assert reason is not None and why in reason, reason
        assert not target.exists()
    shutil.rmtree(tmp_path / "new")
    assert folder_digests(source) == digests  # the source is only read
