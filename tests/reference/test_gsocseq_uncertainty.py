"""GSOCseq uncertainty maps against numbers worked by hand from the manual's formulas.

Reference: FAO (2020) GSOCseq Technical Manual, ch. 12 (``12.Uncertainty_and_validation.rmd``)
as summarised in ``docs/gsocseq-method.md`` §1.8 of the shared notes, and Table 12.1 of the
manual (``gsocseq-manual-tables/Table_12.1.csv``: SOC ± 20 %, i.e. min run SOC × 0.8, max run
SOC × 1.2):

- eq. 12.7, per stock:  U = 100 · (SOC_max − SOC_min) / (2 · SOC)                        [%]
- eq. 12.2 as the FAO scripts implement it:
  U_ASR = √((U_final · SOC_final)² + (U_T0 · SOC_T0)²) / |SOC_T0 + SOC_final|              [%]
  U_RSR = √((U_SSM · SOC_SSM)² + (U_BAU · SOC_BAU)²) / |SOC_BAU + SOC_SSM|                 [%]

and socseq's corrected rate uncertainty (``docs/uncertainty.md``): the half range of the
difference over the paired min/max runs relative to the difference,
U = 100 · |Δ_max − Δ_min| / (2 · |Δ|).

One simulated cell with hand-chosen stocks [t C/ha] (a second cell is not simulated and must stay
empty): SOC_T0 = 40 with the Table 12.1 bounds 32 (× 0.8) and 48 (× 1.2); after 20 years

    scenario   SOC_20   min run   max run
    BAU        40.4     31.9      49.1
    SSM1       41.0     32.3      49.9
    SSM2       41.6     32.6      50.8

Every expected number below is worked from these with the arithmetic in its comment. Note that
U · SOC = 100 · (max − min) / 2 = 50 · (max − min), which keeps the square roots short.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
import xarray as xr
import zarr
from affine import Affine

from socseq.io.grid import GridSpec
from socseq.pipeline.exclusions import SIMULATED
from socseq.pipeline.uncertainty_products import write_uncertainty_products

SCENARIOS = ("BAU", "SSM1", "SSM2")
YEARS = 20
T0, T0_MIN, T0_MAX = 40.0, 32.0, 48.0
FINAL = {"BAU": (40.4, 31.9, 49.1), "SSM1": (41.0, 32.3, 49.9), "SSM2": (41.6, 32.6, 50.8)}

# eq. 12.7: U_T0 = 100·(48 − 32)/(2·40) = 1600/80 = 20 %
U_T0 = 20.0
# eq. 12.7: U_BAU = 100·(49.1 − 31.9)/(2·40.4) = 1720/80.8 = 21.28713 %
U_BAU = 21.28713
# eq. 12.7 for the SSM map (the scenario named SSM2): 100·(50.8 − 32.6)/(2·41.6) = 1820/83.2
U_SSM = 21.875
U_FINAL = {
    "BAU": U_BAU,
    # 100·(49.9 − 32.3)/(2·41.0) = 1760/82 = 21.46341 %
    "SSM1": 21.46341,
    "SSM2": U_SSM,
}
# eq. 12.2 (published), with U_T0·SOC_T0 = 20·40 = 800:
U_ASR_PUBLISHED = {
    # U_BAU·SOC_BAU = 50·17.2 = 860: √(860² + 800²)/(40 + 40.4) = √1379600/80.4
    #   = 1174.5637/80.4 = 14.60900 %
    "BAU": 14.60900,
    # 50·17.6 = 880: √(880² + 800²)/(40 + 41.0) = √1414400/81 = 1189.2855/81 = 14.68254 %
    "SSM1": 14.68254,
    # 50·18.2 = 910: √(910² + 800²)/(40 + 41.6) = √1468100/81.6 = 1211.6518/81.6 = 14.84867 %
    "SSM2": 14.84867,
}
U_RSR_PUBLISHED = {
    # √(880² + 860²)/(40.4 + 41.0) = √1514000/81.4 = 1230.4471/81.4 = 15.11606 %
    "SSM1": 15.11606,
    # √(910² + 860²)/(40.4 + 41.6) = √1567700/82.0 = 1252.0783/82 = 15.26925 %
    "SSM2": 15.26925,
}
U_ASR_CORRECTED = {
    # 100·|(49.1 − 48) − (31.9 − 32)|/(2·|40.4 − 40|) = 100·1.2/0.8 = 150 %
    "BAU": 150.0,
    # 100·|(49.9 − 48) − (32.3 − 32)|/(2·1.0) = 100·1.6/2 = 80 %
    "SSM1": 80.0,
    # 100·|(50.8 − 48) − (32.6 − 32)|/(2·1.6) = 100·2.2/3.2 = 68.75 %
    "SSM2": 68.75,
}
U_RSR_CORRECTED = {
    # 100·|(49.9 − 49.1) − (32.3 − 31.9)|/(2·|41.0 − 40.4|) = 100·0.4/1.2 = 33.33333 %
    "SSM1": 33.33333,
    # 100·|(50.8 − 49.1) − (32.6 − 31.9)|/(2·|41.6 − 40.4|) = 100·1.0/2.4 = 41.66667 %
    "SSM2": 41.66667,
}
# ASR of the min and max runs: (31.9 − 32)/20 = −0.005 and (49.1 − 48)/20 = 0.055 t C/ha/yr.
ASR_BAU_MIN_MAX = (-0.005, 0.055)

#: The products are float32 files: agree within half a unit of the 7th significant digit of
#: the worked numbers plus float32 rounding (≤ 1e-5 at these magnitudes).
ATOL = 1e-5


@pytest.fixture(scope="module")
def products(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gsocseq_uncertainty")
    grid = GridSpec("EPSG:3826", Affine(1000.0, 0.0, 200_000.0, 0.0, -1000.0, 2_600_000.0), 2, 1)
    n = len(SCENARIOS)
    soc = np.full((n, YEARS + 1, 1, 2), np.nan)
    soc[:, 0, 0, 0] = T0
    for i, name in enumerate(SCENARIOS):
        soc[i, YEARS, 0, 0] = FINAL[name][0]
    results = zarr.open_group(str(root / "results.zarr"), mode="w")
    results["soc"] = soc
    results["reason"] = np.array([[SIMULATED, SIMULATED + 1]], dtype=np.int16)
    store = zarr.open_group(str(root / "uncertainty.zarr"), mode="w")
    store["minmax_t0"] = np.array([[[T0_MIN, np.nan]], [[T0_MAX, np.nan]]])
    final = np.full((2, n, 1, 2), np.nan)
    for i, name in enumerate(SCENARIOS):
        final[0, i, 0, 0], final[1, i, 0, 0] = FINAL[name][1], FINAL[name][2]
    store["minmax_final"] = final
    config = SimpleNamespace(
        run=SimpleNamespace(iso="XTS", name="hand-worked uncertainty"),
        scenarios=[SimpleNamespace(name=s) for s in SCENARIOS],
        periods=SimpleNamespace(forward_years=YEARS),
        inputs=SimpleNamespace(zone_names=None),
        digest=lambda: "0" * 16,
    )
    settings = SimpleNamespace(
        store=str(root / "uncertainty.zarr"), mode="gsocseq", baseline_index=0, members=2, seed=0
    )
    # Zone sums (areas in ha, sums of area × stock [t C]) of the min run, max run and the
    # deterministic run, for the area-weighted summary: 100 ha at the stocks above.
    zone_sums = {
        1: {
            "area": 100.0,
            "crop_area": 100.0,
            "t0": np.array([T0_MIN, T0_MAX, T0]) * 100.0,
            "final": np.array([[FINAL[s][1], FINAL[s][2], FINAL[s][0]] for s in SCENARIOS]) * 100.0,
            "reach": np.zeros((n, 3)),
        }
    }
    unc = SimpleNamespace(settings=settings, zone_sums=zone_sums)
    stage = root / "stage"
    written = write_uncertainty_products(unc, config, grid, results, stage)
    assert "uncertainty/uncertainty.nc" in written
    return stage / "uncertainty"


def _open(path: Path) -> xr.Dataset:
    """The uncertainty NetCDF with its scenario names as the index of the scenario axis."""
    return xr.open_dataset(path).set_xindex("scenario_name")


def _cell(ds: xr.Dataset, name: str, scenario: str | None = None) -> np.ndarray:
    values = ds[name] if scenario is None else ds[name].sel(scenario_name=scenario)
    return values.values[0]


def test_stock_uncertainties_eq_12_7(products: Path) -> None:
    with _open(products / "uncertainty.nc") as ds:
        u_final = ds["u_final_pct"]
        for name in SCENARIOS:
            value, empty = u_final.sel(scenario_name=name).values[0]
            assert value == pytest.approx(U_FINAL[name], abs=ATOL)
            assert np.isnan(empty)  # the cell that was not simulated stays empty
    for kind, expected in (("T0", U_T0), ("BAU", U_BAU), ("SSM", U_SSM)):
        with rasterio.open(products / f"XTS_GSOCseq_{kind}_UncertaintyMap030.tif") as src:
            assert float(src.read(1)[0, 0]) == pytest.approx(expected, abs=ATOL)


def test_rate_uncertainties_as_published_eq_12_2(products: Path) -> None:
    with _open(products / "uncertainty.nc") as ds:
        for name, expected in U_ASR_PUBLISHED.items():
            got = _cell(ds, "u_asr_published_pct", scenario=name)
            assert got[0] == pytest.approx(expected, abs=ATOL)
        for name, expected in U_RSR_PUBLISHED.items():
            got = _cell(ds, "u_rsr_published_pct", scenario=name)
            assert got[0] == pytest.approx(expected, abs=ATOL)
        assert np.isnan(_cell(ds, "u_rsr_published_pct", scenario="BAU")[0])
    with rasterio.open(products / "XTS_GSOCseq_ASR_SSM1_UncertaintyMap030.tif") as src:
        assert float(src.read(1)[0, 0]) == pytest.approx(U_ASR_PUBLISHED["SSM1"], abs=ATOL)
    with rasterio.open(products / "XTS_GSOCseq_RSR_SSM2_UncertaintyMap030.tif") as src:
        assert float(src.read(1)[0, 0]) == pytest.approx(U_RSR_PUBLISHED["SSM2"], abs=ATOL)


def test_corrected_rate_uncertainties(products: Path) -> None:
    with _open(products / "uncertainty.nc") as ds:
        for name, expected in U_ASR_CORRECTED.items():
            got = _cell(ds, "u_asr_corrected_pct", scenario=name)
            assert got[0] == pytest.approx(expected, abs=ATOL)
        for name, expected in U_RSR_CORRECTED.items():
            got = _cell(ds, "u_rsr_corrected_pct", scenario=name)
            assert got[0] == pytest.approx(expected, abs=ATOL)
        asr = ds["asr_t_ha_yr"].sel(scenario_name="BAU").values[:, 0, 0]
        np.testing.assert_allclose(asr, ASR_BAU_MIN_MAX, rtol=0, atol=1e-8)


def test_area_weighted_summary_of_the_runs(products: Path) -> None:
    import pandas as pd

    table = pd.read_csv(products / "summary.csv")
    row = table[(table.zone == "all") & (table.scenario == "BAU")].set_index("quantity")
    # 4000 t over 100 ha = 40 t/ha (deterministic); 3200/100 = 32 and 4800/100 = 48 t/ha.
    assert tuple(row.loc["mean_soc_t0_t_ha", ["deterministic", "min_run", "max_run"]]) == (
        pytest.approx(40.0),
        pytest.approx(32.0),
        pytest.approx(48.0),
    )
    # ASR = (SOC_20 − SOC_T0)/20 per run: (40.4 − 40)/20 = 0.02; −0.005 and 0.055 as above.
    assert tuple(row.loc["mean_asr_t_ha_yr", ["deterministic", "min_run", "max_run"]]) == (
        pytest.approx(0.02),
        pytest.approx(-0.005),
        pytest.approx(0.055),
    )
    ssm1 = table[(table.zone == "all") & (table.scenario == "SSM1")].set_index("quantity")
    # RSR = (SOC_SSM1,20 − SOC_BAU,20)/20: (41.0 − 40.4)/20 = 0.03; (32.3 − 31.9)/20 = 0.02;
    # (49.9 − 49.1)/20 = 0.04 t C/ha/yr; totals × 100 ha.
    assert tuple(ssm1.loc["mean_rsr_t_ha_yr", ["deterministic", "min_run", "max_run"]]) == (
        pytest.approx(0.03),
        pytest.approx(0.02),
        pytest.approx(0.04),
    )
    assert ssm1.loc["total_rsr_t_yr", "deterministic"] == pytest.approx(3.0)
