"""Numba kernels of RothC: loops over cells (parallel) and months (sequential).

Numbers only: this module imports numpy and numba and nothing else of socseq. Public wrappers
with validation and units live in :mod:`socseq.rothc.model` and :mod:`socseq.rothc.equilibrium`.

Conventions
-----------
- Pools are ``(DPM, RPM, BIO, HUM)`` in t C/ha; IOM is constant and kept apart.
- Monthly forcing is a tuple of nine 2-D arrays (T, rain, evap, PC, cover factor, C input, FYM,
  DPM/RPM, modern fraction), each of shape ``(n_rows, period)``: ``n_rows`` divides the number
  of cells and each row serves ``n_cells / n_rows`` consecutive cells (1 row: shared by every
  cell; ``n_cells`` rows: one per cell; in between: the members of an ensemble sharing their
  cell's climate); month ``m`` of a run reads column ``m % period`` of each array, so neither a
  12-month climatology, a constant input nor an ensemble's shared climate is ever repeated in
  memory.
- Per-cell constants have shape ``(n_cells,)`` or ``(1,)`` (shared); the per-cell climate
  perturbation ``T' = T * scale + offset``, ``rain' = rain * scale`` is applied as the forcing
  is read.
- The order of floating-point operations follows the official Fortran RothC 2.0.0
  (``docs/rothc-model.md`` §3-§5) so that results agree to the last printed digit.
"""

# Long module: every numba kernel of RothC with the inline helpers and index constants they share:
# one compilation unit of numbers-only code, kept apart from every wrapper.

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

# Indices into the ``consts`` vector passed to the kernels.
(
    K_DPM,
    K_RPM,
    K_BIO,
    K_HUM,
    TSTEP,
    TMP_A,
    TMP_B,
    TMP_C,
    TMP_MIN,
    COVER_RM,
    FYM_DPM,
    FYM_RPM,
    FYM_HUM,
    CONR,
    IOM_AGE,
    DELTA_C_AGE,
    SPINUP_TOL,
) = range(17)
N_CONSTS = 17

# Indices of the recorded diagnostics.
DIAG_SMD, DIAG_RM_TMP, DIAG_RM_MOIST, DIAG_RM_PC = range(4)
N_DIAG = 4

# Columns of the per-cell constants ``cell_consts``.
C_EVAP, C_RATE, C_TMP_SCALE, C_TMP_OFFSET, C_RAIN_SCALE = range(5)
N_CELL_CONSTS = 5

_JIT: dict[str, Any] = {"cache": True, "error_model": "numpy"}
N_FORCING = 9
F_TMP, F_RAIN, F_EVAP, F_PC, F_COVER, F_CINP, F_FYM, F_RATIO, F_MODERN = range(N_FORCING)


@njit(inline="always", **_JIT)
def _row(a, c, n_cells):
    """Row of forcing array ``a`` that serves cell ``c`` (consecutive cells share a row)."""
    rows = a.shape[0]
    if rows == 1:
        return 0
    if rows == n_cells:
        return c
    return c // (n_cells // rows)  # the division only for grouped rows (ensembles)


@njit(inline="always", **_JIT)
def _rm_tmp(t, a, b, c, tmin):
    if t < tmin:
        return 0.0
    return a / (math.exp(b / (t + c)) + 1.0)


@njit(cache=True, error_model="numpy", nogil=True)
def temperature_modifier_array(t, a, b, c, tmin):  # pragma: no cover - compiled
    """RM_TMP for a flat array of temperatures [degC]."""
    out = np.empty(t.shape[0])
    for i in range(t.shape[0]):
        out[i] = _rm_tmp(t[i], a, b, c, tmin)
    return out


@njit(inline="always", **_JIT)
def _update_smd(smd, rain, evap, evap_coef, covered, smd_bare, smd_max):
    """End-of-month deficit from the previous one (rothc-model.md §3.2d)."""
    df = rain - evap_coef * evap
    if covered:
        return max(smd_max, min(0.0, smd + df))
    return max(min(smd_bare, smd), min(0.0, smd + df))


