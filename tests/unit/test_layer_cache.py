"""Opened layers are shared by planning, checks and reads, and never outlive their file."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from affine import Affine

from geotiffs import write_tif
from socseq.pipeline import sources
from socseq.pipeline.sources import LayerSpec, open_layer

TM2 = Affine(1000.0, 0, 200_000.0, 0, -1000.0, 2_650_000.0)


def _spec(path: Path, method: str) -> LayerSpec:
    return LayerSpec(
        name="inputs.clay",
        path=str(path),
        variable=None,
        band=None,
        units="%",
        quantity="clay_pct",
        kind="continuous",
        method=method,
    )


def test_a_rewritten_file_is_opened_again(tmp_path: Path) -> None:
    path = tmp_path / "clay.tif"
    write_tif(path, np.full((4, 5), 20.0, dtype="float32"), crs="EPSG:3826", transform=TM2)
    assert float(open_layer(_spec(path, "bilinear")).load().mean()) == 20.0
    # Same path and size, other values and modification time: what a user's re-export does.
    write_tif(path, np.full((4, 5), 35.0, dtype="float32"), crs="EPSG:3826", transform=TM2)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert float(open_layer(_spec(path, "bilinear")).load().mean()) == 35.0


def test_the_resampling_method_does_not_open_a_layer_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "clay.tif"
    write_tif(path, np.full((4, 5), 20.0, dtype="float32"), crs="EPSG:3826", transform=TM2)
    opens = Counter[str]()
    real = sources.open_spec

    def counting(spec: LayerSpec):  # type: ignore[no-untyped-def]
        opens[spec.path] += 1
        return real(spec)

    monkeypatch.setattr(sources, "open_spec", counting)
    planned = open_layer(_spec(path, ""))  # planning opens before it chooses the method
    assert open_layer(_spec(path, "bilinear")) is planned
    assert opens == {str(path): 1}


def test_validate_opens_each_file_variable_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The demo holds three climate variables in one file, read for the spin-up and warm-up
    # alike, an NDVI series and six rasters; validate used to open them 31 times.
    from socseq.demo import build_region
    from socseq.dsm import sampling
    from socseq.pipeline.config import load_run_config
    from socseq.pipeline.validate import validate_config

    config = load_run_config(build_region(tmp_path / "region"))
    opens = Counter[tuple[str, str | None]]()
    covariate_stacks = []
    real_open, real_covariates = sources.open_spec, sampling.open_covariates

    def counting(spec: LayerSpec):  # type: ignore[no-untyped-def]
        opens[Path(spec.path).name, spec.variable] += 1
        return real_open(spec)

    def counting_covariates(*args, **kwargs):  # type: ignore[no-untyped-def]
        covariate_stacks.append(args)
        return real_covariates(*args, **kwargs)

    monkeypatch.setattr(sources, "open_spec", counting)
    monkeypatch.setattr(sampling, "open_covariates", counting_covariates)
    validate_config(config)
    assert opens, "validate opened no layer through open_spec"
    assert max(opens.values()) == 1, {k: n for k, n in opens.items() if n > 1}
    assert len(covariate_stacks) == 1
