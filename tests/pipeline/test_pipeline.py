"""The gridded pipeline: invariance to chunking and schedulers, agreement with the engine run
cell by cell, the GSOCseq invariants, and the accounting of every agricultural cell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
import zarr

from socseq.pipeline.config import load_run_config
from socseq.pipeline.npp import miami_npp_g_dm_m2
from socseq.pipeline.run import WORK, run_pipeline
from socseq.rothc import MonthlyForcing, RunOptions, Soil, equilibrium, run

from .conftest import Region, write_region


def _run(region: Region, out: Path, **kwargs) -> dict:
    config = load_run_config(region.config)
    if "chunk" in kwargs:
        chunk = kwargs.pop("chunk")
        config = config.model_copy(
            update={"run": config.run.model_copy(update={"chunk_size": chunk})}
        )
    result = run_pipeline(config, output_dir=out, keep_work=True, **kwargs)
    return result.manifest


def _stocks(out: Path) -> np.ndarray:
    return np.asarray(zarr.open_group(str(out / WORK / "results.zarr"), mode="r")["soc"][:])


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Region, Path]:
    root = tmp_path_factory.mktemp("pipeline")
    region = write_region(root / "region")
    out = root / "out-chunk8"
    _run(region, out, chunk=8)
    return region, out


def test_results_do_not_depend_on_chunks_or_scheduler(reference_run, tmp_path):
    region, out = reference_run
    many = _stocks(out)
    _run(region, tmp_path / "one-chunk", chunk=64)
    _run(region, tmp_path / "cluster", chunk=16, workers=2)
    finite = np.isfinite(many)
    assert finite.sum() > 1000
    for other in (_stocks(tmp_path / "one-chunk"), _stocks(tmp_path / "cluster")):
        assert np.array_equal(np.isfinite(other), finite)
        np.testing.assert_allclose(other[finite], many[finite], rtol=1e-9, atol=0)
    manifest = json.loads((tmp_path / "cluster" / "run.json").read_text())
    assert "LocalCluster, 2 worker processes" in manifest["scheduler"]


def test_cluster_workers_keep_glibc_adaptive_trim_and_one_thread_libraries() -> None:
    """The worker processes lack dask's 64 KiB ``MALLOC_TRIM_THRESHOLD_`` (socseq.pipeline.execute)
    and keep dask's other settings (one OpenMP/BLAS thread); their statistical profiler is off,
    and the long-lived objects are frozen out of garbage collections (socseq._heap)."""
    import os

    from socseq.pipeline.execute import Executor

    def worker_state(dask_worker: Any) -> tuple[dict[str, str], list[str], int, Any]:
        import gc

        import zarr

        codec_threads = zarr.config.get("threading.max_workers", None)
        return (
            dict(os.environ),
            list(dask_worker.periodic_callbacks),
            gc.get_freeze_count(),
            codec_threads,
        )

    with Executor(workers=1, threads=1) as executor:
        states = executor.client.run(worker_state)
    ((worker, callbacks, frozen, codec_threads),) = states.values()
    assert codec_threads == 1  # zarr's codec pool within the worker's share of --threads
    assert "MALLOC_TRIM_THRESHOLD_" not in worker
    assert worker["OMP_NUM_THREADS"] == "1"
    assert "heartbeat" in callbacks  # the worker's periodic callbacks are seen here
    assert "profile" not in callbacks
    assert frozen > 10_000  # the modules' objects are left out of the cycle collections


def _file_inputs(region: Region, row: int, col: int) -> dict[str, np.ndarray | float]:
    """The cell's inputs read straight from the source files (not from the staged store)."""
    out: dict[str, np.ndarray | float] = {}
    for name in ("soc", "clay", "landuse"):
        with rasterio.open(region.root / f"{name}.tif") as src:
            out[name] = float(src.read(1)[row, col])
    for name in ("tas", "pr", "pet"):
        with xr.open_dataset(region.root / f"{name}.nc") as ds:
            # The pipeline carries climate in float64 from the file to the kernel.
            out[name] = ds[name].values[:, row, col].astype(np.float64)
    return out


