"""Canonical units per variable, converters, and recognition of the common unit traps.

Units are converted once, at the edge, by :func:`check_and_convert`; everything after it works
in the canonical units that the variable names carry (``soc_t_ha``, ``clay_pct``,
``tas_degC``, ``pr_mm``, ...). The conversions and the traps are data (:data:`VARIABLES`), not
code: each variable lists the unit spellings it accepts, how each converts, its plausible range,
and the value patterns that betray a wrongly declared unit (SOC in kg/m², clay in g/kg,
temperature in K or in TerraClimate's tenths of °C, CRU PET in mm/day, MODIS NDVI ×10000, ...).

This is the one units table of socseq: raster layers (:func:`check_and_convert`) and the columns
of soil-sample tables (:mod:`socseq.io.samples`, through :func:`unit_key` and
:func:`find_trap`) use the same spellings, factors and traps, with the same thresholds.
"""

# Long module: half of it is the units table itself (data: spellings, factors, plausible ranges,
# traps); the converter is short.

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import dask
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from socseq.exceptions import ConfigError, InputValidationError, UnitsError, UnitsWarning
from socseq.io.grid import describe_source

__all__ = [
    "VARIABLES",
    "Conversion",
    "Trap",
    "ValueSummary",
    "VariableUnits",
    "canonical_units",
    "check_and_convert",
    "convert_units",
    "find_trap",
    "summarise_values",
    "unit_key",
]


@dataclass(frozen=True)
class Conversion:
    """How one declared unit converts to the canonical unit.

    canonical = value · scale · (days or seconds in the month, if ``per``) + offset.
    """

    aliases: tuple[str, ...]
    scale: float = 1.0
    offset: float = 0.0
    per: Literal["day", "second"] | None = None

    @property
    def is_identity(self) -> bool:
        """True when the values are already canonical."""
        return self.scale == 1.0 and self.offset == 0.0 and self.per is None


@dataclass(frozen=True)
class ValueSummary:
    """What the values of a layer look like, in its declared (raw) units."""

    n_valid: int
    min: float
    max: float
    median: float


@dataclass(frozen=True)
class Trap:
    """A value pattern that shows the declared unit is wrong, and the unit it looks like."""

    declared: tuple[str, ...]
    """Unit keys (of :attr:`VariableUnits.units`) for which the pattern is checked."""
    test: Callable[[ValueSummary], bool]
    looks_like: str
    fix: str
    """The unit key to declare instead."""
    note: str = ""


@dataclass(frozen=True)
class VariableUnits:
    """Canonical unit, accepted units, plausible range and traps of one variable."""

    label: str
    canonical: str
    long_name: str
    units: Mapping[str, Conversion]
    plausible: tuple[float, float]
    traps: tuple[Trap, ...] = field(default=())


#: Precipitation and PET share their units: canonical is mm per month.
_MONTHLY_FLUX_UNITS: dict[str, Conversion] = {
    "mm": Conversion(("mm", "mm/month", "mm month-1", "kg m-2", "kg/m2", "mm/mon")),
    "0.1 mm": Conversion(("0.1 mm", "0.1 mm/month", "mm/10", "mm*0.1"), scale=0.1),
    "mm/day": Conversion(("mm/day", "mm day-1", "mm d-1", "mm/d", "kg m-2 day-1"), per="day"),
    "kg m-2 s-1": Conversion(("kg m-2 s-1", "kg/m2/s", "mm/s", "mm s-1"), per="second"),
}


def _flux_traps(dry_note: str) -> tuple[Trap, ...]:
    """Traps shared by precipitation and PET; ``dry_note`` is added to the mm/day one."""
    return (
        Trap(
            ("mm",),
            lambda s: 0 < s.max < 0.01,
            "a flux in kg m⁻² s⁻¹ (ERA5/CMIP style)",
            "kg m-2 s-1",
        ),
        Trap(
            ("mm",),
            lambda s: s.max < 15 and s.median > 0.05,
            "mm/day, not mm per month",
            "mm/day",
            dry_note,
        ),
        Trap(("mm/day",), lambda s: s.median > 30, "monthly totals already (mm per month)", "mm"),
    )