@njit(inline="always", **_JIT)
def _rm_moist(smd, smd_wilt, smd_1bar, min_rm):
    """RM_Moist from the end-of-month deficit (rothc-model.md §3.2e); the one implementation."""
    if smd > smd_1bar:
        return 1.0
    if smd <= smd_wilt:
        return min_rm
    return min_rm + ((1.0 - min_rm) * (smd_wilt - smd)) / (smd_wilt - smd_1bar)


@njit(cache=True, error_model="numpy", nogil=True)
def moisture_modifier_array(smd, smd_wilt, smd_1bar, min_rm):  # pragma: no cover - compiled
    """RM_Moist for flat arrays of equal length: deficit and limits [mm], minimum [-]."""
    out = np.empty(smd.shape[0])
    for i in range(smd.shape[0]):
        out[i] = _rm_moist(smd[i], smd_wilt[i], smd_1bar[i], min_rm[i])
    return out


@njit(inline="always", **_JIT)
def _rm_pc(pc, cover_factor_value, use_cover_factor, cover_rm):
    if use_cover_factor:
        return cover_factor_value
    if pc == 0.0:
        return 1.0
    return cover_rm


@njit(inline="always", **_JIT)
def _decay_factors(rate_m, consts):
    ts = consts[TSTEP]
    return (
        math.exp(-rate_m * consts[K_DPM] * ts),
        math.exp(-rate_m * consts[K_RPM] * ts),
        math.exp(-rate_m * consts[K_BIO] * ts),
        math.exp(-rate_m * consts[K_HUM] * ts),
    )


