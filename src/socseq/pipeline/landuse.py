"""Land-use classes: the class table, ESA CCI reclassification, and per-cell class properties.

The built-in table holds the GSOCseq FAO classes (GSOCseq Technical Manual Table 6.1 and the
``DR <-`` lines of the FAO stack scripts): DPM/RPM 1.44 for crops, tree crops and paddy,
0.67 for grass, shrubs, flooded herbaceous and sparse vegetation, 0.25 for forest; the MIAMI
NPP factors 0.53 / 0.72 / 0.88 of manual eqs. 6.10–6.12; the paddy flag; and 12 monthly cover
factors (0.6 covered, 1 bare). The default cover keeps every vegetated class covered all
year; give a cover raster or an NDVI series for real seasonal cover.

:func:`class_codes` turns the codes of a land-use block into FAO classes, for the window tasks
of a run and for the survey of ``socseq validate`` alike.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from socseq.exceptions import ConfigError, InputValidationError
from socseq.io.tables import read_csv_table

__all__ = [
    "ESA_CCI_PADDY",
    "LEGEND_DOC",
    "NO_CLASS",
    "WORLDCOVER_CODES",
    "ClassTable",
    "class_codes",
    "esa_cci_codes",
    "esa_cci_to_fao",
    "legend_fixes",
    "legend_summary",
    "read_class_table",
]

#: Where the legends, the ESA CCI → FAO table and the paddy choice are documented.
LEGEND_DOC = "docs/configuration.md#land-use-codes-and-the-esa-cci-table"

#: No class (outside the land-use map or a code missing from the class table).
NO_CLASS = -1

#: The ESA CCI class that the FAO matrix maps to paddy fields (13).
ESA_CCI_PADDY = 20

#: ESA WorldCover 2020/2021 class codes (recognised in the legend check's hint only: a
#: WorldCover map must be reclassified to FAO classes, as ``socseq fetch`` does).
WORLDCOVER_CODES = (10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100)

_COVER_COLUMNS = [f"cover_{m}" for m in range(1, 13)]
_COLUMNS = ["code", "name", "dpm_rpm", "npp_factor", "paddy", *_COVER_COLUMNS]


@dataclass(frozen=True)
class ClassTable:
    """Properties of land-use classes, indexed by class code (0–255).

    Attributes
    ----------
    codes : numpy.ndarray
        Class codes present in the table.
    names : dict[int, str]
        Class names.
    dpm_rpm : numpy.ndarray
        ``(256,)`` DPM/RPM ratio per code [-] (NaN for codes not in the table).
    npp_factor : numpy.ndarray
        ``(256,)`` share of MIAMI NPP entering the soil [-].
    paddy : numpy.ndarray
        ``(256,)`` bool, flooded rice.
    cover : numpy.ndarray
        ``(256, 12)`` monthly cover factor [-], 0.6 covered … 1 bare.
    source : str
        ``"fao"`` or the CSV path.
    """

    codes: NDArray[np.int64]
    names: dict[int, str]
    dpm_rpm: NDArray[np.float64]
    npp_factor: NDArray[np.float64]
    paddy: NDArray[np.bool_]
    cover: NDArray[np.float64]
    source: str

    def lookup(self, classes: NDArray[np.integer]) -> dict[str, NDArray[Any]]:
        """Per-cell DPM/RPM, NPP factor, paddy flag and ``(n, 12)`` cover of class codes."""
        idx = np.clip(np.asarray(classes, dtype=np.int64), 0, 255)
        return {
            "dpm_rpm": self.dpm_rpm[idx],
            "npp_factor": self.npp_factor[idx],
            "paddy": self.paddy[idx],
            "cover": self.cover[idx],
        }


def read_class_table(table: str | os.PathLike[str] = "fao") -> ClassTable:
    """Read the built-in FAO class table (``"fao"``) or a CSV with the same columns.

    The CSV columns are ``code,name,dpm_rpm,npp_factor,paddy,cover_1,…,cover_12``: code
    0–255, DPM/RPM ≥ 0, NPP factor 0–1, paddy 0/1, cover factors 0.6–1.

    Raises
    ------
    ConfigError
        The file is missing, lacks a column, or holds values out of range.
    """
    if str(table) == "fao":
        with resources.as_file(resources.files("socseq.pipeline.data") / "fao_classes.csv") as p:
            frame = pd.read_csv(p)
        source = "fao"
    else:
        # Missing, empty, non-CSV or non-numeric tables: one line with line and column.
        path = Path(table)
        frame = read_csv_table(
            path,
            what="land_use.table",
            columns=_COLUMNS,
            numeric=[c for c in _COLUMNS if c not in ("code", "name")],
            integer=["code"],
        )
        source = str(path)
    codes = frame["code"].to_numpy()
    checks = [
        ("code", (codes >= 0) & (codes <= 255) & (codes == np.round(codes)), "integers 0–255"),
        ("dpm_rpm", frame["dpm_rpm"].to_numpy() >= 0, "≥ 0"),
        ("npp_factor", frame["npp_factor"].between(0, 1).to_numpy(), "between 0 and 1"),
        ("paddy", frame["paddy"].isin([0, 1]).to_numpy(), "0 or 1"),
        (
            "cover",
            frame[_COVER_COLUMNS].apply(lambda c: c.between(0.6, 1)).all(axis=1).to_numpy(),
            "between 0.6 and 1",
        ),
    ]
    for column, ok, rule in checks:
        if not np.all(ok):
            row = int(np.flatnonzero(~np.asarray(ok))[0])
            raise ConfigError(
                f"land_use.table {source}: {column} of class "
                f"{frame['code'].iloc[row]} must be {rule}"
            )
    if frame["code"].duplicated().any():
        raise ConfigError(f"land_use.table {source}: class codes repeat; give each code once")
    dpm_rpm = np.full(256, np.nan)
    npp = np.full(256, np.nan)
    paddy = np.zeros(256, bool)
    cover = np.ones((256, 12))
    idx = codes.astype(np.int64)
    dpm_rpm[idx] = frame["dpm_rpm"].to_numpy(float)
    npp[idx] = frame["npp_factor"].to_numpy(float)
    paddy[idx] = frame["paddy"].to_numpy() == 1
    cover[idx] = frame[_COVER_COLUMNS].to_numpy(float)
    return ClassTable(
        codes=idx,
        names=dict(zip(idx.tolist(), frame["name"], strict=True)),
        dpm_rpm=dpm_rpm,
        npp_factor=npp,
        paddy=paddy,
        cover=cover,
        source=source,
    )


@functools.cache
def _esa_matrix() -> pd.DataFrame:
    """Read the ESA CCI → FAO matrix: ``esa_cci``, ``fao`` (0: no class), ``esa_cci_name``."""
    with resources.as_file(resources.files("socseq.pipeline.data") / "esa_cci_to_fao.csv") as p:
        return pd.read_csv(p)


def esa_cci_codes() -> NDArray[np.int64]:
    """Return the ESA CCI / C3S LCCS codes of the reclassification matrix (its whole legend)."""
    return _esa_matrix()["esa_cci"].to_numpy(np.int64)


def legend_fixes(codes: NDArray[np.integer], declared: str, table: ClassTable) -> list[str]:
    """Say what to declare when land-use codes fit another legend than the declared one.

    A legend fits when it holds at least 95 % of the codes (0, no data, left out); the
    legends tried are the FAO class table, ESA CCI and ESA WorldCover.

    Parameters
    ----------
    codes : numpy.ndarray
        Sampled land-use codes (integers).
    declared : {"fao", "esa_cci"}
        ``land_use.source_classes``.
    table : ClassTable
        The class table of the run.

    Returns
    -------
    list of str
        One fix per fitting legend, e.g. ``'ESA CCI codes: set land_use.source_classes =
        "esa_cci"'``; empty when none fits.
    """
    values = np.asarray(codes)
    values = values[values != 0]
    legends = {
        "fao": (
            table.codes,
            f'codes of the class table ({table.source}): set land_use.source_classes = "fao"',
        ),
        "esa_cci": (esa_cci_codes(), 'ESA CCI codes: set land_use.source_classes = "esa_cci"'),
        "worldcover": (
            np.array(WORLDCOVER_CODES),
            "ESA WorldCover codes: reclassify them to the FAO classes (socseq fetch's "
            "worldcover_to_fao.csv, docs/data-sources.md)",
        ),
    }
    if values.size == 0:
        return []
    return [
        fix
        for name, (legend, fix) in legends.items()
        if name != declared and np.isin(values, legend).mean() >= 0.95
    ]


def legend_summary(source_classes: str, table: str, paddy: str) -> str:
    """One line on how land-use codes become classes and what happens to paddy.

    Parameters
    ----------
    source_classes : {"fao", "esa_cci"}
    table : str
        ``land_use.table`` (``"fao"`` or a CSV path).
    paddy : {"exclude", "simulate"}

    Returns
    -------
    str
        E.g. ``ESA CCI codes mapped to FAO classes (docs/...); class 20 → paddy: excluded
        (land_use.paddy = "exclude")``.
    """
    treated = {"exclude": "excluded", "simulate": "simulated with the paddy rate factor"}
    choice = f'{treated.get(paddy, paddy)} (land_use.paddy = "{paddy}")'
    builtin = str(table) == "fao"
    classes = "FAO 13 paddy fields" if builtin else f"the paddy classes of {table}"
    if source_classes == "esa_cci":
        return (
            f"ESA CCI codes mapped to FAO classes ({LEGEND_DOC}); class {ESA_CCI_PADDY} "
            f"(irrigated or post-flooding cropland) → {classes}: {choice}"
        )
    where = "the built-in FAO class table" if builtin else f"the class table {table}"
    return f"FAO class codes of {where}; {classes}: {choice}"


def esa_cci_to_fao(codes: NDArray[np.integer]) -> NDArray[np.int16]:
    """Reclassify ESA CCI / C3S LCCS codes to the GSOCseq FAO classes.

    The matrix is that of the FAO script ``6_Land_Use_ESA_to_FAO_classes_LUsim.R``
    (e.g. 10, 11, 30, 40 → 2 croplands; 20 → 13 paddy; 12 → 12 tree crops; 130 → 3
    grassland; 140 lichens and mosses has no class). Codes outside the matrix become 0 (no
    data). The table is ``pipeline/data/esa_cci_to_fao.csv``, shown in ``docs/configuration.md``.

    Raises
    ------
    InputValidationError
        The layer holds values that are not LCCS codes (negative or above 255).
    """
    matrix = _esa_matrix()
    lut = np.zeros(256, np.int16)
    lut[matrix["esa_cci"].to_numpy()] = matrix["fao"].to_numpy()
    values = np.asarray(codes)
    valid = np.isfinite(values) if values.dtype.kind == "f" else np.ones(values.shape, bool)
    if np.any((values[valid] < 0) | (values[valid] > 255)):
        raise InputValidationError(
            "land use: values outside 0–255 are not ESA CCI LCCS codes; check "
            'land_use.source_classes ("fao" or "esa_cci") and the land-use file'
        )
    out = np.zeros(values.shape, np.int16)
    out[valid] = lut[values[valid].astype(np.int64)]
    return out


# Here rather than with the window inputs (socseq.pipeline.inputs): socseq validate classifies
# the grid too, and the window inputs import zarr for the run's scratch stores.
def class_codes(
    values: np.ndarray, nodata: Any, source_classes: str, table: ClassTable
) -> np.ndarray:
    """FAO class codes of a land-use block (``NO_CLASS`` for nodata and unknown codes)."""
    raw = np.asarray(values)
    valid = np.isfinite(raw) if raw.dtype.kind == "f" else np.ones(raw.shape, bool)
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        valid &= raw != nodata
    # Codes outside 0–255 belong to no legend (validation reports them); they count as none.
    valid &= (raw >= 0) & (raw <= 255)
    codes = np.where(valid, raw, 0)
    if source_classes == "esa_cci":
        codes = esa_cci_to_fao(codes)
    codes = codes.astype(np.int16)
    known = np.isin(codes, table.codes)
    return np.where(valid & known, codes, NO_CLASS).astype(np.int16)