#: The unit table. Keys of ``units`` are the spellings used in fixes; ``aliases`` are the other
#: accepted spellings (compared ignoring case, spaces, ``^``/``**`` and superscripts).
VARIABLES: dict[str, VariableUnits] = {
    "soc_t_ha": VariableUnits(
        label="SOC",
        canonical="t/ha",
        long_name="soil organic carbon stock 0-30 cm",
        units={
            "t/ha": Conversion(
                ("t/ha", "t C/ha", "Mg/ha", "Mg C/ha", "t ha-1", "t C ha-1", "Mg ha-1", "tC/ha")
            ),
            "kg/m2": Conversion(("kg/m2", "kg C/m2", "kg m-2", "kg C m-2"), scale=10.0),
            "g/m2": Conversion(("g/m2", "g C/m2", "g m-2", "g C m-2"), scale=0.01),
        },
        plausible=(0.0, 1000.0),
        traps=(
            Trap(("t/ha",), lambda s: s.median > 500, "g/m² (or a scaled integer layer)", "g/m2"),
            Trap(
                ("t/ha",),
                lambda s: s.median < 8 and s.max < 60,
                "kg/m²",
                "kg/m2",
                " (if the stocks really are this low, pass strict=False)",
            ),
            # A median above 30 kg/m² (300 t/ha over 0–30 cm) is peat, not a region's or a
            # sample set's typical stock; t/ha values declared as kg/m² look like this.
            Trap(("kg/m2",), lambda s: s.median > 30, "t/ha already", "t/ha"),
        ),
    ),
    "soc_g_kg": VariableUnits(
        label="SOC concentration",
        canonical="g/kg",
        long_name="soil organic carbon concentration",
        units={
            "g/kg": Conversion(("g/kg", "g kg-1", "mg/g", "permille", "‰", "g C/kg", "gC/kg")),
            "%": Conversion(
                ("%", "percent", "pct", "g/100g", "g/100 g", "dag/kg", "% (w/w)"), scale=10.0
            ),
            "kg/kg": Conversion(("kg/kg", "fraction", "kg kg-1", "g/g"), scale=1000.0),
        },
        plausible=(0.0, 1000.0),
        traps=(
            # SOC above 100 % is impossible; such values are g/kg.
            Trap(("%",), lambda s: s.max > 100, "g/kg", "g/kg"),
            # A median below 2 g/kg (0.2 %) would be a desert soil; values like 1.8 are %.
            Trap(("g/kg",), lambda s: s.median < 2 and s.max <= 100, "%", "%"),
            Trap(("kg/kg",), lambda s: s.max > 1, "% or g/kg", "%"),
        ),
    ),
    "cf_frac": VariableUnits(
        label="coarse fragments",
        canonical="1",
        long_name="volumetric coarse fragment content",
        units={
            "%": Conversion(
                ("%", "percent", "vol%", "vol-%", "% vol", "pct", "cm3/100cm3"), scale=0.01
            ),
            "fraction": Conversion(("fraction", "1", "m3/m3", "cm3/cm3", "m3 m-3", "cm3 cm-3")),
        },
        plausible=(0.0, 1.0),
        traps=(
            Trap(("fraction",), lambda s: s.max > 1, "%", "%"),
            Trap(("%",), lambda s: 0 < s.max <= 1, "a volume fraction (0-1)", "fraction"),
        ),
    ),
    "depth_cm": VariableUnits(
        label="depth",
        canonical="cm",
        long_name="depth below the soil surface",
        units={
            "cm": Conversion(("cm", "centimetre", "centimeter")),
            "m": Conversion(("m", "metre", "meter"), scale=100.0),
            "mm": Conversion(("mm", "millimetre", "millimeter"), scale=0.1),
        },
        plausible=(0.0, 2000.0),
        traps=(Trap(("m",), lambda s: s.max > 10, "cm", "cm"),),
    ),
    **{
        f"{fraction}_pct": VariableUnits(
            label=fraction,
            canonical="%",
            long_name=f"{fraction} content 0-30 cm",
            units={
                "%": Conversion(("%", "percent", "pct", "% (w/w)")),
                "g/kg": Conversion(("g/kg", "g kg-1"), scale=0.1),
                "kg/kg": Conversion(("kg/kg", "fraction", "kg kg-1", "1"), scale=100.0),
            },
            plausible=(0.0, 100.0),
            traps=(
                Trap(
                    ("%",),
                    lambda s: 100 < s.max <= 1000,
                    "g/kg (SoilGrids 2.0 stores g/kg)",
                    "g/kg",
                ),
                Trap(("%",), lambda s: 0 < s.max <= 1, "a mass fraction (kg/kg)", "kg/kg"),
                Trap(
                    ("g/kg",),
                    lambda s: 0 < s.max <= 100,
                    "% already",
                    "%",
                    " (if the content really is below 10 % everywhere, pass strict=False)",
                ),
            ),
        )
        for fraction in ("clay", "sand", "silt")
    },
    "tas_degC": VariableUnits(
        label="temperature",
        canonical="degC",
        long_name="monthly mean air temperature",
        units={
            "degC": Conversion(
                (
                    "degC",
                    "°C",
                    "C",
                    "celsius",
                    "deg_C",
                    "degrees_Celsius",
                    "degree_Celsius",
                    "deg C",
                )
            ),
            "K": Conversion(("K", "kelvin", "degK"), offset=-273.15),
            # (F − 32) · 5/9
            "degF": Conversion(
                ("degF", "°F", "F", "fahrenheit", "degrees_Fahrenheit", "deg F"),
                scale=5.0 / 9.0,
                offset=-160.0 / 9.0,
            ),
            "0.1 degC": Conversion(
                ("0.1 degC", "0.1 °C", "degC/10", "degC*0.1", "0.1 C"), scale=0.1
            ),
        },
        plausible=(-90.0, 60.0),
        traps=(
            Trap(
                ("degC",),
                lambda s: s.median > 150 and s.min > 100,
                "Kelvin",
                "K",
                ' (or TerraClimate tenths of °C in a warm region: units = "0.1 degC")',
            ),
            # Monthly means in °F lie within −40…125 (hottest month on record about 108 °F);
            # tenths of °C of a mild climate can look the same, so the note names both.
            Trap(
                ("degC",),
                lambda s: 60 < s.max <= 125 and s.min >= -40 and s.median < 95,
                "°F",
                "degF",
                ' (or TerraClimate tenths of °C in a mild climate: units = "0.1 degC")',
            ),
            Trap(
                ("degC",),
                lambda s: (s.max > 60 or s.min < -90) and -900 <= s.min and s.max <= 700,
                "tenths of °C (TerraClimate stores temperature ×10)",
                "0.1 degC",
            ),
            Trap(("K",), lambda s: s.median < 150, "°C already", "degC"),
        ),
    ),
    "pr_mm": VariableUnits(
        label="precipitation",
        canonical="mm",
        long_name="monthly precipitation",
        units=_MONTHLY_FLUX_UNITS,
        plausible=(0.0, 5000.0),
        traps=_flux_traps(" (if the region really is that dry, pass strict=False)"),
    ),
    "pet_mm": VariableUnits(
        label="PET",
        canonical="mm",
        long_name="monthly potential evapotranspiration",
        units=_MONTHLY_FLUX_UNITS,
        plausible=(0.0, 600.0),
        traps=(
            *_flux_traps(""),
            Trap(
                ("mm",),
                lambda s: 600 < s.max <= 6000,
                "tenths of mm (TerraClimate stores PET ×10)",
                "0.1 mm",
            ),
        ),
    ),
    "ndvi": VariableUnits(
        label="NDVI",
        canonical="1",
        long_name="normalised difference vegetation index",
        units={
            "1": Conversion(("1", "", "-", "unitless", "dimensionless", "ndvi")),
            "0.0001": Conversion(("0.0001", "1e-4", "1/10000", "scale 0.0001"), scale=1e-4),
        },
        plausible=(-1.0, 1.0),
        traps=(
            Trap(
                ("1",),
                lambda s: 1.5 < s.max <= 10000 and s.min >= -3000,
                "MODIS NDVI stored ×10000 (scale 0.0001)",
                "0.0001",
            ),
            Trap(("0.0001",), lambda s: s.max <= 1.5, "NDVI already scaled to −1…1", "1"),
        ),
    ),
    "ec_dS_m": VariableUnits(
        label="EC",
        canonical="dS/m",
        long_name="electrical conductivity of the saturated paste extract",
        units={
            "dS/m": Conversion(("dS/m", "dS m-1", "mS/cm", "mS cm-1", "mmho/cm")),
            "uS/cm": Conversion(("uS/cm", "µS/cm", "uS cm-1", "µS cm-1", "umho/cm"), scale=1e-3),
            "S/m": Conversion(("S/m", "S m-1"), scale=10.0),
            "mS/m": Conversion(("mS/m", "mS m-1"), scale=0.01),
        },
        plausible=(0.0, 200.0),
        traps=(Trap(("dS/m",), lambda s: 100 < s.median <= 1e5, "µS/cm", "uS/cm"),),
    ),
    "bulk_density_g_cm3": VariableUnits(
        label="bulk density",
        canonical="g/cm3",
        long_name="soil bulk density",
        units={
            "g/cm3": Conversion(
                ("g/cm3", "g cm-3", "Mg/m3", "Mg m-3", "t/m3", "kg/dm3", "kg dm-3", "g/mL")
            ),
            "cg/cm3": Conversion(("cg/cm3", "cg cm-3"), scale=0.01),
            "kg/m3": Conversion(("kg/m3", "kg m-3"), scale=0.001),
        },
        plausible=(0.02, 2.65),
        traps=(
            Trap(
                ("g/cm3",), lambda s: 20 < s.median <= 300, "cg/cm³ (SoilGrids 2.0 bdod)", "cg/cm3"
            ),
            Trap(("g/cm3",), lambda s: s.median > 300, "kg/m³", "kg/m3"),
            Trap(("kg/m3",), lambda s: s.median < 10, "g/cm³", "g/cm3"),
        ),
    ),
}