@njit(cache=True, error_model="numpy", parallel=True, nogil=True)
def run_cells(
    state,
    ages,
    iom,
    fractions,
    water,
    cell_consts,
    forcing,
    use_cover_factor,
    n_months,
    record,
    out_pools,
    out_co2,
    out_diag,
    out_age,
    consts,
):  # pragma: no cover - compiled
    """Run RothC for many cells and months, updating ``state`` in place.

    Parameters
    ----------
    state : (n_cells, 6) float64, in/out
        DPM, RPM, BIO, HUM [t C/ha], SMD [mm], accumulated CO2 [t C/ha].
    ages : (n_cells, 4) float64, in/out
        Radiocarbon ages of DPM, RPM, BIO, HUM [yr]; shape (0, 4) disables radiocarbon.
    iom : (n_cells,) or (1,)
        Inert organic matter [t C/ha].
    fractions : (n, 3)
        f_CO2, f_BIO, f_HUM of decomposed carbon.
    water : (n, 5)
        SMD15adj, SMD1bar, SMDbare, SMDmax [mm], minimum moisture modifier.
    cell_consts : (n, 5)
        Evaporation coefficient, extra rate factor (paddy 0.4), temperature scale and offset
        [degC], rain scale (see the ``C_*`` column names).
    forcing : tuple of nine (n_rows, period) float64 arrays
        T [degC], rain [mm], evap [mm], PC, cover factor, C input, FYM [t C/ha], DPM/RPM,
        modern [fraction]; ``n_rows`` divides n_cells, periods may differ.
    use_cover_factor : bool
        Use forcing row 4 as RM_PC (continuous cover, GSOCseq) instead of the PC rule.
    n_months : int
        Months to run.
    record : (n_rec,) int64
        Sorted month indices after which the state is recorded.
    out_pools : (n_cells, n_rec, 4), out_co2 : (n_cells, n_rec)
        Recorded pools and accumulated CO2.
    out_diag : (n_cells, n_rec, 4) or (0, 0, 4)
        Recorded SMD, RM_TMP, RM_Moist, RM_PC of the recorded month.
    out_age : (n_cells, n_rec) or (0, 0)
        Recorded total radiocarbon age of the soil [yr].
    consts : (17,)
        Model constants (see the index names in this module).
    """
    n_cells = state.shape[0]
    radiocarbon = ages.shape[0] > 0
    n_rec = record.shape[0]
    for cell in prange(n_cells):
        c = np.int64(cell)  # prange's index may be unsigned; keep index arithmetic in int64
        rows, periods = _forcing_layout(forcing, c, n_cells)
        cols = np.zeros(N_FORCING, dtype=np.int64)
        cf = 0 if fractions.shape[0] == 1 else c
        f_co2, f_bio, f_hum = fractions[cf, 0], fractions[cf, 1], fractions[cf, 2]
        iom_c = iom[0 if iom.shape[0] == 1 else c]
        dpm, rpm, bio, hum = state[c, 0], state[c, 1], state[c, 2], state[c, 3]
        smd, co2 = state[c, 4], state[c, 5]
        a_d = a_r = a_b = a_h = 0.0
        if radiocarbon:
            a_d, a_r, a_b, a_h = ages[c, 0], ages[c, 1], ages[c, 2], ages[c, 3]
        # When the forcing that drives the rate modifiers repeats every 12 months and a year
        # starts with the deficit the previous one started with, that year's deficits,
        # modifiers and decay factors repeat bit for bit: replay them instead of recomputing
        # five exponentials a month (rothc-model.md §3.2: the deficit ignores the pools).
        periodic_rates = _rates_repeat_yearly(periods, n_months)
        year_cache = np.empty((12 if periodic_rates else 0, 8))
        replay = False
        year_start_smd = smd
        r = 0
        for m in range(n_months):
            month = m % 12
            if periodic_rates and month == 0 and m > 0 and not replay:
                replay = smd == year_start_smd
                year_start_smd = smd
            if replay:
                rates = _cached_rates(year_cache, month)
            else:
                rates = _month_rates(
                    smd, forcing, rows, cols, water, cell_consts, c, use_cover_factor, consts
                )
                if periodic_rates:
                    _cache_rates(year_cache, month, rates)
            e_d, e_r, e_b, e_h, smd, rm_tmp, rm_moist, rm_pc = rates
            dpm1, rpm1, bio1, hum1 = dpm * e_d, rpm * e_r, bio * e_b, hum * e_h
            d_d, d_r, d_b, d_h = dpm - dpm1, rpm - rpm1, bio - bio1, hum - hum1
            c_inp = forcing[F_CINP][rows[F_CINP], cols[F_CINP]]
            fym = forcing[F_FYM][rows[F_FYM], cols[F_FYM]]
            ratio = forcing[F_RATIO][rows[F_RATIO], cols[F_RATIO]]
            plant_dpm = ratio / (ratio + 1.0) * c_inp
            plant_rpm = 1.0 / (ratio + 1.0) * c_inp
            fym_dpm = consts[FYM_DPM] * fym
            fym_rpm = consts[FYM_RPM] * fym
            fym_hum = consts[FYM_HUM] * fym
            new_bio = bio1 + d_d * f_bio + d_r * f_bio + d_b * f_bio + d_h * f_bio
            new_hum = hum1 + d_d * f_hum + d_r * f_hum + d_b * f_hum + d_h * f_hum
            co2 = co2 + d_d * f_co2 + d_r * f_co2 + d_b * f_co2 + d_h * f_co2
            new_dpm = dpm1 + plant_dpm + fym_dpm
            new_rpm = rpm1 + plant_rpm + fym_rpm
            new_hum = new_hum + fym_hum
            total_age = 0.0
            if radiocarbon:
                a_d, a_r, a_b, a_h, total_age = _radiocarbon_ages(
                    (a_d, a_r, a_b, a_h),
                    (dpm1, rpm1, bio1, hum1),
                    (d_d, d_r, d_b, d_h),
                    (new_dpm, new_rpm, new_bio, new_hum),
                    (plant_dpm, plant_rpm, fym_dpm, fym_rpm, fym_hum),
                    f_bio,
                    f_hum,
                    iom_c,
                    forcing[F_MODERN][rows[F_MODERN], cols[F_MODERN]],
                    consts,
                )
            dpm, rpm, bio, hum = new_dpm, new_rpm, new_bio, new_hum
            if r < n_rec and record[r] == m:
                _record(
                    out_pools, out_co2, out_diag, out_age, c, r, (dpm, rpm, bio, hum), co2,
                    (smd, rm_tmp, rm_moist, rm_pc), total_age,
                )  # fmt: skip
                r += 1
            _next_month(cols, periods)
        state[c, 0], state[c, 1], state[c, 2], state[c, 3] = dpm, rpm, bio, hum
        state[c, 4], state[c, 5] = smd, co2
        if radiocarbon:
            ages[c, 0], ages[c, 1], ages[c, 2], ages[c, 3] = a_d, a_r, a_b, a_h


