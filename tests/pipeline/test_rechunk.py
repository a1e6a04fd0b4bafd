"""Climate sources rewritten into scratch before the windows (socseq.pipeline.rechunk).

The products of a run whose climate is rewritten must be those of the same run reading the
files, bit for bit: packed int16 series (scale factor, offset, fill value) stored south-up in
chunks that straddle the windows, a float32 series in whole-map chunks, and a geographic
series; with missing cells that the coastal fill fills. The rule rewrites wide chunks and not
small ones; the rewrite runs on a two-process LocalCluster; a failed rewrite leaves no store,
and a store the run did not write itself is not trusted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from affine import Affine

import socseq.pipeline.rechunk as rechunk
from socseq.io.grid import GridSpec
from socseq.io.raster import write_geotiff, write_netcdf
from socseq.pipeline.config import load_run_config
from socseq.pipeline.execute import Executor
from socseq.pipeline.inputs import read_window
from socseq.pipeline.plan import plan_inputs, windows
from socseq.pipeline.run import WORK, run_pipeline
from socseq.pipeline.validate import run_grid

from .conftest import CRS, Region, _da, climate, write_region
from .equality_cases import dump, offgrid_climate

UNITS = {"tas": "degC", "pr": "mm", "pet": "mm"}
#: int16 packing of each variable (scale factor, offset), as TerraClimate packs its series.
PACKING = {"tas": (0.01, 20.0), "pr": (0.1, 0.0), "pet": (0.01, 0.0)}


def _coarse_climate(region: Region, *, packed: bool, chunks: tuple[int, int, int]) -> None:
    """Replace the region's climate by a 2 km series with a corner of missing cells.

    ``packed``: int16 with scale factor, offset and ``_FillValue``, stored south-up (y
    increasing); else float32 with NaN, north-up.
    """
    ny, nx = region.grid.shape
    coarse = GridSpec(
        CRS, Affine(2000.0, 0, 197_000.0, 0, -2000.0, 2_603_000.0), nx // 2 + 4, ny // 2 + 4
    )
    clim = climate(coarse, 1981, 40, np.random.default_rng(3))
    time = pd.date_range("1981-01-01", periods=480, freq="MS")
    for name, units in UNITS.items():
        values = clim[name].astype(np.float32)
        values[:, :4, :3] = np.nan  # no climate: the nearest cells within the distance fill
        da = _da(coarse, values, name).assign_coords(time=time)
        da.attrs["units"] = units
        encoding: dict = {"chunksizes": chunks}
        if packed:
            da = da.isel(y=slice(None, None, -1))
            scale, offset = PACKING[name]
            encoding |= {
                "dtype": "int16",
                "scale_factor": scale,
                "add_offset": offset,
                "_FillValue": np.int16(-32768),
            }
        write_netcdf(da.to_dataset(), region.root / f"{name}.nc", encoding={name: encoding})
    text = region.config.read_text().replace(
        '[climate]\nevaporation_kind = "pet"',
        '[climate]\nevaporation_kind = "pet"\nfill_distance_m = 2500',
    )
    region.config.write_text(text)


def _packed(root: Path) -> Path:
    region = write_region(root)
    _coarse_climate(region, packed=True, chunks=(12, 5, 6))
    return region.config


def _float32(root: Path) -> Path:
    region = write_region(root)
    _coarse_climate(region, packed=False, chunks=(1, 16, 19))
    return region.config


def _lonlat(root: Path) -> Path:
    return offgrid_climate(root)


CASES = {"packed-int16": _packed, "float32": _float32, "lonlat": _lonlat}


def _run(config: Path, out: Path, force: bool, **kwargs) -> dict:
    rechunk._FORCE = force
    try:
        result = run_pipeline(load_run_config(config), output_dir=out, keep_work=True, **kwargs)
    finally:
        rechunk._FORCE = None
    return result.manifest


def _results(out: Path) -> dict[str, np.ndarray]:
    group = zarr.open_group(str(out / WORK / "results.zarr"), mode="r")
    return {name: np.asarray(array[...]) for name, array in group.arrays()}


def _assert_identical(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert got.keys() == want.keys()
    for name, values in want.items():
        assert got[name].dtype == values.dtype, name
        assert np.array_equal(got[name], values, equal_nan=values.dtype.kind == "f"), name


@pytest.fixture(scope="module")
def reading_the_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Each case's configuration and the output of its run reading the files (no rewrite)."""
    root = tmp_path_factory.mktemp("rechunk")
    runs = {}
    for name, build in CASES.items():
        config = build(root / name)
        out = root / f"{name}-files"
        manifest = _run(config, out, force=False)
        assert not any(s["rewritten"] for s in manifest["staging"]["rechunked_sources"].values())
        runs[name] = (config, out)
    return runs


