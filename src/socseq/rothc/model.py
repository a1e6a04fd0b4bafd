"""RothC for many cells at once: soil properties, monthly forcing, state, and the run function.

This is the numpy-level API over the numba kernel (:mod:`socseq.rothc._kernel`). Arrays are
validated here (shapes, NaN, ranges) so that the kernel can trust them.

Shapes
------
Per-cell values (soil properties, rate factor) are scalars or arrays of shape ``(n_cells,)``.
Monthly forcing is a scalar, a ``(period,)`` series shared by all cells, or ``(n_cells, period)``;
month ``m`` of a run uses column ``m % period``. A 12-month climatology therefore drives a run of
any length without being repeated in memory.
"""

# Long module: the public numpy API of a run and the types it takes (Soil, MonthlyForcing,
# RothCState, RunOptions, RunResult), validated in one place before the kernel trusts them.

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from socseq.exceptions import InputValidationError
from socseq.rothc import _kernel
from socseq.rothc._launch import kernel_launch
from socseq.rothc.modifiers import SoilWaterLimits, co2_partition, soil_water_limits
from socseq.rothc.parameters import DEFAULT_PARAMETERS, RothCParameters

FloatArray = NDArray[np.float64]
POOLS = ("DPM", "RPM", "BIO", "HUM")
"""Names of the active pools, in the order of the pool axis of every result."""

_FORCING_ORDER = (
    "tmp_degC",
    "rain_mm",
    "evap_mm",
    "plant_cover",
    "cover_factor",
    "c_inp_t_ha",
    "fym_t_ha",
    "dpm_rpm",
    "modern_fraction",
)


