"""``socseq dsm``: model reuse keyed by the settings, all-or-nothing writes, one writer."""

from __future__ import annotations

import errno
import hashlib
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import rasterio
from click.testing import CliRunner

import socseq.io.raster
from dsm.conftest import make_region, write_config  # tests/ is on sys.path (rootdir packages)
from socseq.cli import cli
from socseq.dsm import load_config
from socseq.dsm.api import MODEL_FILE, load_trained, model_key
from socseq.exceptions import InputValidationError


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A DSM region, its configuration, and a trained model in ``out/``."""
    region = make_region(tmp_path_factory.mktemp("dsm-faults"), n_samples=120, seed=3)
    config = write_config(region)
    result = CliRunner().invoke(cli, ["dsm", "train", str(config), "-q"])
    assert result.exit_code == 0, result.output
    return region.root, config


def _predict(config: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["dsm", "predict", str(config), "-q", *extra])


def test_a_saved_model_is_reused_only_with_the_settings_it_was_fitted_with(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    root, config = trained
    out = root / "out"
    first_key = load_trained(out / MODEL_FILE).provenance["model_key"]
    assert first_key == model_key(load_config(config))

    result = _predict(config)
    assert result.exit_code == 0, result.output
    assert f"model: reused the saved {MODEL_FILE} (model key {first_key})" in result.output

    # n_jobs does not shape the model: the key stays.
    threads = root / "threads.toml"
    threads.write_text(config.read_text().replace("n_jobs = 1", "n_jobs = 2"))
    assert model_key(load_config(threads)) == first_key

    # Another number of trees does: the saved model is not reused, a new one is fitted,
    # saved with the maps, and the maps carry its key.
    bigger = root / "bigger.toml"
    bigger.write_text(config.read_text().replace("n_estimators = 40", "n_estimators = 30"))
    new_key = model_key(load_config(bigger))
    assert new_key != first_key
    result = _predict(bigger)
    assert result.exit_code == 0, result.output
    assert f"retrained: the saved {MODEL_FILE} was fitted with other [dsm] settings" in (
        result.output
    )
    assert f"model key {first_key}, now {new_key}" in result.output
    assert load_trained(out / MODEL_FILE).provenance["model_key"] == new_key
    with rasterio.open(out / "soc_0_30cm_soc_mean_t_ha.tif") as src:
        assert src.tags()["model_key"] == new_key


def test_a_damaged_saved_model_is_refitted_and_named(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    """A truncated model file (a full disk, a copy cut short) or one another scikit-learn cannot
    unpickle: loading it is one line naming the file and the fix, and predict fits anew."""
    root, config = trained
    copy = tmp_path / "r"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.toml"))
    shutil.copy(config, copy / config.name)
    saved = copy / "out" / MODEL_FILE
    saved.write_bytes(saved.read_bytes()[:200])

    with pytest.raises(InputValidationError) as caught:
        load_trained(saved)
    message = str(caught.value)
    assert "\n" not in message
    assert f"trained model {saved}: cannot be loaded" in message
    assert "fit it again with `socseq dsm train`" in message

    result = _predict(copy / config.name)
    assert result.exit_code == 0, result.output
    assert f"retrained: the saved {MODEL_FILE} cannot be loaded" in result.output
    assert load_trained(saved).provenance["model_key"] == model_key(load_config(copy / config.name))


def test_an_edited_sample_table_changes_the_key(trained: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = trained
    copy = tmp_path / "r"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("out", "*.toml"))
    shutil.copy(root / "dsm.toml", copy / "dsm.toml")
    before = model_key(load_config(copy / "dsm.toml"))
    with open(copy / "samples.csv", "a", encoding="utf-8") as handle:
        handle.write("\n")
    assert model_key(load_config(copy / "dsm.toml")) != before


def test_a_failed_predict_leaves_the_folder_as_it_was(
    trained: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, config = trained
    out = root / "out"
    assert _predict(config).exit_code == 0
    before = _files(out)
    real = socseq.io.raster.atomic_path
    seen = {"n": 0}

    @contextmanager
    def failing(final: Any) -> Any:
        with real(final) as tmp:
            yield tmp
            seen["n"] += 1
            if seen["n"] == 3:  # the third map of the prediction
                raise OSError(errno.ENOSPC, "No space left on device", str(tmp))

    monkeypatch.setattr(socseq.io.raster, "atomic_path", failing)
    result = _predict(config)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: no space left on device writing {out}/soc_0_30cm_")
    assert result.stderr.count("\n") == 1
    assert _files(out) == before


def test_dsm_train_is_refused_while_another_command_holds_the_folder(
    trained: tuple[Path, Path],
) -> None:
    root, config = trained
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom socseq.outputs import lock_output\n"
            "with lock_output(sys.argv[1], 'dsm predict'):\n    print('locked', flush=True)\n"
            "    time.sleep(60)\n",
            str(root / "out"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        result = CliRunner().invoke(cli, ["dsm", "train", str(config), "-q"])
        assert result.exit_code == 2
        assert result.stderr.count("\n") == 1
        assert f"is in use by socseq dsm predict (PID {holder.pid}" in result.stderr
    finally:
        holder.kill()
        holder.wait()
