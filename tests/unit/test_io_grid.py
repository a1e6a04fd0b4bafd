"""Template grid, alignment rules, coastal filling and true cell areas."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from affine import Affine
from pyproj import Geod, Transformer

from socseq.exceptions import (
    GridMismatchError,
    InputValidationError,
    MissingCRSError,
    SocseqError,
)
from socseq.io.grid import (
    GridSpec,
    align_to_template,
    cell_area_ha,
    coord_bounds,
    coord_transform,
    fill_from_nearest,
)

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

ARCSEC30 = 1 / 120


def _one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert isinstance(exc.value, SocseqError)
    return message


def _on(grid: GridSpec, values, name="layer") -> xr.DataArray:
    """A DataArray holding ``values`` on ``grid``."""
    da = grid.template(np.asarray(values).dtype, name=name)
    return da.copy(data=np.asarray(values))


# --- GridSpec --------------------------------------------------------------------------------


def test_gridspec_from_bounds_geometry():
    grid = GridSpec.from_bounds("EPSG:4326", ARCSEC30, (120.0, 22.0, 121.0, 23.5))
    assert grid.shape == (180, 120)
    assert grid.is_geographic
    np.testing.assert_allclose(grid.bounds, (120.0, 22.0, 121.0, 23.5))
    np.testing.assert_allclose(grid.res, (ARCSEC30, ARCSEC30))
    y, x = grid.coords()
    assert y[0] == pytest.approx(23.5 - ARCSEC30 / 2) and y[-1] < y[0]
    assert x[0] == pytest.approx(120.0 + ARCSEC30 / 2)
    template = grid.template()
    assert template.rio.crs.to_epsg() == 4326 and np.isnan(template).all()
    assert GridSpec.from_raster(template) == grid
    assert repr(grid).startswith("GridSpec(crs='EPSG:4326', transform=Affine(")
    assert "\n" not in repr(grid)


def test_gridspec_projected_and_invalid():
    grid = GridSpec.from_bounds("EPSG:3826", 1000, (150_000, 2_400_000, 350_000, 2_800_000))
    assert grid.shape == (400, 200) and not grid.is_geographic
    with pytest.raises(GridMismatchError) as exc:
        GridSpec("EPSG:4326", Affine(1, 0.5, 0, 0, -1, 0), 2, 2)
    assert "north-up" in _one_line(exc)
    with pytest.raises(GridMismatchError):
        GridSpec.from_bounds("EPSG:4326", 1.0, (1, 0, 0, 1))
    no_crs = xr.DataArray(np.ones((2, 2)), dims=("y", "x"), coords={"y": [1, 0], "x": [0, 1]})
    with pytest.raises(MissingCRSError):
        GridSpec.from_raster(no_crs)


# --- alignment -------------------------------------------------------------------------------

TARGET = GridSpec.from_bounds("EPSG:32631", 1000, (500_000, 5_000_000, 510_000, 5_010_000))


def test_bilinear_reproduces_a_linear_field_and_keeps_time():
    # Refining a 2 km source to 1 km interpolates; bilinear is exact for a plane.
    src_grid = GridSpec.from_bounds("EPSG:32631", 2000, (496_000, 4_996_000, 514_000, 5_014_000))
    y, x = src_grid.coords()
    plane = 0.001 * x[None, :] + 0.002 * y[:, None]
    times = pd.date_range("2001-01-01", periods=2, freq="MS")
    src = xr.concat([_on(src_grid, plane), _on(src_grid, plane + 1)], dim="time")
    src = src.assign_coords(time=times)
    out = align_to_template(src, TARGET, kind="continuous", name="tas")
    assert out.attrs["resampling"] == "bilinear"
    assert out.dims == ("time", "y", "x")
    np.testing.assert_array_equal(out["time"].values, times.values)
    ty, tx = TARGET.coords()
    np.testing.assert_array_equal(out["y"].values, ty)
    expected = 0.001 * tx[None, :] + 0.002 * ty[:, None]
    np.testing.assert_allclose(out.values[0], expected, rtol=1e-9)
    np.testing.assert_allclose(out.values[1] - out.values[0], 1.0)


def test_bilinear_is_kept_when_the_source_is_less_than_2x_finer():
    src_grid = GridSpec.from_bounds("EPSG:32631", 750, (498_000, 4_998_000, 512_000, 5_012_000))
    out = align_to_template(
        _on(src_grid, np.ones(src_grid.shape)), TARGET, kind="continuous", name="tas"
    )
    assert out.attrs["resampling"] == "bilinear"


def test_global_geographic_source_onto_a_projected_grid():
    # A CRU-like global 0.5° field, linear in lon/lat, so bilinear is exact at every centre.
    world = GridSpec.from_bounds("EPSG:4326", 0.5, (-180, -90, 180, 90))
    lat, lon = world.coords()
    field = lon[None, :] + 10 * lat[:, None]
    out = align_to_template(_on(world, field), TARGET, kind="continuous", name="tmp")
    assert out.attrs["resampling"] == "bilinear"
    ty, tx = np.meshgrid(*TARGET.coords(), indexing="ij")
    c_lon, c_lat = Transformer.from_crs(32631, 4326, always_xy=True).transform(tx, ty)
    np.testing.assert_allclose(out.values, c_lon + 10 * c_lat, rtol=1e-6)


def test_average_is_chosen_when_coarsening_more_than_2x():
    fine = GridSpec.from_bounds("EPSG:32631", 250, TARGET.bounds)
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 50, fine.shape)
    out = align_to_template(_on(fine, values), TARGET, kind="continuous", name="clay")
    assert out.attrs["resampling"] == "average"
    block_means = values.reshape(10, 4, 10, 4).mean(axis=(1, 3))
    np.testing.assert_allclose(out.values, block_means, rtol=1e-9)


def test_mode_keeps_the_majority_class_and_nearest_is_allowed():
    fine = GridSpec.from_bounds("EPSG:32631", 250, TARGET.bounds)
    classes = np.full(fine.shape, 10, dtype="uint8")
    # In every 4×4 block, 9 cells of class 30 and 7 of class 10: the mean (18.75) is no class.
    classes.reshape(10, 4, 10, 4)[:, :3, :, :3] = 30
    lu = _on(fine, classes).rio.write_nodata(0)
    out = align_to_template(lu, TARGET, kind="categorical", name="landuse")
    assert out.attrs["resampling"] == "mode"
    assert out.dtype == np.uint8
    assert (out.values == 30).all()
    nearest = align_to_template(lu, TARGET, kind="categorical", resampling="nearest", name="lu")
    assert set(np.unique(nearest.values)) <= {10, 30}
    with pytest.raises(InputValidationError) as exc:
        align_to_template(lu, TARGET, kind="categorical", resampling="bilinear", name="landuse")
    assert "mode, nearest" in _one_line(exc)
    with pytest.raises(InputValidationError):
        align_to_template(lu, TARGET, kind="ordinal", name="landuse")  # type: ignore[arg-type]


def test_reprojection_keeps_nan_as_nodata_and_outside_is_nan():
    # A 30″ source over part of the UTM target: cells outside the source become NaN.
    geo = GridSpec.from_bounds("EPSG:4326", ARCSEC30, (2.95, 45.12, 3.05, 45.2))
    values = np.full(geo.shape, 7.0)
    values[:, : geo.width // 2] = np.nan
    out = align_to_template(_on(geo, values), TARGET, kind="continuous", name="soc")
    finite = out.values[np.isfinite(out.values)]
    np.testing.assert_allclose(finite, 7.0)
    assert np.isnan(out.values).any()
    assert out.rio.crs.to_epsg() == 32631


def test_already_aligned_layer_is_returned_unchanged():
    values = np.arange(100.0).reshape(10, 10)
    out = align_to_template(_on(TARGET, values), TARGET, kind="continuous", name="soc")
    np.testing.assert_array_equal(out.values, values)


def test_alignment_errors_name_layer_and_fix():
    no_crs = xr.DataArray(np.ones((2, 2)), dims=("y", "x"), coords={"y": [1, 0], "x": [0, 1]})
    with pytest.raises(MissingCRSError) as exc:
        align_to_template(no_crs, TARGET, kind="continuous", name="clay")
    assert "'clay'" in _one_line(exc)
    far = GridSpec.from_bounds("EPSG:4326", 0.5, (120, 22, 122, 25))
    src = _on(far, np.ones(far.shape)).assign_attrs(source="cru_tmp.nc")
    with pytest.raises(GridMismatchError) as exc:
        align_to_template(src, TARGET, kind="continuous", name="tmp")
    message = _one_line(exc)
    assert "0 %" in message and "cru_tmp.nc" in message and "'tmp'" in message


# --- coastal fill ----------------------------------------------------------------------------


def test_fill_from_nearest_projected_distances_and_mask():
    values = np.full((3, 8), np.nan)
    values[:, :2] = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    da = _on(GridSpec.from_bounds("EPSG:3826", 1000, (0, 0, 8000, 3000)), values)
    out = fill_from_nearest(da, max_distance_m=2500)
    # Columns 2 and 3 are 1 and 2 km from column 1, column 4 is 3 km away.
    np.testing.assert_array_equal(out.values[:, 2], values[:, 1])
    np.testing.assert_array_equal(out.values[:, 3], values[:, 1])
    assert np.isnan(out.values[:, 4:]).all()
    assert out.attrs["filled_cells"] == 6
    mask = np.zeros((3, 8), bool)
    mask[1, 2] = True
    masked = fill_from_nearest(da, max_distance_m=2500, mask=mask)
    assert masked.values[1, 2] == 4.0 and np.isnan(masked.values[0, 2])
    np.testing.assert_array_equal(da.values, values)  # input untouched


def test_fill_from_nearest_geographic_uses_cos_latitude():
    # At 60° N a 0.01° column step is ~556 m but a 0.01° row step is ~1112 m.
    grid = GridSpec.from_bounds("EPSG:4326", 0.01, (10.0, 59.98, 10.03, 60.02))
    values = np.full(grid.shape, np.nan)
    values[1, 0] = 9.0
    out = fill_from_nearest(_on(grid, values), max_distance_m=700)
    assert out.values[1, 1] == 9.0  # east neighbour, ~556 m
    assert np.isnan(out.values[0, 0]) and np.isnan(out.values[2, 0])  # rows ~1112 m away
    assert np.isnan(out.values[1, 2])  # ~1112 m east
    filled = fill_from_nearest(_on(grid, values), max_distance_m=1200)
    assert filled.values[0, 0] == 9.0 and filled.values[1, 2] == 9.0


def test_fill_from_nearest_uses_one_index_for_all_months():
    grid = GridSpec.from_bounds("EPSG:3826", 1000, (0, 0, 4000, 1000))
    months = [_on(grid, np.array([[m, m + 10, np.nan, np.nan]])) for m in (1.0, 2.0, 3.0)]
    da = xr.concat(months, dim="month").assign_coords(month=[1, 2, 3])
    out = fill_from_nearest(da, max_distance_m=1000)
    np.testing.assert_array_equal(out.values[:, 0, 2], [11.0, 12.0, 13.0])
    assert np.isnan(out.values[:, 0, 3]).all()
    assert out.dims == ("month", "y", "x")


def test_fill_from_nearest_breaks_ties_by_position_whatever_the_window():
    """Equidistant sources: the northernmost, then westernmost, in the grid and in a window."""
    grid = GridSpec.from_bounds("EPSG:3826", 1000, (0, 0, 7000, 7000))
    values = np.full(grid.shape, np.nan)
    # Target (3, 3): four sources at 2 km (N, S, W, E) and four at sqrt(5) km further out.
    values[1, 3], values[5, 3], values[3, 1], values[3, 5] = 10.0, 20.0, 30.0, 40.0
    # Target (3, 0)... (0, 6): a target equidistant from two sources in one row.
    values[0, 4], values[0, 6] = 50.0, 60.0
    da = _on(grid, values)
    mask = np.zeros(grid.shape, bool)
    mask[3, 3] = mask[0, 5] = True
    out = fill_from_nearest(da, max_distance_m=2500, mask=mask)
    assert out.values[3, 3] == 10.0  # north of it
    assert out.values[0, 5] == 50.0  # west of it
    # A window whose origin differs (cell centres computed from another corner) agrees.
    window = da.isel(y=slice(0, 6), x=slice(1, 7))
    sub = fill_from_nearest(window, max_distance_m=2500, mask=mask[0:6, 1:7])
    assert sub.values[3, 2] == 10.0 and sub.values[0, 4] == 50.0
    # Flipping the array's order must not change the choice either.
    flipped = fill_from_nearest(
        da.isel(x=slice(None, None, -1)), max_distance_m=2500, mask=mask[:, ::-1]
    )
    assert flipped.values[3, 3] == 10.0 and flipped.values[0, 1] == 50.0


def test_fill_from_nearest_needs_some_data():
    grid = GridSpec.from_bounds("EPSG:3826", 1000, (0, 0, 2000, 1000))
    with pytest.raises(InputValidationError) as exc:
        fill_from_nearest(_on(grid, np.full((1, 2), np.nan)), max_distance_m=1000, name="pr")
    assert "'pr'" in _one_line(exc)


# --- cell areas ------------------------------------------------------------------------------


def test_cell_area_30_arcsec_at_equator_and_cos_latitude():
    grid = GridSpec.from_bounds("EPSG:4326", ARCSEC30, (0.0, -ARCSEC30, ARCSEC30, ARCSEC30))
    area = cell_area_ha(grid)
    assert area.attrs["units"] == "ha"
    equator = float(area.values[0, 0])
    # 85.9 ha is the spherical estimate; the WGS84 ellipsoid gives 85.48 ha.
    assert equator == pytest.approx(85.9, rel=0.01)
    lon = [0, ARCSEC30, ARCSEC30, 0]
    geodesic, _ = Geod(ellps="WGS84").polygon_area_perimeter(lon, [0, 0, ARCSEC30, ARCSEC30])
    assert equator * 1e4 == pytest.approx(abs(geodesic), rel=1e-6)

    for lat in (23.5, 60.0):
        band = GridSpec.from_bounds("EPSG:4326", ARCSEC30, (0.0, lat, ARCSEC30, lat + ARCSEC30))
        ratio = float(cell_area_ha(band).values[0, 0]) / equator
        # The cos(latitude) rule is spherical; on the ellipsoid 60° N cells are ~1 % larger.
        assert ratio == pytest.approx(math.cos(math.radians(lat + ARCSEC30 / 2)), rel=0.015)


def test_cell_area_projected_and_feet_refused():
    grid = GridSpec.from_bounds("EPSG:3826", 1000, (0, 0, 3000, 2000))
    np.testing.assert_allclose(cell_area_ha(grid).values, 100.0)
    assert cell_area_ha(grid).shape == (2, 3)
    feet = GridSpec.from_bounds("EPSG:2227", 3000, (0, 0, 9000, 9000))
    with pytest.raises(GridMismatchError) as exc:
        cell_area_ha(feet)
    assert "metre" in _one_line(exc)


# --- window-by-window resampling -------------------------------------------------------------


def _source(crs: str, transform: Affine, values: np.ndarray) -> xr.DataArray:
    grid = GridSpec(crs, transform, values.shape[-1], values.shape[-2])
    y, x = grid.coords()
    da = xr.DataArray(values, dims=("time", "y", "x"), coords={"y": y, "x": x})
    return da.rio.write_crs(crs).rio.write_transform(transform)


@pytest.mark.parametrize(
    ("crs", "transform", "target"),
    [
        # 0.05° lat/lon onto a 1 km TWD97 grid, which reaches past the source's edges.
        ("EPSG:4326", Affine(0.05, 0, 120.5, 0, -0.05, 23.6), (200_000.0, 2_620_000.0, 120, 150)),
        # 5 km onto 1 km in one CRS, the target larger than the source on every side.
        (
            "EPSG:3826",
            Affine(5000, 0, 100_000, 0, -5000, 2_900_000),
            (95_000.0, 2_905_000.0, 160, 160),
        ),
    ],
)
def test_many_band_bilinear_equals_gdal_and_does_not_depend_on_the_window(crs, transform, target):
    """Coordinates computed once and GDAL's formula equal GDAL's exact warp of every band."""
    from socseq.io.grid import _source_grid, _warp, resample_to

    left, top, width, height = target
    grid = GridSpec("EPSG:3826", Affine(1000, 0, left, 0, -1000, top), width, height)
    values = np.random.default_rng(1).random((24, 30, 30)) * 10
    values[:, 5:8, 10:13] = np.nan  # a hole: GDAL's rules for missing neighbours
    values[5, 20, 20] = np.nan  # a gap in one month only
    da = _source(crs, transform, values)
    fast = resample_to(da, grid, method="bilinear", kind="continuous").values
    gdal = _warp(values, _source_grid(da), grid, "bilinear", 1)  # one GDAL warp of all bands
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(gdal))
    np.testing.assert_allclose(fast, gdal, rtol=0, atol=1e-10)
    assert np.isfinite(fast).mean() > 0.5 and np.isnan(fast).any()
    # A window of the grid, read on its own, is the window of the whole grid.
    window = grid.window(40, 48, 37, 53)
    part = resample_to(da, window, method="bilinear", kind="continuous").values
    np.testing.assert_allclose(part, fast[:, 40:48, 37:53], rtol=0, atol=1e-10)
    np.testing.assert_array_equal(np.isnan(part), np.isnan(fast[:, 40:48, 37:53]))


def test_lazy_open_reads_a_block_as_the_eager_open():
    """A layer opened lazily and sliced gives the values of the eager open, nothing more."""
    import tempfile
    from pathlib import Path

    from socseq.io.raster import load_block, open_monthly, write_netcdf

    grid = GridSpec.from_bounds("EPSG:3826", 1000, (0, 0, 40_000, 30_000))
    values = np.random.default_rng(2).random((24, *grid.shape)).astype(np.float32)
    da = grid.template(name="tas").expand_dims(time=pd.date_range("2001-01", periods=24, freq="MS"))
    da = da.copy(data=values)
    da.attrs["units"] = "degC"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tas.nc"
        write_netcdf(da.to_dataset(), path)
        lazy = open_monthly(path, name="tas", variable="tas", lazy=True)
        eager = open_monthly(path, name="tas", variable="tas")
        block = load_block(lazy.isel(time=slice(12, 24), y=slice(3, 17), x=slice(5, 30)))
        want = eager.isel(time=slice(12, 24), y=slice(3, 17), x=slice(5, 30))
        assert block.dtype == np.float64
        np.testing.assert_array_equal(block.values, want.values)


def _centred(x: np.ndarray, y: np.ndarray, crs: str = "EPSG:4326") -> xr.DataArray:
    da = xr.DataArray(np.zeros((y.size, x.size)), dims=("y", "x"), coords={"y": y, "x": x})
    return da.rio.write_crs(crs)


@pytest.mark.parametrize(
    "x, y",
    [
        # 30" cells over Taiwan: spacings that are not exact binary fractions
        (120.0 + ARCSEC30 * (np.arange(37) + 0.5), 24.0 - ARCSEC30 * (np.arange(23) + 0.5)),
        (np.arange(14) * 1000.0 + 200_500.0, 2_649_500.0 - np.arange(12) * 1000.0),  # TM2
        (np.arange(5) * 0.25 - 179.875, np.arange(4) * 0.25 - 89.875),  # south-up
        (np.arange(6)[::-1] * 0.1 + 10.05, np.arange(3)[::-1] * 0.1 + 45.05),  # x decreasing
        (np.array([0.5, 1.5]), np.array([1.5, 0.5])),  # two cells, the fewest with a spacing
    ],
)
def test_coord_transform_and_bounds_are_rioxarrays_bit_for_bit(x, y) -> None:
    da = _centred(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    assert tuple(coord_transform(da)) == tuple(da.rio.transform(recalc=True))
    assert coord_bounds(da) == da.rio.bounds(recalc=True)
    cropped = da.isel(x=slice(1, None), y=slice(1, None))  # a stored transform gone stale
    if cropped.sizes["x"] > 1 and cropped.sizes["y"] > 1:
        assert tuple(coord_transform(cropped)) == tuple(cropped.rio.transform(recalc=True))


def test_coord_transform_of_a_single_row_is_the_stored_one() -> None:
    stored = Affine(0.5, 0, 10.0, 0, -0.5, 50.0)
    da = _centred(np.arange(4) * 0.5 + 10.25, np.array([49.75])).rio.write_transform(stored)
    assert coord_transform(da) == stored == da.rio.transform(recalc=True)
    assert coord_bounds(da) == da.rio.bounds(recalc=True) == (10.0, 49.5, 12.0, 50.0)


def test_coord_transform_of_a_rotated_raster_is_its_stored_one(tmp_path) -> None:
    import warnings

    import rioxarray

    from geotiffs import write_tif

    rotated = Affine(1000.0, 200.0, 200_000.0, 100.0, -1000.0, 2_650_000.0)
    path = write_tif(tmp_path / "rotated.tif", np.ones((4, 5), "float32"), transform=rotated)
    da = rioxarray.open_rasterio(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # rioxarray: "Unable to recalculate"
        assert coord_transform(da) == rotated
