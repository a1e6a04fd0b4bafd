"""The bad-input corpus of issue 13 item 7: one table of malformed or implausible inputs.

Each case changes one thing of a small valid region (``pipeline.conftest.write_region``, 4 × 5
cells, with the packaged RothC example beside it as ``site.dat``), runs the commands in this
process and checks the promises of docs/pipeline.md, "Bad input": exit status 2, at most 3
lines of output, no traceback, the expected words of the message, and nothing written (the
output folder absent, or a previous run's products byte-identical). A case whose input is
valid but suspicious checks its documented warning instead. The commands run from another
folder than the configuration's, so a relative path that resolved against the working folder
would show.

Adding a case is one line of ``CASES``: an id (its prefix is the category), a mutation of the
region folder, the fragments its message must hold (``{root}`` is the region folder) and, if
not ``validate`` then ``run``, the commands. A few cases run as real processes at the end.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from click.testing import CliRunner, Result

from pipeline.conftest import write_region  # tests/ is on sys.path (rootdir packages)
from socseq.cli import cli
from socseq.io.raster import write_netcdf

Mutation = Callable[[Path], Any]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"

# --------------------------------------------------------------------------------------------
# Mutations of the region folder
# --------------------------------------------------------------------------------------------


def _both(*mutations: Mutation) -> Mutation:
    def mutate(root: Path) -> None:
        for m in mutations:
            m(root)

    return mutate


def _edit(old: str, new: str, name: str = "run.toml") -> Mutation:
    """Replace ``old`` (which must be there) by ``new`` in a text file of the region."""

    def mutate(root: Path) -> None:
        path = root / name
        text = path.read_text(encoding="utf-8")
        assert old in text, (name, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return mutate


def _add(text: str) -> Mutation:
    """Add configuration sections before ``[climate]``."""
    return _edit("[climate]\n", f"{text}\n[climate]\n")


def _append(text: str) -> Mutation:
    def mutate(root: Path) -> None:
        with (root / "run.toml").open("a", encoding="utf-8") as f:
            f.write(text)

    return mutate


def _write(name: str, data: str | bytes) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / name
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")

    return mutate


def _bytes(edit: Callable[[bytes], bytes], name: str = "run.toml") -> Mutation:
    def mutate(root: Path) -> None:
        path = root / name
        path.write_bytes(edit(path.read_bytes()))

    return mutate


def _delete(name: str) -> Mutation:
    return lambda root: (root / name).unlink()


def _folder_instead(name: str) -> Mutation:
    def mutate(root: Path) -> None:
        (root / name).unlink()
        (root / name).mkdir()

    return mutate


def _raster(name: str, values: Callable[[np.ndarray], np.ndarray] | None = None, **profile: Any):
    """Rewrite a GeoTIFF of the region with new values and/or profile entries (None drops)."""

    def mutate(root: Path) -> None:
        path = root / name
        with rasterio.open(path) as src:
            old, data = src.profile, src.read()
        data = values(data) if values is not None else data
        new = {**old, "driver": "GTiff", "count": data.shape[0], **profile}
        with rasterio.open(path, "w", **{k: v for k, v in new.items() if v is not None}) as dst:
            dst.write(data.astype(new["dtype"]))

    return mutate


def _netcdf(name: str, edit: Callable[[xr.Dataset], xr.Dataset]) -> Mutation:
    def mutate(root: Path) -> None:
        with xr.open_dataset(root / name, decode_coords="all") as ds:
            new = edit(ds.load())
        write_netcdf(new, root / name)

    return mutate


def _truncate(name: str, nbytes: int) -> Mutation:
    """Cut the last bytes of a file: its header still opens, its last block is short."""
    return _bytes(lambda b: b[:-nbytes], name)


def _corrupt(name: str, at: float, nbytes: int = 64) -> Mutation:
    """Invert ``nbytes`` bytes from the share ``at`` of a file (inside a compressed block)."""

    def edit(data: bytes) -> bytes:
        start = int(len(data) * at)
        flipped = bytes(b ^ 0xFF for b in data[start : start + nbytes])
        return data[:start] + flipped + data[start + nbytes :]

    return _bytes(edit, name)


def _decoy(name: str, relative: str) -> Mutation:
    """Name ``relative`` in the configuration; that file exists only under the working folder.

    A relative path must resolve against the configuration's folder, so the run must not find
    the copy in the working folder (``../elsewhere``, where the commands run).
    """

    def mutate(root: Path) -> None:
        decoy = root.parent / "elsewhere" / relative
        decoy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / name, decoy)
        _edit(f'"{name}"', f'"{relative}"')(root)

    return mutate


CLASS_HEADER = "code,name,dpm_rpm,npp_factor,paddy," + ",".join(f"cover_{m}" for m in range(1, 13))
CLASS_ROWS = "".join(f"{c},Class {c},1.44,0.53,0,{','.join(['0.6'] * 12)}\n" for c in range(1, 14))


def _table(text: str | bytes) -> Mutation:
    """Use ``classes.csv`` holding ``text`` as the class table."""
    return _both(_write("classes.csv", text), _add('[land_use]\ntable = "classes.csv"'))


def _rows(old: str, new: str) -> Mutation:
    """The class table with ``old`` replaced by ``new`` (first occurrence) in its rows."""
    assert old in CLASS_ROWS
    return _table(CLASS_HEADER + "\n" + CLASS_ROWS.replace(old, new, 1))


DSM = """
[dsm.samples]
path = "samples.csv"
x = "x"
y = "y"
crs = "EPSG:3826"
soc = { column = "SOC", units = "%" }
top = { column = "top", units = "cm" }
bottom = { column = "bottom", units = "cm" }