@njit(inline="always", **_JIT)
def _forcing_layout(forcing, c, n_cells):
    """Row of each forcing array serving cell ``c``, and each array's period [months]."""
    rows = np.empty(N_FORCING, dtype=np.int64)
    periods = np.empty(N_FORCING, dtype=np.int64)
    for v in range(N_FORCING):
        rows[v] = _row(forcing[v], c, n_cells)
        periods[v] = forcing[v].shape[1]
    return rows, periods


@njit(inline="always", **_JIT)
def _rates_repeat_yearly(periods, n_months):
    """Return whether the rate drivers (T, rain, evap, PC, cover) repeat every 12 months."""
    if n_months <= 12:
        return False
    for v in range(F_COVER + 1):
        if 12 % periods[v] != 0:
            return False
    return True


@njit(inline="always", **_JIT)
def _month_rates(smd, forcing, rows, cols, water, cell_consts, c, use_cover_factor, consts):
    """Decay factors, end-of-month deficit and the three modifiers of one month and cell."""
    cw = 0 if water.shape[0] == 1 else c
    cc = 0 if cell_consts.shape[0] == 1 else c
    tmp = (
        forcing[F_TMP][rows[F_TMP], cols[F_TMP]] * cell_consts[cc, C_TMP_SCALE]
        + cell_consts[cc, C_TMP_OFFSET]
    )
    pc = forcing[F_PC][rows[F_PC], cols[F_PC]]
    rm_tmp = _rm_tmp(tmp, consts[TMP_A], consts[TMP_B], consts[TMP_C], consts[TMP_MIN])
    smd = _update_smd(
        smd,
        forcing[F_RAIN][rows[F_RAIN], cols[F_RAIN]] * cell_consts[cc, C_RAIN_SCALE],
        forcing[F_EVAP][rows[F_EVAP], cols[F_EVAP]],
        cell_consts[cc, C_EVAP],
        pc == 1.0,
        water[cw, 2],
        water[cw, 3],
    )
    rm_moist = _rm_moist(smd, water[cw, 0], water[cw, 1], water[cw, 4])
    rm_pc = _rm_pc(
        pc,
        forcing[F_COVER][rows[F_COVER], cols[F_COVER]],
        use_cover_factor,
        consts[COVER_RM],
    )
    rate_m = rm_tmp * rm_moist * rm_pc * cell_consts[cc, C_RATE]
    e_d, e_r, e_b, e_h = _decay_factors(rate_m, consts)
    return e_d, e_r, e_b, e_h, smd, rm_tmp, rm_moist, rm_pc


@njit(inline="always", **_JIT)
def _cache_rates(year_cache, month, rates):
    for k in range(8):
        year_cache[month, k] = rates[k]


@njit(inline="always", **_JIT)
def _cached_rates(year_cache, month):
    return (
        year_cache[month, 0],
        year_cache[month, 1],
        year_cache[month, 2],
        year_cache[month, 3],
        year_cache[month, 4],
        year_cache[month, 5],
        year_cache[month, 6],
        year_cache[month, 7],
    )


