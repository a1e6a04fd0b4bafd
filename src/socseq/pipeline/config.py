"""The run configuration of ``socseq run`` / ``socseq validate``, as pydantic models.

One TOML file declares the inputs, grid, periods, land-use classes, cover, scenarios, masks
and outputs. Unknown keys are errors that name the key, so a misspelt option never falls back
to its default silently; relative paths are relative to the configuration file. The complete,
commented example is ``docs/configuration.md``.
"""

# Long module: the configuration schema is one tree of small pydantic sections, each with its
# cross-field checks; split over files, a key's validation would be apart from its section.

from __future__ import annotations

import hashlib
import json
import os
import re
import string
from pathlib import Path
from typing import Any, Literal

import pyproj
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pyproj.exceptions import CRSError

from socseq._toml import read_toml, resolve_paths, validate
from socseq.dsm.config import DSMConfig

__all__ = [
    "CLIMATE_KEYS",
    "VECTOR_SUFFIXES",
    "ChecksConfig",
    "ClimateConfig",
    "ClimateLayer",
    "ClimateSet",
    "CoverConfig",
    "DomainConfig",
    "GridConfig",
    "InputLayer",
    "InputsConfig",
    "LandUseConfig",
    "MasksConfig",
    "ModelConfig",
    "OutputsConfig",
    "PeriodsConfig",
    "RunConfig",
    "RunSection",
    "ScenarioConfig",
    "UncertaintyConfig",
    "default_scenarios",
    "load_run_config",
    "parse_run_config",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputLayer(_Strict):
    """One raster layer: file, variable or band, and the units its values are stored in.

    ``units`` is required for physical quantities (it is checked and converted once, see
    :mod:`socseq.io.units`) and ignored for class layers.
    """

    path: Path
    variable: str | None = None
    band: int | None = Field(None, ge=1)
    units: str | None = None
    resampling: Literal["bilinear", "average", "mode", "nearest"] | None = None


class ClimateLayer(_Strict):
    """One climate variable: a monthly file, or one file per month named by a pattern.

    ``path``: a NetCDF with a time axis, or a GeoTIFF of 12·n bands starting at ``start``.
    ``pattern``: one file per month, e.g. ``"P{month:02d}CHE3.tif"`` (12 monthly means) or
    ``"tas_{year}_{month:02d}.tif"`` with ``years = [first, last]`` (a series), read as one
    series by :mod:`socseq.io.series`; ``band`` then picks the band of each file. ``units``
    is required (checked and converted once, :mod:`socseq.io.units`).
    """

    path: Path | None = None
    pattern: Path | None = None
    years: tuple[int, int] | None = None
    variable: str | None = None
    band: int | None = Field(None, ge=1)
    units: str
    resampling: Literal["bilinear", "average", "mode", "nearest"] | None = None
    start: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ClimateLayer:
        if (self.path is None) == (self.pattern is None):
            raise ValueError(
                "give path (one file) or pattern (one file per month, e.g. "
                "'P{month:02d}.tif'), exactly one of them"
            )
        if self.pattern is None:
            if self.years is not None:
                raise ValueError("years applies to a pattern with {year}; remove it")
            return self
        fields = _pattern_fields(str(self.pattern))
        if ("year" in fields) != (self.years is not None):
            raise ValueError(
                f"pattern '{self.pattern}' has {{year}}: give years = [first, last]"
                if "year" in fields
                else f"pattern '{self.pattern}' has no {{year}}, so years does not apply"
            )
        if self.years is not None and self.years[1] < self.years[0]:
            raise ValueError(f"years = [{self.years[0]}, {self.years[1]}] ends before it starts")
        return self

    @property
    def source(self) -> Path:
        """The file, or the pattern of the files."""
        source = self.path if self.path is not None else self.pattern
        assert source is not None  # the validator guarantees one
        return source

    @property
    def has_years(self) -> bool:
        """A pattern with ``{year}``: one file per month of each year."""
        return self.pattern is not None and "year" in _pattern_fields(str(self.pattern))


def _pattern_fields(pattern: str) -> set[str]:
    """Placeholders of a per-month pattern; ``{month}`` is required, ``{year}`` allowed."""
    try:
        found = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
    except ValueError as exc:
        raise ValueError(f"pattern '{pattern}' is not a format string ({exc})") from exc
    if "month" not in found or found - {"month", "year"}:
        raise ValueError(
            f"pattern '{pattern}' must contain {{month}} (e.g. 'P{{month:02d}}.tif') and may "
            f"contain {{year}}; found {', '.join(sorted(found)) or 'no placeholder'}"
        )
    return found


#: Configuration key of each climate variable and the short name the pipeline uses.
CLIMATE_KEYS = {
    "temperature": "tas",
    "precipitation": "pr",
    "evaporation": "pet",
    "tmin": "tasmin",
    "tmax": "tasmax",
}


class ClimateSet(_Strict):
    """The monthly climate of one period.

    ``temperature`` (monthly mean air temperature) may be left out when ``tmin`` and ``tmax``
    (monthly means of the daily minimum and maximum) are given: it is then (tmin + tmax)/2,
    as FAO-56 defines the mean. ``evaporation`` may be left out: potential
    evapotranspiration is then computed (``[climate] pet_method``).
    """

    temperature: ClimateLayer | None = None
    precipitation: ClimateLayer
    evaporation: ClimateLayer | None = None
    tmin: ClimateLayer | None = None
    tmax: ClimateLayer | None = None

    @model_validator(mode="after")
    def _temperatures(self) -> ClimateSet:
        if (self.tmin is None) != (self.tmax is None):
            raise ValueError("give tmin and tmax together (monthly mean daily minimum, maximum)")
        if self.temperature is None and self.tmin is None:
            raise ValueError(
                "give temperature (monthly mean), or tmin and tmax (its mean is then "
                "(tmin + tmax)/2)"
            )
        return self

    def layers(self) -> dict[str, ClimateLayer]:
        """Return configuration key → layer for the variables given."""
        return {key: getattr(self, key) for key in CLIMATE_KEYS if getattr(self, key) is not None}


class ClimateConfig(_Strict):
    """Monthly climate.

    Exactly one of ``series`` and ``normals``. ``series`` must cover the warm-up years, and
    the spin-up years unless ``spinup`` gives the 12 monthly means directly. ``normals`` holds
    12 monthly means (January…December) per variable, used for the spin-up, for every
    warm-up year and for the forward run (so the warm-up has no year-to-year change and BAU
    is about 0 by construction; the run says so in ``run.json`` and the report).
    ``forward`` is an optional future series of the forward length; by default the forward
    climate is the mean of the warm-up years (the normals, with ``normals``).
    ``evaporation_kind``: ``"pet"`` (potential evapotranspiration, RothC evaporation
    coefficient 1.0, as GSOCseq) or ``"pan"`` (open-pan evaporation, coefficient 0.75).
    ``pet_method``: how PET is computed when no climate section gives ``evaporation``:
    ``"thornthwaite"`` (1948; temperature and latitude), ``"hargreaves"`` (FAO-56 eq. 52;
    needs ``tmin`` and ``tmax``) or ``"auto"`` (Hargreaves when every section gives tmin and
    tmax, else Thornthwaite). ``fill_distance_m``: cells without climate (coarse grids at the
    coast) take the value of the nearest cell with climate within this distance; 0 disables
    filling.
    """

    series: ClimateSet | None = None
    normals: ClimateSet | None = None
    spinup: ClimateSet | None = None
    forward: ClimateSet | None = None
    evaporation_kind: Literal["pet", "pan"] = "pet"
    pet_method: Literal["auto", "thornthwaite", "hargreaves"] = "auto"
    fill_distance_m: float = Field(25_000.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _not_both(cls, data: Any) -> Any:
        # Before the fields: else an incomplete second section is reported, not the choice.
        if isinstance(data, dict) and "series" in data and "normals" in data:
            raise ValueError(
                "give [climate.series] (a monthly series) or [climate.normals] (12 monthly "
                "means), exactly one of them, not both"
            )
        return data

    @model_validator(mode="after")
    def _one_climate(self) -> ClimateConfig:
        if (self.series is None) == (self.normals is None):
            raise ValueError(
                "give [climate.series] (a monthly series) or [climate.normals] (12 monthly "
                "means), exactly one of them"
            )
        if self.normals is not None and self.spinup is not None:
            raise ValueError("[climate.normals] are the spin-up climate; remove [climate.spinup]")
        for section, cset in self.sets().items():
            for key, layer in cset.layers().items():
                _check_years(layer, section, key)
        self._check_pet()
        return self

    def _check_pet(self) -> None:
        """Evaporation in every section or none; the PET options only when it is computed."""
        given = {name: cset.evaporation is not None for name, cset in self.sets().items()}
        if len(set(given.values())) > 1:
            lacking = ", ".join(f"climate.{k}" for k, v in given.items() if not v)
            raise ValueError(
                f"{lacking} gives no evaporation but another section does; give evaporation "
                "in every climate section, or in none (PET is then computed for all)"
            )
        if any(given.values()):
            if "pet_method" in self.model_fields_set:
                raise ValueError(
                    "pet_method applies only when no evaporation layer is given; remove "
                    "pet_method or the evaporation layers"
                )
        elif self.evaporation_kind == "pan":
            raise ValueError(
                "computed PET is potential evapotranspiration: evaporation_kind must be "
                "'pet' (or give pan evaporation layers)"
            )
        if self.pet_method == "hargreaves":
            without = [k for k, c in self.sets().items() if c.tmin is None]
            if without:
                raise ValueError(
                    f"pet_method = 'hargreaves' needs tmin and tmax; climate.{without[0]} "
                    "has none (or use 'thornthwaite')"
                )

    def sets(self) -> dict[str, ClimateSet]:
        """Section name → climate set, for the sections given."""
        return {
            name: cset
            for name in ("series", "normals", "spinup", "forward")
            if (cset := getattr(self, name)) is not None
        }

    @property
    def computed_pet(self) -> Literal["thornthwaite", "hargreaves"] | None:
        """The PET method the run computes, or None when evaporation layers are given."""
        sets = self.sets().values()
        if any(c.evaporation is not None for c in sets):
            return None
        if self.pet_method != "auto":
            return self.pet_method
        return "hargreaves" if all(c.tmin is not None for c in sets) else "thornthwaite"


def _check_years(layer: ClimateLayer, section: str, key: str) -> None:
    """Check a pattern's ``{year}`` fits its section: series have years, 12 means none."""
    if layer.pattern is None:
        return
    where = f"the pattern of {section}.{key}"
    if section in ("normals", "spinup") and layer.has_years:
        raise ValueError(
            f"{where} has {{year}}, but climate.{section} takes 12 monthly means; give a "
            "pattern with {month} only"
        )
    if section in ("series", "forward") and not layer.has_years:
        raise ValueError(
            f"{where} has no {{year}}, so it names 12 files, not a series; add {{year}} and "
            "years = [first, last], or put 12 monthly means in [climate.normals]"
        )


class InputsConfig(_Strict):
    """The gridded inputs. ``soc`` may be left out when a ``[dsm]`` section builds it.

    ``area_fraction`` (optional, 0–1) is the share of each cell covered by its land-use class
    (e.g. the farm share of a cell from land-use area fractions); areas in the summaries are
    cell area × fraction. Without it a cell counts with its whole area.
    """

    soc: InputLayer | None = None
    clay: InputLayer
    land_use: InputLayer
    area_fraction: InputLayer | None = None
    sand: InputLayer | None = None
    ec: InputLayer | None = None
    zones: InputLayer | None = None
    zone_names: Path | None = None

    @model_validator(mode="after")
    def _named_zones(self) -> InputsConfig:
        if self.zone_names is not None and self.zones is None:
            raise ValueError("zone_names names the codes of inputs.zones; give zones too")
        return self


class GridConfig(_Strict):
    """The template grid: an input's grid (default ``soc``), or CRS, resolution and bounds."""

    template: Literal["soc", "clay", "land_use"] | None = None
    crs: str | None = None
    resolution: float | None = Field(None, gt=0)
    bounds: tuple[float, float, float, float] | None = None

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                pyproj.CRS.from_user_input(value)
            except CRSError as exc:
                raise ValueError(
                    f"crs '{value}' is not a coordinate reference system; give e.g. 'EPSG:3826'"
                ) from exc
        return value

    @model_validator(mode="after")
    def _one_way(self) -> GridConfig:
        explicit = [self.crs, self.resolution, self.bounds]
        if any(v is not None for v in explicit):
            if not all(v is not None for v in explicit):
                raise ValueError("give crs, resolution and bounds together (or template alone)")
            if self.template is not None:
                raise ValueError("give either template or crs/resolution/bounds, not both")
            xmin, ymin, xmax, ymax = self.bounds  # type: ignore[misc]
            if not (xmax > xmin and ymax > ymin):
                raise ValueError(
                    "bounds are [xmin, ymin, xmax, ymax] with xmax > xmin, ymax > ymin"
                )
        return self


class PeriodsConfig(_Strict):
    """Years of the three phases (inclusive). Forward runs start the year after the warm-up."""

    spinup: tuple[int, int] = (1981, 2000)
    warmup: tuple[int, int] = (2001, 2020)
    forward_years: int = Field(20, ge=1, le=500)

    @model_validator(mode="after")
    def _ordered(self) -> PeriodsConfig:
        for label, (first, last) in (("spinup", self.spinup), ("warmup", self.warmup)):
            if first < 1:
                raise ValueError(
                    f"{label} = [{first}, {last}]: years are calendar years AD, e.g. [1981, 2000]"
                )
            if last < first:
                raise ValueError(f"{label} = [{first}, {last}] ends before it starts")
        if self.spinup[0] > self.warmup[0]:
            raise ValueError(
                f"spinup = {list(self.spinup)} starts after warmup = {list(self.warmup)}: the "
                "spin-up climate is that of the years before (or of) the warm-up; swap them"
            )
        return self

    @property
    def forward(self) -> tuple[int, int]:
        """First and last forward year."""
        start = self.warmup[1] + 1
        return start, start + self.forward_years - 1


class LandUseConfig(_Strict):
    """Land-use classes.

    ``source_classes``: the codes in the land-use raster: ``"fao"`` (the GSOCseq FAO classes
    1–13) or ``"esa_cci"`` (ESA CCI/C3S LCCS codes, reclassified to FAO). ``table``: ``"fao"``
    for the built-in table (DPM/RPM 1.44 / 0.67 / 0.25, MIAMI NPP factors) or a CSV path with
    the columns of :func:`socseq.pipeline.landuse.read_class_table`. ``simulate``: the FAO
    classes to model (default croplands, grassland, shrubs, tree crops, paddy). ``paddy``:
    ``"exclude"`` (default: RothC is not valid when flooded) or ``"simulate"`` with
    ``paddy_rate_factor`` on the decomposition rates in every phase. ``yearly``: optional
    land-use maps for the warm-up years, one band per year starting at ``yearly_first_year``.
    """

    source_classes: Literal["fao", "esa_cci"] = "fao"
    table: Literal["fao"] | Path = "fao"
    simulate: tuple[int, ...] = (2, 3, 5, 12, 13)
    paddy: Literal["exclude", "simulate"] = "exclude"
    paddy_rate_factor: float = Field(0.4, gt=0, le=1)
    cropland: tuple[int, ...] = (2, 12, 13)
    yearly: InputLayer | None = None
    yearly_first_year: int | None = None

    @model_validator(mode="after")
    def _yearly_start(self) -> LandUseConfig:
        if (self.yearly is None) != (self.yearly_first_year is None):
            raise ValueError("give yearly and yearly_first_year together")
        if not self.simulate:
            raise ValueError("simulate lists no class; give at least one FAO class code")
        return self


class CoverConfig(_Strict):
    """Monthly vegetation cover.

    ``source``: ``"class"`` (the class table's 12 monthly cover factors), ``"raster"``
    (a 12-band monthly cover factor, 0.6 covered … 1 bare, in ``path``) or ``"ndvi"`` (an NDVI
    series in ``path``: per calendar month the share p of images with NDVI above
    ``ndvi_threshold`` gives the factor 1 − 0.4·p, as GSOCseq). A month counts as bare for
    the moisture model when its factor exceeds ``bare_threshold`` (GSOCseq: 0.8).
    """

    source: Literal["class", "raster", "ndvi"] = "class"
    layer: InputLayer | None = None
    ndvi_start: str | None = None
    ndvi_threshold: float = Field(0.6, gt=-1, lt=1)
    bare_threshold: float = Field(0.8, ge=0.6, le=1)

    @model_validator(mode="after")
    def _layer(self) -> CoverConfig:
        if (self.source == "class") != (self.layer is None):
            raise ValueError("source 'raster' and 'ndvi' need layer; source 'class' takes none")
        return self


class ModelConfig(_Strict):
    """Model choices.

    ``spinup``: ``"exact"`` periodic equilibrium (default), ``"dechow"`` (GSOCseq analytical)
    or ``"rothamsted"`` iteration. ``carbon_fraction``: carbon per dry matter of MIAMI NPP
    (0.48 as the GSOCseq manual; 0.5 reproduces the FAO scripts). ``input_monthly_shares``:
    how the annual plant input is spread over the months (default equal twelfths, the
    continuous input of GSOCseq). ``constants``: ``"official"`` float32 literals of the
    Fortran code or ``"decimal"``. ``depth_cm``: modelled soil depth.
    """

    spinup: Literal["exact", "dechow", "rothamsted"] = "exact"
    carbon_fraction: float = Field(0.48, gt=0, le=1)
    input_monthly_shares: tuple[float, ...] | None = None
    constants: Literal["official", "decimal"] = "official"
    depth_cm: float = Field(30.0, gt=0)

    @field_validator("input_monthly_shares")
    @classmethod
    def _twelve(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return value
        if len(value) != 12 or min(value) < 0 or abs(sum(value) - 1) > 1e-6:
            raise ValueError("give 12 non-negative monthly shares that sum to 1")
        return value


class MasksConfig(_Strict):
    """Soil masks, applied where the layer is given (GSOCseq manual §5.1).

    A limit set to ``false`` switches that mask off (TOML has no null); ``enabled = false``
    switches them all off.
    """

    enabled: bool = True
    max_soc_t_ha: float | None = Field(200.0, gt=0)
    max_sand_pct: float | None = Field(90.0, gt=0)
    max_ec_dS_m: float | None = Field(4.0, gt=0)  # noqa: N815  (unit spelling dS/m)

    @field_validator("max_soc_t_ha", "max_sand_pct", "max_ec_dS_m", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        if value is False:
            return None
        if value is True:
            raise ValueError("give a limit, or false to switch this mask off")
        return value

    @model_validator(mode="after")
    def _all_off(self) -> MasksConfig:
        if not self.enabled:
            for name in ("max_soc_t_ha", "max_sand_pct", "max_ec_dS_m"):
                object.__setattr__(self, name, None)
        return self


#: File suffixes read as polygons (GeoPackage, Shapefile, GeoJSON, FlatGeobuf) by ``[domain]``.
VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb")


class DomainConfig(_Strict):
    """The study area (``[domain]``): only its cells are modelled, summed and mapped.

    ``path``: a raster (cells with a valid, non-zero value are inside; resampled to the grid
    by ``resampling``, default nearest, with ``band``/``variable`` as for any layer) or a
    polygon file (GeoPackage, Shapefile, GeoJSON, FlatGeobuf: a cell is inside when its centre
    is inside a polygon; ``layer`` picks the layer of a multi-layer GeoPackage; needs the
    ``vector`` extra). Cells of the agricultural classes outside it are counted under the
    exclusion reason "outside the domain".
    """

    path: Path
    layer: str | None = None
    band: int | None = Field(None, ge=1)
    variable: str | None = None
    resampling: Literal["nearest", "mode"] | None = None

    @property
    def is_vector(self) -> bool:
        """Whether ``path`` is a polygon file (by its suffix)."""
        return self.path.suffix.lower() in VECTOR_SUFFIXES

    @model_validator(mode="after")
    def _kind_keys(self) -> DomainConfig:
        if self.is_vector:
            given = [k for k in ("band", "variable", "resampling") if getattr(self, k) is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)} applies to a raster domain, not to the polygons of "
                    f"{self.path.name}; remove it (layer picks a GeoPackage layer)"
                )
        elif self.layer is not None:
            raise ValueError(
                f"layer applies to a polygon file ({', '.join(VECTOR_SUFFIXES)}), not to the "
                f"raster {self.path.name}; use band or variable"
            )
        return self


class ChecksConfig(_Strict):
    """Plausibility guards that stop a run giving silently wrong answers (``[checks]``).

    Each guard stops ``validate`` and ``run`` with one line naming the numbers seen; these keys
    relax them when the inputs really are so. ``unknown_code_share_max``: largest share (0–1) of
    the sampled land-use cells whose codes are outside the declared legend (they count as no
    land use). ``soc_median_range_t_ha``: plausible range [t C/ha] of the median SOC stock of the
    agricultural cells (0–30 cm; a given map, or the ``[dsm]`` map and samples); ``false``
    switches the check off.
    """

    unknown_code_share_max: float = Field(0.01, ge=0, le=1)
    soc_median_range_t_ha: tuple[float, float] | None = (5.0, 400.0)

    @field_validator("soc_median_range_t_ha", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        if value is False:
            return None
        if value is True:
            raise ValueError("give [low, high] in t C/ha, or false to switch this check off")
        return value

    def relaxed(self) -> str | None:
        """Return the keys set away from their defaults as ``key = value; ...`` (or None)."""
        default = ChecksConfig()
        changed = [
            f"{key} = {_toml_value(getattr(self, key))}"
            for key in type(self).model_fields
            if getattr(self, key) != getattr(default, key)
        ]
        return "; ".join(changed) or None

    @field_validator("soc_median_range_t_ha")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 0 <= value[0] < value[1]:
            raise ValueError(f"give [low, high] with 0 ≤ low < high, not {list(value)}")
        return value


def _toml_value(value: Any) -> str:
    """Write a setting as TOML does (``false`` for a check switched off)."""
    if value is None:
        return "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


class ScenarioConfig(_Strict):
    """A forward scenario, declared as data.

    ``input_multiplier`` scales the BAU plant input (mean warm-up input). ``fym_t_ha``
    adds farmyard manure (t C/ha/yr, spread like the plant input). ``cover_factor`` replaces
    the monthly cover (one value or 12). The scenario with ``baseline = true`` (default: the
    one named BAU) is the reference of the relative rates.
    """

    name: str
    input_multiplier: float = Field(1.0, ge=0)
    fym_t_ha: float = Field(0.0, ge=0)
    cover_factor: float | tuple[float, ...] | None = None
    baseline: bool | None = None

    @field_validator("name")
    @classmethod
    def _file_safe(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,31}", value):
            raise ValueError(
                f"scenario name '{value}' must be a letter then letters, digits, _ or -"
            )
        return value

    @field_validator("cover_factor")
    @classmethod
    def _cover(cls, value: float | tuple[float, ...] | None) -> float | tuple[float, ...] | None:
        values = (value,) if isinstance(value, int | float) else value
        if values is not None:
            if len(values) not in (1, 12) or not all(0.6 <= v <= 1.0 for v in values):
                raise ValueError("cover_factor is one value or 12, each between 0.6 and 1")
        return value

    @property
    def is_baseline(self) -> bool:
        """Whether this is the reference scenario of the relative rates."""
        return self.baseline if self.baseline is not None else self.name.upper() == "BAU"


def default_scenarios() -> tuple[ScenarioConfig, ...]:
    """BAU and the GSOCseq SSM1–3 (+5, +10, +20 % carbon input)."""
    return (
        ScenarioConfig(name="BAU", input_multiplier=1.0),
        ScenarioConfig(name="SSM1", input_multiplier=1.05),
        ScenarioConfig(name="SSM2", input_multiplier=1.10),
        ScenarioConfig(name="SSM3", input_multiplier=1.20),
    )


class OutputsConfig(_Strict):
    """Products to write (the summary tables and run manifest are always written)."""

    geotiff: bool = True
    netcdf: bool = True
    warmup_stocks: bool = True
    report: bool = True


class SocUncertaintyConfig(_Strict):
    """Uncertainty of the SOC baseline (``[uncertainty.soc]``).

    ``source``: ``"auto"`` (the DSM quantiles with ``[dsm]``, else ``"relative"``),
    ``"relative"`` (``relative``: Monte Carlo SD as a share of SOC; mode gsocseq: bounds
    SOC × (1 ∓ relative), published 0.2), ``"dsm_sd"``, ``"dsm_quantiles"`` (the ``[dsm]``
    prediction's SD or 5 %/95 % quantiles), ``"sd_layer"`` (raster ``sd``, t/ha) or
    ``"quantile_layers"`` (rasters ``q05`` and ``q95``, t/ha). ``distribution``: how Monte Carlo
    draws SOC, ``"lognormal"`` or ``"normal"`` (see docs/uncertainty.md for the fits).
    """

    source: Literal[
        "auto", "relative", "dsm_sd", "dsm_quantiles", "sd_layer", "quantile_layers"
    ] = "auto"
    relative: float | None = Field(None, ge=0, lt=1)
    distribution: Literal["lognormal", "normal"] = "lognormal"
    sd: InputLayer | None = None
    q05: InputLayer | None = None
    q95: InputLayer | None = None

    @model_validator(mode="after")
    def _layers(self) -> SocUncertaintyConfig:
        if (self.source == "sd_layer") != (self.sd is not None):
            raise ValueError("source 'sd_layer' needs sd, and sd needs source 'sd_layer'")
        if (self.source == "quantile_layers") != (self.q05 is not None and self.q95 is not None):
            raise ValueError("source 'quantile_layers' needs q05 and q95 (and only it takes them)")
        return self


class ClayUncertaintyConfig(_Strict):
    """Monte Carlo clay error: ``relative_sd`` (share of clay) or an SD raster ``sd`` (%)."""

    relative_sd: float = Field(0.0, ge=0, lt=1)
    sd: InputLayer | None = None


class ClimateUncertaintyConfig(_Strict):
    """Monte Carlo climate error, applied in every phase.

    ``temperature_sd_degC``: SD of an additive temperature offset [°C] (normal);
    ``precipitation_relative_sd``: log-SD of a precipitation multiplier (lognormal, median 1).
    ``shared_over_space``: one draw per member for all cells (a systematic error of the
    climate product) instead of one per cell and member.
    """

    temperature_sd_degC: float = Field(0.0, ge=0, le=10)  # noqa: N815
    precipitation_relative_sd: float = Field(0.0, ge=0, le=2)
    shared_over_space: bool = True


class InputsUncertaintyConfig(_Strict):
    """Monte Carlo error of the forward carbon inputs.

    ``relative_sd``: log-SD of a multiplier of the BAU input (lognormal, median 1);
    ``increase_relative_sd``: relative SD of each scenario's increase (m − 1), one normal draw
    per member shared by the scenarios (so their order is kept).
    """

    relative_sd: float = Field(0.0, ge=0, le=2)
    increase_relative_sd: float = Field(0.0, ge=0, le=5)
    shared_over_space: bool = False


class ParametersUncertaintyConfig(_Strict):
    """Log-SDs of the decomposition rate constants (lognormal, median = the constant).

    Parameters are global: one draw per member, shared by every cell.
    """

    k_dpm: float = Field(0.0, ge=0, le=2)
    k_rpm: float = Field(0.0, ge=0, le=2)
    k_bio: float = Field(0.0, ge=0, le=2)
    k_hum: float = Field(0.0, ge=0, le=2)

    @property
    def active(self) -> dict[str, float]:
        """The constants with a non-zero spread."""
        return {k: v for k, v in self.model_dump().items() if v > 0}


class UncertaintyConfig(_Strict):
    """Uncertainty runs (``[uncertainty]``, docs/uncertainty.md).

    ``mode``: ``"gsocseq"`` (the published minimum/maximum runs, GSOCseq manual ch. 12) or
    ``"montecarlo"`` (``members`` draws per cell from the declared distributions, with
    ``seed``). The mode gsocseq varies temperature, precipitation, clay, SOC and the SSM
    inputs by the published factors; only ``[uncertainty.soc]`` applies to it.
    """

    mode: Literal["gsocseq", "montecarlo"] = "montecarlo"
    members: int = Field(100, ge=2, le=100_000)
    seed: int = Field(0, ge=0, lt=2**63)
    soc: SocUncertaintyConfig = SocUncertaintyConfig()
    clay: ClayUncertaintyConfig = ClayUncertaintyConfig()
    climate: ClimateUncertaintyConfig = ClimateUncertaintyConfig()
    inputs: InputsUncertaintyConfig = InputsUncertaintyConfig()
    parameters: ParametersUncertaintyConfig = ParametersUncertaintyConfig()

    @model_validator(mode="after")
    def _mode(self) -> UncertaintyConfig:
        if self.mode == "gsocseq":
            extra = sorted(
                {"members", "clay", "climate", "inputs", "parameters"} & self.model_fields_set
            )
            if extra:
                raise ValueError(
                    f"mode 'gsocseq' uses the published factors; remove "
                    f"{', '.join(extra)} (only soc applies)"
                )
        return self


class RunSection(_Strict):
    """Name, product prefix, output folder and execution settings.

    ``notes``: lines shown in the report and kept in ``run.json`` (caveats about the inputs).
    ``sources``: the ``sources.json`` that ``socseq fetch`` wrote beside its layers; the report
    then cites each source (title, licence, citation) the run used.
    """

    name: str = "socseq run"
    iso: str = "XXX"
    output_dir: Path = Path("socseq-out")
    chunk_size: int = Field(256, ge=8, le=8192)
    notes: tuple[str, ...] = ()
    sources: Path | None = None

    @field_validator("notes")
    @classmethod
    def _notes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not note.strip() for note in value):
            raise ValueError("notes are lines of text; remove the empty one")
        return tuple(note.strip() for note in value)

    @field_validator("iso")
    @classmethod
    def _iso(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"iso '{value}' must be three capital letters (ISO 3166-1 alpha-3)")
        return value


class RunConfig(_Strict):
    """The whole run configuration."""

    run: RunSection = RunSection()
    grid: GridConfig = GridConfig()
    periods: PeriodsConfig = PeriodsConfig()
    inputs: InputsConfig
    climate: ClimateConfig
    land_use: LandUseConfig = LandUseConfig()
    cover: CoverConfig = CoverConfig()
    model: ModelConfig = ModelConfig()
    masks: MasksConfig = MasksConfig()
    scenarios: tuple[ScenarioConfig, ...] = Field(default_factory=default_scenarios)
    outputs: OutputsConfig = OutputsConfig()
    dsm: DSMConfig | None = None
    uncertainty: UncertaintyConfig | None = None
    domain: DomainConfig | None = None
    checks: ChecksConfig = ChecksConfig()

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        if self.inputs.soc is None and self.dsm is None:
            raise ValueError("give inputs.soc or a [dsm] section that maps the SOC baseline")
        if self.inputs.soc is not None and self.dsm is not None:
            raise ValueError("give inputs.soc or a [dsm] section, not both")
        names = [s.name for s in self.scenarios]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"scenario names {', '.join(dupes)} are used more than once")
        if sum(s.is_baseline for s in self.scenarios) != 1:
            raise ValueError(
                "exactly one scenario must be the baseline (named BAU, or baseline = true)"
            )
        if self.grid.template == "soc" and self.inputs.soc is None:
            raise ValueError("grid.template = 'soc' needs inputs.soc; with [dsm] use the dsm grid")
        unc = self.uncertainty
        if unc is not None and unc.soc.source in ("dsm_sd", "dsm_quantiles") and self.dsm is None:
            raise ValueError(f"uncertainty.soc.source = '{unc.soc.source}' needs a [dsm] section")
        return self

    @property
    def baseline(self) -> ScenarioConfig:
        """The reference scenario of the relative rates."""
        return next(s for s in self.scenarios if s.is_baseline)

    def resolve_paths(self, base: str | os.PathLike[str]) -> RunConfig:
        """Return a copy with relative paths made relative to ``base`` (the config's folder)."""
        resolved: RunConfig = resolve_paths(self, base)
        return resolved

    def digest(self) -> str:
        """Short SHA-256 of the settings, recorded with every output (provenance)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_run_config(data: dict[str, Any], *, source: str = "configuration") -> RunConfig:
    """Validate a configuration mapping, turning pydantic's report into one-line ConfigError.

    Raises
    ------
    ConfigError
        Names the key (``[climate.series.temperature.units]``) and what is wrong with it.
    """
    return validate(RunConfig, data, source=source, docs="docs/configuration.md")


def load_run_config(path: str | os.PathLike[str]) -> RunConfig:
    """Read and validate a run configuration TOML file; relative paths resolve to its folder.

    Raises
    ------
    ConfigError
        Missing file, TOML syntax error, or invalid settings.
    """
    path = Path(path)
    data = read_toml(path)
    if "scenarios" in data and isinstance(data["scenarios"], list):
        data["scenarios"] = tuple(data["scenarios"])
    config = parse_run_config(data, source=f"configuration {path}")
    return config.resolve_paths(path.parent.absolute())
