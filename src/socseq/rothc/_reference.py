"""A slow, readable one-cell RothC, written straight from the specification, for tests.

It shares no code with the numba kernel (only the constants), so agreement between the two is
evidence that both follow ``docs/rothc-model.md``. Plain Python floats and ``math``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from socseq.rothc.parameters import DEFAULT_PARAMETERS, RothCParameters


@dataclass
class CellState:
    """State of one cell: pools [t C/ha], deficit [mm], CO2 [t C/ha], ages [yr]."""

    dpm: float = 0.0
    rpm: float = 0.0
    bio: float = 0.0
    hum: float = 0.0
    iom: float = 0.0
    smd: float = 0.0
    co2: float = 0.0
    ages: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0, 0.0])

    @property
    def soc(self) -> float:
        """Total SOC [t C/ha]."""
        return self.dpm + self.rpm + self.bio + self.hum + self.iom


@dataclass(frozen=True)
class Month:
    """Forcing of one month."""

    tmp: float
    rain: float
    evap: float
    pc: float
    c_inp: float
    fym: float = 0.0
    dpm_rpm: float = 1.44
    modern: float = 1.0
    cover_factor: float | None = None


@dataclass(frozen=True)
class SoilLimits:
    """Deficits of the moisture model [mm] and the minimum moisture modifier."""

    smd_wilt: float
    smd_1bar: float
    smd_bare: float
    smd_max: float
    min_rm: float


def standard_limits(
    clay: float, depth: float, p: RothCParameters = DEFAULT_PARAMETERS, opt_smdbare: int = 1
) -> SoilLimits:
    """Limits of the standard moisture model (opt_RMmoist = 1)."""
    smd15 = -(p.smd_a + p.smd_b * clay - p.smd_c * clay * clay)
    wilt = smd15 * depth / p.smd_ref_depth
    bare = wilt if opt_smdbare == 2 else p.smd_bare_ratio * wilt
    return SoilLimits(wilt, p.smd_1bar_ratio * wilt, bare, wilt, p.min_rm_moist)


@dataclass(frozen=True)
class MonthDiagnostics:
    """Modifiers of one month."""

    rm_tmp: float
    rm_moist: float
    rm_pc: float
    total_age: float


def step(
    state: CellState,
    month: Month,
    clay: float,
    limits: SoilLimits,
    *,
    evap_coefficient: float = 0.75,
    rate_factor: float = 1.0,
    p: RothCParameters = DEFAULT_PARAMETERS,
) -> MonthDiagnostics:
    """Advance ``state`` by one month, in place, following rothc-model.md §3-§5."""
    # 3.1 temperature
    if month.tmp < p.tmp_min:
        rm_tmp = 0.0
    else:
        rm_tmp = p.tmp_a / (math.exp(p.tmp_b / (month.tmp + p.tmp_c)) + 1.0)
    # 3.2 moisture: deficit first, modifier from the end-of-month deficit
    df = month.rain - evap_coefficient * month.evap
    if month.pc == 1:
        state.smd = max(limits.smd_max, min(0.0, state.smd + df))
    else:
        state.smd = max(min(limits.smd_bare, state.smd), min(0.0, state.smd + df))
    if state.smd > limits.smd_1bar:
        rm_moist = 1.0
    elif state.smd <= limits.smd_wilt:
        rm_moist = limits.min_rm
    else:
        rm_moist = limits.min_rm + ((1.0 - limits.min_rm) * (limits.smd_wilt - state.smd)) / (
            limits.smd_wilt - limits.smd_1bar
        )
    # 3.3 cover
    if month.cover_factor is not None:
        rm_pc = month.cover_factor
    else:
        rm_pc = 1.0 if month.pc == 0 else p.cover_factor
    rate = rm_tmp * rm_moist * rm_pc * rate_factor
    # 4. decomposition and partitioning
    x = p.co2_a * (p.co2_b + p.co2_c * math.exp(-p.co2_d * clay))
    f_co2, f_bio, f_hum = x / (x + 1.0), p.bio_fraction / (x + 1.0), p.hum_fraction / (x + 1.0)
    old = [state.dpm, state.rpm, state.bio, state.hum]
    kept = [
        pool * math.exp(-rate * k * p.tstep)
        for pool, k in zip(old, (p.k_dpm, p.k_rpm, p.k_bio, p.k_hum), strict=True)
    ]
    lost = [o - k for o, k in zip(old, kept, strict=True)]
    new_bio = kept[2]
    new_hum = kept[3]
    for d in lost:
        new_bio += d * f_bio
    for d in lost:
        new_hum += d * f_hum
    for d in lost:
        state.co2 += d * f_co2
    r = month.dpm_rpm
    plant_dpm = r / (r + 1.0) * month.c_inp
    plant_rpm = 1.0 / (r + 1.0) * month.c_inp
    fym_dpm, fym_rpm, fym_hum = p.fym_dpm * month.fym, p.fym_rpm * month.fym, p.fym_hum * month.fym
    new_dpm = kept[0] + plant_dpm + fym_dpm
    new_rpm = kept[1] + plant_rpm + fym_rpm
    new_hum = new_hum + fym_hum
    # 5. radiocarbon, from the ages at the start of the month
    exc = math.exp(-p.conr * p.tstep)
    e = [math.exp(-p.conr * a) for a in state.ages]
    transferred_bio = sum(d * f_bio * e_p for d, e_p in zip(lost, e, strict=True))
    transferred_hum = sum(d * f_hum * e_p for d, e_p in zip(lost, e, strict=True))
    act = [
        month.modern * fym_dpm + month.modern * plant_dpm + kept[0] * e[0] * exc,
        month.modern * fym_rpm + month.modern * plant_rpm + kept[1] * e[1] * exc,
        (kept[2] * e[2] + transferred_bio) * exc,
        month.modern * fym_hum + (kept[3] * e[3] + transferred_hum) * exc,
    ]
    new = [new_dpm, new_rpm, new_bio, new_hum]
    state.ages = [
        math.log(n / a) / p.conr if n > 0.0 else 0.0 for n, a in zip(new, act, strict=True)
    ]
    state.dpm, state.rpm, state.bio, state.hum = new
    act_iom = state.iom * math.exp(-p.conr * p.iom_age)
    soc = state.soc
    total_age = math.log(soc / (sum(act) + act_iom)) / p.conr if soc > 0.0 else 0.0
    return MonthDiagnostics(rm_tmp, rm_moist, rm_pc, total_age)


def spin_up(
    state: CellState,
    year: list[Month],
    clay: float,
    limits: SoilLimits,
    *,
    p: RothCParameters = DEFAULT_PARAMETERS,
    **options: float,
) -> int:
    """Official iterative spin-up (rothc-model.md §6); returns the months run."""
    toc1 = 0.0
    test = 1.0
    months = 0
    while not test < p.spinup_tolerance:
        for month in year:
            step(state, month, clay, limits, p=p, **options)
            months += 1
        toc0 = toc1
        toc1 = state.dpm + state.rpm + state.bio + state.hum
        test = abs(toc1 - toc0)
    state.co2 = 0.0
    return months
