"""The North Macedonia normals run, configured as docs/data-sources.md shows it.

The configuration is read from the documentation (so the page and the test cannot drift
apart) and points at the files as they are in ../shared/data/mkd-gsp-covariates-1km: 12
monthly CHELSA precipitation files, 12 MODIS day and 12 night LST files (K), no series and
no PET made by hand. The whole country is validated; a window of it is run.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from socseq.pipeline.config import load_run_config
from socseq.pipeline.run import run_pipeline
from socseq.pipeline.run_notes import NORMALS_NOTE
from socseq.pipeline.validate import validate_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-sources.md"


def _documented_config() -> str:
    text = DOC.read_text(encoding="utf-8")
    marker = text.index("<!-- mkd-normals-config")
    block = re.search(r"```toml\n(.*?)```", text[marker:], re.S)
    assert block is not None, "docs/data-sources.md lost the North Macedonia configuration"
    return block.group(1)


@pytest.fixture
def mkd_config(tmp_path: Path, shared) -> Path:
    folder = shared.path("data", "mkd-gsp-covariates-1km")
    text = _documented_config()
    # The page saves it in the data folder; here it sits in tmp with the folder's paths.
    for sub in ("all_covs/", "reference_maps/"):
        text = text.replace(f'"{sub}', f'"{folder.as_posix()}/{sub}')
    text = text.replace('output_dir = "socseq-out-mkd"', f'output_dir = "{tmp_path / "out"}"')
    path = tmp_path / "mkd-normals.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.shared
def test_north_macedonia_normals_validate_and_run(mkd_config: Path, tmp_path: Path) -> None:
    config = load_run_config(mkd_config)
    assert config.climate.normals is not None and config.climate.computed_pet == "thornthwaite"
    report = validate_config(config)
    assert report["grid"]["width"] == 310 and report["grid"]["height"] == 182
    assert report["survey_cells"] > 5_000  # croplands and grasslands of ESA CCI 2010

    # A window in the Ovče Pole plain (cropland), 24 x 18 cells of 30".
    grid = config.grid.model_copy(
        update={"crs": "EPSG:4326", "resolution": 1 / 120, "bounds": (21.9, 41.7, 22.1, 41.85)}
    )
    config = config.model_copy(update={"grid": grid})
    result = run_pipeline(config, output_dir=tmp_path / "window")
    manifest = result.manifest
    assert manifest["cells"]["simulated"] > 50
    assert manifest["method"]["pet"].startswith("computed: Thornthwaite (1948)")
    assert manifest["notes"][0] == NORMALS_NOTE
    assert manifest["notes"][-1].startswith("Climate normals: CHELSA precipitation")

    # The same 12 months every warm-up year: the soil stays at its spin-up equilibrium, so
    # every warm-up year ends with the same stock and BAU is about 0 by construction.
    with xr.open_dataset(tmp_path / "window" / "soc_stocks.nc") as ds:
        warm = ds["soc_warmup_t_ha"].values
        assert ds.attrs["pet_method"].startswith("computed: Thornthwaite")
    finite = np.isfinite(warm[0])
    assert finite.sum() == manifest["cells"]["simulated"]
    np.testing.assert_allclose(
        warm[:, finite], np.broadcast_to(warm[0, finite], warm[:, finite].shape), rtol=1e-6
    )
    summary = pd.read_csv(tmp_path / "window" / "summary.csv").query("zone == 'all'")
    rates = summary.set_index("scenario")["mean_asr_t_ha_yr"]
    assert abs(rates["BAU"]) < 1e-5
    assert 0 < rates["SSM1"] < rates["SSM2"] < rates["SSM3"]
