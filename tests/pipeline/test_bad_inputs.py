"""Every bad input named in the issue: one line naming the layer and the fix, nothing written."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

from socseq.cli import main
from socseq.io.raster import write_netcdf

from .conftest import Region, write_region


def _invoke(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["socseq", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def _scale_tif(path: Path, factor: float) -> None:
    with rasterio.open(path, "r+", IGNORE_COG_LAYOUT_BREAK="YES") as dst:
        data = dst.read(1)
        dst.write(np.where(data == dst.nodata, data, data * factor), 1)


def _edit_nc(path: Path, edit: Callable[[xr.Dataset], xr.Dataset]) -> None:
    with xr.open_dataset(path, decode_coords="all") as ds:
        new = edit(ds.load())
    write_netcdf(new, path)


def _strip_crs(path: Path) -> None:
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    profile.pop("crs", None)
    profile["driver"] = "GTiff"
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)


def _replace(config: Path, old: str, new: str) -> None:
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))


CASES: dict[str, tuple[Callable[[Region], None], tuple[str, ...]]] = {
    "soc in kg/m2": (
        lambda r: _scale_tif(r.root / "soc.tif", 0.1),
        ("inputs.soc", "soc.tif", "kg/m"),
    ),
    "clay in g/kg": (
        lambda r: _scale_tif(r.root / "clay.tif", 10.0),
        ("inputs.clay", "clay.tif", "g/kg"),
    ),
    "temperature in K": (
        lambda r: _edit_nc(r.root / "tas.nc", lambda ds: ds.assign(tas=ds["tas"] + 273.15)),
        ("climate.series.temperature", "tas.nc", "K"),
    ),
    "TerraClimate 0.1 scale": (
        lambda r: _edit_nc(r.root / "tas.nc", lambda ds: ds.assign(tas=ds["tas"] * 10)),
        ("climate.series.temperature", "tas.nc", "0.1"),
    ),
    "CRU PET in mm/day": (
        lambda r: _edit_nc(r.root / "pet.nc", lambda ds: ds.assign(pet=ds["pet"] / 30)),
        ("climate.series.evaporation", "pet.nc", "mm/day"),
    ),
    "missing CRS": (lambda r: _strip_crs(r.root / "clay.tif"), ("inputs.clay", "clay.tif", "CRS")),
    "missing month": (
        lambda r: _edit_nc(r.root / "pr.nc", lambda ds: ds.drop_isel(time=[100])),
        ("climate.series.precipitation", "pr.nc", "misses 1 month"),
    ),
    "series too short": (
        lambda r: _edit_nc(r.root / "pet.nc", lambda ds: ds.isel(time=slice(0, 300))),
        ("climate.series.evaporation", "pet.nc", "2001-01…2020-12"),
    ),
    "all-NaN clay": (
        lambda r: _scale_tif(r.root / "clay.tif", np.nan),
        ("inputs.clay", "clay.tif"),
    ),
    "unknown key": (
        lambda r: _replace(r.config, 'iso = "XTS"', 'iso = "XTS"\nchunk = 4'),
        ("[run.chunk]", "unknown key"),
    ),
    "missing file": (
        lambda r: _replace(r.config, '"clay.tif"', '"klay.tif"'),
        ("inputs.clay", "klay.tif", "does not exist"),
    ),
    "wrong units key": (
        lambda r: _replace(r.config, 'units = "%"', 'units = "mg/kg"'),
        ("inputs.clay", "mg/kg"),
    ),
    "no agricultural class": (
        lambda r: _replace(
            r.config, "[climate]\n", "[land_use]\nsimulate = [7]\ncropland = [7]\n[climate]\n"
        ),
        ("inputs.land_use", "no cell of the classes"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_and_writes_nothing(case, tmp_path, monkeypatch, capsys):
    region = write_region(tmp_path / "r", ny=8, nx=10)
    corrupt, needles = CASES[case]
    corrupt(region)
    out = tmp_path / "out"
    for command in ("validate", "run"):
        args = [command, str(region.config)] + (
            ["--out", str(out), "-q"] if command == "run" else ["-q"]
        )
        code, err = _invoke(args, monkeypatch, capsys)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2, err
        assert len(lines) == 1, err
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
    products = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert products == [], products


def test_failed_rerun_keeps_the_previous_products(tmp_path, monkeypatch, capsys):
    region = write_region(tmp_path / "r", ny=8, nx=10)
    out = tmp_path / "out"
    code, err = _invoke(
        ["run", str(region.config), "--out", str(out), "-q", "--no-report"], monkeypatch, capsys
    )
    assert code == 0, err
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert (out / "run.json") in before

    # A failure while the products are written: nothing new is published.
    import socseq.pipeline.run as run_module

    def broken(*args, **kwargs):
        stage = args[3]
        (stage / "maps").mkdir(parents=True)
        (stage / "maps" / "XTS_GSOCseq_T0_Map030.tif").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(run_module, "compute_products", broken)
    code, err = _invoke(
        ["run", str(region.config), "--out", str(out), "-q", "--no-report"], monkeypatch, capsys
    )
    assert code == 2 and "disk full" in err
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and ".socseq-" not in str(p)}
    assert after == before
