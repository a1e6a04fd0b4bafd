"""Climate from what users have: normals, per-month file patterns, computed PET, notes, sources.

Each option runs end to end on the small synthetic region and is checked against a second
way to the same numbers: the same run given the climate as a stacked series with PET
computed by hand from socseq.climate.pet (tested on FAO-56's worked examples) at latitudes
from pyproj. Results must not depend on the windows (chunk 8 against one window, bit for bit).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import zarr
from pyproj import Transformer

from socseq.climate.gridded import cell_latitude_deg
from socseq.climate.pet import hargreaves_monthly, thornthwaite, thornthwaite_heat_index
from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.grid import GridSpec
from socseq.io.raster import write_geotiff, write_netcdf
from socseq.pipeline.config import load_run_config
from socseq.pipeline.run import WORK, run_pipeline
from socseq.pipeline.run_notes import NORMALS_NOTE
from socseq.pipeline.validate import validate_config
from socseq.report.html import build_report

from .conftest import Region, _da, climate, write_region


def _write_months(root: Path, grid: GridSpec, values: np.ndarray, pattern: str, **fmt) -> None:
    """One GeoTIFF per month: ``values`` is (12, y, x), ``pattern`` formatted with month."""
    for m in range(12):
        write_geotiff(_da(grid, values[m], "v"), root / pattern.format(month=m + 1, **fmt))


def _normals(region: Region) -> dict[str, np.ndarray]:
    """The steady region's climate: its first 12 months are the same every year."""
    clim = climate(region.grid, 1981, 1, np.random.default_rng(0), steady=True)
    return {k: v[:12] for k, v in clim.items()}


def _latitudes(grid: GridSpec) -> np.ndarray:
    """Cell latitudes computed independently: pyproj from the grid CRS to WGS 84."""
    y, x = grid.coords()
    xx, yy = np.meshgrid(x, y)
    return Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(xx, yy)[1]


def _config(region: Region, climate_toml: str, **run: str) -> Path:
    """Replace the region's [climate] tables with ``climate_toml``."""
    text = region.config.read_text()
    head = text.split("[climate]")[0]
    extra = "".join(f"{k} = {v}\n" for k, v in run.items())
    head = head.replace("chunk_size = 8\n", "chunk_size = 8\n" + extra)
    path = region.root / f"run-{abs(hash(climate_toml + extra)) % 10**8}.toml"
    path.write_text(head + climate_toml)
    return path


def _stocks(out: Path) -> np.ndarray:
    return np.asarray(zarr.open_group(str(out / WORK / "results.zarr"), mode="r")["soc"][:])


def _run(config: Path, out: Path, chunk: int | None = None, report: bool = False):
    cfg = load_run_config(config)
    if chunk is not None:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"chunk_size": chunk})})
    result = run_pipeline(cfg, output_dir=out, keep_work=True)
    if report:
        build_report(out)
    return result, _stocks(out)


def _summary(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "summary.csv").query("zone == 'all'").set_index("scenario")


NORMALS_TOML = """
[climate]
[climate.normals]
temperature = { pattern = "normals/tas_{month:02d}.tif", units = "degC" }
precipitation = { pattern = "normals/pr_{month:02d}.tif", units = "mm" }
"""


@pytest.fixture
def normals_region(tmp_path: Path) -> Region:
    region = write_region(tmp_path / "region", ny=12, nx=14, steady=True)
    normals = _normals(region)
    (region.root / "normals").mkdir()
    _write_months(region.root / "normals", region.grid, normals["tas"], "tas_{month:02d}.tif")
    _write_months(region.root / "normals", region.grid, normals["pr"], "pr_{month:02d}.tif")
    return region


