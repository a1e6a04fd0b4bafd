"""The Taiwan case: prepare → socseq run → invariants, and the numbers published on docs/taiwan.md.

Needs ../shared/data (skips without it, fails when SOCSEQ_REQUIRE_SHARED=1).

- On a 40 × 40 km window around Chiayi (every run): RSR(SSM2) = 2·RSR(SSM1) and
  RSR(SSM3) = 4·RSR(SSM1) per cell, 4-per-1000 shares ordered BAU < SSM1 < SSM2 < SSM3, and
  every cropland cell of the land-use map either simulated or counted as excluded with a reason
  in run.json.
- On the whole main island (``slow``, ``pytest --runslow``: about 2 minutes on 2 cores): the main
  run reproduces every number docs/taiwan.md publishes for it, read from the page itself, to the
  printed digit: mean ASR, RSR, final SOC and 4-per-1000 share per scenario, mean T0, simulated
  cells and area, and the DSM cross-validation table.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "taiwan"

pytestmark = pytest.mark.shared


def _load(name: str, filename: str):
    sys.path.insert(0, str(EXAMPLE))
    spec = importlib.util.spec_from_file_location(name, EXAMPLE / filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chiayi_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    data = _data()
    prepare = _load("taiwan_prepare", "prepare.py")
    runner = _load("taiwan_run", "run.py")
    work = tmp_path_factory.mktemp("taiwan")
    built = prepare.prepare(work, prepare.CHIAYI_WINDOW, data=data)
    done = runner.run_config(built["configs"]["main"], log=work / "main.log")
    result = runner.read_run(done["output_dir"])
    result.update(work=work, built=built, seconds=done["seconds"])
    return result


def _data() -> Path:
    """The shared data folder (skip, or fail with SOCSEQ_REQUIRE_SHARED=1, when absent)."""
    from conftest import shared_path  # tests/conftest.py, the skip/require rule

    for name in ("taiwan-env-1km", "taiwan-cwb-chiayi-monthly", "taiwan-tari-soc-points"):
        shared_path("data", name)
    return shared_path("data")


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        values = src.read(1).astype("float64")
        if src.nodata is not None:
            values[values == src.nodata] = np.nan
    return values


def test_inputs_and_configs_are_valid(tmp_path: Path) -> None:
    data = _data()
    prepare = _load("taiwan_prepare", "prepare.py")
    built = prepare.prepare(tmp_path, prepare.CHIAYI_WINDOW, data=data)
    from socseq.pipeline.config import load_run_config

    outputs = set()
    for path in built["configs"].values():
        config = load_run_config(path)
        # Variants that keep the SOC reading reuse the main run's DSM map.
        assert (config.dsm is not None) != (config.inputs.soc is not None)
        assert config.climate.evaporation_kind == "pan"
        outputs.add(config.run.output_dir)
    assert len(outputs) == len(built["configs"])  # every variant writes its own folder
    record = json.loads((tmp_path / "assumptions.json").read_text())
    assert {a["key"] for a in record["assumptions"]} >= {
        "cultivated_land",
        "meadow_md",
        "lapse_rate_c_per_km",
        "soc_reading",
        "clay_pct",
    }
    classes = _read(tmp_path / "landuse_fao.tif")
    mask = _read(tmp_path / "cultivated_mask.tif")
    assert np.array_equal(np.isin(classes, [2, 13]), mask == 1)
    assert record["statistics"]["cultivated_cells"] == int((mask == 1).sum()) > 500


def test_relative_rates_scale_with_the_input_increase(chiayi_run: dict) -> None:
    maps = chiayi_run["dir"] / "maps"
    rsr = {n: _read(maps / f"TWN_GSOCseq_RSR_SSM{n}_Map030.tif") for n in (1, 2, 3)}
    ok = np.isfinite(rsr[1])
    assert ok.sum() > 100
    assert np.array_equal(ok, np.isfinite(rsr[2])) and np.array_equal(ok, np.isfinite(rsr[3]))
    scale = np.abs(rsr[1][ok]).max()
    np.testing.assert_allclose(rsr[2][ok], 2 * rsr[1][ok], rtol=1e-4, atol=1e-6 * scale)
    np.testing.assert_allclose(rsr[3][ok], 4 * rsr[1][ok], rtol=1e-4, atol=1e-6 * scale)


def test_shares_are_ordered(chiayi_run: dict) -> None:
    # Strictly BAU < SSM1 < SSM2 < SSM3 only holds where some cells sit between thresholds:
    # with this baseline (~70 t C/ha) no cell reaches 4 per 1000 before SSM3, so the shares
    # are checked non-decreasing with SSM3 above BAU, and the rates strictly ordered per cell.
    shares = chiayi_run["summary"]["share_4p1000_pct"]
    values = [float(shares[s]) for s in ("BAU", "SSM1", "SSM2", "SSM3")]
    assert values == sorted(values) and values[-1] > values[0], values
    maps = chiayi_run["dir"] / "maps"
    asr = [_read(maps / f"TWN_GSOCseq_ASR_{s}_Map030.tif") for s in ("BAU", "SSM1", "SSM2", "SSM3")]
    ok = np.isfinite(asr[0])
    for low, high in zip(asr, asr[1:], strict=False):
        assert (high[ok] > low[ok]).all()


def test_every_cropland_cell_is_simulated_or_excluded_with_a_reason(chiayi_run: dict) -> None:
    cells = chiayi_run["manifest"]["cells"]
    classes = _read(chiayi_run["work"] / "landuse_fao.tif")
    cropland = np.isin(classes, [2, 13])
    assert cells["grid"] == classes.size
    excluded = {k: int(v) for k, v in cells["excluded"].items()}
    assert cells["simulated"] + sum(excluded.values()) >= int(cropland.sum())
    t0 = _read(chiayi_run["dir"] / "maps" / "TWN_GSOCseq_T0_Map030.tif")
    simulated = np.isfinite(t0)
    assert int(simulated.sum()) == cells["simulated"]
    assert not (simulated & ~cropland).any()  # only cropland classes are modelled
    summary = chiayi_run["summary"]
    assert summary.index.is_unique and set(summary.index) >= {"BAU", "SSM1", "SSM2", "SSM3"}
    # The summary's areas are the simulated cells' areas: the cropland it reports is simulated.
    bau = summary.loc["BAU"]
    assert bau["simulated_cells"] == cells["simulated"]
    assert bau["simulated_area_ha"] == pytest.approx(bau["simulated_cropland_area_ha"])


def test_products_pass_the_cf_checker_and_cog_validation(chiayi_run: dict) -> None:
    """The Taiwan example's cube passes the CF checker; each of its GeoTIFFs is a valid COG."""
    from products.conftest import cf_check, cog_issues
    from socseq.io.metadata import CF_CONVENTIONS

    assert cf_check(chiayi_run["dir"] / "soc_stocks.nc", CF_CONVENTIONS.removeprefix("CF-")) == []
    tifs = sorted(chiayi_run["dir"].glob("maps/*.tif")) + sorted(
        chiayi_run["dir"].glob("dsm/*.tif")
    )
    assert len(tifs) > 20
    for path in tifs:
        assert cog_issues(path) == [], path.name