[[dsm.covariates]]
name = "clay"
path = "clay.tif"
"""
SAMPLES_HEADER = "site,x,y,SOC,top,bottom"

Rows = list[dict[str, str]]


def _samples() -> Rows:
    rng = np.random.default_rng(3)
    return [
        {
            "site": f"s{i}",
            "x": f"{200_000 + 5000 * rng.random():.1f}",
            "y": f"{2_596_000 + 4000 * rng.random():.1f}",
            "SOC": f"{1 + 2 * rng.random():.2f}",
            "top": "0",
            "bottom": "30",
        }
        for i in range(40)
    ]


def _dsm(edit: Callable[[Rows], Rows] = lambda rows: rows, header: str = SAMPLES_HEADER):
    """Map the SOC baseline with ``[dsm]`` from 40 samples (``edit`` changes them)."""

    def mutate(root: Path) -> None:
        rows = edit(_samples())
        lines = [header] + [",".join(r[c] for c in SAMPLES_HEADER.split(",")) for r in rows]
        (root / "samples.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        _edit('soc = { path = "soc.tif", units = "t/ha" }\n', "")(root)
        _append(DSM)(root)

    return mutate


def _sample(i: int, **values: str) -> Callable[[Rows], Rows]:
    def edit(rows: Rows) -> Rows:
        rows[i].update(values)
        return rows

    return edit


def _every(**values: Any) -> Callable[[Rows], Rows]:
    """Set columns of every sample (a callable value gets the row index)."""

    def edit(rows: Rows) -> Rows:
        for i, row in enumerate(rows):
            row.update({k: v(i) if callable(v) else v for k, v in values.items()})
        return rows

    return edit


def _site(line: int, old: str, new: str) -> Mutation:
    """Replace ``old`` by ``new`` on ``line`` (1-based) of the RothC input ``site.dat``."""

    def mutate(root: Path) -> None:
        path = root / "site.dat"
        lines = path.read_text(encoding="utf-8").split("\n")
        assert old in lines[line - 1], (line, old)
        lines[line - 1] = lines[line - 1].replace(old, new, 1)
        path.write_text("\n".join(lines), encoding="utf-8")

    return mutate


def _site_bytes(edit: Callable[[bytes], bytes]) -> Mutation:
    return _bytes(edit, "site.dat")


# --------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad input: what to change, which commands to run, what their message holds."""

    id: str
    mutate: Mutation
    expect: tuple[str, ...]
    commands: tuple[str, ...] = ("validate", "run")
    #: Valid but suspicious: exit status 0 and this documented warning on stderr.
    warns: bool = False
    #: Run over a copy of a previous good run's folder, whose products must stay identical.
    previous: bool = False

    @property
    def category(self) -> str:
        return self.id.split("-")[0]


V = ("validate",)
#: Only the command that writes, for checks that validate and run share (pipeline.validate):
#: checks of sampled values cost a second per command, and the corpus must stay fast.
R = ("run",)
ROTHC = ("rothc",)