def test_normals_with_thornthwaite_equal_a_hand_made_series_with_hand_made_pet(
    normals_region: Region, tmp_path: Path
) -> None:
    region = normals_region
    normals = _normals(region)
    config = _config(region, NORMALS_TOML, notes='["Temperature is a synthetic field."]')
    result, stocks = _run(config, tmp_path / "normals", report=True)

    # What the user had to do by hand before: repeat the normals 40 years and compute PET.
    lat = _latitudes(region.grid)
    pet = thornthwaite(
        normals["tas"], lat, np.arange(1, 13), heat_index=thornthwaite_heat_index(normals["tas"])
    )
    time = pd.date_range("1981-01-01", periods=480, freq="MS")
    for name, values in (("tas", normals["tas"]), ("pr", normals["pr"]), ("pet", pet)):
        da = _da(region.grid, np.tile(values, (40, 1, 1)), name).assign_coords(time=time)
        da.attrs["units"] = "degC" if name == "tas" else "mm"
        write_netcdf(da.to_dataset(), region.root / f"hand_{name}.nc")
    hand = _config(
        region,
        """
[climate]
[climate.series]
temperature = { path = "hand_tas.nc", variable = "tas", units = "degC" }
precipitation = { path = "hand_pr.nc", variable = "pr", units = "mm" }
evaporation = { path = "hand_pet.nc", variable = "pet", units = "mm" }
""",
    )
    _, reference = _run(hand, tmp_path / "hand")
    finite = np.isfinite(reference)
    assert finite.any() and np.array_equal(finite, np.isfinite(stocks))
    np.testing.assert_allclose(stocks[finite], reference[finite], rtol=1e-9)

    # BAU is about 0 by construction, and the run says so.
    summary = _summary(tmp_path / "normals")
    assert abs(summary.loc["BAU", "mean_asr_t_ha_yr"]) < 1e-6
    assert summary.loc["SSM1", "mean_asr_t_ha_yr"] > 0.01
    manifest = result.manifest
    assert manifest["method"]["climate"].startswith("monthly normals")
    assert manifest["method"]["pet"].startswith("computed: Thornthwaite (1948)")
    assert manifest["notes"][0] == NORMALS_NOTE
    assert manifest["notes"][-1] == "Temperature is a synthetic field."
    assert manifest["inputs"]["climate.normals.temperature"].endswith("tas_{month:02d}.tif")
    report = (tmp_path / "normals" / "report.html").read_text()
    assert "BAU is about 0 by construction" in report
    assert "Temperature is a synthetic field." in report
    assert "12 monthly climate normals" in report and "Thornthwaite (1948)" in report
    with xr.open_dataset(tmp_path / "normals" / "soc_stocks.nc") as ds:
        assert ds.attrs["pet_method"].startswith("computed: Thornthwaite (1948)")
        assert ds.attrs["climate_input"].startswith("monthly normals")


def test_hargreaves_from_per_year_patterns_equals_a_hand_made_pet_and_is_window_invariant(
    tmp_path: Path,
) -> None:
    periods = "[periods]\nspinup = [1999, 2000]\nwarmup = [2001, 2003]\nforward_years = 5\n"
    region = write_region(tmp_path / "region", ny=12, nx=14)
    grid = region.grid
    clim = climate(grid, 1999, 5, np.random.default_rng(3))
    tmin, tmax = clim["tas"] - 4.0, clim["tas"] + 5.0 + np.linspace(0, 3, grid.width)
    folder = region.root / "m"
    folder.mkdir()
    for i, year in enumerate(range(1999, 2004)):
        for name, values in (("tmin", tmin), ("tmax", tmax), ("pr", clim["pr"])):
            _write_months(
                folder,
                grid,
                values[12 * i : 12 * i + 12],
                name + "_{year}_{month:02d}.tif",
                year=year,
            )
    patterns = """
[climate]
[climate.series]
precipitation = { pattern = "m/pr_{year}_{month:02d}.tif", years = [1999, 2003], units = "mm" }
tmin = { pattern = "m/tmin_{year}_{month:02d}.tif", years = [1999, 2003], units = "degC" }
tmax = { pattern = "m/tmax_{year}_{month:02d}.tif", years = [1999, 2003], units = "degC" }
"""
    config = _config(region, patterns + periods)
    result, chunked = _run(config, tmp_path / "chunked")
    _, whole = _run(config, tmp_path / "whole", chunk=64)
    np.testing.assert_array_equal(chunked, whole)  # bit for bit, whatever the windows
    assert result.manifest["method"]["pet"].startswith("computed: Hargreaves (FAO-56 eq. 52)")

    # The same climate stacked by hand, with Hargreaves PET computed by hand.
    months = np.tile(np.arange(1, 13), 5)[:, None, None]
    pet = hargreaves_monthly(tmin, tmax, _latitudes(grid), months)
    time = pd.date_range("1999-01-01", periods=60, freq="MS")
    for name, values in (("tas", (tmin + tmax) / 2), ("pr", clim["pr"]), ("pet", pet)):
        da = _da(grid, values, name).assign_coords(time=time)
        da.attrs["units"] = "degC" if name == "tas" else "mm"
        write_netcdf(da.to_dataset(), region.root / f"hand_{name}.nc")
    hand = _config(
        region,
        """
[climate]
[climate.series]
temperature = { path = "hand_tas.nc", variable = "tas", units = "degC" }
precipitation = { path = "hand_pr.nc", variable = "pr", units = "mm" }
evaporation = { path = "hand_pet.nc", variable = "pet", units = "mm" }
"""
        + periods,
    )
    _, reference = _run(hand, tmp_path / "hand")
    finite = np.isfinite(reference)
    assert finite.any() and np.array_equal(finite, np.isfinite(chunked))
    np.testing.assert_allclose(chunked[finite], reference[finite], rtol=1e-9)


