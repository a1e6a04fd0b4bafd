"""Grid prediction: same numbers as point prediction, window-size invariance, mask, writers."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from socseq.dsm.aoa import AreaOfApplicability
from socseq.dsm.covariates import CovariateLayer, CovariateStack
from socseq.dsm.geometry import PlanarFrame
from socseq.dsm.model import SOCStockModel
from socseq.dsm.prediction import OUTPUT_VARIABLES, predict_grid, write_prediction
from socseq.io.raster import open_raster

from .conftest import SHAPE


@pytest.fixture(scope="module")
def fitted(region):
    stack = CovariateStack.open(
        [
            CovariateLayer("elevation", region.covariates["elevation"]),
            CovariateLayer("rain", region.covariates["rain"]),
            CovariateLayer("landcover", region.covariates["landcover"], categorical=True),
        ]
    )
    s = region.samples
    X = stack.extract(s["east"], s["north"], "EPSG:32634")[stack.names]
    frame = PlanarFrame.for_points(s["east"], s["north"], "EPSG:32634")
    coords = frame.transform(s["east"], s["north"])
    model = SOCStockModel(
        n_estimators=40, random_state=0, categorical=["landcover"], kriging=True, n_jobs=1
    ).fit(X, s["stock"], coords=coords)
    aoa = AreaOfApplicability().fit(
        model.encoder_.transform(X), weights=model.regressor_.feature_importances_
    )
    return stack, model, aoa, frame


def test_grid_matches_point_predictions_and_window_size(fitted):
    stack, model, aoa, frame = fitted
    big = predict_grid(model, stack, aoa=aoa, frame=frame)
    small = predict_grid(model, stack, aoa=aoa, frame=frame, max_cells_per_window=100)
    for name in OUTPUT_VARIABLES:
        np.testing.assert_allclose(big[name].values, small[name].values, equal_nan=True)
        assert big[name].attrs["units"] == OUTPUT_VARIABLES[name][1]
    rows, cols = np.array([0, 12, 29]), np.array([0, 20, 39])
    x, y = big["x"].values[cols], big["y"].values[rows]
    table = stack.extract(x, y, "EPSG:32634")[stack.names]
    expected = model.predict(table, coords=frame.transform(x, y))
    np.testing.assert_allclose(big["soc_mean_t_ha"].values[rows, cols], expected)
    q05, med, q95 = (big[v].values for v in ("soc_q05_t_ha", "soc_median_t_ha", "soc_q95_t_ha"))
    assert np.all(q05 <= med) and np.all(med <= q95)
    assert set(np.unique(big["aoa"].values)) <= {0.0, 1.0}
    assert big.rio.crs.to_epsg() == 32634


def test_mask_leaves_cells_empty(fitted):
    stack, model, aoa, frame = fitted
    mask = np.zeros(SHAPE, bool)
    mask[5:10, 5:15] = True
    ds = predict_grid(model, stack, mask=mask, frame=frame)
    assert np.isfinite(ds["soc_mean_t_ha"].values).sum() == mask.sum()
    assert "di" not in ds


def test_writers_produce_cogs_and_netcdf(fitted, tmp_path):
    stack, model, aoa, frame = fitted
    ds = predict_grid(model, stack, aoa=aoa, frame=frame)
    written = write_prediction(ds, tmp_path, prefix="soc", attrs={"software": "socseq test"})
    names = sorted(p.name for p in written)
    assert names == sorted([f"soc_{v}.tif" for v in OUTPUT_VARIABLES] + ["soc.nc"])
    mean = open_raster(tmp_path / "soc_soc_mean_t_ha.tif", name="mean")
    np.testing.assert_allclose(mean.values, ds["soc_mean_t_ha"].values, rtol=1e-6)
    with rasterio.open(tmp_path / "soc_aoa.tif") as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 255
        assert src.tags()["software"] == "socseq test"
    import xarray as xr

    with xr.open_dataset(tmp_path / "soc.nc") as nc:
        assert nc["soc_q95_t_ha"].attrs["units"] == "t ha-1"
        assert nc.attrs["software"] == "socseq test"