# One line per case; the prefix of the id is its category (counted in docs/pipeline.md).
# fmt: off
CASES: list[Case] = [
    # --- encoding of the configuration and its tables
    Case("encoding-cp1252-quotes", _bytes(lambda b: b.replace(b'"synthetic test region"', b'"\x93synthetic\x94"')), ("run.toml", "is not UTF-8 text (byte 0x93 on line 3)", "save it as UTF-8")),  # noqa: E501
    Case("encoding-utf16", _bytes(lambda b: b.decode().encode("utf-16")), ("is not UTF-8 text (byte 0xff on line 1)",)),  # noqa: E501
    Case("encoding-binary-config", lambda r: shutil.copy(r / "soc.tif", r / "run.toml"), ("is not UTF-8 text",)),  # noqa: E501
    Case("encoding-nul-bytes", _bytes(lambda b: b"\x00" * 8 + b), ("is not valid TOML", "line 1")),
    Case("encoding-latin1-zone-names", _write("zones.csv", "code,name\n1,Ouest\n2,Est é\n".encode("latin-1")), ("inputs.zone_names", "zones.csv", "is not UTF-8 text")),  # noqa: E501
    Case("encoding-latin1-class-table", _table((CLASS_HEADER + "\n" + CLASS_ROWS.replace("Class 2", "Cultivé")).encode("latin-1")), ("land_use.table", "classes.csv", "is not UTF-8 text")),  # noqa: E501
    # --- TOML syntax
    Case("toml-unclosed-string", _edit('iso = "XTS"', 'iso = "XTS'), ("is not valid TOML", "line 4")),  # noqa: E501
    Case("toml-duplicate-key", _edit('iso = "XTS"', 'iso = "XTS"\niso = "XTT"'), ("is not valid TOML", "Cannot overwrite a value", "line 5")),  # noqa: E501
    Case("toml-duplicate-table", _add('[run]\nname = "again"'), ("is not valid TOML", "Cannot declare ('run',) twice")),  # noqa: E501
    Case("toml-missing-equals", _edit('iso = "XTS"', 'iso "XTS"'), ("is not valid TOML", "Expected '='", "line 4")),  # noqa: E501
    Case("toml-unclosed-inline-table", _edit('land_use = { path = "landuse.tif" }', 'land_use = { path = "landuse.tif"'), ("is not valid TOML", "Unclosed inline table", "line 11")),  # noqa: E501
    Case("toml-inline-table-over-lines", _edit('land_use = { path = "landuse.tif" }', 'land_use = { path = "landuse.tif",\n}'), ("is not valid TOML", "line 11")),  # noqa: E501
    Case("toml-empty-file", _write("run.toml", ""), ("[inputs] is required", "[climate] is required")),  # noqa: E501
    Case("toml-config-missing", _delete("run.toml"), ("configuration {root}/run.toml: does not exist",)),  # noqa: E501
    Case("toml-config-is-a-folder", _folder_instead("run.toml"), ("run.toml' is a directory",)),
    # --- unknown keys and typos: every configuration error in the one line, typos first
    Case("keys-two-typos-two-sections", _both(_edit("chunk_size", "chunk"), _edit("evaporation_kind", "evaporaton_kind")), ("[run.chunk] unknown key, did you mean 'chunk_size'?", "[climate.evaporaton_kind] unknown key, did you mean 'evaporation_kind'?")),  # noqa: E501
    Case("keys-misspelt-section", _add("[climat]\nfill_distance_m = 0"), ("[climat] unknown key, did you mean 'climate'?",)),  # noqa: E501
    Case("keys-layer-unit-not-units", _edit('units = "%"', 'unit = "%"'), ("[inputs.clay.unit] unknown key, did you mean 'units'?",)),  # noqa: E501
    Case("keys-scenario-typo", _add('[[scenarios]]\nname = "BAU"\ninput_multiplyer = 1.0'), ("[scenarios.0.input_multiplyer] unknown key, did you mean 'input_multiplier'?",)),  # noqa: E501
    Case("keys-dsm-typo", _both(_dsm(), _edit('crs = "EPSG:3826"', 'crs = "EPSG:3826"\nprofle = "site"')), ("[dsm.samples.profle] unknown key, did you mean 'profile'?",)),  # noqa: E501
    Case("keys-five-errors-at-once", _both(_edit('iso = "XTS"', 'iso = "TAIWAN"'), _edit("chunk_size = 8", "chunk_size = 0\nchunksize = 4"), _add('[periods]\nforward_years = -3\n[model]\nspinup = "fast"')), ("[run.chunksize] unknown key", "[run.iso] iso 'TAIWAN' must be three capital letters", "[run.chunk_size] Input should be greater than or equal to 8", "[periods.forward_years] Input should be greater than or equal to 1", "[model.spinup] Input should be 'exact', 'dechow' or 'rothamsted'")),  # noqa: E501
    # --- wrong types and ranges
    Case("range-negative-years", _add("[periods]\nspinup = [-1981, 2000]"), ("[periods] spinup = [-1981, 2000]: years are calendar years AD",)),  # noqa: E501
    Case("range-spinup-after-warmup", _add("[periods]\nspinup = [2001, 2020]\nwarmup = [1981, 2000]"), ("spinup = [2001, 2020] starts after warmup = [1981, 2000]", "swap them")),  # noqa: E501
    Case("range-warmup-reversed", _add("[periods]\nwarmup = [2020, 2001]"), ("[periods] warmup = [2020, 2001] ends before it starts",)),  # noqa: E501
    Case("range-forward-zero", _add("[periods]\nforward_years = 0"), ("[periods.forward_years] Input should be greater than or equal to 1",)),  # noqa: E501
    Case("range-forward-text", _add('[periods]\nforward_years = "twenty"'), ("[periods.forward_years] Input should be a valid integer",)),  # noqa: E501
    Case("range-forward-fraction", _add("[periods]\nforward_years = 20.5"), ("[periods.forward_years]", "fractional part")),  # noqa: E501
    Case("range-period-three-years", _add("[periods]\nspinup = [1981, 1990, 2000]"), ("[periods.spinup] Tuple should have at most 2 items",)),  # noqa: E501
    Case("range-warmup-beyond-series", _add("[periods]\nwarmup = [2001, 2030]"), ("climate.series.temperature", "tas.nc", "covers 1981-01…2020-12 but 2001-01…2030-12 is needed")),  # noqa: E501
    Case("range-carbon-fraction-percent", _add("[model]\ncarbon_fraction = 48"), ("[model.carbon_fraction] Input should be less than or equal to 1",)),  # noqa: E501
    Case("range-negative-multiplier", _add('[[scenarios]]\nname = "BAU"\n[[scenarios]]\nname = "X"\ninput_multiplier = -1'), ("[scenarios.1.input_multiplier] Input should be greater than or equal to 0",)),  # noqa: E501
    Case("range-duplicate-scenarios", _add('[[scenarios]]\nname = "BAU"\n[[scenarios]]\nname = "BAU"'), ("scenario names BAU are used more than once",)),  # noqa: E501
    Case("range-negative-mask", _add("[masks]\nmax_soc_t_ha = -1"), ("[masks.max_soc_t_ha] Input should be greater than 0",)),  # noqa: E501
    Case("range-path-is-a-number", _edit('path = "clay.tif"', "path = 42"), ("[inputs.clay.path] should be a file path in quotes",)),  # noqa: E501
    Case("range-band-zero", _edit('path = "clay.tif"', 'path = "clay.tif", band = 0'), ("[inputs.clay.band] Input should be greater than or equal to 1",)),  # noqa: E501
    Case("range-band-beyond-file", _edit('path = "clay.tif"', 'path = "clay.tif", band = 3'), ("inputs.clay", "clay.tif", "band 3 requested but the file has 1 band(s)")),  # noqa: E501
    Case("range-grid-unknown-crs", _add('[grid]\ncrs = "EPSG:99999"\nresolution = 1000\nbounds = [200000, 2596000, 205000, 2600000]'), ("[grid.crs] crs 'EPSG:99999' is not a coordinate reference system",)),  # noqa: E501
    Case("range-grid-elsewhere", _add('[grid]\ncrs = "EPSG:3826"\nresolution = 1000\nbounds = [500000, 2000000, 505000, 2004000]'), ("covers 0 % of the template grid",)),  # noqa: E501
    Case("range-series-and-normals", _edit("[climate.series]", '[climate.normals]\ntemperature = { path = "tas.nc", units = "degC" }\n[climate.series]'), ("[climate] give [climate.series] (a monthly series) or [climate.normals] (12 monthly means), exactly one of them, not both",)),  # noqa: E501
    # --- missing files (each named with the configuration key and the path)
    Case("missing-soc", _delete("soc.tif"), ("inputs.soc", "{root}/soc.tif", "does not exist")),
    Case("missing-land-use", _delete("landuse.tif"), ("inputs.land_use", "{root}/landuse.tif", "does not exist")),  # noqa: E501
    Case("missing-temperature-series", _delete("tas.nc"), ("climate.series.temperature", "{root}/tas.nc", "does not exist")),  # noqa: E501
    Case("missing-class-table", _add('[land_use]\ntable = "classes.csv"'), ("land_use.table {root}/classes.csv: does not exist",)),  # noqa: E501
    Case("missing-sources-json", _edit("chunk_size = 8", 'chunk_size = 8\nsources = "sources.json"'), ("[run.sources] {root}/sources.json does not exist",)),  # noqa: E501
    Case("missing-dsm-samples", _both(_dsm(), _delete("samples.csv")), ("samples file {root}/samples.csv: does not exist",), R),  # noqa: E501
    Case("missing-dsm-covariate", _both(_dsm(), _edit('path = "clay.tif"\n', 'path = "dem.tif"\n')), ("layer 'clay' (file {root}/dem.tif): does not exist",)),  # noqa: E501
    # --- relative paths resolve against the configuration's folder, never the working folder
    Case("relative-layer", _decoy("clay.tif", "data/clay.tif"), ("inputs.clay", "{root}/data/clay.tif", "does not exist")),  # noqa: E501
    Case("relative-series", _decoy("pr.tif", "climate/pr.tif"), ("climate.series.precipitation", "{root}/climate/pr.tif", "does not exist")),  # noqa: E501
    Case("relative-zone-names", _decoy("zones.csv", "tables/zones.csv"), ("inputs.zone_names {root}/tables/zones.csv: does not exist",)),  # noqa: E501
    Case("relative-dsm-samples", _both(_dsm(), _decoy("samples.csv", "points/samples.csv")), ("samples file {root}/points/samples.csv: does not exist",), R),  # noqa: E501
    # --- the class table (empty, header only, text: tests/unit/test_config_errors.py)
    Case("classes-missing-column", _table(CLASS_HEADER.replace(",npp_factor", "") + "\n" + CLASS_ROWS), ("lacks column(s) npp_factor",)),  # noqa: E501
    Case("classes-duplicate-code", _table(CLASS_HEADER + "\n" + CLASS_ROWS + CLASS_ROWS.splitlines()[1] + "\n"), ("land_use.table", "class codes repeat")),  # noqa: E501
    Case("classes-fractional-code", _rows("13,Class 13", "13.5,Class 13"), ("classes.csv line 14, column 'code': expected a whole number, found '13.5'",)),  # noqa: E501
    Case("classes-cover-out-of-range", _rows("0.6\n", "2.0\n"), ("cover of class 1 must be between 0.6 and 1",)),  # noqa: E501
    Case("classes-negative-npp-factor", _rows("0.53", "-0.53"), ("npp_factor of class 1 must be between 0 and 1",)),  # noqa: E501
    Case("classes-paddy-not-0-or-1", _rows("0.53,0,", "0.53,5,"), ("paddy of class 1 must be 0 or 1",)),  # noqa: E501
    Case("classes-semicolons", _table((CLASS_HEADER + "\n" + CLASS_ROWS).replace(",", ";")), ("classes.csv: is separated by ';', not ','",)),  # noqa: E501
    # --- zone names, and zone codes of the raster that they lack (caught by validate)
    Case("zones-code-without-name", _write("zones.csv", "code,name\n1,West\n"), ("inputs.zone_names {root}/zones.csv: has no name for zone code(s) 2 (", "of inputs.zones")),  # noqa: E501
    Case("zones-names-of-other-codes", _write("zones.csv", "code,name\n10,West\n-2,East\n"), ("has no name for zone code(s) 2 (6 cells), 1 (5 cells) of inputs.zones",)),  # noqa: E501
    Case("zones-names-without-zones", _edit('zones = { path = "zones.tif" }\n', ""), ("[inputs] zone_names names the codes of inputs.zones; give zones too",)),  # noqa: E501
    Case("zones-names-folder", _edit('zone_names = "zones.csv"', 'zone_names = "."'), ("inputs.zone_names {root}: is a folder",)),  # noqa: E501
    Case("zones-semicolons", _write("zones.csv", "code;name\n1;West\n2;East\n"), ("zones.csv: is separated by ';', not ','",)),  # noqa: E501
    Case("zones-not-csv", _write("zones.csv", 'code,name\n"1,West\n'), ("inputs.zone_names", "is not a readable CSV table")),  # noqa: E501
    # --- rasters: CRS, extent, bands, values
    Case("raster-land-use-no-crs", _raster("landuse.tif", crs=None), ("inputs.land_use", "landuse.tif", "has no CRS")),  # noqa: E501
    Case("raster-soc-geographic-crs-on-metres", _raster("soc.tif", crs="EPSG:4326"), ("inputs.soc", "soc.tif", "its CRS EPSG:4326 is geographic but its coordinates", "are not degrees")),  # noqa: E501
    Case("raster-clay-wrong-crs-no-overlap", _raster("clay.tif", crs="EPSG:3857"), ("inputs.clay", "clay.tif", "covers 0 % of the template grid")),  # noqa: E501
    Case("raster-clay-shifted-away", _raster("clay.tif", transform=Affine(1000.0, 0, 600_000.0, 0, -1000.0, 2_600_000.0)), ("inputs.clay", "covers 0 % of the template grid")),  # noqa: E501
    Case("raster-soc-all-nodata", _raster("soc.tif", lambda d: np.full_like(d, -999.0)), ("inputs.soc", "soc.tif", "has no valid value (all NaN/nodata)"), R),  # noqa: E501
    Case("raster-land-use-all-nodata", _raster("landuse.tif", np.zeros_like), ("inputs.land_use", "has no land-use code over the grid"), R),  # noqa: E501
    Case("raster-clay-two-bands", _raster("clay.tif", lambda d: np.concatenate([d, d])), ("inputs.clay", "has 2 bands but one layer is expected")),  # noqa: E501
    Case("raster-empty-file", _write("soc.tif", b""), ("inputs.soc", "soc.tif", "cannot be read as a raster")),  # noqa: E501
    Case("raster-csv-named-tif", _write("soc.tif", "a,b\n1,2\n"), ("inputs.soc", "cannot be read as a raster")),  # noqa: E501
    Case("raster-netcdf-truncated-header", _truncate("tas.nc", 2000), ("climate.series.temperature", "tas.nc", "cannot be read", "truncated file")),  # noqa: E501
    Case("raster-netcdf-wrong-variable", _edit('variable = "tas"', 'variable = "temp"'), ("climate.series.temperature", "has no variable 'temp' (available: tas)")),  # noqa: E501
    Case("raster-netcdf-4d", _netcdf("tas.nc", lambda ds: ds.assign(tas=ds["tas"].expand_dims(level=[1, 2]).transpose("time", "level", "y", "x"))), ("climate.series.temperature", "has dims (time, level, y, x)")),  # noqa: E501
    Case("raster-land-use-fractional", _raster("landuse.tif", lambda d: d + 0.5, dtype="float32", nodata=None), ("inputs.land_use", "holds fractional values, not class codes"), R),  # noqa: E501
    Case("raster-land-use-esa-codes", _raster("landuse.tif", lambda d: np.where(d > 0, 10 * d + 10, d)), ("inputs.land_use", "codes outside the class table", 'set land_use.source_classes = "esa_cci"'), R),  # noqa: E501
    Case("raster-land-use-bilinear", _edit('path = "landuse.tif"', 'path = "landuse.tif", resampling = "bilinear"'), ("inputs.land_use", "resampling 'bilinear' is not allowed for categorical layers")),  # noqa: E501
    # --- declared units that the values contradict (unit traps), impossible values
    Case("units-soc-declared-kg-m2", _edit('units = "t/ha"', 'units = "kg/m2"'), ("inputs.soc", 'look like t/ha already but units are declared "kg/m2"', 'set units = "t/ha"'), R),  # noqa: E501
    Case("units-soc-unknown", _edit('units = "t/ha"', 'units = "tonnes"'), ("inputs.soc", 'units "tonnes" are not known', '"t/ha", "kg/m2", "g/m2"'), R),  # noqa: E501
    Case("units-precipitation-in-m", _edit('"pr.tif", units = "mm"', '"pr.tif", units = "m"'), ("climate.series.precipitation", 'units "m" are not known'), R),  # noqa: E501
    Case("units-soc-implausible", _raster("soc.tif", lambda d: np.where(d > 0, d * 8, d)), ("inputs.soc", "outside the plausible range 0–1000 t/ha"), R),  # noqa: E501
    Case("units-clay-negative", _raster("clay.tif", lambda d: d - 80), ("inputs.clay", "include negatives, impossible for clay"), R),  # noqa: E501
    Case("units-precipitation-negative", _raster("pr.tif", lambda d: -d), ("climate.series.precipitation", "include negatives, impossible for precipitation"), R),  # noqa: E501
    Case("units-temperature-all-nan", _netcdf("tas.nc", lambda ds: ds.assign(tas=ds["tas"] * np.nan)), ("climate.series.temperature", "has no valid value (all NaN/nodata)"), R),  # noqa: E501
    Case("units-area-fraction-not-share", _edit("zones = {", 'area_fraction = { path = "clay.tif", units = "1" }\nzones = {'), ("inputs.area_fraction", "are not shares 0–1", 'declare units = "%"'), R),  # noqa: E501
    # --- monthly series: missing months, too short, not monthly
    Case("series-missing-month", _netcdf("tas.nc", lambda ds: ds.drop_isel(time=[290])), ("climate.series.temperature", "time axis misses 1 month(s), the first is 2005-03")),  # noqa: E501
    Case("series-ends-early", _netcdf("tas.nc", lambda ds: ds.isel(time=slice(0, 420))), ("climate.series.temperature", "covers 1981-01…2015-12 but 2001-01…2020-12 is needed")),  # noqa: E501
    Case("series-starts-late", _netcdf("tas.nc", lambda ds: ds.isel(time=slice(108, None))), ("climate.series.temperature", "covers 1990-01…2020-12 but 1981-01…2000-12 is needed")),  # noqa: E501
    Case("series-two-steps-a-month", _netcdf("tas.nc", lambda ds: xr.concat([ds.isel(time=slice(0, 1)), ds], "time")), ("has several time steps in month 1981-01 (daily data?)",)),  # noqa: E501
    Case("series-no-dates", _netcdf("tas.nc", lambda ds: ds.drop_vars("time").rename(time="month")), ("has 480 steps along 'month' but no dates; give start = 'YYYY-MM'",)),  # noqa: E501
    Case("series-start-disagrees", _edit('units = "degC"', 'units = "degC", start = "1990-01"'), ("start '1990-01' disagrees with the file's first month 1981-01",)),  # noqa: E501
    Case("series-start-not-a-month", _edit('units = "degC"', 'units = "degC", start = "January"'), ("start 'January' is not a month",)),  # noqa: E501
    Case("series-bands-not-whole-years", _raster("pr.tif", lambda d: d[:100]), ("climate.series.precipitation", "has 100 bands, not a multiple of 12 months")),  # noqa: E501
    Case("series-bands-too-few-years", _raster("pet.tif", lambda d: d[:240]), ("climate.series.evaporation", "covers 1981-01…2000-12 but 2001-01…2020-12 is needed")),  # noqa: E501
    Case("series-bands-without-start", _edit(', units = "mm", start = "1981-01" }', ', units = "mm" }'), ("climate.series.precipitation", "has 480 steps along 'band' but no dates; give start = 'YYYY-MM'")),  # noqa: E501
    # --- truncated or corrupt files read lazily, window by window: layer and file named
    Case("lazy-soc-truncated", _truncate("soc.tif", 50), ("layer 'inputs.soc' (file {root}/soc.tif): reading its values failed", "TIFFFillTile", "truncated or corrupt"), previous=True),  # noqa: E501
    Case("lazy-clay-corrupt-tile", _corrupt("clay.tif", 0.8), ("layer 'inputs.clay' (file {root}/clay.tif): reading its values failed", "ZIPDecode", "copy, download or export it again")),  # noqa: E501
    Case("lazy-land-use-truncated", _truncate("landuse.tif", 20), ("layer 'inputs.land_use' (file {root}/landuse.tif): reading its values failed",)),  # noqa: E501
    Case("lazy-netcdf-corrupt-chunk", _corrupt("tas.nc", 0.6, 200), ("layer 'climate.series.temperature' (file {root}/tas.nc): reading its values failed", "Can't synchronously read data"), R),  # noqa: E501
    # --- [dsm] soil samples
    Case("samples-missing-column", _dsm(header="site,x,y,soc,top,bottom"), ("samples file {root}/samples.csv: has no column 'SOC'",), R),  # noqa: E501
    Case("samples-all-soc-negative", _dsm(_every(SOC="-1.5")), ("samples file", "no sample is left after the checks (40 impossible_value (dropped))")),  # noqa: E501
    Case("samples-all-depths-inverted", _dsm(_every(top="30", bottom="0")), ("no sample is left after the checks (40 impossible_value (dropped))",), R),  # noqa: E501
    Case("samples-lonlat-declared-projected", _dsm(_every(x=lambda i: f"121.{i:02d}", y=lambda i: f"23.{i:02d}")), ("look like longitude/latitude degrees, but crs EPSG:3826 is projected",), R),  # noqa: E501
    Case("samples-metres-declared-lonlat", _both(_dsm(), _edit('crs = "EPSG:3826"', 'crs = "EPSG:4326"')), ("are not degrees, but crs EPSG:4326 is geographic",), R),  # noqa: E501
    Case("samples-other-crs-no-overlap", _both(_dsm(), _edit('crs = "EPSG:3826"', 'crs = "EPSG:3857"')), ("no sample has covariate values; check that the samples' CRS and the covariates' extent agree",), R),  # noqa: E501
    Case("samples-empty-file", _both(_dsm(), _write("samples.csv", "")), ("samples file {root}/samples.csv: is empty",), R),  # noqa: E501
    Case("samples-header-only", _both(_dsm(), _write("samples.csv", SAMPLES_HEADER + "\n")), ("holds no samples",), R),  # noqa: E501
    Case("samples-text-in-soc", _dsm(_sample(2, SOC="high")), ("column 'SOC' row 3 holds 'high', not a number",), R),  # noqa: E501
    Case("samples-one-negative-soc", _dsm(_sample(2, SOC="-1.5")), ("warning: samples file {root}/samples.csv: 1 of 40 rows are dropped (1 impossible_value; first: data row 3, soc_g_kg -15)", "samples_qa.csv"), V, warns=True),  # noqa: E501
    Case("samples-one-depth-inverted", _dsm(_sample(5, top="30", bottom="0")), ("1 of 40 rows are dropped (1 impossible_value; first: data row 6, bottom_cm 0)",), V, warns=True),  # noqa: E501
    # --- socseq rothc input files
    Case("rothc-negative-modern", _site(11, "\t100\t", "\t-5\t"), ("site.dat line 11, column 'modern': expected a radiocarbon content of at least 0 % modern, found '-5'",), ROTHC, previous=True),  # noqa: E501
    Case("rothc-too-few-columns", _site(11, "\t0.00\t1\t1.44", ""), ("site.dat line 11, column 'FYM': expected a number, found the end of the line",), ROTHC),  # noqa: E501
    Case("rothc-soil-line-short", _site(8, "      252    40.0      1.30  1.40   0.2", ""), ("line 8, column 'nsteps': expected an integer, found the end of the line",), ROTHC),  # noqa: E501
    Case("rothc-text-in-number", _site(11, "18.19", "hot"), ("line 11, column 'Tmp': expected a number, found 'hot'",), ROTHC),  # noqa: E501
    Case("rothc-nan", _site(11, "25.0", "NaN"), ("line 11, column 'Rain': expected a finite number, found 'NaN'",), ROTHC),  # noqa: E501
    Case("rothc-decimal-year", _site(11, "1\t1\t100", "1.5\t1\t100"), ("line 11, column 'year': expected an integer, found '1.5'",), ROTHC),  # noqa: E501
    Case("rothc-clay-above-100", _site(8, "32.0", "150.0"), ("line 8, column 'clay': expected a clay content from 0 to 100 %, found '150.0'",), ROTHC),  # noqa: E501
    Case("rothc-depth-zero", _site(8, "30.0", "0"), ("line 8, column 'depth': expected a depth above 0 cm",), ROTHC),  # noqa: E501
    Case("rothc-fewer-rows-than-nsteps", _site(8, "252", "300"), ("expected data row 253 of nsteps = 300 (line 8), found the end of the file",), ROTHC),  # noqa: E501
    Case("rothc-blank-line-in-data", _site(15, "1\t5\t", "\n1\t5\t"), ("line 15, column 'year': expected an integer, found the end of the line",), ROTHC),  # noqa: E501
    Case("rothc-empty-file", _write("site.dat", ""), ("site.dat line 1, column 'clay'", "found the end of the file"), ROTHC),  # noqa: E501
    Case("rothc-utf16", _site_bytes(lambda b: b.decode().encode("utf-16")), ("site.dat: is not a text file (it holds NUL bytes: UTF-16 or binary)",), ROTHC),  # noqa: E501
    Case("rothc-missing-file", _delete("site.dat"), ("No such file or directory: {root}/site.dat",), ROTHC),  # noqa: E501
    # --- land-use classes named in the configuration that the class table lacks
    Case("range-simulate-unknown-class", _add("[land_use]\nsimulate = [2, 3, 5, 12, 13, 99]"), ("land_use.simulate", "99"), V),  # noqa: E501
    Case("range-cropland-unknown-class", _add("[land_use]\ncropland = [2, 12, 13, 42]"), ("land_use.cropland", "42"), V),  # noqa: E501
]
# fmt: on