@njit(inline="always", **_JIT)
def _radiocarbon_ages(
    ages, survived, decomposed, pools, inputs, f_bio, f_hum, iom_c, modern, consts
):
    """Return the new radiocarbon ages of the pools and the soil's total age (§5)."""
    a_d, a_r, a_b, a_h = ages
    dpm1, rpm1, bio1, hum1 = survived
    d_d, d_r, d_b, d_h = decomposed
    new_dpm, new_rpm, new_bio, new_hum = pools
    plant_dpm, plant_rpm, fym_dpm, fym_rpm, fym_hum = inputs
    conr = consts[CONR]
    exc = math.exp(-conr * consts[TSTEP])
    e_ad = math.exp(-conr * a_d)
    e_ar = math.exp(-conr * a_r)
    e_ab = math.exp(-conr * a_b)
    e_ah = math.exp(-conr * a_h)
    act_d = modern * fym_dpm + modern * plant_dpm + dpm1 * e_ad * exc
    act_r = modern * fym_rpm + modern * plant_rpm + rpm1 * e_ar * exc
    act_b = (
        bio1 * e_ab
        + d_d * f_bio * e_ad
        + d_r * f_bio * e_ar
        + d_b * f_bio * e_ab
        + d_h * f_bio * e_ah
    ) * exc
    act_h = (
        modern * fym_hum
        + (
            hum1 * e_ah
            + d_d * f_hum * e_ad
            + d_r * f_hum * e_ar
            + d_b * f_hum * e_ab
            + d_h * f_hum * e_ah
        )
        * exc
    )
    act_i = iom_c * math.exp(-conr * consts[IOM_AGE])
    a_d = math.log(new_dpm / act_d) / conr if new_dpm > 0.0 else 0.0
    a_r = math.log(new_rpm / act_r) / conr if new_rpm > 0.0 else 0.0
    a_b = math.log(new_bio / act_b) / conr if new_bio > 0.0 else 0.0
    a_h = math.log(new_hum / act_h) / conr if new_hum > 0.0 else 0.0
    total_age = 0.0
    soc = new_dpm + new_rpm + new_bio + new_hum + iom_c
    if soc > 0.0:
        total_age = math.log(soc / (act_d + act_r + act_b + act_h + act_i)) / conr
    return a_d, a_r, a_b, a_h, total_age


@njit(inline="always", **_JIT)
def _record(out_pools, out_co2, out_diag, out_age, c, r, pools, co2, diag, total_age):
    """Store record ``r`` of cell ``c``: pools, CO2 and, when asked for, diagnostics and age."""
    for p in range(4):
        out_pools[c, r, p] = pools[p]
    out_co2[c, r] = co2
    if out_diag.shape[0] > 0:
        out_diag[c, r, DIAG_SMD] = diag[0]
        out_diag[c, r, DIAG_RM_TMP] = diag[1]
        out_diag[c, r, DIAG_RM_MOIST] = diag[2]
        out_diag[c, r, DIAG_RM_PC] = diag[3]
    if out_age.shape[0] > 0:
        out_age[c, r] = total_age


@njit(inline="always", **_JIT)
def _next_month(cols, periods):
    """Advance every forcing array's column by one month, cyclically."""
    for v in range(N_FORCING):
        cols[v] += 1
        if cols[v] == periods[v]:
            cols[v] = 0


