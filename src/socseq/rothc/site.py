"""One site, as the official RothC program runs it: spin-up on rows 1-12, forward on the rest.

:func:`run_rothamsted` reproduces ``Shell.for`` of RothC 2.0.0 (rothc-model.md §2, §6, §7): the
spin-up cycles the first 12 data rows until the official stopping rule holds (or, with
``spinup="exact"``, solves the periodic equilibrium directly), the CO2 accumulator is reset, and
rows 13..nsteps run forward with the moisture deficit, ages and pools carried over. The result
tables follow the official v2 column names (:data:`~socseq.rothc.rothamsted_io.MONTH_COLUMNS`,
:data:`~socseq.rothc.rothamsted_io.YEAR_COLUMNS`); :mod:`socseq.rothc.rothamsted_io` writes them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from socseq.rothc.equilibrium import equilibrium
from socseq.rothc.model import MonthlyForcing, RunOptions, Soil, delta_c_from_age, run
from socseq.rothc.parameters import DEFAULT_PARAMETERS, RothCParameters
from socseq.rothc.rothamsted_io import MONTH_COLUMNS, YEAR_COLUMNS, RothamstedInput

# The active pools, in the order of the result tables (one definition of the tables' columns,
# in rothamsted_io, which writes them).
_POOL_COLUMNS = YEAR_COLUMNS[2:6]


def _series(values: NDArray[np.generic], rows: slice) -> NDArray[np.float64]:
    """Return a writable float64 copy of some rows of a parsed input column.

    The arrays of :class:`~socseq.rothc.rothamsted_io.RothamstedInput` are read-only. The numba
    kernel receives the nine forcing series as one tuple and cannot index a tuple that mixes
    read-only and writable arrays, so every series is copied to the same array type.
    """
    return np.array(values[rows], dtype=np.float64, copy=True)


def _forcing(site: RothamstedInput, rows: slice) -> MonthlyForcing:
    return MonthlyForcing(
        tmp_degC=_series(site.tmp_degC, rows),
        rain_mm=_series(site.rain_mm, rows),
        evap_mm=_series(site.evap_mm, rows),
        plant_cover=_series(site.pc, rows),
        c_inp_t_ha=_series(site.c_inp_t_ha, rows),
        fym_t_ha=_series(site.fym_t_ha, rows),
        dpm_rpm=_series(site.dpm_rpm, rows),
        modern_pct=_series(site.modern_pct, rows),
    )


def run_rothamsted(
    site: RothamstedInput,
    *,
    spinup: Literal["rothamsted", "exact"] = "rothamsted",
    params: RothCParameters = DEFAULT_PARAMETERS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run one site through spin-up and forward run exactly as the official program.

    Parameters
    ----------
    site : RothamstedInput
        A parsed ``RothC_input.dat`` (:func:`socseq.rothc.rothamsted_io.read_rothamsted_input`).
    spinup : {"rothamsted", "exact"}
        Official iteration (default; reproduces the official spin-up month count) or the exact
        periodic equilibrium (reported with 0 spin-up months).
    params : RothCParameters
        Model constants.

    Returns
    -------
    month, year : pandas.DataFrame
        Tables with the official v2 columns (:data:`MONTH_COLUMNS`, :data:`YEAR_COLUMNS`):
        the initial row, the end-of-spin-up row, then one row per forward month (month) or
        per forward row index that is a multiple of 12 (year).
    """
    soil = Soil(
        clay_pct=site.clay_pct,
        depth_cm=site.depth_cm,
        iom_t_ha=site.iom_t_ha,
        opt_rmmoist=site.opt_rmmoist,
        opt_smdbare=site.opt_smdbare,
        silt_pct=site.silt_pct,
        bulk_density_g_cm3=site.bulk_density_g_cm3,
        organic_carbon_pct=site.organic_carbon_pct,
        min_rm_moist=site.min_rm_moist,
    )
    options = RunOptions(radiocarbon=True)
    spun = equilibrium(
        soil, _forcing(site, slice(0, 12)), method=spinup, options=options, params=params
    )
    assert spun.total_age is not None  # radiocarbon=True: every spin-up method returns ages
    spin_months = 0 if spun.spinup_months is None else int(spun.spinup_months[0])
    spin_pools = spun.state.pools[0]
    iom = site.iom_t_ha
    soc_spin = float(spin_pools.sum() + iom)
    n_forward = site.nsteps - 12

    month_rows: list[dict[str, float]] = [
        {
            "Year": site.year[0],
            "Month": 0,
            **dict.fromkeys(_POOL_COLUMNS, 0.0),
            "IOM_t_C_ha": iom,
            "SOC_t_C_ha": iom,
            "CO2_t_C_ha": 0.0,
        },
        {
            "Year": site.year[11],
            "Month": spin_months,
            **dict(zip(_POOL_COLUMNS, spin_pools, strict=True)),
            "IOM_t_C_ha": iom,
            "SOC_t_C_ha": soc_spin,
            "CO2_t_C_ha": 0.0,
        },
    ]
    year_rows: list[dict[str, float]] = [
        {
            "Year": 0,
            "Month": 0,
            **dict.fromkeys(_POOL_COLUMNS, 0.0),
            "IOM_t_C_ha": iom,
            "SOC_t_C_ha": iom,
            "CO2_t_C_ha": 0.0,
            "deltaC": np.nan,
        },
        {**month_rows[1], "deltaC": float(delta_c_from_age(spun.total_age, params)[0])},
    ]
    month = pd.DataFrame(month_rows, columns=list(MONTH_COLUMNS))
    year = pd.DataFrame(year_rows, columns=list(YEAR_COLUMNS))
    if n_forward > 0:
        rows = slice(12, site.nsteps)
        result = run(
            soil,
            _forcing(site, rows),
            n_forward,
            state=spun.state,
            record="month",
            options=options,
            diagnostics=True,
            params=params,
        )
        diag = result.diagnostics
        assert diag is not None
        forward = pd.DataFrame(
            {
                "Year": site.year[rows],
                "Month": np.arange(n_forward) % 12 + 1,
                "C_Inp_t_C_ha": site.c_inp_t_ha[rows],
                "FYM_Inp_t_C_ha": site.fym_t_ha[rows],
                "TEMP_C": site.tmp_degC[rows],
                "RM_TMP": diag["rm_tmp"][0],
                "RAIN_mm": site.rain_mm[rows],
                "PEVAP_mm": site.evap_mm[rows],
                "SMD_mm": diag["smd_mm"][0],
                "RM_Moist": diag["rm_moist"][0],
                "PC": site.pc[rows],
                "RM_PC": diag["rm_pc"][0],
                **{name: result.pools[0, :, p] for p, name in enumerate(_POOL_COLUMNS)},
                "IOM_t_C_ha": iom,
                "SOC_t_C_ha": result.soc[0],
                "CO2_t_C_ha": result.co2[0],
            }
        )
        month = pd.concat([month, forward], ignore_index=True)
        # A year row whenever the absolute row index (1-based, row 13 = first forward) is a
        # multiple of 12, i.e. forward month index m with (m + 13) % 12 == 0.
        at = np.flatnonzero((np.arange(n_forward) + 13) % 12 == 0)
        yearly = forward.iloc[at][
            ["Year", *_POOL_COLUMNS, "IOM_t_C_ha", "SOC_t_C_ha", "CO2_t_C_ha"]
        ].copy()
        yearly.insert(1, "Month", 12)
        assert result.total_age is not None  # radiocarbon=True
        yearly["deltaC"] = delta_c_from_age(result.total_age[0, at], params)
        year = pd.concat([year, yearly[list(YEAR_COLUMNS)]], ignore_index=True)
    month["Year"] = month["Year"].astype(np.int64)
    month["Month"] = month["Month"].astype(np.int64)
    year["Year"] = year["Year"].astype(np.int64)
    year["Month"] = year["Month"].astype(np.int64)
    return month, year