def test_normals_with_thornthwaite_are_window_invariant(normals_region: Region, tmp_path) -> None:
    config = _config(normals_region, NORMALS_TOML)
    _, chunked = _run(config, tmp_path / "chunked")
    _, whole = _run(config, tmp_path / "whole", chunk=64)
    assert np.isfinite(chunked).any()
    np.testing.assert_array_equal(chunked, whole)


def test_stacked_normals_file_spinup_pet_and_a_future_series(
    normals_region: Region, tmp_path: Path
) -> None:
    """[climate.normals] from 12-band files; a future series with its own computed PET."""
    region = normals_region
    normals = _normals(region)
    for name in ("tas", "pr"):
        stack = _da(region.grid, normals[name], name).rename(time="band")
        write_geotiff(stack.assign_coords(band=np.arange(1, 13)), region.root / f"{name}12.tif")
    stacked = """
[climate]
[climate.normals]
temperature = { path = "tas12.tif", units = "degC", start = "2000-01" }
precipitation = { path = "pr12.tif", units = "mm", start = "2000-01" }
"""
    _, from_stack = _run(_config(region, stacked), tmp_path / "stack")
    _, from_pattern = _run(_config(region, NORMALS_TOML), tmp_path / "pattern")
    np.testing.assert_array_equal(from_stack, from_pattern)

    future = (
        stacked
        + """
[climate.forward]
temperature = { path = "tas.nc", variable = "tas", units = "degC" }
precipitation = { path = "pr.nc", variable = "pr", units = "mm" }
"""
    )
    text = _config(region, future).read_text()
    path = region.root / "future.toml"
    path.write_text(text + "\n[periods]\nwarmup = [2001, 2010]\nforward_years = 10\n")
    result, stocks = _run(path, tmp_path / "future")
    assert np.isfinite(stocks).any()
    assert result.manifest["periods"]["forward"] == [2011, 2020]


def test_run_sources_are_cited_in_the_report(region: Region, tmp_path: Path) -> None:
    record = {
        "sources": {
            "soilgrids-clay": {
                "title": "SoilGrids 2.0 clay",
                "version": "2.0",
                "licence": "CC BY 4.0",
                "citation": "Poggio et al. (2021) SOIL 7, 217-240",
                "homepage": "https://soilgrids.org",
            }
        }
    }
    (region.root / "sources.json").write_text(json.dumps(record))
    text = region.config.read_text().replace(
        "chunk_size = 8\n", 'chunk_size = 8\nsources = "sources.json"\n'
    )
    region.config.write_text(text)
    validate_config(load_run_config(region.config))
    result, _ = _run(region.config, tmp_path / "out", report=True)
    assert result.manifest["sources"][0]["licence"] == "CC BY 4.0"
    assert result.manifest["method"]["pet"] == "evaporation layers given"
    assert result.manifest["notes"] == []
    report = (tmp_path / "out" / "report.html").read_text()
    assert "Poggio et al. (2021) SOIL 7, 217-240" in report and "CC BY 4.0" in report