@njit(cache=True, error_model="numpy", parallel=True, nogil=True)
def spinup_iterative(
    state,
    ages,
    iom,
    fractions,
    water,
    cell_consts,
    forcing,
    use_cover_factor,
    max_years,
    out_age_total,
    out_months,
    consts,
):  # pragma: no cover - compiled
    """Rothamsted spin-up: repeat the 12 forcing months until the yearly change is small.

    After each 12th month ``TOC1 = DPM+RPM+BIO+HUM`` (IOM excluded) and
    ``test = |TOC1 - TOC0|``; the loop stops before the next year when ``test < tol``
    (strict), with TOC1 starting at 0, as ``Shell.for`` does (rothc-model.md §6).
    Forcing periods must divide 12. ``state``/``ages`` are updated in place; the number of
    spin-up months per cell goes to ``out_months`` (-1 when ``max_years`` was reached), the
    total radiocarbon age at the end to ``out_age_total``.
    """
    n_cells = state.shape[0]
    tol = consts[SPINUP_TOL]
    record = np.empty(0, dtype=np.int64)
    for cell in prange(n_cells):
        c = np.int64(cell)
        cell_state = state[c : c + 1]
        cell_ages = ages[c : c + 1] if ages.shape[0] > 0 else ages
        cell_forcing = _cell_forcing(forcing, c, n_cells)
        iom_c = iom[c : c + 1] if iom.shape[0] > 1 else iom
        frac_c = fractions[c : c + 1] if fractions.shape[0] > 1 else fractions
        water_c = water[c : c + 1] if water.shape[0] > 1 else water
        consts_c = cell_consts[c : c + 1] if cell_consts.shape[0] > 1 else cell_consts
        out_pools = np.empty((1, 0, 4))
        out_co2 = np.empty((1, 0))
        out_diag = np.empty((0, 0, 4))
        out_age = np.empty((0, 0))
        toc1 = 0.0
        test = 1.0
        years = 0
        while test >= tol:
            if years == max_years:
                years = -1
                break
            _run_one(
                cell_state,
                cell_ages,
                iom_c,
                frac_c,
                water_c,
                consts_c,
                cell_forcing,
                use_cover_factor,
                12,
                record,
                out_pools,
                out_co2,
                out_diag,
                out_age,
                consts,
            )
            years += 1
            toc0 = toc1
            toc1 = cell_state[0, 0] + cell_state[0, 1] + cell_state[0, 2] + cell_state[0, 3]
            test = abs(toc1 - toc0)
        out_months[c] = 12 * years if years >= 0 else -1
        if ages.shape[0] > 0:
            out_age_total[c] = _total_age(cell_state, cell_ages, iom_c[0], consts)


@njit(inline="always", **_JIT)
def _cell_forcing(forcing, c, n):
    return (
        _cell_row(forcing[0], c, n),
        _cell_row(forcing[1], c, n),
        _cell_row(forcing[2], c, n),
        _cell_row(forcing[3], c, n),
        _cell_row(forcing[4], c, n),
        _cell_row(forcing[5], c, n),
        _cell_row(forcing[6], c, n),
        _cell_row(forcing[7], c, n),
        _cell_row(forcing[8], c, n),
    )


@njit(inline="always", **_JIT)
def _cell_row(a, c, n_cells):
    row = _row(a, c, n_cells)
    return a[row : row + 1]


@njit(inline="always", **_JIT)
def _at(a, c, m, n_cells):
    """Value of forcing array ``a`` for cell ``c`` and month ``m`` (cyclic)."""
    return a[_row(a, c, n_cells), m % a.shape[1]]


@njit(cache=True, error_model="numpy", nogil=True)
def _total_age(cell_state, cell_ages, iom_c, consts):
    conr = consts[CONR]
    act = iom_c * math.exp(-conr * consts[IOM_AGE])
    soc = iom_c
    for p in range(4):
        act += cell_state[0, p] * math.exp(-conr * cell_ages[0, p])
        soc += cell_state[0, p]
    if soc <= 0.0:
        return 0.0
    return math.log(soc / act) / conr


# A serial twin of run_cells for use inside other parallel loops (numba does not nest prange).
_run_one = njit(cache=True, error_model="numpy")(run_cells.py_func)