# ---------------------------------------------------------------------------------------------
# The whole island against docs/taiwan.md
# ---------------------------------------------------------------------------------------------

PAGE = Path(__file__).resolve().parents[2] / "docs" / "taiwan.md"


def _page_table(text: str, first_header: str) -> list[dict[str, str]]:
    """Rows of the markdown table of ``text`` whose first header cell is ``first_header``."""

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split("|")]

    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and cells(line)[0] == first_header:
            header, rows = cells(line), []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(header, cells(row), strict=True)))
            return rows
    raise AssertionError(f"docs/taiwan.md has no table starting with '{first_header}'")


def _printed(value: float, text: str) -> None:
    """``value`` rounds to ``text`` as the page prints it (thousands separators, fixed digits)."""
    digits = len(text.split(".")[1]) if "." in text else 0
    assert value == pytest.approx(float(text.replace(",", "")), abs=0.5 * 10**-digits + 1e-9), (
        f"{value} is not {text} as printed on docs/taiwan.md"
    )


@pytest.mark.slow
def test_whole_island_reproduces_the_numbers_on_docs_taiwan_md(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data = _data()
    prepare = _load("taiwan_prepare", "prepare.py")
    runner = _load("taiwan_run", "run.py")
    work = tmp_path_factory.mktemp("taiwan_island")
    built = prepare.prepare(work, None, data=data)
    done = runner.run_config(built["configs"]["main"], log=work / "main.log")
    run = runner.read_run(done["output_dir"])
    summary = run["summary"]
    text = PAGE.read_text(encoding="utf-8")

    results = _page_table(text, "scenario")
    assert [r["scenario"] for r in results] == ["BAU", "SSM1", "SSM2", "SSM3"]
    for row in results:
        ours = summary.loc[row["scenario"]]
        _printed(ours["mean_asr_t_ha_yr"], row["ASR (ours)"])
        _printed(ours["share_4p1000_pct"], row["4‰ share % (ours)"])
        _printed(ours["mean_soc_final_t_ha"], row["SOC 2040 t C/ha (ours)"])
        if row["scenario"] != "BAU":
            _printed(ours["mean_rsr_t_ha_yr"], row["RSR (ours)"])

    main = next(r for r in _page_table(text, "run") if r["run"] == "`main`")
    _printed(run["manifest"]["cells"]["simulated"], main["cells simulated"])
    _printed(summary.loc["BAU", "simulated_area_ha"], main["simulated ha"])
    _printed(summary.loc["BAU", "mean_soc_t0_t_ha"], main["SOC T0"])
    assert f"Cells: grid {run['manifest']['cells']['grid']:,}" in text

    columns = {"ME": "ME", "MAE": "MAE", "RMSE": "RMSE", "R²": "R2", "MEC": "MEC", "CCC": "CCC"}
    columns["PICP90"] = "PICP90"
    for row in _page_table(text, "cross-validation"):
        key = "cv_spatial" if "spatial" in row["cross-validation"] else "cv_kfold"
        pooled = run["dsm"][key]["pooled"]
        assert int(row["n"]) == pooled["n"]
        for column, name in columns.items():
            _printed(pooled[name], row[column])