def test_latitude_of_projected_cells_from_a_published_coordinate() -> None:
    # UTM 33N: on the central meridian (E = 500 000 m), N = 4 649 776.22 m is 42° N
    # (GRS80/WGS 84 meridian arc, k0 = 0.9996).
    from affine import Affine

    grid = GridSpec("EPSG:32633", Affine(1.0, 0, 499_999.5, 0, -1.0, 4_649_776.72), 1, 1)
    assert cell_latitude_deg(grid)[0, 0] == pytest.approx(42.0, abs=1e-6)
    geo = GridSpec("EPSG:4326", Affine(0.5, 0, 20.0, 0, -0.5, 42.0), 3, 2)
    np.testing.assert_array_equal(cell_latitude_deg(geo)[:, 0], [41.75, 41.25])


BAD_CLIMATE = [
    ("", r"\[climate\] give \[climate.series\] \(a monthly series\) or \[climate.normals\]"),
    (
        NORMALS_TOML.replace("[climate]\n", "")
        + '[climate.series]\nprecipitation = { path = "pr.nc", units = "mm" }\n'
        + 'temperature = { path = "tas.nc", units = "degC" }\n',
        "exactly one of them",
    ),
    (
        '[climate.normals]\nprecipitation = { path = "pr12.tif", pattern = "p{month}.tif", '
        'units = "mm" }\ntemperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate.normals.precipitation\] give path .* or pattern",
    ),
    (
        '[climate.normals]\nprecipitation = { units = "mm" }\n'
        'temperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate.normals.precipitation\] give path",
    ),
    (
        '[climate.normals]\nprecipitation = { pattern = "p{day}.tif", units = "mm" }\n'
        'temperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate.normals.precipitation\] pattern 'p\{day\}.tif' must contain \{month\}",
    ),
    (
        '[climate.series]\nprecipitation = { pattern = "p{year}_{month}.tif", units = "mm" }\n'
        'temperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate.series.precipitation\] .*has \{year\}: give years",
    ),
    (
        '[climate.series]\nprecipitation = { path = "p.nc", years = [2001, 2002], units = "mm" }\n'
        'temperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate.series.precipitation\] years applies to a pattern",
    ),
    (
        '[climate.series]\nprecipitation = { pattern = "p{year}_{month}.tif", '
        'years = [2002, 2001], units = "mm" }\ntemperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate.series.precipitation\] years = \[2002, 2001\] ends before",
    ),
    (
        '[climate.normals]\nprecipitation = { pattern = "p{year}_{month}.tif", '
        'years = [2001, 2002], units = "mm" }\ntemperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate\] the pattern of normals.precipitation has \{year\}",
    ),
    (
        '[climate.series]\nprecipitation = { pattern = "p{month}.tif", units = "mm" }\n'
        'temperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate\] the pattern of series.precipitation has no \{year\}",
    ),
    (
        NORMALS_TOML.replace("[climate]\n", "")
        + '[climate.spinup]\nprecipitation = { path = "p.tif", units = "mm" }\n'
        + 'temperature = { path = "t.tif", units = "degC" }\n',
        r"\[climate\] \[climate.normals\] are the spin-up climate; remove \[climate.spinup\]",
    ),
    (
        '[climate.series]\nprecipitation = { path = "p.nc", units = "mm" }\n'
        'temperature = { path = "t.nc", units = "degC" }\n'
        'evaporation = { path = "e.nc", units = "mm" }\n'
        '[climate.forward]\nprecipitation = { path = "p.nc", units = "mm" }\n'
        'temperature = { path = "t.nc", units = "degC" }\n',
        r"\[climate\] climate.forward gives no evaporation but another section does",
    ),
    (
        'pet_method = "thornthwaite"\n[climate.series]\n'
        'precipitation = { path = "p.nc", units = "mm" }\n'
        'temperature = { path = "t.nc", units = "degC" }\n'
        'evaporation = { path = "e.nc", units = "mm" }\n',
        r"\[climate\] pet_method applies only when no evaporation layer is given",
    ),
    (
        'evaporation_kind = "pan"\n' + NORMALS_TOML.replace("[climate]\n", ""),
        r"\[climate\] computed PET is potential evapotranspiration: evaporation_kind must be",
    ),
    (
        'pet_method = "hargreaves"\n' + NORMALS_TOML.replace("[climate]\n", ""),
        r"\[climate\] pet_method = 'hargreaves' needs tmin and tmax; climate.normals has none",
    ),
    (
        'pet_method = "penman"\n' + NORMALS_TOML.replace("[climate]\n", ""),
        r"\[climate.pet_method\]",
    ),
    (
        '[climate.normals]\nprecipitation = { path = "p.tif", units = "mm" }\n'
        'tmin = { path = "t.tif", units = "degC" }\n',
        r"\[climate.normals\] give tmin and tmax together",
    ),
    (
        '[climate.normals]\nprecipitation = { path = "p.tif", units = "mm" }\n',
        r"\[climate.normals\] give temperature \(monthly mean\), or tmin and tmax",
    ),
    (
        '[climate.normals]\nprecipitation = { path = "p.tif", units = "mm" }\n'
        'temperature = { path = "t.tif" }\n',
        r"\[climate.normals.temperature.units\] is required",
    ),
]