@pytest.mark.parametrize("case", sorted(CASES))
def test_products_of_a_rewritten_climate_equal_those_of_the_files_bit_for_bit(
    reading_the_files: dict[str, tuple[Path, Path]], case: str, tmp_path: Path
) -> None:
    config, files = reading_the_files[case]
    out = tmp_path / "rewritten"
    manifest = _run(config, out, force=True)
    sources = manifest["staging"]["rechunked_sources"]
    assert len(sources) == 3 and all(s["rewritten"] for s in sources.values()), sources
    assert len(list((out / WORK / "sources").glob("*.zarr"))) == 3
    assert sum(manifest["staging"]["coastal_filled_cells"].values()) > 0
    _assert_identical(dump(out), dump(files))
    _assert_identical(_results(out), _results(files))


def test_the_rewrite_runs_on_a_two_process_local_cluster(
    reading_the_files: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    config, files = reading_the_files["packed-int16"]
    out = tmp_path / "cluster"
    manifest = _run(config, out, force=True, workers=2)
    assert "LocalCluster, 2 worker processes" in manifest["scheduler"]
    assert all(s["rewritten"] for s in manifest["staging"]["rechunked_sources"].values())
    _assert_identical(dump(out), dump(files))
    _assert_identical(_results(out), _results(files))


# --------------------------------------------------------------------------------------------
# The rule


def _criterion_region(root: Path, chunks: tuple[int, int, int], **encoding) -> Path:
    """A 512 × 512 km grid read in 128-cell windows, and a 2 km series of two years."""
    root.mkdir(parents=True)
    grid = GridSpec(CRS, Affine(1000.0, 0, 200_000.0, 0, -1000.0, 2_600_000.0), 512, 512)
    ones = np.ones(grid.shape, np.float32)
    write_geotiff(_da(grid, 40 * ones, "soc"), root / "soc.tif", dtype="float32")
    write_geotiff(_da(grid, 25 * ones, "clay"), root / "clay.tif", dtype="float32")
    write_geotiff(_da(grid, (2 * ones).astype(np.uint8), "lu"), root / "lu.tif", nodata=0)
    coarse = GridSpec(CRS, Affine(2000.0, 0, 198_000.0, 0, -2000.0, 2_602_000.0), 258, 258)
    clim = climate(coarse, 2001, 2, np.random.default_rng(0))
    time = pd.date_range("2001-01-01", periods=24, freq="MS")
    for name, units in UNITS.items():
        da = _da(coarse, clim[name].astype(np.float32), name).assign_coords(time=time)
        da.attrs["units"] = units
        enc = {name: {"chunksizes": chunks, **encoding}}
        write_netcdf(da.to_dataset(), root / f"{name}.nc", encoding=enc)
    config = root / "run.toml"
    config.write_text("""
[run]
name = "rule"
iso = "XRU"
output_dir = "out"
chunk_size = 128
[periods]
spinup = [2001, 2001]
warmup = [2002, 2002]
forward_years = 1
[inputs]
soc = { path = "soc.tif", units = "t/ha" }
clay = { path = "clay.tif", units = "%" }
land_use = { path = "lu.tif" }
[climate]
evaporation_kind = "pet"
fill_distance_m = 5000
[climate.series]
temperature = { path = "tas.nc", variable = "tas", units = "degC" }
precipitation = { path = "pr.nc", variable = "pr", units = "mm" }
evaporation = { path = "pet.nc", variable = "pet", units = "mm" }
""")
    return config


def _survey(config_path: Path, chunk: int = 128) -> list[rechunk.SourceSurvey]:
    config = load_run_config(config_path)
    grid, _ = run_grid(config)
    return rechunk.survey(plan_inputs(config, grid), windows(grid, chunk), slots=2, force=None)


def test_the_rule_rewrites_wide_chunks_and_not_small_ones(tmp_path: Path) -> None:
    # 16 windows; each loads about 76 × 76 of the 258 × 258 source cells (window, fill margin
    # and resampling margin), 64 cells apart.
    wide = _survey(_criterion_region(tmp_path / "wide", (1, 258, 258)))
    assert all(s.rewrite for s in wide), [s.reason for s in wide]
    # Every window decompresses the whole map of every month it reads: 16 times over.
    assert [round(s.amplification, 6) for s in wide] == [16.0] * 3
    assert all(s.decoded - s.once >= rechunk.MIN_REDUNDANT_VALUES for s in wide)
    layout = wide[0].layout
    assert layout is not None and layout.shape == (24, 258, 258)
    assert sum(np.prod([b.stop - b.start for b in block]) for block in layout.blocks) == (
        24 * 258 * 258
    )

    small = _survey(_criterion_region(tmp_path / "small", (1, 16, 16)))
    assert not any(s.rewrite for s in small)
    # Chunks of 16 cells: each window decompresses a few rows and columns more than it loads,
    # and the margins overlap; well under the rule's 3.
    assert all(1.0 < s.amplification < rechunk.MIN_AMPLIFICATION for s in small)
    assert {s.reason for s in small} == {"decode amplification below 3"}

    one = _survey(tmp_path / "wide" / "run.toml", chunk=512)
    assert {s.reason for s in one} == {"one window"} and not any(s.rewrite for s in one)

    plain = _survey(
        _criterion_region(
            tmp_path / "plain", (1, 258, 258), zlib=False, complevel=None, shuffle=False
        )
    )
    assert {s.reason for s in plain} == {"not a chunked, compressed NetCDF-4/HDF5 or Zarr variable"}


# --------------------------------------------------------------------------------------------
# Faults


def test_a_failed_rewrite_leaves_no_store_and_a_store_it_did_not_write_is_not_trusted(
    reading_the_files: dict[str, tuple[Path, Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load_run_config(reading_the_files["packed-int16"][0])
    grid, _ = run_grid(config)
    plan = plan_inputs(config, grid)
    tiles = windows(grid, config.run.chunk_size)
    surveys = rechunk.survey(plan, tiles, slots=2, force=True)
    folder = tmp_path / "sources"

    written = rechunk._write_block
    calls = []

    def failing(jobs, item):  # writes its block, then fails on the second one
        calls.append(item)
        if len(calls) == 2:
            raise OSError("the disk went away")
        return written(jobs, item)

    monkeypatch.setattr(rechunk, "_write_block", failing)
    with Executor(threads=1) as executor, pytest.raises(OSError, match="went away"):
        rechunk.rechunk_sources(plan, surveys, folder, executor)
    assert list(folder.iterdir()) == []  # neither a finished store nor a partial one
    monkeypatch.setattr(rechunk, "_write_block", written)

    # A store under the final name that this call did not write (a leftover, a copy): the
    # rewrite replaces it, so the windows read the file's values.
    stale = folder / "00-tas.zarr"
    group = zarr.open_group(str(stale), mode="w", zarr_format=2)
    group.create_array("values", shape=(480, 16, 19), dtype="float32", fill_value=0.0)
    with Executor(threads=1) as executor:
        rewritten, info = rechunk.rechunk_sources(plan, surveys, folder, executor)
    assert all(entry["rewritten"] for entry in info.values())
    assert rewritten.warm.layers["tas"].path == str(stale)
    for tile in tiles:
        want, got = read_window(plan, tile), read_window(rewritten, tile)
        for name, values in want.climate.items():
            assert np.array_equal(got.climate[name], values, equal_nan=True), name