# --------------------------------------------------------------------------------------------
# Fixtures and checks
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The valid region every case starts from, with the packaged RothC example.

    Temperature stays a NetCDF series; precipitation and PET become 480-band GeoTIFFs with
    ``start`` (band-interleaved, uncompressed): both kinds of series are in the corpus, and
    such a GeoTIFF opens three times faster than the NetCDF.
    """
    root = write_region(tmp_path_factory.mktemp("corpus") / "region", ny=4, nx=5).root
    with rasterio.open(root / "soc.tif") as src:
        crs, transform = src.crs, src.transform
    for name in ("pr", "pet"):
        with xr.open_dataset(root / f"{name}.nc") as ds:
            values = ds[name].values.astype("float32")
        profile = {"driver": "GTiff", "dtype": "float32", "interleave": "band", "crs": crs}
        with rasterio.open(
            root / f"{name}.tif", "w", **profile, transform=transform, count=len(values),
            height=values.shape[1], width=values.shape[2],
        ) as dst:  # fmt: skip
            dst.write(values)
        (root / f"{name}.nc").unlink()
        _edit(
            f'{{ path = "{name}.nc", variable = "{name}", units = "mm" }}',
            f'{{ path = "{name}.tif", units = "mm", start = "1981-01" }}',
        )(root)
    example = resources.files("socseq.data") / "example_rothc_input.dat"
    (root / "site.dat").write_text(example.read_text(encoding="utf-8"), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def previous_runs(template: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Folders of a good ``run`` and a good ``rothc``, copied as the output of some cases."""
    base = tmp_path_factory.mktemp("previous")
    shutil.copytree(template, base / "region")
    config = base / "region" / "run.toml"
    run = _invoke(["run", str(config), "--out", str(base / "run"), "--no-report", "-q"])
    assert run.exit_code == 0, run.output
    rothc = _invoke(["rothc", "--example", "--out", str(base / "rothc")])
    assert rothc.exit_code == 0, rothc.output
    return {"run": base / "run", "rothc": base / "rothc"}