@pytest.mark.parametrize(("climate_toml", "message"), BAD_CLIMATE)
def test_bad_climate_keys_are_one_line_naming_the_key(
    region: Region, climate_toml: str, message: str
) -> None:
    config = _config(region, "[climate]\n" + climate_toml)
    with pytest.raises(ConfigError, match=message) as info:
        load_run_config(config)
    assert "\n" not in str(info.value)


def test_bad_run_keys_are_one_line_naming_the_key(region: Region) -> None:
    text = region.config.read_text()
    region.config.write_text(text.replace("chunk_size = 8\n", 'chunk_size = 8\nnotes = [" "]\n'))
    with pytest.raises(ConfigError, match=r"\[run.notes\] notes are lines of text"):
        load_run_config(region.config)
    region.config.write_text(text.replace("chunk_size = 8\n", "chunk_size = 8\nnotes = 3\n"))
    with pytest.raises(ConfigError, match=r"\[run.notes\]"):
        load_run_config(region.config)
    region.config.write_text(
        text.replace("chunk_size = 8\n", 'chunk_size = 8\nsources = "missing.json"\n')
    )
    with pytest.raises(ConfigError, match=r"\[run.sources\] .*missing.json does not exist"):
        validate_config(load_run_config(region.config))
    (region.root / "bad.json").write_text("[1, 2]")
    region.config.write_text(
        text.replace("chunk_size = 8\n", 'chunk_size = 8\nsources = "bad.json"\n')
    )
    with pytest.raises(ConfigError, match=r"\[run.sources\] .*bad.json has no 'sources' table"):
        validate_config(load_run_config(region.config))


def test_normals_need_twelve_months_and_patterns_their_files(
    normals_region: Region, tmp_path: Path
) -> None:
    region = normals_region
    wrong = NORMALS_TOML.replace(
        'temperature = { pattern = "normals/tas_{month:02d}.tif", units = "degC" }',
        'temperature = { path = "tas.nc", variable = "tas", units = "degC" }',
    )
    with pytest.raises(InputValidationError, match=r"climate.normals.temperature.*has 480 months"):
        validate_config(load_run_config(_config(region, wrong)))
    (region.root / "normals" / "pr_07.tif").unlink()
    with pytest.raises(InputValidationError, match=r"1 of the 12 files .*pr_07.tif"):
        validate_config(load_run_config(_config(region, NORMALS_TOML)))