def _engine_cell(
    cell: dict, *, rate: float = 1.0, cover: float = 0.6, multipliers=(1.0, 1.05, 1.10, 1.20)
) -> tuple[float, np.ndarray]:
    """GSOCseq phases for one cell with the public engine API, written out step by step."""
    spin = {k: cell[k][:240].reshape(20, 12).mean(axis=0) for k in ("tas", "pr", "pet")}
    dpm_rpm = {2: 1.44, 12: 1.44, 13: 1.44, 3: 0.67, 5: 0.67}[int(cell["landuse"])]
    shares = np.full(12, 1 / 12)
    soil = Soil(clay_pct=cell["clay"], depth_cm=30.0)
    options = RunOptions(evap_coefficient=1.0, rate_factor=rate)
    covered = MonthlyForcing(
        tmp_degC=spin["tas"],
        rain_mm=spin["pr"],
        evap_mm=spin["pet"],
        plant_cover=1.0,
        c_inp_t_ha=shares,
        dpm_rpm=dpm_rpm,
        cover_factor=np.full(12, cover),
    )
    eq = equilibrium(soil, covered, target_soc=cell["soc"], options=options)
    npp_years = [
        miami_npp_g_dm_m2(
            cell["tas"][12 * y : 12 * y + 12].mean(), cell["pr"][12 * y : 12 * y + 12].sum()
        )
        for y in range(20)
    ]
    npp_spin = np.mean(npp_years)
    state = eq.state
    inputs = []
    for year in range(20, 40):
        sl = slice(12 * year, 12 * year + 12)
        annual = (
            eq.annual_input_t_ha[0]
            * miami_npp_g_dm_m2(cell["tas"][sl].mean(), cell["pr"][sl].sum())
            / npp_spin
        )
        inputs.append(annual)
        forcing = MonthlyForcing(
            tmp_degC=cell["tas"][sl],
            rain_mm=cell["pr"][sl],
            evap_mm=cell["pet"][sl],
            plant_cover=1.0,
            c_inp_t_ha=annual * shares,
            dpm_rpm=dpm_rpm,
            cover_factor=np.full(12, cover),
        )
        state = run(soil, forcing, 12, state=state, record="end", options=options).state
    t0 = float(state.soc[0])
    fwd = {k: cell[k][240:].reshape(20, 12).mean(axis=0) for k in ("tas", "pr", "pet")}
    finals = []
    for m in multipliers:
        forcing = MonthlyForcing(
            tmp_degC=fwd["tas"],
            rain_mm=fwd["pr"],
            evap_mm=fwd["pet"],
            plant_cover=1.0,
            c_inp_t_ha=m * np.mean(inputs) * shares,
            dpm_rpm=dpm_rpm,
            cover_factor=np.full(12, cover),
        )
        finals.append(
            float(run(soil, forcing, 240, state=state, record="end", options=options).soc[0, -1])
        )
    return t0, np.array(finals)


def test_each_cell_equals_a_single_site_engine_run(reference_run):
    region, out = reference_run
    with xr.open_dataset(out / "soc_stocks.nc") as ds:
        reason = ds["exclusion_reason"].values
        t0_map = ds["soc_t0_t_ha"].values
        stocks = _stocks(out)
    rows, cols = np.nonzero(reason == 0)
    picks = np.random.default_rng(0).choice(len(rows), 6, replace=False)
    for i in picks:
        r, c = int(rows[i]), int(cols[i])
        t0, finals = _engine_cell(_file_inputs(region, r, c))
        np.testing.assert_allclose(t0_map[r, c], t0, rtol=1e-12)
        np.testing.assert_allclose(stocks[:, -1, r, c], finals, rtol=1e-12)


