"""`socseq dsm cv|train|predict` and the [dsm] configuration, on the synthetic region."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from socseq.cli import cli
from socseq.dsm import load_config, parse_config, predict, train
from socseq.exceptions import ConfigError
from socseq.io.grid import GridSpec

from .conftest import make_region, one_line, write_config


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    region = make_region(tmp_path_factory.mktemp("cli"), n_samples=250, seed=1)
    return region, write_config(region, kriging=True)


def test_cv_train_predict_from_the_command_line(workdir):
    region, config = workdir
    runner = CliRunner()
    result = runner.invoke(cli, ["dsm", "cv", str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "spatial CV" in result.output and "kfold CV" in result.output
    assert "3-fold CV" in result.output
    out = region.root / "out"
    metrics = json.loads((out / "validation_metrics.json").read_text())
    assert set(metrics) >= {"cv_spatial", "cv_kfold", "config_digest", "socseq_version"}
    assert metrics["cv_kfold"]["pooled"]["MEC"] > 0.5
    for name in (
        "cv_spatial_predictions.csv",
        "cv_kfold_predictions.csv",
        "importance.csv",
        "samples_qa.csv",
        "cv_spatial_observed_vs_predicted.png",
        "importance.png",
    ):
        assert (out / name).exists(), name

    result = runner.invoke(cli, ["dsm", "train", str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "trained qrf + residual kriging on 250 samples" in result.output
    assert (out / "dsm_model.joblib").exists()

    other = region.root / "maps"
    result = runner.invoke(cli, ["dsm", "predict", str(config), "--out", str(other), "-q"])
    assert result.exit_code == 0, result.output
    assert "mapped 1200 cells" in result.output
    for name in (
        "soc_mean_t_ha",
        "soc_median_t_ha",
        "soc_q05_t_ha",
        "soc_q95_t_ha",
        "soc_sd_t_ha",
        "di",
        "aoa",
    ):
        assert (other / f"soc_0_30cm_{name}.tif").exists()
    assert (other / "soc_0_30cm.nc").exists() and (other / "soc_0_30cm_maps.png").exists()


def test_a_config_error_is_one_line_and_exit_status_2(workdir, tmp_path):
    region, config = workdir
    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text().replace("n_estimators", "n_trees"))
    result = CliRunner().invoke(cli, ["dsm", "train", str(bad)])
    assert result.exit_code == 2
    assert "[dsm.model.n_trees] unknown key" in result.output
    assert result.output.count("\n") == 1


def test_training_is_reproducible_with_the_seed(workdir, tmp_path):
    region, config_path = workdir
    config = load_config(config_path)
    a = predict(config, trained=train(config, write=False), write=False)
    b = predict(config, trained=train(config, write=False), write=False)
    np.testing.assert_array_equal(a["soc_q95_t_ha"].values, b["soc_q95_t_ha"].values)
    assert a.attrs["config_digest"] == config.digest()


def test_config_section_embedded_or_alone_and_relative_paths(workdir, tmp_path):
    region, config_path = workdir
    text = config_path.read_text()
    bare = tmp_path / "bare" / "dsm.toml"
    bare.parent.mkdir()
    bare.write_text(text.replace("[dsm.", "[").replace("[[dsm.", "[["))
    shutil.copy(region.samples_csv, bare.parent / "samples.csv")
    a, b = load_config(config_path), load_config(bare)
    assert a.samples.path == region.root / "samples.csv"
    assert b.samples.path == bare.parent / "samples.csv"
    assert a.model == b.model and a.covariates[2].categorical
    with pytest.raises(ConfigError) as exc:
        parse_config(
            {
                "samples": {
                    "path": "s.csv",
                    "stock": {"column": "s", "units": "t/ha"},
                    "soc": {"column": "c", "units": "%"},
                },
                "covariates": [{"name": "a", "path": "a.tif"}],
            }
        )
    assert "either stock or soc" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        parse_config({"samples": {"path": "s.csv"}, "covariates": []})
    assert one_line(exc).startswith("configuration: [dsm.samples]")


def test_the_pipeline_can_impose_its_grid(workdir):
    region, config_path = workdir
    config = load_config(config_path)
    t = region.grid.transform
    coarse = GridSpec(
        region.grid.crs,
        Affine(2 * t.a, 0, t.c, 0, 2 * t.e, t.f),
        region.grid.width // 2,
        region.grid.height // 2,
    )
    maps = predict(config, trained=train(config, grid=coarse, write=False), write=False)
    assert maps["soc_q05_t_ha"].shape == coarse.shape
    assert np.isfinite(maps["soc_q95_t_ha"].values).all()
