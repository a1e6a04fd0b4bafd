"""Uncertainty runs: exact reproduction with zero spread, invariance to chunks and schedulers,
coverage of the Monte Carlo intervals, the linearity the forward runs rely on, the GSOCseq
products, and the counter-based generator."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr

from socseq.pipeline.config import load_run_config
from socseq.pipeline.draws import philox4x32, standard_normal
from socseq.pipeline.phases import window_inputs
from socseq.pipeline.plan import plan_inputs, windows
from socseq.pipeline.run import WORK, run_pipeline
from socseq.pipeline.uncertainty import run_members
from socseq.rothc import MonthlyForcing, RothCState, RunOptions, Soil, run

from .conftest import write_region
from .equality_cases import OPTIONS

ZERO = """
[uncertainty]
mode = "montecarlo"
members = 3
seed = 7
[uncertainty.soc]
source = "relative"
relative = 0.0
"""

SPREAD = """
[uncertainty]
mode = "montecarlo"
members = {members}
seed = {seed}
[uncertainty.soc]
source = "relative"
relative = 0.15
distribution = "{dist}"
[uncertainty.clay]
relative_sd = 0.1
[uncertainty.climate]
temperature_sd_degC = 0.8
precipitation_relative_sd = 0.1
shared_over_space = {shared}
[uncertainty.inputs]
relative_sd = 0.1
increase_relative_sd = 0.3
[uncertainty.parameters]
{params}
"""


def _run(root: Path, extra: str, out: str, chunk: int = 8, **kwargs) -> Path:
    region = write_region(root / "region", extra=extra)
    config = load_run_config(region.config)
    config = config.model_copy(update={"run": config.run.model_copy(update={"chunk_size": chunk})})
    target = root / out
    run_pipeline(config, output_dir=target, keep_work=True, **kwargs)
    return target


def _store(out: Path, name: str) -> np.ndarray:
    return np.asarray(
        zarr.open_group(str(out / WORK / name), mode="r")[
            "soc" if name == "results.zarr" else "t0_stats"
        ][:]
    )


def test_philox_known_answers():
    """Random123 kat_vectors for philox4x32-10."""
    cases = [
        ((0, 0, 0, 0), (0, 0), "6627e8d5 e169c58d bc57ac4c 9b00dbd8"),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), "408f276d 41c83b0e a20bc7c6 6d5451fd"),
        (
            (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
            (0xA4093822, 0x299F31D0),
            "d16cfe09 94fdcceb 5001e420 24126ea1",
        ),
    ]
    for counter, key, expected in cases:
        got = " ".join(f"{int(w):08x}" for w in philox4x32(counter, key))
        assert got == expected


def test_draws_depend_only_on_seed_cell_and_member():
    cells = np.arange(5000)
    all_at_once = standard_normal(11, "soc", cells[:, None], np.arange(20)[None, :])
    piecewise = np.concatenate(
        [
            standard_normal(11, "soc", c[:, None], np.arange(20)[None, :])
            for c in np.array_split(cells[::-1], 7)
        ]
    )[::-1]
    np.testing.assert_array_equal(all_at_once, piecewise)
    assert abs(all_at_once.mean()) < 0.02 and abs(all_at_once.std() - 1) < 0.02
    other = standard_normal(11, "clay", cells[:, None], np.arange(20)[None, :])
    assert abs(np.corrcoef(all_at_once.ravel(), other.ravel())[0, 1]) < 0.02


def test_forward_run_is_affine_in_the_input_multiplier():
    """SOC(m) = m·SOC(1) + (1 − m)·SOC(0) from a common state (what the ensemble exploits)."""
    rng = np.random.default_rng(3)
    n = 200
    state = RothCState(
        pools=rng.uniform(0.1, 40, (n, 4)),
        iom=rng.uniform(1, 5, n),
        smd=-rng.uniform(0, 30, n),
        co2=np.zeros(n),
    )
    months = np.arange(12)
    forcing = {
        "tmp_degC": 15 + 10 * np.sin(months / 2)[None, :] + rng.normal(0, 3, (n, 1)),
        "rain_mm": rng.uniform(0, 200, (n, 12)),
        "evap_mm": rng.uniform(10, 150, (n, 12)),
        "plant_cover": (rng.random((n, 12)) < 0.6).astype(float),
        "dpm_rpm": 1.44,
    }
    soil = Soil(clay_pct=rng.uniform(5, 60, n), depth_cm=30.0)
    c_bau = rng.uniform(0.5, 4, n)[:, None] / 12 * np.ones(12)

    def final(m: float) -> np.ndarray:
        f = MonthlyForcing(c_inp_t_ha=m * c_bau, **forcing)
        return run(
            soil, f, 240, state=state, record="end", options=RunOptions(evap_coefficient=1.0)
        ).soc[:, 0]

    one, zero = final(1.0), final(0.0)
    for m in (0.95, 1.05, 1.1, 1.2, 1.25, 2.0):
        np.testing.assert_allclose(final(m), m * one + (1 - m) * zero, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def zero_width(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("zero"), ZERO, "out")


def _zero_spread_equals_deterministic(out: Path) -> int:
    """Members with zero spread are the deterministic cells, bit for bit; return the cells."""
    main = np.asarray(zarr.open_group(str(out / WORK / "results.zarr"), mode="r")["soc"][:])
    unc = zarr.open_group(str(out / WORK / "uncertainty.zarr"), mode="r")
    years = main.shape[1] - 1
    t0 = main[0, 0]
    sim = np.isfinite(t0)
    for k in range(1, 4):  # median, q05, q95 of identical members: the member itself
        np.testing.assert_array_equal(unc["t0_stats"][k][sim], t0[sim])
        final = np.asarray(unc["final_stats"][k])
        np.testing.assert_array_equal(final[:, sim], main[:, years][:, sim])
    # The mean of identical members may differ in the last bit (sum / M).
    np.testing.assert_allclose(unc["t0_stats"][0][sim], t0[sim], rtol=1e-15)
    return int(sim.sum())


def test_zero_spread_reproduces_the_deterministic_run(zero_width):
    out = zero_width
    assert _zero_spread_equals_deterministic(out) > 300
    unc = zarr.open_group(str(out / WORK / "uncertainty.zarr"), mode="r")
    prob = np.asarray(unc["p_4p1000"])
    sim = np.isfinite(np.asarray(unc["t0_stats"][0]))
    assert set(np.unique(prob[:, sim])) <= {0.0, 1.0}
    summary = pd.read_csv(out / "uncertainty" / "summary.csv")
    np.testing.assert_allclose(summary["mean"], summary["deterministic"], rtol=1e-10, atol=1e-9)
    det = pd.read_csv(out / "summary.csv")
    row = det[(det.zone == "all") & (det.scenario == "SSM1")].iloc[0]
    mine = summary[(summary.zone == "all") & (summary.scenario == "SSM1")].set_index("quantity")
    assert mine.loc["mean_asr_t_ha_yr", "q05"] == pytest.approx(row.mean_asr_t_ha_yr, rel=1e-9)
    assert mine.loc["share_4p1000_pct", "median"] == pytest.approx(row.share_4p1000_pct)
    assert set(summary.zone) == {"all", "West", "East"}
    import json

    manifest = json.loads((out / "run.json").read_text())
    assert manifest["uncertainty"]["members"] == 3
    assert "uncertainty/uncertainty.nc" in manifest["products"]
    assert (out / "uncertainty" / "XTS_socseq_MC_ASR_SSM1_q05_Map030.tif").exists()


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_zero_spread_equals_the_deterministic_run_for_every_option(option, tmp_path):
    """Members run through the same engine as the deterministic cells, whatever the options."""
    config_path = OPTIONS[option](tmp_path / "region", ny=8, nx=10)
    config_path.write_text(config_path.read_text() + ZERO)
    config = load_run_config(config_path)
    out = tmp_path / "out"
    run_pipeline(config, output_dir=out, keep_work=True)
    assert _zero_spread_equals_deterministic(out) > 20


def test_seeded_ensemble_is_identical_across_chunks_and_schedulers(tmp_path):
    extra = SPREAD.format(
        members=6, seed=99, dist="lognormal", shared="true", params="k_hum = 0.1\nk_rpm = 0.1"
    )
    a = _run(tmp_path / "a", extra, "out", chunk=8)
    b = _run(tmp_path / "b", extra, "out", chunk=16, workers=2)
    ds_a = xr.open_dataset(a / "uncertainty" / "uncertainty.nc")
    ds_b = xr.open_dataset(b / "uncertainty" / "uncertainty.nc")
    for name in ("soc_t0_t_ha", "soc_final_t_ha", "asr_t_ha_yr", "rsr_t_ha_yr", "p_4p1000"):
        np.testing.assert_array_equal(ds_a[name].values, ds_b[name].values)
    ds_a.close()
    ds_b.close()
    sa = zarr.open_group(str(a / WORK / "uncertainty.zarr"), mode="r")
    sb = zarr.open_group(str(b / WORK / "uncertainty.zarr"), mode="r")
    np.testing.assert_array_equal(sa["final_stats"][:], sb["final_stats"][:])
    spread = np.nanmean(sa["final_stats"][3] - sa["final_stats"][2])
    assert spread > 1.0  # the distributions did act
    pd.testing.assert_frame_equal(
        pd.read_csv(a / "uncertainty" / "summary.csv"),
        pd.read_csv(b / "uncertainty" / "summary.csv"),
    )


def test_90_percent_intervals_cover_synthetic_truth(tmp_path):
    """Truth drawn from the declared distributions (another seed) lies in [q05, q95] ≈ 90 %."""
    extra = SPREAD.format(members=100, seed=1, dist="normal", shared="false", params="")
    out = _run(tmp_path, extra, "out", chunk=16)
    config = load_run_config(tmp_path / "region" / "run.toml")
    from socseq.io.grid import GridSpec
    from socseq.pipeline.members import uncertainty_settings
    from socseq.pipeline.run import phase_settings

    store = out / WORK / "uncertainty.zarr"
    grid = GridSpec.from_raster(
        xr.open_dataarray(tmp_path / "region" / "soc.tif", engine="rasterio").squeeze(
            "band", drop=True
        )
    )
    phase = phase_settings(config, plan_inputs(config, grid), out / WORK / "results.zarr")
    us = uncertainty_settings(config, phase.engine, grid, store, "relative", False)
    truth_settings = dataclasses.replace(us, seed=12345, members=1)
    stats = zarr.open_group(str(store), mode="r")
    inside, total = np.zeros(4), 0
    for window in windows(grid, 16):
        inputs = window_inputs(phase, window)
        if inputs.data is None:
            continue
        cells = inputs.cells
        index = (
            np.arange(window.y0, window.y1)[:, None] * grid.width
            + np.arange(window.x0, window.x1)[None, :]
        )[cells]
        _t0, final = run_members(truth_settings, inputs.data, index, {})
        ys, xs = window.slices
        lo = np.asarray(stats["final_stats"][2, :, ys, xs])[:, cells]
        hi = np.asarray(stats["final_stats"][3, :, ys, xs])[:, cells]
        truth = final[:, :, 0]
        inside += ((truth >= lo) & (truth <= hi)).sum(axis=1)
        total += truth.shape[1]
    coverage = inside / total
    assert total > 300
    assert np.all((coverage >= 0.85) & (coverage <= 0.95)), coverage


def test_gsocseq_mode_writes_published_and_corrected_maps(tmp_path):
    out = _run(tmp_path, '\n[uncertainty]\nmode = "gsocseq"\n', "out")
    folder = out / "uncertainty"
    names = [
        "XTS_GSOCseq_T0_UncertaintyMap030.tif",
        "XTS_GSOCseq_BAU_UncertaintyMap030.tif",
        "XTS_GSOCseq_SSM_UncertaintyMap030.tif",
    ]
    names += [f"XTS_GSOCseq_ASR_{s}_UncertaintyMap030.tif" for s in ("BAU", "SSM1", "SSM2", "SSM3")]
    names += [f"XTS_GSOCseq_RSR_{s}_UncertaintyMap030.tif" for s in ("SSM1", "SSM2", "SSM3")]
    names += [f"XTS_GSOCseq_{k}_SSM1_UncertaintyCorrectedMap030.tif" for k in ("ASR", "RSR")]
    for name in names:
        assert (folder / name).exists(), name
    main = np.asarray(zarr.open_group(str(out / WORK / "results.zarr"), mode="r")["soc"][:])
    unc = zarr.open_group(str(out / WORK / "uncertainty.zarr"), mode="r")
    lo, hi = np.asarray(unc["minmax_t0"])
    t0 = main[0, 0]
    sim = np.isfinite(t0)
    assert np.all(lo[sim] < t0[sim]) and np.all(t0[sim] < hi[sim])
    ds = xr.open_dataset(folder / "uncertainty.nc").set_xindex("scenario_name")
    lo_f, hi_f = np.asarray(unc["minmax_final"])
    fin = main[:, 20]
    u_t0 = 100 * (hi - lo) / (2 * t0)
    u1 = 100 * (hi_f[1] - lo_f[1]) / (2 * fin[1])
    published = np.hypot(u1 * fin[1], u_t0 * t0) / np.abs(t0 + fin[1])
    corrected = 100 * np.abs((hi_f[1] - hi) - (lo_f[1] - lo)) / (2 * np.abs(fin[1] - t0))
    np.testing.assert_allclose(
        ds["u_asr_published_pct"].sel(scenario_name="SSM1").values[sim], published[sim], rtol=1e-5
    )
    np.testing.assert_allclose(
        ds["u_asr_corrected_pct"].sel(scenario_name="SSM1").values[sim], corrected[sim], rtol=1e-5
    )
    ds.close()
    summary = pd.read_csv(folder / "summary.csv")
    t0_row = summary[(summary.zone == "all") & (summary.quantity == "mean_soc_t0_t_ha")].iloc[0]
    assert t0_row.min_run < t0_row.deterministic < t0_row.max_run