@njit(cache=True, error_model="numpy", parallel=True, nogil=True)
def periodic_cycle(
    water,
    cell_consts,
    forcing,
    use_cover_factor,
    smd_start,
    max_cycles,
    out_rate,
    out_smd,
    consts,
):  # pragma: no cover - compiled
    """Periodic 12-month moisture cycle and monthly rate modifiers.

    The deficit does not depend on the pools, so its annual cycle is found first: the 12-month
    forcing is repeated from ``smd_start`` until the end-of-year deficit repeats exactly (the
    map is monotone with slopes 0 or 1, so it becomes periodic after finitely many years).
    ``out_rate[c, m]`` receives RateM = RM_TMP * RM_Moist * RM_PC * rate_factor of month m of
    that cycle and ``out_smd[c]`` the deficit at the end of month 12 (-inf when
    ``max_cycles`` was reached without repetition).
    """
    n_cells = out_rate.shape[0]
    for cell in prange(n_cells):
        c = np.int64(cell)
        cw = 0 if water.shape[0] == 1 else c
        cc = 0 if cell_consts.shape[0] == 1 else c
        smd_wilt, smd_1bar, smd_bare, smd_max, min_rm = (
            water[cw, 0],
            water[cw, 1],
            water[cw, 2],
            water[cw, 3],
            water[cw, 4],
        )
        evap_coef, rate_factor = cell_consts[cc, C_EVAP], cell_consts[cc, C_RATE]
        tmp_scale, tmp_offset = cell_consts[cc, C_TMP_SCALE], cell_consts[cc, C_TMP_OFFSET]
        rain_scale = cell_consts[cc, C_RAIN_SCALE]
        smd = smd_start[0 if smd_start.shape[0] == 1 else c]
        converged = False
        for _ in range(max_cycles):
            start = smd
            for m in range(12):
                smd = _update_smd(
                    smd,
                    _at(forcing[F_RAIN], c, m, n_cells) * rain_scale,
                    _at(forcing[F_EVAP], c, m, n_cells),
                    evap_coef,
                    _at(forcing[F_PC], c, m, n_cells) == 1.0,
                    smd_bare,
                    smd_max,
                )
            if smd == start:
                converged = True
                break
        for m in range(12):
            pc = _at(forcing[F_PC], c, m, n_cells)
            smd = _update_smd(
                smd,
                _at(forcing[F_RAIN], c, m, n_cells) * rain_scale,
                _at(forcing[F_EVAP], c, m, n_cells),
                evap_coef,
                pc == 1.0,
                smd_bare,
                smd_max,
            )
            rm_tmp = _rm_tmp(
                _at(forcing[F_TMP], c, m, n_cells) * tmp_scale + tmp_offset,
                consts[TMP_A],
                consts[TMP_B],
                consts[TMP_C],
                consts[TMP_MIN],
            )
            rm_moist = _rm_moist(smd, smd_wilt, smd_1bar, min_rm)
            rm_pc = _rm_pc(
                pc, _at(forcing[F_COVER], c, m, n_cells), use_cover_factor, consts[COVER_RM]
            )
            out_rate[c, m] = rm_tmp * rm_moist * rm_pc * rate_factor
        out_smd[c] = smd if converged else -np.inf


@njit(inline="always", **_JIT)
def _apply_month(x, e_d, e_r, e_b, e_h, f_bio, f_hum, scale, in_d, in_r, in_h):
    """One month of the affine pool map on vector ``x`` (in place).

    ``scale`` multiplies the surviving and transferred carbon (1 for carbon, the one-month
    radiocarbon decay for activities); ``in_*`` are the inputs added after decay.
    """
    d, r, b, h = x[0], x[1], x[2], x[3]
    d_d, d_r, d_b, d_h = d - d * e_d, r - r * e_r, b - b * e_b, h - h * e_h
    x[0] = d * e_d * scale + in_d
    x[1] = r * e_r * scale + in_r
    x[2] = (b * e_b + d_d * f_bio + d_r * f_bio + d_b * f_bio + d_h * f_bio) * scale
    x[3] = (h * e_h + d_d * f_hum + d_r * f_hum + d_b * f_hum + d_h * f_hum) * scale + in_h