#: Values beyond these betray an undeclared nodata value (-9999, -3.4e38, 65535 ...).
_NODATA_LIKE_LOW = -9000.0
_NODATA_LIKE_HIGH = 1e30
#: The median feeds the unit traps, whose thresholds sit an order of magnitude apart: a regular
#: sample of ~2e5 values places it well enough and keeps it cheap for every staged climate slab.
_SAMPLE_SIZE = 200_000
_MEAN_DAYS_IN_MONTH = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


_SPELLING = str.maketrans({"µ": "u", "μ": "u", "⁻": "-", "¹": "1", "²": "2", "³": "3"})


def _normalise(units: str) -> str:
    """Compare unit spellings ignoring case, spaces, exponent marks and superscripts."""
    text = units.strip().lower().translate(_SPELLING)
    for mark in (" ", "^", "**", "·"):
        text = text.replace(mark, "")
    return text


def _lookup(spec: VariableUnits) -> dict[str, str]:
    """Normalised spelling → unit key, for keys and aliases."""
    table: dict[str, str] = {}
    for key, conversion in spec.units.items():
        for spelling in (key, *conversion.aliases):
            table[_normalise(spelling)] = key
    return table


_LOOKUPS: dict[str, dict[str, str]] = {name: _lookup(spec) for name, spec in VARIABLES.items()}


