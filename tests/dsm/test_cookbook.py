"""The FAO SOC Mapping Cookbook check: examples/mkd_cookbook/validate.py on the real data.

Train on the Cookbook's 2,916 training profiles with its 13 covariates, predict its 970 test
points, and compare with its published random forest (RMSE 0.558, MEC 0.33) and regression
kriging (0.541, 0.37). Errors are in the Cookbook's OCSKGM units (see the script's docstring).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "mkd_cookbook" / "validate.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("mkd_cookbook_validate", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.shared
def test_cookbook_region_meets_the_published_accuracy(shared, tmp_path):
    data = shared.path("data", "mkd-soc-cookbook")
    # The cross-validation, which doubles the time, has its own (slow) test below.
    metrics = _load_script().main(["--data", str(data), "--out", str(tmp_path), "--no-cv"])

    # The stock socseq computes from SOC (%), BLD and CRFVOL is 100 × the Cookbook's OCSKGM
    # on every profile: the Cookbook divided SOC in % by 1000 as if it were g/kg.
    units = metrics["units_check"]
    assert units["min"] == pytest.approx(100.0) and units["max"] == pytest.approx(100.0)

    test = metrics["test"]
    assert test["points"] == 970
    assert test["not_predicted"] == ["P5810"]  # south of the covariate grid
    ours = test["socseq"]
    assert ours["RMSE"] <= 0.56
    assert ours["MEC"] >= 0.33
    assert 0.85 <= ours["PICP90"] <= 0.95
    # The published figures, recomputed from validation.csv, are what the issue quotes.
    assert test["cookbook"]["rf"]["own_points"]["RMSE"] == pytest.approx(0.558, abs=5e-4)
    assert test["cookbook"]["RK"]["own_points"]["MEC"] == pytest.approx(0.37, abs=5e-3)
    # On exactly the points the Cookbook's random forest predicted, socseq is at least as good.
    same = test["cookbook"]["rf"]
    assert same["socseq_on_common_points"]["RMSE"] <= same["common_points"]["RMSE"]

    assert metrics["cv"] == {}
    written = json.loads((tmp_path / "cookbook_metrics.json").read_text())
    assert written["test"]["socseq"]["RMSE"] == pytest.approx(ours["RMSE"])
    assert (tmp_path / "cookbook_observed_vs_predicted.png").stat().st_size > 10_000
    table = (tmp_path / "cookbook_table.md").read_text()
    assert "| Cookbook random forest" in table and "PICP90" in table


@pytest.mark.shared
@pytest.mark.slow
def test_cookbook_cross_validation_scores_both_schemes(shared, tmp_path):
    data = shared.path("data", "mkd-soc-cookbook")
    metrics = _load_script().main(["--data", str(data), "--out", str(tmp_path)])
    assert set(metrics["cv"]) == {"spatial", "kfold"}
    # Held-out 20 km blocks lie farther from the training samples than random folds do, so
    # they are predicted worse (docs/dsm.md: RMSE 0.575 against 0.519); both intervals keep
    # the target coverage.
    spatial, kfold = metrics["cv"]["spatial"], metrics["cv"]["kfold"]
    assert spatial["RMSE"] > kfold["RMSE"]
    assert all(0.85 <= r["PICP90"] <= 0.95 for r in (spatial, kfold))
    assert "spatial blocks" in (tmp_path / "cookbook_table.md").read_text()
