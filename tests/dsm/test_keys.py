"""The DSM keys: input files by content (with sidecars), and what each key covers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from socseq.dsm import load_config
from socseq.dsm.keys import input_digest, model_key, outputs_key
from socseq.io.grid import GridSpec

from .conftest import Region, make_region, write_config


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(make_region(tmp_path / "r", n_samples=30, seed=5))


def _keys(path: Path, grid: GridSpec | None = None) -> tuple[str, str | None]:
    config = load_config(path)
    return model_key(config), outputs_key(config, grid)[0]


def test_one_changed_value_changes_both_keys_with_the_size_and_time_kept(
    config_path: Path,
) -> None:
    before = _keys(config_path)
    samples = config_path.parent / "samples.csv"
    stat = samples.stat()
    text = samples.read_text()
    last = text.index("\n", text.index("\n") + 1) - 1  # last digit of the first sample's stock
    samples.write_text(text[:last] + ("1" if text[last] != "1" else "2") + text[last + 1 :])
    os.utime(samples, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (samples.stat().st_size, samples.stat().st_mtime_ns) == (
        stat.st_size,
        stat.st_mtime_ns,
    )
    after = _keys(config_path)
    assert after[0] != before[0] and after[1] != before[1]
    # The same bytes written again (a new time) keep both keys.
    samples.write_text(text)
    assert _keys(config_path) == before


def test_the_mask_and_the_grid_shape_the_outputs_not_the_model(
    config_path: Path, region: Region
) -> None:
    model, outputs = _keys(config_path)
    masked = config_path.parent / "masked.toml"
    masked.write_text(config_path.read_text() + '\n[dsm.grid]\nmask = "landcover.tif"\n')
    assert _keys(masked)[0] == model and _keys(masked)[1] != outputs
    gridded = _keys(config_path, region.grid)
    assert gridded[0] == model and gridded[1] != outputs
    # Nor does n_jobs shape the model; it is part of the settings the outputs record.
    threads = config_path.parent / "threads.toml"
    threads.write_text(config_path.read_text().replace("n_jobs = 1", "n_jobs = 2"))
    assert _keys(threads)[0] == model and _keys(threads)[1] != outputs


def test_an_unreadable_input_gives_no_outputs_key(config_path: Path) -> None:
    config = load_config(config_path)
    gone = config.model_copy(
        update={"samples": config.samples.model_copy(update={"path": Path("/vsicurl/x.csv")})}
    )
    key, parts = outputs_key(gone, None)
    assert key is None and parts["samples"] == "unreadable"


def test_sidecars_and_folders_enter_an_input_by_content(tmp_path: Path) -> None:
    for name in ("pts.shp", "pts.dbf", "pts.prj", "bio1.tif", "bio12.tif", "bio1.tif.aux.xml"):
        (tmp_path / name).write_bytes(name.encode())
    shp, bio1 = input_digest(tmp_path / "pts.shp"), input_digest(tmp_path / "bio1.tif")
    (tmp_path / "pts.dbf").write_bytes(b"edited attributes")  # a shapefile's values
    (tmp_path / "bio1.tif.aux.xml").write_bytes(b"<edited/>")
    (tmp_path / "bio12.tif").write_bytes(b"another covariate")
    assert input_digest(tmp_path / "pts.shp") != shp
    assert input_digest(tmp_path / "bio1.tif") != bio1
    (tmp_path / "bio1.tif.aux.xml").write_bytes(b"bio1.tif.aux.xml")
    assert input_digest(tmp_path / "bio1.tif") == bio1  # bio12.tif is not bio1's sidecar

    store = tmp_path / "cov.zarr"
    (store / "band").mkdir(parents=True)
    (store / "band" / "0.0").write_bytes(b"chunk")
    before = input_digest(store)
    (store / "band" / "0.0").write_bytes(b"chunK")
    assert input_digest(store) not in (None, before)
    assert input_digest(tmp_path / "absent.tif") is None