@njit(inline="always", **_JIT)
def _solve_fixed_point(phi, beta, out):
    """Solve ``x = phi x + beta`` for the 4 pools using their block structure.

    DPM and RPM only decay into BIO/HUM, so ``phi`` is block lower-triangular: DPM and RPM are
    scalar fixed points and BIO/HUM a 2x2 system (Cramer's rule).
    """
    d = beta[0] / (1.0 - phi[0, 0])
    r = beta[1] / (1.0 - phi[1, 1])
    rhs_b = beta[2] + phi[2, 0] * d + phi[2, 1] * r
    rhs_h = beta[3] + phi[3, 0] * d + phi[3, 1] * r
    a11, a12 = 1.0 - phi[2, 2], -phi[2, 3]
    a21, a22 = -phi[3, 2], 1.0 - phi[3, 3]
    det = a11 * a22 - a12 * a21
    out[0] = d
    out[1] = r
    out[2] = (rhs_b * a22 - a12 * rhs_h) / det
    out[3] = (a11 * rhs_h - a21 * rhs_b) / det


@njit(cache=True, error_model="numpy", parallel=True, nogil=True)
def equilibrium_response(
    rate,
    fractions,
    forcing,
    radiocarbon,
    out_unit,
    out_fym,
    out_act_unit,
    out_act_fym,
    consts,
):  # pragma: no cover - compiled
    """Periodic equilibrium pools per unit annual plant input and from the FYM pattern.

    The 12-month map is ``x -> Phi x + beta`` with ``beta = C beta_plant + beta_fym``; this
    returns ``u = (I - Phi)^-1 beta_plant`` (plant input pattern scaled to 1 t C/ha/yr) and
    ``v = (I - Phi)^-1 beta_fym`` at the end of month 12, so the equilibrium for an annual plant
    input C is ``C u + v``. With ``radiocarbon`` the same is done for the 14C activities
    (decay scaled by the monthly radiocarbon decay, inputs by the modern fraction).
    """
    n_cells = rate.shape[0]
    ts = consts[TSTEP]
    exc = math.exp(-consts[CONR] * ts)
    for cell in prange(n_cells):
        c = np.int64(cell)
        cf = 0 if fractions.shape[0] == 1 else c
        f_bio, f_hum = fractions[cf, 1], fractions[cf, 2]
        annual = 0.0
        for m in range(12):
            annual += _at(forcing[F_CINP], c, m, n_cells)
        plant_scale = 1.0 / annual if annual > 0.0 else 0.0
        n_passes = 2 if radiocarbon else 1
        for p in range(n_passes):
            scale = 1.0 if p == 0 else exc
            phi = np.zeros((4, 4))
            for j in range(4):
                phi[j, j] = 1.0
            beta_plant = np.zeros(4)
            beta_fym = np.zeros(4)
            for m in range(12):
                e_d, e_r, e_b, e_h = _decay_factors(rate[c, m], consts)
                ratio = _at(forcing[F_RATIO], c, m, n_cells)
                c_inp = _at(forcing[F_CINP], c, m, n_cells) * plant_scale
                fym = _at(forcing[F_FYM], c, m, n_cells)
                modern = _at(forcing[F_MODERN], c, m, n_cells) if p == 1 else 1.0
                for j in range(4):
                    _apply_month(phi[:, j], e_d, e_r, e_b, e_h, f_bio, f_hum, scale, 0.0, 0.0, 0.0)
                _apply_month(
                    beta_plant,
                    e_d,
                    e_r,
                    e_b,
                    e_h,
                    f_bio,
                    f_hum,
                    scale,
                    modern * (ratio / (ratio + 1.0) * c_inp),
                    modern * (1.0 / (ratio + 1.0) * c_inp),
                    0.0,
                )
                _apply_month(
                    beta_fym,
                    e_d,
                    e_r,
                    e_b,
                    e_h,
                    f_bio,
                    f_hum,
                    scale,
                    modern * (consts[FYM_DPM] * fym),
                    modern * (consts[FYM_RPM] * fym),
                    modern * (consts[FYM_HUM] * fym),
                )
            if p == 0:
                _solve_fixed_point(phi, beta_plant, out_unit[c])
                _solve_fixed_point(phi, beta_fym, out_fym[c])
            else:
                _solve_fixed_point(phi, beta_plant, out_act_unit[c])
                _solve_fixed_point(phi, beta_fym, out_act_fym[c])
