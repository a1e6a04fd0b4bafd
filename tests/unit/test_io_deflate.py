"""NetCDF variables compressed on threads equal those HDF5's own filters write.

The second method is HDF5 itself: the same dataset written with every variable left to
xarray and h5py (the library shuffles and deflates), and files read back through HDF5's
filters (h5py) and through netCDF-C (netCDF4), not through the code under test.
"""

from __future__ import annotations

import dask.array as dsa
import h5py
import numpy as np
import pytest
import xarray as xr

import socseq.io._deflate as deflate
from socseq.io.raster import write_netcdf


def _dataset() -> xr.Dataset:
    rng = np.random.default_rng(7)
    scenarios, years, height, width = 3, 4, 300, 530  # edge chunks on both map axes
    soc = rng.normal(40, 5, (scenarios, years, height, width)).astype(np.float32)
    soc[:, :, :12, :40] = np.nan
    flag = rng.integers(0, 2, (scenarios, height, width)).astype(np.uint8)
    flag[:, -3:, :] = 255
    y = 2_900_000 - 500 - 1000 * np.arange(height)
    x = 100_500 + 1000 * np.arange(width)
    ds = xr.Dataset(
        {
            # Dask blocks that do not line up with the 256-cell chunks.
            "soc": (
                ("scenario", "year", "y", "x"),
                dsa.from_array(soc, chunks=(2, 3, 100, 130)),
                {"units": "t ha-1", "long_name": "stock"},
            ),
            "flag": (
                ("scenario", "y", "x"),
                flag,
                {"flag_values": np.array([0, 1, 255], np.uint8)},
            ),
            "t0": (("y", "x"), soc[0, 0].astype(np.float64), {"long_name": "stock at T0"}),
        },
        coords={
            "scenario_name": (("scenario",), np.array(["BAU", "SSM1", "SSM2"], dtype=object)),
            "year": np.arange(2020, 2020 + years),
            "y": y,
            "x": x,
        },
    )
    return ds.rio.write_crs("EPSG:3826")


def _write(path, threads: int, *, by_hdf5: bool, monkeypatch) -> None:
    with monkeypatch.context() as patch:
        if by_hdf5:
            patch.setattr(deflate, "is_deflated", lambda encoding, var: False)
        write_netcdf(
            _dataset(),
            path,
            encoding={"flag": {"_FillValue": 255}},
            complevel=1,
            threads=threads,
        )


@pytest.mark.parametrize("threads", [1, 3])
def test_threaded_file_equals_the_one_hdf5_filters_write(tmp_path, monkeypatch, threads) -> None:
    ours, theirs = tmp_path / "ours.nc", tmp_path / "theirs.nc"
    _write(ours, threads, by_hdf5=False, monkeypatch=monkeypatch)
    _write(theirs, 1, by_hdf5=True, monkeypatch=monkeypatch)

    with (
        xr.open_dataset(ours, engine="h5netcdf") as a,
        xr.open_dataset(theirs, engine="h5netcdf") as b,
    ):
        xr.testing.assert_identical(a.load(), b.load())
        for name in ("soc", "flag", "t0"):
            for key in ("chunksizes", "zlib", "shuffle", "complevel", "dtype", "_FillValue"):
                assert str(a[name].encoding.get(key)) == str(b[name].encoding.get(key)), (name, key)

    with h5py.File(ours) as a, h5py.File(theirs) as b:
        for name in ("soc", "flag", "t0"):
            assert a[name].chunks == b[name].chunks
            assert a[name].compression == b[name].compression == "gzip"
            assert a[name].shuffle and b[name].shuffle
            # HDF5's filters decode our chunks (raw values, fill values included).
            np.testing.assert_array_equal(a[name][()], b[name][()])


def test_netcdf_c_reads_the_threaded_file(tmp_path, monkeypatch) -> None:
    netcdf4 = pytest.importorskip("netCDF4")
    path = tmp_path / "ours.nc"
    _write(path, 2, by_hdf5=False, monkeypatch=monkeypatch)
    expected = _dataset()
    with netcdf4.Dataset(path) as nc:
        soc = nc["soc"][:]
        np.testing.assert_array_equal(
            np.ma.filled(soc.astype(np.float64), np.nan), expected["soc"].values
        )
        flag = nc["flag"][:]
        assert flag.mask.sum() == (expected["flag"].values == 255).sum()
        assert nc["soc"].filters()["zlib"] and nc["soc"].filters()["shuffle"]
        assert nc["soc"].dimensions == ("scenario", "year", "y", "x")
        assert nc["soc"].grid_mapping == "spatial_ref"