def _invoke(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


def _args(command: str, root: Path, out: Path) -> list[str]:
    config = str(root / "run.toml")
    return {
        "validate": ["validate", config, "-q"],
        "run": ["run", config, "--out", str(out), "--no-report", "-q"],
        "rothc": ["rothc", str(root / "site.dat"), "--out", str(out)],
    }[command]


def _products(folder: Path) -> dict[str, str] | None:
    """SHA-256 of every file of a folder outside its bookkeeping entries (None: no folder)."""
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _check(case: Case, command: str, result: Result, root: Path) -> None:
    """Exit status, at most 3 lines, no traceback, the expected fragments."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"{case.id} [{command}] raised instead of one line:\n{trace}")
    output = result.output  # standard output and error, interleaved
    assert result.exit_code == (0 if case.warns else 2), (command, output)
    assert len(_lines(output)) <= 3, (command, output)
    assert "Traceback" not in output, (command, output)
    message = result.stderr
    for fragment in case.expect:
        fragment = fragment.replace("{root}", str(root))
        assert fragment in message, (command, fragment, message)
    if case.warns:
        assert _lines(message) and all(line.startswith("warning: ") for line in _lines(message))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input_is_refused_in_one_line_and_writes_nothing(
    case: Case,
    template: Path,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "region"
    shutil.copytree(template, root)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # relative paths resolve against the config
    case.mutate(root)
    out = tmp_path / "out"
    if case.previous:
        previous = request.getfixturevalue("previous_runs")
        shutil.copytree(previous["rothc" if "rothc" in case.commands else "run"], out)
    before = _products(out)
    assert before is None or before, "a previous run's folder holds products"
    for command in case.commands:
        result = _invoke(_args(command, root, out))
        _check(case, command, result, root)
        assert _products(out) == before, f"{case.id} [{command}] changed the output folder"
        assert not (root / "out").exists(), "the configuration's output_dir was written"
        if before is None:
            assert not out.exists(), sorted(os.listdir(out))


def test_the_corpus_covers_every_category_with_several_cases() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "case ids repeat"
    assert len(CASES) >= 60
    per_category: dict[str, int] = {}
    for c in CASES:
        per_category[c.category] = per_category.get(c.category, 0) + 1
    assert min(per_category.values()) >= 3, per_category
    assert any(c.previous and "rothc" in c.commands for c in CASES)
    assert any(c.previous and "run" in c.commands for c in CASES)


def test_docs_state_the_size_of_the_corpus() -> None:
    """docs/pipeline.md ("Bad input") gives the number of cases; it follows the table."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"corpus of (\d+) malformed or implausible inputs", text)
    assert match is not None, "docs/pipeline.md lost its 'Bad input' section"
    assert int(match.group(1)) == len(CASES)


# --------------------------------------------------------------------------------------------
# Inputs that are unusual but valid: accepted, nothing said
# --------------------------------------------------------------------------------------------


def test_a_utf8_bom_and_windows_line_ends_are_accepted(template: Path, tmp_path: Path) -> None:
    root = tmp_path / "region"
    shutil.copytree(template, root)
    config = root / "run.toml"
    plain = _invoke(["validate", str(config), "-q"])
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes().replace(b"\n", b"\r\n"))
    (root / "zones.csv").write_bytes(b"\xef\xbb\xbfcode,name\r\n1,West\r\n2,East\r\n")
    result = _invoke(["validate", str(config), "-q"])
    assert result.exit_code == 0, result.output
    # The region's own warning (cropland beyond the SOC map) and nothing about the encoding.
    assert result.stderr == plain.stderr
    assert all(line.startswith("warning: ") for line in _lines(result.stderr))


