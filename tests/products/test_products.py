"""The products as GIS tools, CF checkers and unit-aware readers take them, on a real demo run.

Independent checks: the IOOS compliance checker (CF suite at the declared version), rio-cogeo's
strict COG validation, cf-units (UDUNITS-2) for every ``units`` attribute, and the cube's
values compared with the GeoTIFFs read by rasterio.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5netcdf
import numpy as np
import pytest
import rasterio
import xarray as xr

from .conftest import cf_check, cog_issues

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_cube_passes_the_cf_checker(demo_run, cf_version) -> None:
    cube = demo_run.path / "soc_stocks.nc"
    with xr.open_dataset(cube) as ds:
        assert ds.attrs["Conventions"] == f"CF-{cf_version}"
    assert cf_check(cube, cf_version) == []


def test_the_checker_catches_coulomb_units(demo_run, cf_version, tmp_path) -> None:
    """Negative control: the cube's old unit string is reported."""
    bad = tmp_path / "bad.nc"
    with xr.open_dataset(demo_run.path / "soc_stocks.nc", decode_coords="all") as ds:
        ds = ds.load()
    ds["soc_t0_t_ha"].attrs["units"] = "t C ha-1"
    ds.to_netcdf(bad, engine="h5netcdf")
    issues = cf_check(bad, cf_version)
    assert any("t C ha-1" in issue for issue in issues), issues


def test_units_parse_with_udunits_and_convert_to_the_canonical_units(demo_run) -> None:
    import cf_units

    canonical = {"soil_mass_content_of_carbon": "kg m-2"}
    with h5netcdf.File(demo_run.path / "soc_stocks.nc", "r") as f:
        units = {name: var.attrs.get("units") for name, var in f.variables.items()}
        standard = {name: var.attrs.get("standard_name") for name, var in f.variables.items()}
    seen = {u for u in units.values() if u is not None}
    assert {"t ha-1", "t ha-1 yr-1", "ha"} <= seen
    for name, unit in units.items():
        if unit is None:
            continue
        parsed = cf_units.Unit(unit)  # raises on what UDUNITS cannot read
        if standard[name] in canonical:
            # 1 t/ha = 0.1 kg/m2
            assert parsed.convert(1.0, canonical[standard[name]]) == pytest.approx(0.1)
    rate = cf_units.Unit(units["asr_t_ha_yr"])
    assert rate.convert(1.0, "kg m-2 s-1") == pytest.approx(0.1 / (365.2422 * 86400), rel=1e-4)
    assert standard["soc_t_ha"] == "soil_mass_content_of_carbon"


def test_flags_have_fill_values_and_meanings_and_unsimulated_cells_are_not_zero(demo_run) -> None:
    with h5netcdf.File(demo_run.path / "soc_stocks.nc", "r") as f:
        for name in ("reaches_4p1000", "exclusion_reason", "cropland"):
            attrs = f.variables[name].attrs
            assert attrs["_FillValue"] == 255
            assert len(attrs["flag_values"]) == len(attrs["flag_meanings"].split())
        reach = f.variables["reaches_4p1000"]
        assert "not_simulated" in reach.attrs["flag_meanings"].split()
        raw = reach[...]
        reason = f.variables["exclusion_reason"][...]
    simulated = reason == 0
    assert np.all(raw[:, ~simulated] == 255)  # not "0 = not reached"
    assert set(np.unique(raw[:, simulated])) <= {0, 1}
    with rasterio.open(demo_run.path / "maps" / "XTW_socseq_4p1000_SSM3_Map030.tif") as src:
        tif = src.read(1)
        assert src.nodata == 255
    np.testing.assert_array_equal(tif, raw[-1])  # the GeoTIFF and the cube agree


def test_every_geotiff_is_a_valid_cog_with_band_metadata(demo_run) -> None:
    tifs = sorted(demo_run.path.glob("maps/*.tif")) + sorted(demo_run.path.glob("dsm/*.tif"))
    assert len(tifs) == 23 + 7  # GSOCseq maps and 4-per-1000 flags; DSM maps
    for path in tifs:
        assert cog_issues(path) == [], path.name
        with rasterio.open(path) as src:
            assert src.nodata is not None, path.name
            assert src.units[0], path.name
            assert src.descriptions[0], path.name
            assert src.crs is not None
            if max(src.width, src.height) > 256:
                assert src.overviews(1), f"{path.name}: no internal overviews"
            tags = src.tags()
            assert {"socseq_version", "config_digest", "created"} <= set(tags), path.name
    with rasterio.open(demo_run.path / "maps" / "XTW_GSOCseq_ASR_SSM1_Map030.tif") as src:
        assert src.units[0] == "t ha-1 yr-1" and "t C/ha/yr" in src.descriptions[0]


def test_the_dsm_and_the_pipeline_share_one_metadata_vocabulary(demo_run) -> None:
    with rasterio.open(demo_run.path / "maps" / "XTW_GSOCseq_T0_Map030.tif") as src:
        run_tags = src.tags()
    with rasterio.open(demo_run.path / "dsm" / "soc_0_30cm_soc_mean_t_ha.tif") as src:
        dsm_tags = src.tags()
    keys = {"socseq_version", "config_digest", "created"}
    assert keys <= set(run_tags) and keys <= set(dsm_tags)
    assert "config_sha256" not in dsm_tags and "software" not in dsm_tags
    metrics = json.loads((demo_run.path / "dsm" / "validation_metrics.json").read_text())
    assert keys <= set(metrics)
    manifest = json.loads((demo_run.path / "run.json").read_text())
    assert run_tags["config_digest"] == manifest["config_digest"]
    with xr.open_dataset(demo_run.path / "dsm" / "soc_0_30cm.nc") as ds:
        assert keys <= set(ds.attrs) and ds["soc_mean_t_ha"].attrs["units"] == "t ha-1"


def test_the_cube_reads_by_scenario_name(demo_run) -> None:
    with xr.open_dataset(demo_run.path / "soc_stocks.nc", decode_coords="all") as ds:
        assert ds.rio.crs.to_epsg() == 3826
        by_name = ds.set_xindex("scenario_name")
        asr = by_name["asr_t_ha_yr"].sel(scenario_name="SSM2").values
    with rasterio.open(demo_run.path / "maps" / "XTW_GSOCseq_ASR_SSM2_Map030.tif") as src:
        tif = src.read(1, masked=True).filled(np.nan)
    np.testing.assert_allclose(tif, asr, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("mode", ["gsocseq", "montecarlo"])
def test_uncertainty_products_pass_the_checkers(mode: str, tmp_path: Path, cf_version) -> None:
    from pipeline.conftest import write_region
    from socseq.pipeline.config import load_run_config
    from socseq.pipeline.run import run_pipeline

    extra = f'\n[uncertainty]\nmode = "{mode}"\n'
    if mode == "montecarlo":
        extra += 'members = 3\nseed = 7\n[uncertainty.soc]\nsource = "relative"\nrelative = 0.1\n'
    region = write_region(tmp_path / "region", extra=extra)
    out = tmp_path / "out"
    run_pipeline(load_run_config(region.config), output_dir=out)
    assert cf_check(out / "uncertainty" / "uncertainty.nc", cf_version) == []
    assert cf_check(out / "soc_stocks.nc", cf_version) == []
    tifs = sorted((out / "uncertainty").glob("*.tif"))
    assert tifs
    for path in tifs:
        assert cog_issues(path) == [], path.name
        with rasterio.open(path) as src:
            assert src.units[0] and src.descriptions[0], path.name