def unit_key(variable: str, units: str) -> str | None:
    """Return the key of :attr:`VariableUnits.units` that ``units`` spells, or None.

    Spellings are compared ignoring case, spaces, ``^``/``**`` and superscripts, so
    ``"kg m⁻²"``, ``"kg/m2"`` and ``"KG M-2"`` all name the key ``"kg/m2"`` of ``soc_t_ha``.
    """
    return _LOOKUPS[variable].get(_normalise(units))


def summarise_values(values: ArrayLike) -> ValueSummary:
    """Count, min, max and median of the finite values of a column or small array."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    valid = arr[np.isfinite(arr)]
    if valid.size == 0:
        return ValueSummary(n_valid=0, min=math.nan, max=math.nan, median=math.nan)
    return ValueSummary(
        n_valid=int(valid.size),
        min=float(valid.min()),
        max=float(valid.max()),
        median=float(np.median(valid)),
    )


def find_trap(variable: str, key: str, summary: ValueSummary) -> Trap | None:
    """Return the first trap of ``variable`` that values declared in ``key`` fall into.

    Parameters
    ----------
    variable : str
        One of :data:`VARIABLES`.
    key : str
        The declared unit, as a key of the variable's units (see :func:`unit_key`).
    summary : ValueSummary
        What the values look like in the declared unit.

    Returns
    -------
    Trap or None
        The trap (with the unit the values look like and the unit to declare), or None.
    """
    if summary.n_valid == 0:
        return None
    for trap in VARIABLES[variable].traps:
        if key in trap.declared and trap.test(summary):
            return trap
    return None


def canonical_units(variable: str) -> str:
    """Return the canonical unit string of a variable (e.g. ``"t/ha"`` for ``soc_t_ha``)."""
    if variable not in VARIABLES:
        raise ConfigError(f"unknown variable '{variable}'; use one of {', '.join(VARIABLES)}")
    return VARIABLES[variable].canonical


def _fmt(value: float) -> str:
    """Three significant digits, without exponents for values people read as whole numbers."""
    if 1000 <= abs(value) < 1e7:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _summarise(da: xr.DataArray) -> ValueSummary:
    """Count, min and max over all values; median over a regular sample of about 2e5."""
    step = max(1, math.ceil(math.sqrt(da.size / _SAMPLE_SIZE)))
    spatial = {d: slice(None, None, step) for d in ("y", "x") if d in da.dims}
    sample = da.isel(spatial) if spatial else da
    if isinstance(da.data, np.ndarray) and np.issubdtype(da.dtype, np.floating):
        # In memory (every staged climate slab): one pass each, no copies through xarray.
        n = int(np.count_nonzero(~np.isnan(da.data)))
        vmin, vmax = (np.nanmin(da.data), np.nanmax(da.data)) if n else (math.nan, math.nan)
        values = sample
    else:
        n_valid, vmin, vmax, values = dask.compute(da.count(), da.min(), da.max(), sample)
        n = int(n_valid)
    median = float(np.nanmedian(values.values)) if n else math.nan
    return ValueSummary(n_valid=n, min=float(vmin), max=float(vmax), median=median)


def _month_lengths(da: xr.DataArray, conversion: Conversion, what: str) -> xr.DataArray:
    """Days (or seconds) in each month of the time (or month 1–12) axis."""
    if "time" in da.dims:
        days = da["time"].dt.days_in_month.astype("float64")
    elif "month" in da.dims:
        months = da["month"].values
        if not np.all(np.isin(months, np.arange(1, 13))):
            raise UnitsError(
                f"{what}: the month axis holds {months.tolist()}, not 1–12, so mm/day cannot be "
                "turned into mm per month; label the months 1–12"
            )
        days = xr.DataArray(_MEAN_DAYS_IN_MONTH[months - 1], dims="month", coords={"month": months})
    else:
        raise UnitsError(
            f"{what}: units per {conversion.per} need a time or month axis to convert to mm per "
            "month; open the layer with open_monthly"
        )
    return days * 86400.0 if conversion.per == "second" else days


def _report(message: str, strict: bool) -> None:
    if strict:
        raise UnitsError(message)
    warnings.warn(message, UnitsWarning, stacklevel=3)


def _declared(variable: str, units: str, source: str) -> tuple[VariableUnits, str, str]:
    """Look up the variable and its declared units: (spec, units key, label for messages)."""
    spec_units = VARIABLES.get(variable)
    if spec_units is None:
        raise ConfigError(
            f"{source}: unknown variable '{variable}'; use one of {', '.join(VARIABLES)}"
        )
    what = f"{spec_units.label} {source}"
    key = unit_key(variable, units)
    if key is None:
        raise UnitsError(
            f'{what}: units "{units}" are not known for {variable}; use one of '
            + ", ".join(f'"{k}"' for k in spec_units.units)
        )
    return spec_units, key, what


def convert_units(da: xr.DataArray, *, variable: str, units: str, name: str) -> xr.DataArray:
    """Convert a block of a layer to the canonical units, without the plausibility checks.

    For the window-by-window reading of a run whose layers :func:`check_and_convert` has
    already checked: a window may hold few or no valid values, which says nothing about the
    layer's units. The arithmetic is :func:`check_and_convert`'s.
    """
    spec_units, key, what = _declared(variable, units, describe_source(da, name))
    return _converted(da, spec_units, spec_units.units[key], what)


def check_and_convert(
    da: xr.DataArray,
    *,
    variable: str,
    units: str,
    name: str,
    strict: bool = True,
) -> xr.DataArray:
    """Convert a layer from its declared units to the canonical ones, checking plausibility.

    Parameters
    ----------
    da : xarray.DataArray
        The layer as read (NaN for no data); monthly fluxes need a ``time`` axis (or a
        ``month`` axis 1–12, which uses mean month lengths) when declared per day or second.
    variable : str
        One of :data:`VARIABLES`: ``soc_t_ha``, ``clay_pct``, ``sand_pct``, ``silt_pct``,
        ``tas_degC``, ``pr_mm``, ``pet_mm`` (mm per month), ``ndvi``, ``ec_dS_m``,
        ``bulk_density_g_cm3`` (and the sample-table quantities ``soc_g_kg``, ``cf_frac``,
        ``depth_cm``).
    units : str
        The units the data are stored in, as declared in the configuration or the file
        (e.g. ``"kg/m2"``, ``"g/kg"``, ``"K"``, ``"0.1 degC"``, ``"mm/day"``).
    name : str
        Layer name for messages; the file comes from ``da.attrs["source"]``.
    strict : bool, default True
        Raise on a recognised unit trap or an implausible range. With False these become
        :class:`UnitsWarning` (for regions that really are extreme); unknown units and
        all-NaN layers always raise.

    Returns
    -------
    xarray.DataArray
        Values in the canonical units (lazy if ``da`` is dask-backed), same dims, coords,
        CRS and attrs, with ``attrs["units"]`` set to the canonical unit (and a default
        ``long_name``).

    Raises
    ------
    ConfigError
        Unknown variable.
    UnitsError
        Unknown units, a recognised trap (the message names the unit the values look like and
        the setting to use), or converted values outside the plausible range.
    InputValidationError
        The layer has no valid value.
    """
    spec_units, key, what = _declared(variable, units, describe_source(da, name))
    raw = _summarise(da)
    if raw.n_valid == 0:
        raise InputValidationError(
            f"{what}: has no valid value (all NaN/nodata); check the nodata value and that the "
            "layer covers the region"
        )
    _check_declared(what, variable, key, units, raw, strict)
    conversion = spec_units.units[key]
    out = _converted(da, spec_units, conversion, what)
    if conversion.is_identity:
        vmin, vmax = raw.min, raw.max
    else:
        vmin, vmax = (float(v) for v in dask.compute(out.min(), out.max()))
    _check_plausible(what, spec_units, vmin, vmax, "" if conversion.is_identity else units, strict)
    return out


def _check_declared(
    what: str, variable: str, key: str, units: str, raw: ValueSummary, strict: bool
) -> None:
    """Report an undeclared nodata value or a unit trap of the values as read."""
    seen = f"values {_fmt(raw.min)}–{_fmt(raw.max)} (median {_fmt(raw.median)})"
    if raw.min <= _NODATA_LIKE_LOW or raw.max >= _NODATA_LIKE_HIGH:
        _report(
            f"{what}: {seen} include an undeclared nodata value; declare it in the file "
            "(gdal_edit.py -a_nodata VALUE FILE)",
            strict,
        )
    trap = find_trap(variable, key, raw)
    if trap is not None:
        _report(
            f'{what}: {seen} look like {trap.looks_like} but units are declared "{units}"; '
            f'set units = "{trap.fix}"{trap.note}',
            strict,
        )


def _converted(
    da: xr.DataArray, spec: VariableUnits, conversion: Conversion, what: str
) -> xr.DataArray:
    """Return the layer in canonical units, with its dims, CRS and attributes (units set)."""
    if conversion.is_identity:
        # Values unchanged: a new object over the same array (a window's block is its own).
        out = da.copy(deep=False)
        out.attrs = dict(da.attrs)
    else:
        factor: float | xr.DataArray = conversion.scale
        if conversion.per is not None:
            factor = _month_lengths(da, conversion, what) * conversion.scale
        out = da * factor + conversion.offset
        out = out.transpose(*da.dims)
        out.attrs = dict(da.attrs)
        out.name = da.name
        if da.rio.crs is not None:
            out.rio.write_crs(da.rio.crs, inplace=True)
    out.attrs["units"] = spec.canonical
    out.attrs.setdefault("long_name", spec.long_name)
    return out


def _check_plausible(
    what: str, spec: VariableUnits, vmin: float, vmax: float, converted_from: str, strict: bool
) -> None:
    """Report canonical values outside the variable's plausible range (negatives named)."""
    lo, hi = spec.plausible
    tolerance = 1e-6 * (hi - lo)
    seen = f"values {_fmt(vmin)}–{_fmt(vmax)} {spec.canonical}"
    if converted_from:
        seen += f' (converted from "{converted_from}")'
    if vmin < -tolerance and lo >= 0:
        _report(
            f"{what}: {seen} include negatives, impossible for {spec.label}; check the "
            "nodata value and the source data",
            strict,
        )
    elif vmin < lo - tolerance or vmax > hi + tolerance:
        _report(
            f"{what}: {seen} are outside the plausible range {_fmt(lo)}–{_fmt(hi)} "
            f"{spec.canonical}; check the declared units and the nodata value",
            strict,
        )
