"""Stocks by hand, unit traps, pedotransfer filling, depth harmonisation and sample QA."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socseq.dsm.ptf import BD_PTFS, bulk_density_ptf
from socseq.dsm.stocks import compute_stocks, soc_stock_t_ha
from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.samples import read_samples

from .conftest import one_line


def _csv(tmp_path, rows: dict, name: str = "s.csv"):
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _read(path, **columns):
    return read_samples(path, x="x", y="y", crs="EPSG:32634", id_column="id", columns=columns)


XY = {"x": [500_500.0, 501_500.0, 502_500.0], "y": [4_599_500.0] * 3}


def test_stock_of_one_percent_one_gram_one_cm_is_one_t_ha():
    # 1 % SOC = 10 g/kg; 1 g/cm³; 1 cm; no stones: 10⁻² g C/g × 1 g/cm³ × 1 cm = 0.01 g/cm² =
    # 0.1 kg/m² = 1 t/ha.
    assert soc_stock_t_ha(10.0, 1.0, 1.0) == pytest.approx(1.0)
    # 0–30 cm, 2 % SOC, BD 1.3, 20 % stones: 20 g/kg × 1.3 × 30 × 0.8 / 10 = 62.4 t/ha.
    assert soc_stock_t_ha(20.0, 1.3, 30.0, 0.2) == pytest.approx(62.4)


@pytest.mark.parametrize(
    ("soc", "soc_units", "bd", "bd_units", "cf", "cf_units"),
    [
        ([2.0, 1.5, 3.0], "%", [1.3, 1.2, 1.4], "g/cm3", [20, 0, 10], "%"),
        ([20.0, 15.0, 30.0], "g/kg", [1300, 1200, 1400], "kg/m3", [0.2, 0, 0.1], "fraction"),
        ([0.02, 0.015, 0.03], "kg/kg", [130, 120, 140], "cg/cm3", [20, 0, 10], "vol%"),
    ],
)
def test_declared_units_give_the_same_stock(tmp_path, soc, soc_units, bd, bd_units, cf, cf_units):
    path = _csv(tmp_path, {"id": ["a", "b", "c"], **XY, "SOC": soc, "BD": bd, "CF": cf})
    table = _read(
        path, soc_g_kg=("SOC", soc_units), bd_g_cm3=("BD", bd_units), cf_frac=("CF", cf_units)
    )
    samples, report = compute_stocks(table, interval_cm=(0, 30))
    expected = [0.1 * 20 * 1.3 * 30 * 0.8, 0.1 * 15 * 1.2 * 30, 0.1 * 30 * 1.4 * 30 * 0.9]
    np.testing.assert_allclose(samples["stock_t_ha"], expected)
    assert report.issues.empty


def test_declared_stock_units_kg_m2_become_t_ha(tmp_path):
    path = _csv(tmp_path, {"id": ["a", "b", "c"], **XY, "OCS": [5.0, 6.2, 4.1]})
    table = _read(path, stock_t_ha=("OCS", "kg/m2"))
    samples, _ = compute_stocks(table, interval_cm=(0, 30))
    np.testing.assert_allclose(samples["stock_t_ha"], [50.0, 62.0, 41.0])


@pytest.mark.parametrize(
    ("column", "values", "units", "looks_like"),
    [
        ("SOC", [12.0, 25.0, 150.0], "%", "g/kg"),  # % cannot exceed 100
        ("SOC", [1.2, 1.8, 2.5], "g/kg", "look like %"),  # 1.8 g/kg = 0.18 %: a desert
        ("BD", [1300.0, 1250.0, 1400.0], "g/cm3", "kg/m³"),
        ("BD", [130.0, 125.0, 140.0], "g/cm3", "cg/cm³"),
        ("CF", [20.0, 5.0, 0.0], "fraction", "look like %"),
        ("CF", [0.2, 0.05, 0.0], "%", "volume fraction"),
        ("OCS", [52.0, 61.0, 48.0], "kg/m2", "t/ha"),
        ("OCS", [5.2, 6.1, 4.8], "t/ha", "kg/m²"),
    ],
)
def test_unit_traps_are_refused_in_one_line(tmp_path, column, values, units, looks_like):
    path = _csv(tmp_path, {"id": ["a", "b", "c"], **XY, column: values})
    quantity = {"SOC": "soc_g_kg", "BD": "bd_g_cm3", "CF": "cf_frac", "OCS": "stock_t_ha"}[column]
    with pytest.raises(InputValidationError) as exc:
        _read(path, **{quantity: (column, units)})
    message = one_line(exc)
    assert f"column '{column}'" in message and str(path) in message
    assert looks_like in message and "set units" in message


def test_unknown_units_name_the_accepted_ones(tmp_path):
    path = _csv(tmp_path, {"id": ["a", "b", "c"], **XY, "SOC": [1.0, 2.0, 3.0]})
    with pytest.raises(ConfigError) as exc:
        _read(path, soc_g_kg=("SOC", "ppm"))
    assert '"g/kg", "%", "kg/kg"' in one_line(exc)


def test_grigal_ptf_reproduces_the_cookbooks_bulk_density():
    # dat_train.csv, profile P0003: SOC 26.38 %, BLD 0.730448 filled by Grigal et al. (1989).
    assert bulk_density_ptf(263.8) == pytest.approx(0.730448, abs=1e-6)
    assert BD_PTFS["saini1966"](10.0) == pytest.approx(1.62 - 0.06 * 1.724)


def test_missing_bulk_density_is_filled_and_reported(tmp_path):
    path = _csv(
        tmp_path,
        {
            "id": ["a", "b", "c"],
            **XY,
            "SOC": [2.0, 1.5, 3.0],
            "BD": [1.3, np.nan, 1.4],
            "CF": [np.nan, 0, 10],
        },
    )
    table = _read(path, soc_g_kg=("SOC", "%"), bd_g_cm3=("BD", "g/cm3"), cf_frac=("CF", "%"))
    samples, report = compute_stocks(table, interval_cm=(0, 30))
    issues = report.issues.set_index("sample_id")
    assert issues.loc["b", "action"] == "filled by pedotransfer function grigal1989"
    assert issues.loc["a", "action"].startswith("assumed 0")
    bd_b = bulk_density_ptf(15.0)
    assert samples.set_index("sample_id").loc["b", "stock_t_ha"] == pytest.approx(
        0.1 * 15 * bd_b * 30
    )
    assert list(samples["bd_source"]) == ["measured", "grigal1989", "measured"]


def test_impossible_and_missing_values_are_reported_not_silently_dropped(tmp_path):
    path = _csv(
        tmp_path,
        {
            "id": list("abcdef"),
            "x": np.arange(6) * 1000.0 + 500_000,
            "y": [4_599_500.0] * 6,
            "SOC": [2.0, 70.0, 1.5, 2.5, np.nan, 1.0],
            "BD": [2.9, 1.2, 1.3, 1.2, 1.3, 1.2],
            "CF": [0, 0, 100, 5, 0, 10],
        },
    )
    table = _read(path, soc_g_kg=("SOC", "%"), bd_g_cm3=("BD", "g/cm3"), cf_frac=("CF", "%"))
    samples, report = compute_stocks(table, interval_cm=(0, 30))
    assert list(samples["sample_id"]) == ["d", "f"]
    issues = report.issues
    dropped = issues[issues["action"] == "dropped"].set_index("sample_id")
    assert dropped.loc["a", "column"] == "bd_g_cm3" and dropped.loc["a", "value"] == 2.9
    assert dropped.loc["b", "column"] == "soc_g_kg"  # 70 % C is more than pure organic matter
    assert dropped.loc["c", "column"] == "cf_frac"  # all stones, no fine earth
    assert dropped.loc["e", "issue"] == "missing_value"
    assert report.n_read == 6 and report.n_used == 2
    assert any("impossible_value → dropped" in line for line in report.summary())


def test_duplicate_locations_are_merged_and_reported(tmp_path):
    path = _csv(
        tmp_path,
        {
            "id": ["a", "b", "c"],
            "x": [500_500.0, 500_500.0, 501_500.0],
            "y": [4_599_500.0] * 3,
            "OCS": [40.0, 60.0, 55.0],
        },
    )
    samples, report = compute_stocks(_read(path, stock_t_ha=("OCS", "t/ha")), interval_cm=(0, 30))
    assert list(samples["sample_id"]) == ["a", "c"]
    assert samples["stock_t_ha"].iloc[0] == pytest.approx(50.0)
    row = report.issues.iloc[0]
    assert (row["sample_id"], row["issue"], row["action"]) == (
        "b",
        "duplicate_location",
        "merged into a",
    )


def _profiles(tmp_path, horizons: list[tuple]):
    """Horizon table: (profile, top, bottom, SOC %, BD)."""
    frame = pd.DataFrame(horizons, columns=["prof", "top", "bottom", "SOC", "BD"])
    codes = {p: i for i, p in enumerate(dict.fromkeys(frame["prof"]))}
    frame["x"] = [500_500.0 + 1000 * codes[p] for p in frame["prof"]]
    frame["y"] = 4_599_500.0
    frame["id"] = frame["prof"] + "-" + frame["top"].astype(str)
    path = tmp_path / "horizons.csv"
    frame.to_csv(path, index=False)
    return read_samples(
        path,
        x="x",
        y="y",
        crs="EPSG:32634",
        id_column="id",
        profile_column="prof",
        columns={
            "soc_g_kg": ("SOC", "%"),
            "bd_g_cm3": ("BD", "g/cm3"),
            "top_cm": ("top", "cm"),
            "bottom_cm": ("bottom", "cm"),
        },
    )


def test_weighted_harmonisation_by_hand(tmp_path):
    table = _profiles(tmp_path, [("P1", 0, 10, 2.0, 1.2), ("P1", 10, 40, 1.0, 1.4)])
    samples, report = compute_stocks(table, harmonisation="weighted")
    # 0–10 cm: 20 g/kg × 1.2 × 10 cm / 10 = 24 t/ha; 10–30 cm: 10 × 1.4 × 20 / 10 = 28 t/ha.
    assert samples["stock_t_ha"].iloc[0] == pytest.approx(52.0)
    assert samples["sample_id"].iloc[0] == "P1"
    assert samples["n_horizons"].iloc[0] == 2
    assert report.issues.empty


def test_depth_units_in_metres(tmp_path):
    frame = pd.DataFrame(
        {
            "id": ["a"],
            "x": [500_500.0],
            "y": [4_599_500.0],
            "SOC": [1.0],
            "BD": [1.0],
            "top": [0.0],
            "bottom": [0.3],
        }
    )
    path = tmp_path / "m.csv"
    frame.to_csv(path, index=False)
    table = read_samples(
        path,
        x="x",
        y="y",
        crs="EPSG:32634",
        id_column="id",
        columns={
            "soc_g_kg": ("SOC", "%"),
            "bd_g_cm3": ("BD", "g/cm3"),
            "top_cm": ("top", "m"),
            "bottom_cm": ("bottom", "m"),
        },
    )
    samples, _ = compute_stocks(table)
    assert samples["stock_t_ha"].iloc[0] == pytest.approx(30.0)


def test_partial_and_insufficient_depth_are_reported(tmp_path):
    table = _profiles(
        tmp_path,
        [
            ("P1", 0, 20, 1.0, 1.0),
            ("P2", 0, 10, 1.0, 1.0),
            ("P3", 0, 15, 1.0, 1.0),
            ("P3", 10, 30, 1.0, 1.0),
        ],
    )
    samples, report = compute_stocks(table, min_coverage=0.5)
    assert list(samples["sample_id"]) == ["P1"]
    assert samples["stock_t_ha"].iloc[0] == pytest.approx(30.0)  # constant below 20 cm
    issues = report.issues.set_index("issue")
    assert issues.loc["partial_depth", "sample_id"] == "P1-0"
    assert issues.loc["insufficient_depth", "action"] == "dropped"
    assert issues.loc["overlapping_horizons", "sample_id"] == "P3-0"


@pytest.mark.parametrize("method", ["weighted", "spline"])
def test_constant_profile_gives_the_same_stock_either_way(tmp_path, method):
    table = _profiles(
        tmp_path, [("P1", 0, 8, 1.5, 1.3), ("P1", 8, 25, 1.5, 1.3), ("P1", 25, 60, 1.5, 1.3)]
    )
    samples, _ = compute_stocks(table, harmonisation=method)
    assert samples["stock_t_ha"].iloc[0] == pytest.approx(0.1 * 15 * 1.3 * 30)
    assert samples["soc_g_kg"].iloc[0] == pytest.approx(15.0)


def test_stocks_need_exactly_one_target_and_depth(tmp_path):
    path = _csv(tmp_path, {"id": ["a", "b", "c"], **XY, "OCS": [40.0, 50.0, 60.0]})
    table = _read(path, stock_t_ha=("OCS", "t/ha"))
    with pytest.raises(ConfigError) as exc:
        compute_stocks(table)
    assert "interval_cm" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        compute_stocks(table, interval_cm=(0, 20))
    assert "0–30 cm" in one_line(exc)