def test_a_block_gdal_cannot_warp_names_the_layer(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warp failure (GDAL/PROJ error in the window's resampling) is one line naming it."""
    from rasterio.errors import RasterioIOError

    from socseq.pipeline import sources

    def fails(*args: Any, **kwargs: Any) -> None:
        raise RasterioIOError("Read failed. See previous exception for details.") from (
            RuntimeError("PROJ: tmerc: Invalid latitude")
        )

    monkeypatch.setattr(sources, "resample_to", fails)
    root = tmp_path / "region"
    shutil.copytree(template, root)
    result = _invoke(["validate", str(root / "run.toml"), "-q"])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\n" not in line and "Traceback" not in result.output
    assert line.startswith("error: layer '") and f"(file {root}/" in line
    assert "cannot be warped onto the run's grid (PROJ: tmerc: Invalid latitude)" in line


# --------------------------------------------------------------------------------------------
# A few cases as real processes: exit status and standard error as a shell sees them
# --------------------------------------------------------------------------------------------

#: One ``run`` (over a previous run's folder) and two ``socseq rothc``, which loads no
#: geospatial stack: a real ``run`` costs seconds of imports, the in-process cases prove the rest.
REAL_PROCESS = [
    ("zones-code-without-name", "run"),
    ("rothc-negative-modern", "rothc"),
    ("rothc-utf16", "rothc"),
]


@pytest.mark.parametrize(("case_id", "command"), REAL_PROCESS)
def test_as_a_real_process(
    case_id: str, command: str, template: Path, previous_runs: dict[str, Path], tmp_path: Path
) -> None:
    case = next(c for c in CASES if c.id == case_id)
    root = tmp_path / "region"
    shutil.copytree(template, root)
    case.mutate(root)
    out = tmp_path / "out"
    shutil.copytree(previous_runs["rothc" if "rothc" in case.commands else "run"], out)
    before = _products(out)
    done = subprocess.run(
        [sys.executable, "-c", "from socseq.cli import main; main()", *_args(command, root, out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = _lines(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    for fragment in case.expect:
        assert fragment.replace("{root}", str(root)) in lines[0]
    assert _products(out) == before
