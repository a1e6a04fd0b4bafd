"""Covariate stack: alignment to the template, extraction at points, categorical encoding."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine

from socseq.dsm.covariates import CovariateLayer, CovariateStack
from socseq.dsm.encoding import FeatureEncoder
from socseq.exceptions import InputValidationError
from socseq.io.grid import GridSpec

from .conftest import CELL_M, ORIGIN, SHAPE


def _layers(region):
    return [
        CovariateLayer("elevation", region.covariates["elevation"]),
        CovariateLayer("rain", region.covariates["rain"]),
        CovariateLayer("landcover", region.covariates["landcover"], categorical=True),
    ]


def test_extraction_at_cell_centres_and_outside(region):
    stack = CovariateStack.open(_layers(region))
    assert stack.names == ["elevation", "rain", "landcover"]
    assert stack.categorical == ("landcover",)
    # centres of cells (row 2, col 5) and (row 10, col 30); one point east of the grid
    x = ORIGIN[0] + (np.array([5, 30, SHAPE[1] + 3]) + 0.5) * CELL_M
    y = ORIGIN[1] - (np.array([2, 10, 4]) + 0.5) * CELL_M
    values = stack.extract(x, y, "EPSG:32634")
    assert values["inside_grid"].tolist() == [True, True, False]
    assert values["elevation"].iloc[0] == pytest.approx(200 + 30 * 5 + 10 * np.sin(2 / 3))
    assert values["landcover"].iloc[:2].tolist() == [1.0, 2.0]
    assert values.iloc[2][["elevation", "rain", "landcover"]].isna().all()


def test_points_in_lonlat_are_transformed_to_the_grid(region):
    stack = CovariateStack.open(_layers(region))
    from pyproj import Transformer

    lon, lat = Transformer.from_crs("EPSG:32634", "EPSG:4326", always_xy=True).transform(
        ORIGIN[0] + 7.5 * CELL_M, ORIGIN[1] - 3.5 * CELL_M
    )
    values = stack.extract(np.array([lon]), np.array([lat]), "EPSG:4326")
    assert values["elevation"].iloc[0] == pytest.approx(200 + 30 * 7 + 10 * np.sin(1.0))


def test_layers_on_another_grid_are_aligned_by_kind(region, tmp_path):
    # A land-cover layer at half the resolution (2 km) with codes 1/2; mode keeps codes.
    coarse = GridSpec(
        "EPSG:32634",
        Affine(2 * CELL_M, 0, ORIGIN[0], 0, -2 * CELL_M, ORIGIN[1]),
        SHAPE[1] // 2,
        SHAPE[0] // 2,
    )
    y, x = coarse.coords()
    codes = np.where(np.arange(SHAPE[1] // 2) < 5, 1, 2)[None, :].repeat(SHAPE[0] // 2, 0)
    da = xr.DataArray(codes.astype("uint8"), dims=("y", "x"), coords={"y": y, "x": x})
    path = tmp_path / "lc_coarse.tif"
    da.rio.write_crs(coarse.crs).rio.write_transform(coarse.transform).rio.write_nodata(
        255
    ).rio.to_raster(path)
    stack = CovariateStack.open(
        [
            CovariateLayer("elevation", region.covariates["elevation"]),
            CovariateLayer("lc", path, categorical=True),
        ]
    )
    assert stack.grid.shape == SHAPE
    lc = stack.data["lc"].values
    assert set(np.unique(lc)) == {1.0, 2.0}
    assert (lc[:, :10] == 1).all() and (lc[:, 10:] == 2).all()
    assert stack.data["lc"].attrs["resampling"] == "mode"


def test_duplicate_names_are_refused(region):
    with pytest.raises(InputValidationError, match="used twice"):
        CovariateStack.open(
            [
                CovariateLayer("a", region.covariates["rain"]),
                CovariateLayer("a", region.covariates["elevation"]),
            ]
        )


def test_window_frames_cover_every_cell_once(region):
    stack = CovariateStack.open(_layers(region))
    seen = []
    for window, frame, index in stack.window_frames(rows_per_window=7):
        assert len(frame) == len(index)
        seen.append(window.start * SHAPE[1] + index)
    cells = np.concatenate(seen)
    assert np.array_equal(np.sort(cells), np.arange(SHAPE[0] * SHAPE[1]))


def test_encoder_one_hot_with_unknown_and_missing_classes():
    X = pd.DataFrame({"z": [1.0, 2.0, 3.0], "lc": [10.0, 20.0, 10.0]})
    encoder = FeatureEncoder(["lc"]).fit(X)
    assert list(encoder.get_feature_names_out()) == ["z", "lc=10", "lc=20"]
    out = encoder.transform(pd.DataFrame({"z": [5.0, 6.0, 7.0], "lc": [20.0, 30.0, np.nan]}))
    np.testing.assert_array_equal(out, [[5, 0, 1], [6, 0, 0], [7, 0, 0]])
    assert encoder.source_.tolist() == [0, 1, 1]
    with pytest.raises(InputValidationError, match="differ from those the model"):
        encoder.transform(pd.DataFrame({"lc": [1.0], "z": [1.0]}))


def test_an_encoder_pickled_under_its_former_module_still_loads():
    # Models saved before FeatureEncoder moved to socseq.dsm.encoding name the class under
    # socseq.dsm.covariates; socseq dsm predict must still load (and reuse) them.
    X = pd.DataFrame({"z": [1.0, 2.0], "lc": [10.0, 20.0]})
    encoder = FeatureEncoder(["lc"]).fit(X)
    saved = pickle.dumps(encoder, protocol=0)  # text protocol: the class is "module\nname"
    old = saved.replace(
        b"socseq.dsm.encoding\nFeatureEncoder", b"socseq.dsm.covariates\nFeatureEncoder"
    )
    assert old != saved
    loaded = pickle.loads(old)
    assert type(loaded) is FeatureEncoder
    np.testing.assert_array_equal(loaded.transform(X), encoder.transform(X))