def _per_cell(name: str, value: ArrayLike, n_cells: int | None = None) -> FloatArray:
    arr = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if arr.ndim != 1:
        raise InputValidationError(
            f"{name}: expected a scalar or a 1-D array over cells, got shape {arr.shape}"
        )
    if n_cells is not None and arr.shape[0] not in (1, n_cells):
        raise InputValidationError(
            f"{name}: has {arr.shape[0]} values but there are "
            f"{n_cells} cells; give one value or one per cell"
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InputValidationError(
            f"{name}: value at cell {bad} is {arr[bad]}; every cell "
            "needs a finite value (mask the cell out instead)"
        )
    return arr


def per_cell_rows(arr: FloatArray, n_cells: int) -> FloatArray:
    """Expand the leading axis of a forcing-style array to one row per cell.

    One row is shared by every cell; ``n_groups`` rows serve equal groups of consecutive
    cells (the layout of :class:`MonthlyForcing`). Returns a new, writable array.
    """
    return np.repeat(arr, n_cells // arr.shape[0], axis=0)


def _all_finite(arr: FloatArray) -> bool:
    """Whether every value is finite: one summing pass in the usual case.

    A sum is finite only if every term is (NaN and infinities survive any sum, and opposite
    infinities give NaN), so a finite sum settles it without a boolean temporary of the
    array's size; a sum that overflows is checked value by value.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return True
    return bool(np.all(np.isfinite(arr)))


def _check_range(
    name: str, arr: FloatArray, low: float, high: float, units: str, low_open: bool = False
) -> None:
    # The extremes first (two passes, no temporaries); the position only for the message.
    if arr.size == 0:
        return
    lowest, highest = np.min(arr), np.max(arr)
    if (lowest > low if low_open else lowest >= low) and highest <= high:
        return
    too_low = arr <= low if low_open else arr < low
    bad = too_low | (arr > high)
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        bracket = "(" if low_open else "["
        raise InputValidationError(
            f"{name}: value {arr.ravel()[i]:g} {units} at position {i} is outside "
            f"{bracket}{low:g}, {high:g}]; check the units and the input layer"
        )


@dataclass(frozen=True)
class Soil:
    """Soil properties of one or many cells.

    Parameters
    ----------
    clay_pct : array_like
        Clay content [%], 0-100.
    depth_cm : array_like
        Depth of the simulated layer [cm] (23 in the standard RothC, 30 in GSOCseq).
    iom_t_ha : array_like
        Inert organic matter [t C/ha].
    opt_rmmoist : {1, 2, 3}
        Moisture option of RothC 2.0.0 (1 standard, 2/3 Farina et al. 2013 van Genuchten).
    opt_smdbare : {1, 2}
        Bare-soil deficit option of RothC 2.0.0.
    silt_pct, bulk_density_g_cm3, organic_carbon_pct, min_rm_moist : array_like, optional
        Needed for ``opt_rmmoist`` 2 and 3 only.
    """

    clay_pct: ArrayLike
    depth_cm: ArrayLike
    iom_t_ha: ArrayLike = 0.0
    opt_rmmoist: int = 1
    opt_smdbare: int = 1
    silt_pct: ArrayLike | None = None
    bulk_density_g_cm3: ArrayLike | None = None
    organic_carbon_pct: ArrayLike | None = None
    min_rm_moist: ArrayLike | None = None

    @property
    def n_cells(self) -> int:
        """Number of cells implied by the per-cell arrays (1 when all are scalars)."""
        sizes = {
            np.size(v)
            for v in (
                self.clay_pct,
                self.depth_cm,
                self.iom_t_ha,
                self.silt_pct,
                self.bulk_density_g_cm3,
                self.organic_carbon_pct,
                self.min_rm_moist,
            )
            if v is not None
        }
        return max(sizes)

    def validated(self, n_cells: int) -> _SoilArrays:
        """Check ranges and return kernel-ready arrays (internal)."""
        clay = _per_cell("clay_pct", self.clay_pct, n_cells)
        depth = _per_cell("depth_cm", self.depth_cm, n_cells)
        iom = _per_cell("iom_t_ha", self.iom_t_ha, n_cells)
        _check_range("clay_pct", clay, 0.0, 100.0, "%")
        _check_range("depth_cm", depth, 0.0, 1000.0, "cm", low_open=True)
        _check_range("iom_t_ha", iom, 0.0, 1e4, "t C/ha")
        if self.opt_rmmoist not in (1, 2, 3):
            raise InputValidationError(f"opt_rmmoist: must be 1, 2 or 3, got {self.opt_rmmoist}")
        if self.opt_smdbare not in (1, 2):
            raise InputValidationError(f"opt_smdbare: must be 1 or 2, got {self.opt_smdbare}")
        extra: dict[str, FloatArray | None] = {
            "silt_pct": None,
            "bulk_density_g_cm3": None,
            "organic_carbon_pct": None,
            "min_rm_moist": None,
        }
        if self.opt_rmmoist != 1:
            ranges = {
                "silt_pct": (0.0, 100.0, "%"),
                "bulk_density_g_cm3": (0.0, 3.0, "g/cm3"),
                "organic_carbon_pct": (0.0, 100.0, "%"),
                "min_rm_moist": (-1.0, 1.0, "-"),
            }
            for name, (low, high, units) in ranges.items():
                value = getattr(self, name)
                if value is None:
                    raise InputValidationError(
                        f"{name}: required when opt_rmmoist = {self.opt_rmmoist} "
                        "(van Genuchten moisture); give it or use opt_rmmoist = 1"
                    )
                arr = _per_cell(name, value, n_cells)
                _check_range(name, arr, low, high, units, low_open=name != "min_rm_moist")
                extra[name] = arr
            _check_range("clay_pct", clay, 0.0, 100.0, "%", low_open=True)
        return _SoilArrays(
            clay=clay,
            depth=depth,
            iom=iom,
            opt_rmmoist=self.opt_rmmoist,
            opt_smdbare=self.opt_smdbare,
            **extra,
        )


@dataclass(frozen=True)
class _SoilArrays:
    clay: FloatArray
    depth: FloatArray
    iom: FloatArray
    opt_rmmoist: int
    opt_smdbare: int
    silt_pct: FloatArray | None
    bulk_density_g_cm3: FloatArray | None
    organic_carbon_pct: FloatArray | None
    min_rm_moist: FloatArray | None

    def water_limits(self, params: RothCParameters) -> SoilWaterLimits:
        return soil_water_limits(
            self.clay,
            self.depth,
            opt_rmmoist=self.opt_rmmoist,
            opt_smdbare=self.opt_smdbare,
            silt_pct=self.silt_pct,
            bulk_density_g_cm3=self.bulk_density_g_cm3,
            organic_carbon_pct=self.organic_carbon_pct,
            min_rm_moist=self.min_rm_moist,
            params=params,
        )


@dataclass(frozen=True)
class MonthlyForcing:
    """Monthly climate and carbon inputs.

    Each field is a scalar, a ``(period,)`` series shared by all cells, an
    ``(n_cells, period)`` array, or an ``(n_groups, period)`` array whose row ``g`` serves the
    ``n_cells / n_groups`` consecutive cells of group ``g`` (the members of an ensemble that
    share their cell's climate, see :attr:`RunOptions.temperature_offset_degC`). Periods may
    differ; month ``m`` reads column ``m % period``.

    Parameters
    ----------
    tmp_degC : array_like
        Mean air temperature [degC].
    rain_mm : array_like
        Rainfall (plus irrigation) [mm/month].
    evap_mm : array_like
        Open-pan evaporation, or potential evapotranspiration with ``evap_coefficient = 1``
        [mm/month].
    plant_cover : array_like
        Official RothC PC flag: the water balance treats 1 as covered, the cover factor treats
        0 as bare.
    c_inp_t_ha : array_like
        Plant carbon input of the month [t C/ha].
    fym_t_ha : array_like
        Farmyard manure carbon input of the month [t C/ha].
    dpm_rpm : array_like
        DPM/RPM ratio of the plant input [-].
    modern_pct : array_like
        Radiocarbon of the input [% modern].
    cover_factor : array_like, optional
        Continuous cover rate modifier (GSOCseq, 0.6-1) replacing the PC rule for RM_PC; the
        water balance still uses ``plant_cover``.
    """

    tmp_degC: ArrayLike  # noqa: N815  (the unit, degC, keeps its capital)
    rain_mm: ArrayLike
    evap_mm: ArrayLike
    plant_cover: ArrayLike
    c_inp_t_ha: ArrayLike
    fym_t_ha: ArrayLike = 0.0
    dpm_rpm: ArrayLike = 1.44
    modern_pct: ArrayLike = 100.0
    cover_factor: ArrayLike | None = None

    def kernel_arrays(self, n_cells: int) -> tuple[tuple[FloatArray, ...], bool]:
        """Validate and return the kernel's nine ``(n_rows, period)`` arrays (internal).

        Nothing is tiled: a shared series keeps one row, a climatology keeps its 12 columns.
        """
        values = {
            "tmp_degC": self.tmp_degC,
            "rain_mm": self.rain_mm,
            "evap_mm": self.evap_mm,
            "plant_cover": self.plant_cover,
            "cover_factor": 1.0 if self.cover_factor is None else self.cover_factor,
            "c_inp_t_ha": self.c_inp_t_ha,
            "fym_t_ha": self.fym_t_ha,
            "dpm_rpm": self.dpm_rpm,
            "modern_fraction": np.asarray(self.modern_pct, dtype=np.float64) / 100.0,
        }
        arrays: dict[str, FloatArray] = {}
        for name in _FORCING_ORDER:
            arr = np.asarray(values[name], dtype=np.float64)
            if arr.ndim == 0:
                arr = arr.reshape(1, 1)
            elif arr.ndim == 1:
                arr = arr.reshape(1, -1)
            elif arr.ndim != 2 or arr.shape[0] == 0 or n_cells % arr.shape[0]:
                raise InputValidationError(
                    f"forcing '{name}': shape {arr.shape} does not fit {n_cells} cells; "
                    "give a scalar, a (months,) series, a (cells, months) array or one row "
                    "per equal group of consecutive cells"
                )
            if arr.shape[1] == 0:
                raise InputValidationError(f"forcing '{name}': has no months")
            if not _all_finite(arr):
                cell, month = np.argwhere(~np.isfinite(arr))[0]
                raise InputValidationError(
                    f"forcing '{name}': missing value (NaN) at cell {cell}, month {month}; "
                    "fill the gap or mask the cell out"
                )
            # numba compiles one signature per tuple: a read-only member (a broadcast view, a
            # parsed file) next to writable ones is refused, so every member is made writable.
            arrays[name] = np.require(arr, np.float64, ["C_CONTIGUOUS", "WRITEABLE"])
        _check_range("forcing 'tmp_degC'", arrays["tmp_degC"], -90.0, 65.0, "degC")
        _check_range("forcing 'c_inp_t_ha'", arrays["c_inp_t_ha"], 0.0, 1e3, "t C/ha")
        _check_range("forcing 'fym_t_ha'", arrays["fym_t_ha"], 0.0, 1e3, "t C/ha")
        _check_range("forcing 'dpm_rpm'", arrays["dpm_rpm"], 0.0, 1e6, "-")
        if self.cover_factor is not None:
            _check_range("forcing 'cover_factor'", arrays["cover_factor"], 0.0, 1.0, "-")
        return tuple(arrays[name] for name in _FORCING_ORDER), self.cover_factor is not None


@dataclass
class RothCState:
    """State of many cells between runs (pools, moisture deficit, CO2, radiocarbon ages).

    Attributes
    ----------
    pools : numpy.ndarray
        ``(n_cells, 4)`` DPM, RPM, BIO, HUM [t C/ha].
    iom : numpy.ndarray
        ``(n_cells,)`` inert organic matter [t C/ha].
    smd : numpy.ndarray
        ``(n_cells,)`` soil moisture deficit at the end of the last month [mm].
    co2 : numpy.ndarray
        ``(n_cells,)`` CO2 released since the accumulator was last reset [t C/ha].
    ages : numpy.ndarray or None
        ``(n_cells, 4)`` radiocarbon ages of the active pools [yr], or None.
    """

    pools: FloatArray
    iom: FloatArray
    smd: FloatArray
    co2: FloatArray
    ages: FloatArray | None = None

    @classmethod
    def empty(cls, n_cells: int, iom: ArrayLike = 0.0, radiocarbon: bool = False) -> RothCState:
        """Start state of the official program: empty pools, soil at field capacity."""
        return cls(
            pools=np.zeros((n_cells, 4)),
            iom=np.broadcast_to(np.asarray(iom, dtype=np.float64), (n_cells,)).copy(),
            smd=np.zeros(n_cells),
            co2=np.zeros(n_cells),
            ages=np.zeros((n_cells, 4)) if radiocarbon else None,
        )

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return int(self.pools.shape[0])

    @property
    def soc(self) -> FloatArray:
        """Total soil organic carbon, pools + IOM [t C/ha]."""
        soc: FloatArray = self.pools.sum(axis=1) + self.iom
        return soc

    def copy(self) -> RothCState:
        """Return an independent copy."""
        return RothCState(
            self.pools.copy(),
            self.iom.copy(),
            self.smd.copy(),
            self.co2.copy(),
            None if self.ages is None else self.ages.copy(),
        )

    def packed(self) -> FloatArray:
        """Kernel layout ``(n_cells, 6)`` (internal)."""
        return np.ascontiguousarray(
            np.column_stack([self.pools, self.smd, self.co2]), dtype=np.float64
        )

    def unpack(self, packed: FloatArray) -> None:
        """Copy a kernel state back (internal)."""
        self.pools[:] = packed[:, :4]
        self.smd[:] = packed[:, 4]
        self.co2[:] = packed[:, 5]


@dataclass(frozen=True)
class RunOptions:
    """Switches of a run that are not soil or climate data.

    Parameters
    ----------
    evap_coefficient : float
        Multiplier of the evaporation input in the water balance: 0.75 for open-pan evaporation
        (official RothC), 1.0 when the input is potential evapotranspiration (GSOCseq).
    rate_factor : array_like
        Extra multiplier of the decomposition rate per cell (1; 0.4 for paddy in GSOCseq).
    radiocarbon : bool
        Track radiocarbon ages and deltaC (slower).
    temperature_scale, temperature_offset_degC, rain_scale : array_like
        Climate perturbation per cell, applied as the forcing is read:
        ``T' = T * temperature_scale + temperature_offset_degC`` [degC] and
        ``rain' = rain * rain_scale`` [mm]. Sensitivity and ensemble runs share one copy of the
        climate this way (defaults 1, 0, 1 leave every value unchanged, bit for bit).
    """

    evap_coefficient: float = 0.75
    rate_factor: ArrayLike = 1.0
    radiocarbon: bool = False
    temperature_scale: ArrayLike = 1.0
    temperature_offset_degC: ArrayLike = 0.0  # noqa: N815
    rain_scale: ArrayLike = 1.0

    def per_cell_values(self) -> tuple[ArrayLike, ...]:
        """Return the options that may hold one value per cell (to count the cells)."""
        return tuple(getattr(self, name) for name, *_ in _PER_CELL_OPTIONS)

    def cell_constants(self, n_cells: int) -> FloatArray:
        """Kernel layout ``(n, 5)`` of the per-cell constants (internal).

        Columns ``_kernel.C_*``: evaporation coefficient, rate factor, temperature scale and
        offset [degC], rain scale.
        """
        if not 0.0 <= self.evap_coefficient <= 2.0:
            raise InputValidationError(
                f"evap_coefficient: {self.evap_coefficient} is outside [0, 2]; use 0.75 for "
                "open-pan evaporation or 1.0 for potential evapotranspiration"
            )
        columns = {}
        for name, column, low, high, units in _PER_CELL_OPTIONS:
            columns[column] = _per_cell(name, getattr(self, name), n_cells)
            _check_range(name, columns[column], low, high, units)
        out = np.empty((max(arr.shape[0] for arr in columns.values()), _kernel.N_CELL_CONSTS))
        out[:, _kernel.C_EVAP] = self.evap_coefficient
        for column, values in columns.items():
            out[:, column] = values
        return out


#: Options that may vary per cell: name, column of the kernel's cell constants, valid range.
_PER_CELL_OPTIONS = (
    ("rate_factor", _kernel.C_RATE, 0.0, 10.0, "-"),
    ("temperature_scale", _kernel.C_TMP_SCALE, 0.0, 10.0, "-"),
    ("temperature_offset_degC", _kernel.C_TMP_OFFSET, -50.0, 50.0, "degC"),
    ("rain_scale", _kernel.C_RAIN_SCALE, 0.0, 10.0, "-"),
)

RecordSpec = Literal["month", "year", "end"] | ArrayLike


@dataclass
class RunResult:
    """Recorded output of :func:`run`.

    Attributes
    ----------
    months : numpy.ndarray
        ``(n_rec,)`` 0-based month indices of the records (state after that month).
    pools : numpy.ndarray
        ``(n_cells, n_rec, 4)`` DPM, RPM, BIO, HUM [t C/ha].
    iom : numpy.ndarray
        ``(n_cells,)`` IOM [t C/ha].
    co2 : numpy.ndarray
        ``(n_cells, n_rec)`` CO2 accumulated since the start state's accumulator [t C/ha].
    diagnostics : dict or None
        ``smd_mm``, ``rm_tmp``, ``rm_moist``, ``rm_pc`` of the recorded months, each
        ``(n_cells, n_rec)``, when asked for.
    total_age : numpy.ndarray or None
        ``(n_cells, n_rec)`` radiocarbon age of the whole soil [yr], with radiocarbon.
    state : RothCState
        State after the last month, to continue with another run.
    """

    months: NDArray[np.int64]
    pools: FloatArray
    iom: FloatArray
    co2: FloatArray
    state: RothCState
    diagnostics: dict[str, FloatArray] | None = None
    total_age: FloatArray | None = field(default=None)

    @property
    def soc(self) -> FloatArray:
        """``(n_cells, n_rec)`` total SOC [t C/ha]."""
        soc: FloatArray = self.pools.sum(axis=2) + self.iom[:, None]
        return soc

    def delta_c(self, params: RothCParameters = DEFAULT_PARAMETERS) -> FloatArray:
        """Radiocarbon ``deltaC = (exp(-age/8035) - 1) 1000`` [per mil], as RothC prints it."""
        if self.total_age is None:
            raise ValueError("run without radiocarbon: pass RunOptions(radiocarbon=True)")
        return delta_c_from_age(self.total_age, params)


def delta_c_from_age(age: ArrayLike, params: RothCParameters = DEFAULT_PARAMETERS) -> FloatArray:
    """Delta 14C [per mil] from a radiocarbon age [yr], with RothC's 8035-year constant."""
    return (np.exp(-np.asarray(age, dtype=np.float64) / params.delta_c_age_constant) - 1.0) * 1000.0


def kernel_constants(params: RothCParameters) -> FloatArray:
    """Return the ``consts`` vector of the kernels (internal)."""
    c = np.empty(_kernel.N_CONSTS)
    c[_kernel.K_DPM], c[_kernel.K_RPM] = params.k_dpm, params.k_rpm
    c[_kernel.K_BIO], c[_kernel.K_HUM] = params.k_bio, params.k_hum
    c[_kernel.TSTEP] = params.tstep
    c[_kernel.TMP_A], c[_kernel.TMP_B] = params.tmp_a, params.tmp_b
    c[_kernel.TMP_C], c[_kernel.TMP_MIN] = params.tmp_c, params.tmp_min
    c[_kernel.COVER_RM] = params.cover_factor
    c[_kernel.FYM_DPM], c[_kernel.FYM_RPM] = params.fym_dpm, params.fym_rpm
    c[_kernel.FYM_HUM] = params.fym_hum
    c[_kernel.CONR], c[_kernel.IOM_AGE] = params.conr, params.iom_age
    c[_kernel.DELTA_C_AGE] = params.delta_c_age_constant
    c[_kernel.SPINUP_TOL] = params.spinup_tolerance
    return c


@dataclass(frozen=True)
class PreparedCells:
    """Kernel-ready per-cell constants and forcing (internal, shared by run and equilibrium)."""

    n_cells: int
    clay: FloatArray
    iom: FloatArray
    fractions: FloatArray
    water: FloatArray
    cell_consts: FloatArray
    forcing: tuple[FloatArray, ...]
    use_cover_factor: bool
    consts: FloatArray


def infer_n_cells(soil: Soil, forcing: MonthlyForcing, *others: ArrayLike | None) -> int:
    """Return the number of cells implied by per-cell soil values, 2-D forcing and others."""
    n_cells = soil.n_cells
    for name in _FORCING_ORDER[:-1]:
        value = getattr(forcing, name, None)
        if value is not None and np.ndim(value) == 2:
            n_cells = max(n_cells, np.shape(value)[0])
    for value in others:
        if value is not None:
            n_cells = max(n_cells, int(np.size(value)))
    return n_cells


def prepare(
    soil: Soil,
    forcing: MonthlyForcing,
    options: RunOptions,
    params: RothCParameters,
    n_cells: int | None = None,
) -> PreparedCells:
    """Validate inputs and build the kernel arrays (internal)."""
    if n_cells is None:
        n_cells = infer_n_cells(soil, forcing)
    arrays = soil.validated(n_cells)
    limits = arrays.water_limits(params)
    water = np.ascontiguousarray(
        np.column_stack(
            [limits.smd_wilt, limits.smd_1bar, limits.smd_bare, limits.smd_max, limits.min_rm_moist]
        )
    )
    fractions = np.ascontiguousarray(np.column_stack(co2_partition(arrays.clay, params)))
    kernel_forcing, use_cover = forcing.kernel_arrays(n_cells)
    return PreparedCells(
        n_cells=n_cells,
        clay=np.broadcast_to(arrays.clay, (n_cells,)).copy(),
        iom=np.broadcast_to(arrays.iom, (n_cells,)).copy(),
        fractions=fractions,
        water=water,
        cell_consts=options.cell_constants(n_cells),
        forcing=kernel_forcing,
        use_cover_factor=use_cover,
        consts=kernel_constants(params),
    )


def _record_months(record: RecordSpec, n_months: int, start_month: int) -> NDArray[np.int64]:
    if isinstance(record, str):
        if record == "month":
            return np.arange(n_months, dtype=np.int64)
        if record == "year":
            first = (12 - start_month) % 12
            return np.arange(first, n_months, 12, dtype=np.int64)
        if record == "end":
            return np.array([n_months - 1], dtype=np.int64)
        raise ValueError(f"record must be 'month', 'year', 'end' or month indices, got {record!r}")
    months = np.unique(np.asarray(record, dtype=np.int64))
    if months.size and (months[0] < 0 or months[-1] >= n_months):
        raise ValueError(f"record months must lie in [0, {n_months - 1}]")
    return months


def run(
    soil: Soil,
    forcing: MonthlyForcing,
    n_months: int,
    *,
    state: RothCState | None = None,
    record: RecordSpec = "year",
    start_month: int = 1,
    options: RunOptions | None = None,
    diagnostics: bool = False,
    params: RothCParameters = DEFAULT_PARAMETERS,
) -> RunResult:
    """Run RothC month by month for many cells.

    Each month: temperature, moisture (end-of-month deficit) and cover modifiers, exact
    exponential decay of DPM, RPM, BIO and HUM with the monthly rate, partition of the
    decomposed carbon into CO2/BIO/HUM, then the month's plant and manure inputs
    (rothc-model.md §3-§5).

    Parameters
    ----------
    soil : Soil
        Soil properties per cell.
    forcing : MonthlyForcing
        Monthly climate and inputs (cyclic when shorter than ``n_months``).
    n_months : int
        Number of months to run.
    state : RothCState, optional
        Start state (continued, not modified), IOM included: the soil's ``iom_t_ha`` is then
        not used. Default: empty pools at field capacity with the soil's IOM.
    record : {"month", "year", "end"} or array of int
        When to record the state: every month, every December, only the end, or after the
        given 0-based months. Nothing else is kept in memory.
    start_month : int
        Calendar month (1-12) of the first simulated month, to place the Decembers.
    options : RunOptions, optional
        Evaporation coefficient, extra rate factor, radiocarbon.
    diagnostics : bool
        Also record SMD [mm] and the rate modifiers of the recorded months.
    params : RothCParameters
        Model constants.

    Returns
    -------
    RunResult
        Recorded pools, CO2, diagnostics and the final state.
    """
    options = options or RunOptions()
    if n_months < 1:
        raise InputValidationError(f"n_months: must be at least 1, got {n_months}")
    n_cells = (
        state.n_cells
        if state is not None
        else infer_n_cells(soil, forcing, *options.per_cell_values())
    )
    prepared = prepare(soil, forcing, options, params, n_cells)
    n_cells = prepared.n_cells
    if state is None:
        state = RothCState.empty(n_cells, prepared.iom, options.radiocarbon)
    else:
        # IOM is part of the state: a spin-up fitted to a target SOC set it (Falloon), and a
        # continuation must keep it whatever the soil's default iom_t_ha says.
        state = state.copy()
        if options.radiocarbon and state.ages is None:
            raise InputValidationError(
                "state: has no radiocarbon ages but radiocarbon=True; "
                "start from a state computed with radiocarbon"
            )
    months = _record_months(record, n_months, start_month)
    n_rec = months.shape[0]
    out_pools = np.empty((n_cells, n_rec, 4))
    out_co2 = np.empty((n_cells, n_rec))
    out_diag = np.empty((n_cells, n_rec, _kernel.N_DIAG) if diagnostics else (0, 0, 4))
    out_age = np.empty((n_cells, n_rec) if options.radiocarbon else (0, 0))
    packed = state.packed()
    ages = (
        np.ascontiguousarray(state.ages)
        if options.radiocarbon and state.ages is not None
        else np.empty((0, 4))
    )
    iom = np.ascontiguousarray(state.iom, dtype=np.float64)
    with kernel_launch():
        _kernel.run_cells(
            packed,
            ages,
            iom,
            prepared.fractions,
            prepared.water,
            prepared.cell_consts,
            prepared.forcing,
            prepared.use_cover_factor,
            n_months,
            months,
            out_pools,
            out_co2,
            out_diag,
            out_age,
            prepared.consts,
        )
    state.unpack(packed)
    if options.radiocarbon:
        state.ages = ages
    diag = None
    if diagnostics:
        diag = {
            "smd_mm": out_diag[:, :, _kernel.DIAG_SMD],
            "rm_tmp": out_diag[:, :, _kernel.DIAG_RM_TMP],
            "rm_moist": out_diag[:, :, _kernel.DIAG_RM_MOIST],
            "rm_pc": out_diag[:, :, _kernel.DIAG_RM_PC],
        }
    return RunResult(
        months=months,
        pools=out_pools,
        iom=iom.copy(),
        co2=out_co2,
        state=state,
        diagnostics=diag,
        total_age=out_age if options.radiocarbon else None,
    )