def test_paddy_simulated_with_the_rate_factor(tmp_path):
    region = write_region(tmp_path / "r", extra='[land_use]\npaddy = "simulate"\n')
    out = tmp_path / "out"
    manifest = _run(region, out)
    assert manifest["cells"]["excluded"]["paddy (excluded by configuration)"] == 0
    with rasterio.open(region.root / "landuse.tif") as src:
        land = src.read(1)
    with xr.open_dataset(out / "soc_stocks.nc") as ds:
        reason = ds["exclusion_reason"].values
        t0_map = ds["soc_t0_t_ha"].values
    stocks = _stocks(out)
    rows, cols = np.nonzero((land == 13) & (reason == 0))
    assert len(rows) > 10
    r, c = int(rows[0]), int(cols[0])
    t0, finals = _engine_cell(_file_inputs(region, r, c), rate=0.4)
    np.testing.assert_allclose(t0_map[r, c], t0, rtol=1e-12)
    np.testing.assert_allclose(stocks[:, -1, r, c], finals, rtol=1e-12)


def test_relative_rates_are_1_2_4(reference_run):
    _, out = reference_run
    with xr.open_dataset(out / "soc_stocks.nc") as ds:
        rsr = ds["rsr_t_ha_yr"].set_xindex("scenario_name")
        rsr = rsr.sel(scenario_name=["SSM1", "SSM2", "SSM3"]).values
    ok = np.isfinite(rsr[0])
    assert ok.sum() > 300 and np.all(rsr[0][ok] > 0)
    np.testing.assert_allclose(rsr[1][ok], 2 * rsr[0][ok], rtol=1e-9)
    np.testing.assert_allclose(rsr[2][ok], 4 * rsr[0][ok], rtol=1e-9)
    summary = pd.read_csv(out / "summary.csv").query("zone == 'all'").set_index("scenario")
    shares = summary["share_4p1000_pct"]
    assert shares["BAU"] <= shares["SSM1"] <= shares["SSM2"] <= shares["SSM3"]
    rates = summary["mean_rsr_t_ha_yr"]
    assert rates["SSM2"] == pytest.approx(2 * rates["SSM1"], rel=1e-9)
    assert rates["SSM3"] == pytest.approx(4 * rates["SSM1"], rel=1e-9)


def test_steady_climate_keeps_the_baseline_stock(tmp_path):
    region = write_region(tmp_path / "r", steady=True)
    out = tmp_path / "out"
    _run(region, out)
    with xr.open_dataset(out / "soc_stocks.nc") as ds:
        asr = ds["asr_t_ha_yr"].set_xindex("scenario_name").sel(scenario_name="BAU").values
        t0 = ds["soc_t0_t_ha"].values
    with rasterio.open(region.root / "soc.tif") as src:
        baseline = src.read(1)
    ok = np.isfinite(asr)
    assert ok.sum() > 300
    np.testing.assert_allclose(asr[ok], 0.0, atol=1e-9)
    np.testing.assert_allclose(t0[ok], baseline[ok], rtol=1e-12)


def test_every_agricultural_cell_is_simulated_or_excluded_with_a_reason(reference_run):
    region, out = reference_run
    manifest = json.loads((out / "run.json").read_text())
    cells = manifest["cells"]
    assert cells["simulated"] + sum(cells["excluded"].values()) == cells["candidate"]
    assert cells["candidate"] + cells["not_agricultural"] + cells["no_land_use"] == cells["grid"]
    assert cells["excluded"]["no SOC baseline"] >= 1
    assert cells["excluded"]["SOC above the mask limit"] == 1
    table = pd.read_csv(out / "exclusions.csv")
    assert table["cells"].sum() == cells["grid"]
    with rasterio.open(out / "maps" / "XTS_GSOCseq_T0_Map030.tif") as src:
        t0 = src.read(1)
        assert src.nodata == -999 and src.crs.to_epsg() == 3826
    assert (t0 != -999).sum() == cells["simulated"]


