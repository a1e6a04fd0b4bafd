"""The ``[dsm]`` section of the run configuration, as a pydantic model.

The same model is read from a file holding only the DSM settings (``socseq dsm ...``) and from
the ``[dsm]`` table of the full run configuration (``socseq run``). Unknown keys are errors, so
a misspelt option never silently falls back to its default. Relative paths are relative to the
configuration file.

Example (the FAO Cookbook check in ``examples/mkd_cookbook/dsm.toml`` is a complete one)::

    [dsm.samples]
    path = "samples.csv"
    x = "lon"
    y = "lat"
    crs = "EPSG:4326"
    id = "site"
    interval_cm = [0, 30]
    soc = { column = "SOC", units = "%" }
    bulk_density = { column = "BD", units = "g/cm3" }
    coarse_fragments = { column = "CF", units = "%" }

    [[dsm.covariates]]
    name = "elevation"
    path = "covs/dem.tif"

    [[dsm.covariates]]
    name = "landcover"
    path = "covs/landcover.tif"
    categorical = true

    [dsm.model]
    method = "qrf"
    seed = 42
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from socseq._toml import read_toml, resolve_paths, validate
from socseq.exceptions import ConfigError

__all__ = [
    "AOAConfig",
    "CVConfig",
    "ColumnConfig",
    "CovariateConfig",
    "DSMConfig",
    "GridConfig",
    "ModelConfig",
    "OutputConfig",
    "SamplesConfig",
    "StocksConfig",
    "load_config",
    "parse_config",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnConfig(_Strict):
    """A column of the samples file and the units its values are stored in."""

    column: str
    units: str


class SamplesConfig(_Strict):
    """Where the soil samples are and what their columns mean.

    Give either ``stock`` (SOC stocks of the target interval) or ``soc`` with optional
    ``bulk_density`` and ``coarse_fragments`` (missing bulk density is filled by the
    pedotransfer function, missing coarse fragments count as 0). Depths come either from
    ``top``/``bottom`` columns (horizon tables, grouped by ``profile``) or from ``interval_cm``
    when every sample covers the same interval.
    """

    path: Path
    layer: str | None = None
    x: str | None = None
    y: str | None = None
    crs: str | None = None
    id: str | None = None
    profile: str | None = None
    top: ColumnConfig | None = None
    bottom: ColumnConfig | None = None
    interval_cm: tuple[float, float] | None = None
    stock: ColumnConfig | None = None
    soc: ColumnConfig | None = None
    bulk_density: ColumnConfig | None = None
    coarse_fragments: ColumnConfig | None = None
    check_units: bool = True

    @model_validator(mode="after")
    def _one_target(self) -> SamplesConfig:
        if (self.stock is None) == (self.soc is None):
            raise ValueError("give either stock or soc (with bulk_density, coarse_fragments)")
        if (self.top is None) != (self.bottom is None):
            raise ValueError("give both top and bottom depth columns, or neither")
        return self


class StocksConfig(_Strict):
    """How stocks are computed and harmonised (see :mod:`socseq.dsm.stocks`)."""

    depth_cm: tuple[float, float] = (0.0, 30.0)
    harmonisation: Literal["weighted", "spline"] = "weighted"
    spline_lambda: float = Field(0.1, gt=0)
    min_coverage: float = Field(0.5, gt=0, le=1)
    bulk_density_ptf: Literal[
        "grigal1989", "saini1966", "drew1973", "jeffrey1970", "adams1973", "honeysett1989"
    ] = "grigal1989"


class CovariateConfig(_Strict):
    """One covariate raster."""

    name: str
    path: Path
    categorical: bool = False
    variable: str | None = None
    band: int | None = Field(None, ge=1)
    resampling: Literal["bilinear", "average", "mode", "nearest"] | None = None


class GridConfig(_Strict):
    """The template grid and the cells to map.

    ``template``: a raster whose grid the maps use (default: the first covariate). ``mask``: a
    raster whose non-zero, non-missing cells are mapped (default: every cell with covariates).
    """

    template: Path | None = None
    mask: Path | None = None


class ModelConfig(_Strict):
    """The learner and its hyper-parameters (see :class:`~socseq.dsm.model.SOCStockModel`)."""

    method: Literal["qrf", "rf", "gbm"] = "qrf"
    n_estimators: int = Field(500, ge=1)
    max_features: float | int | Literal["sqrt"] | None = 1 / 3
    min_samples_leaf: int = Field(5, ge=1)
    max_depth: int | None = Field(None, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    subsample: float = Field(0.8, gt=0, le=1)
    kriging: bool = False
    kriging_neighbours: int = Field(32, ge=1)
    variogram: Literal["exponential", "spherical"] = "exponential"
    seed: int = 0
    n_jobs: int | None = -1


class CVConfig(_Strict):
    """Cross-validation: spatial blocks (default) and/or plain k-fold."""

    methods: tuple[Literal["spatial", "kfold"], ...] = ("spatial", "kfold")
    n_splits: int = Field(5, ge=2)
    block_size_m: float = Field(10_000.0, gt=0)
    importance: bool = True

    @field_validator("methods")
    @classmethod
    def _some(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one of spatial, kfold")
        return value


class AOAConfig(_Strict):
    """Area of applicability (Meyer & Pebesma 2021)."""

    enabled: bool = True
    folds: Literal["spatial", "kfold"] = "spatial"


class OutputConfig(_Strict):
    """Where and what to write."""

    dir: Path = Path("socseq-out/dsm")
    prefix: str = "soc_0_30cm"
    geotiff: bool = True
    netcdf: bool = True
    plots: bool = True


class DSMConfig(_Strict):
    """The whole ``[dsm]`` section."""

    samples: SamplesConfig
    covariates: list[CovariateConfig] = Field(min_length=1)
    stocks: StocksConfig = StocksConfig()
    grid: GridConfig = GridConfig()
    model: ModelConfig = ModelConfig()
    cv: CVConfig = CVConfig()
    test: SamplesConfig | None = None
    aoa: AOAConfig = AOAConfig()
    output: OutputConfig = OutputConfig()

    @model_validator(mode="after")
    def _unique_names(self) -> DSMConfig:
        names = [c.name for c in self.covariates]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"covariate names {', '.join(dupes)} are used more than once")
        return self

    def resolve_paths(self, base: str | os.PathLike[str]) -> DSMConfig:
        """Return a copy with relative paths made relative to ``base`` (the config's folder)."""
        resolved: DSMConfig = resolve_paths(self, base)
        return resolved

    def digest(self) -> str:
        """Short SHA-256 of the settings, recorded with every output (provenance)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_config(data: dict[str, Any], *, source: str = "configuration") -> DSMConfig:
    """Validate a ``[dsm]`` mapping, turning pydantic's report into one-line ConfigError."""
    return validate(DSMConfig, data, source=source, docs="docs/dsm.md", prefix=("dsm",))


def load_config(path: str | os.PathLike[str]) -> DSMConfig:
    """Read a TOML file holding a ``[dsm]`` table (or only the DSM settings).

    Relative paths in it are resolved against the file's folder.

    Raises
    ------
    ConfigError
        Missing file, TOML syntax error, or invalid settings.
    """
    path = Path(path)
    data = read_toml(path)
    section = data.get("dsm", data)
    if not isinstance(section, dict):
        raise ConfigError(f"configuration {path}: [dsm] must be a table")
    return parse_config(section, source=f"configuration {path}").resolve_paths(
        path.parent.absolute()
    )
