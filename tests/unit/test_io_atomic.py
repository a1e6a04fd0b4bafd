"""Atomic writes: nothing under the final name unless the writer finished."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from socseq.atomic import atomic_path, write_csv_atomic, write_json_atomic, write_text_atomic


class BoomError(Exception):
    pass


def _entries(directory):
    return sorted(p.name for p in directory.iterdir())


def test_file_written_on_success_with_same_suffix(tmp_path):
    final = tmp_path / "out" / "map.tif"
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent
        assert tmp.suffix == ".tif"
        assert not tmp.exists()
        tmp.write_text("done")
    assert final.read_text() == "done"
    assert _entries(final.parent) == ["map.tif"]


def test_failure_leaves_nothing_and_keeps_the_old_file(tmp_path):
    final = tmp_path / "table.csv"
    final.write_text("old")
    with pytest.raises(BoomError), atomic_path(final) as tmp:
        tmp.write_text("half")
        raise BoomError
    assert final.read_text() == "old"
    assert _entries(tmp_path) == ["table.csv"]


def test_failure_on_a_new_file_leaves_no_file(tmp_path):
    with pytest.raises(BoomError), atomic_path(tmp_path / "new.json") as tmp:
        tmp.write_text("{")
        raise BoomError
    assert _entries(tmp_path) == []


def test_directory_store_replaces_an_existing_one(tmp_path):
    final = tmp_path / "cube.zarr"
    final.mkdir()
    (final / "old-chunk").write_text("old")
    with atomic_path(final) as tmp:
        tmp.mkdir()
        (tmp / "new-chunk").write_text("new")
    assert _entries(final) == ["new-chunk"]
    assert _entries(tmp_path) == ["cube.zarr"]


def test_failed_directory_write_is_removed(tmp_path):
    final = tmp_path / "cube.zarr"
    with pytest.raises(BoomError), atomic_path(final) as tmp:
        tmp.mkdir()
        (tmp / "chunk").write_text("x")
        raise BoomError
    assert _entries(tmp_path) == []


def test_text_csv_and_json_helpers(tmp_path):
    write_text_atomic("hello\n", tmp_path / "a.txt")
    assert (tmp_path / "a.txt").read_text() == "hello\n"

    df = pd.DataFrame({"scenario": ["BAU", "SSM1"], "ASR_t_C_ha_yr": [0.01, 0.04]})
    write_csv_atomic(df, tmp_path / "rates.csv")
    assert pd.read_csv(tmp_path / "rates.csv").equals(df)

    record = {"n": np.int64(3), "mean": np.float64(0.5), "v": np.arange(2), "p": tmp_path}
    write_json_atomic(record, tmp_path / "prov.json")
    loaded = json.loads((tmp_path / "prov.json").read_text())
    assert loaded == {"n": 3, "mean": 0.5, "v": [0, 1], "p": str(tmp_path)}


def test_json_failure_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        write_json_atomic({"bad": object()}, tmp_path / "x.json")
    assert _entries(tmp_path) == []