def test_products_are_named_and_described(reference_run):
    _, out = reference_run
    names = {p.name for p in (out / "maps").iterdir()}
    for kind in ("finalSOC", "AbsDiff", "ASR"):
        for scen in ("BAU", "SSM1", "SSM2", "SSM3"):
            assert f"XTS_GSOCseq_{kind}_{scen}_Map030.tif" in names
    for kind in ("RelDiff", "RSR"):
        assert f"XTS_GSOCseq_{kind}_BAU_Map030.tif" not in names
        for scen in ("SSM1", "SSM2", "SSM3"):
            assert f"XTS_GSOCseq_{kind}_{scen}_Map030.tif" in names
    assert "XTS_GSOCseq_T0_Map030.tif" in names
    with xr.open_dataset(out / "soc_stocks.nc", decode_coords="all") as ds:
        assert ds["soc_t_ha"].dims == ("scenario", "year", "y", "x")
        assert ds["soc_t_ha"].attrs["units"] == "t ha-1"
        assert list(ds["year"].values[[0, -1]]) == [2020, 2040]
        assert list(ds["warmup_year"].values[[0, -1]]) == [2001, 2020]
        assert ds.rio.crs.to_epsg() == 3826
        assert ds.attrs["config_digest"]
    series = pd.read_csv(out / "timeseries.csv")
    assert set(series["phase"]) == {"warmup", "forward"}
    assert series.query("phase == 'forward'")["scenario"].nunique() == 4
    zones = pd.read_csv(out / "summary.csv")["zone"].unique().tolist()
    assert zones == ["all", "West", "East"]
    summary = pd.read_csv(out / "summary.csv").set_index(["zone", "scenario"])
    west, east = summary.loc[("West", "SSM1")], summary.loc[("East", "SSM1")]
    whole = summary.loc[("all", "SSM1")]
    assert west["total_asr_t_yr"] + east["total_asr_t_yr"] == pytest.approx(
        whole["total_asr_t_yr"], rel=1e-12
    )


def _cells_by_window(plan, chunk: int) -> dict[str, np.ndarray]:
    """Every candidate cell's inputs, read window by window, placed on the whole grid."""
    from socseq.pipeline.inputs import read_window
    from socseq.pipeline.plan import windows

    grid = plan.grid
    out: dict[str, np.ndarray] = {}
    filled = 0
    for window in windows(grid, chunk):
        data = read_window(plan, window)
        ys, xs = window.slices
        filled += sum(data.filled.values())
        for name, values in {**data.climate, "npp_spin": None}.items():
            if values is None:
                block = data.layers["npp_spin"][None]
            else:
                block = np.full((values.shape[1], *window.shape), np.nan)
                block[:, data.candidate] = values.T
            target = out.setdefault(name, np.full((block.shape[0], *grid.shape), np.nan))
            target[:, ys, xs] = block
    out["filled"] = np.array(filled)
    return out


def test_coastal_fill_does_not_depend_on_the_windows(tmp_path):
    """A coast across window edges: each window reads a margin, so fills match one window."""
    from socseq.io.raster import write_netcdf
    from socseq.pipeline.plan import plan_inputs, resolve_grid

    region = write_region(tmp_path / "r")
    for name in ("tas", "pr", "pet"):
        path = region.root / f"{name}.nc"
        with xr.open_dataset(path, decode_coords="all") as ds:
            ds = ds.load()
        values = ds[name].values
        values[:, 6:10, :2] = np.nan  # a "coast" across the window edges at rows and column 5
        values[:, 3:7, 4:7] = np.nan
        ds[name].values[:] = values
        write_netcdf(ds, path)
    config = load_run_config(region.config)
    plan = plan_inputs(config, resolve_grid(config))
    whole = _cells_by_window(plan, 64)
    assert whole.pop("filled") > 0
    small = _cells_by_window(plan, 5)
    small.pop("filled")
    for name, values in whole.items():
        np.testing.assert_array_equal(values, small[name], err_msg=name)
    assert np.isfinite(whole["warm_tas"][:, 6:10, :2]).any()
