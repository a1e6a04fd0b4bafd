"""Products of the uncertainty runs, written into ``uncertainty/`` of the output folder.

Mode ``gsocseq``: the GSOCseq uncertainty maps (manual ch. 12, Annex II) with the published
formulas, and corrected rate uncertainties under distinct names:

- stocks (eq. 12.7): U = 100 · (SOC_max − SOC_min) / (2 · SOC) [%], for T0 (``T0``), BAU
  (``BAU``) and SSM (``SSM``: the scenario named SSM2, else the first non-baseline one);
- rates as published (eq. 12.2 as the FAO scripts implement it): U_ASR =
  √((U_final·SOC_final)² + (U_T0·SOC_T0)²) / |SOC_T0 + SOC_final| and U_RSR =
  √((U_SSM·SOC_SSM)² + (U_BAU·SOC_BAU)²) / |SOC_BAU + SOC_SSM| [%] — the *sum* of the stocks
  in the denominator, so the value is relative to about twice a stock, not to the rate;
- corrected (``…_UncertaintyCorrectedMap030``): the half range of the difference itself over
  the paired min/max runs, relative to the difference, U = 100 · |Δ_max − Δ_min| / (2 · |Δ|)
  with Δ = SOC_final − SOC_T0 (ASR) or SOC_SSM − SOC_BAU (RSR) of the same run [%].

Mode ``montecarlo``: per cell and scenario the mean, median, 5 % and 95 % over members of SOC
at T0 and at the end, ASR and RSR, and the probability of reaching 4 per 1000 (share of
members with ASR ≥ 0.004 · T0 of the same member).

Both: one CF NetCDF (``uncertainty/uncertainty.nc``) and ``uncertainty/summary.csv`` with the
area-weighted domain and zone summaries computed member by member (never from per-cell
intervals), next to the deterministic run's value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr
import zarr

from socseq.atomic import write_csv_atomic
from socseq.io.grid import GridSpec
from socseq.io.metadata import RATE_UNITS, STOCK_UNITS, netcdf_attrs
from socseq.io.raster import write_geotiff, write_netcdf
from socseq.io.stores import read_stored, stored_array
from socseq.pipeline.config import RunConfig
from socseq.pipeline.exclusions import SIMULATED
from socseq.pipeline.products import _grid_da, _provenance, _zone_names
from socseq.pipeline.rates import FOUR_PER_1000_RULE, absolute_rate, relative_rate

if TYPE_CHECKING:
    from pathlib import Path

    from socseq.pipeline.uncertainty import UncertaintyRun

__all__ = ["corrected_name", "uncertainty_name", "write_uncertainty_products"]

FOLDER = "uncertainty"


def uncertainty_name(iso: str, kind: str, scenario: str | None = None) -> str:
    """GSOCseq uncertainty map name, e.g. ``TWN_GSOCseq_ASR_SSM1_UncertaintyMap030.tif``."""
    middle = kind if scenario is None else f"{kind}_{scenario}"
    return f"{iso}_GSOCseq_{middle}_UncertaintyMap030.tif"


def corrected_name(iso: str, kind: str, scenario: str) -> str:
    """Name of a corrected rate uncertainty map (not a GSOCseq product)."""
    return f"{iso}_GSOCseq_{kind}_{scenario}_UncertaintyCorrectedMap030.tif"


def mc_name(iso: str, quantity: str, statistic: str, scenario: str | None = None) -> str:
    """Monte Carlo map name, e.g. ``TWN_socseq_MC_ASR_SSM1_q05_Map030.tif``."""
    middle = quantity if scenario is None else f"{quantity}_{scenario}"
    return f"{iso}_socseq_MC_{middle}_{statistic}_Map030.tif"


def _pct(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 100.0 * num / den


def write_uncertainty_products(
    unc: UncertaintyRun,
    config: RunConfig,
    grid: GridSpec,
    results: zarr.Group,
    stage: Path,
    threads: int = 1,
) -> list[str]:
    """Write maps, the NetCDF and the summary table of the uncertainty runs.

    Parameters
    ----------
    unc : UncertaintyRun
        Outcome of :func:`socseq.pipeline.uncertainty.run_uncertainty`.
    config : RunConfig
    grid : GridSpec
    results : zarr.Group
        The deterministic results (``results.zarr``).
    stage : pathlib.Path
        Folder published with the run's other products.
    threads : int, default 1
        Threads that compress the files.

    Returns
    -------
    list of str
        Written paths relative to ``stage``.
    """
    us = unc.settings
    store = zarr.open_group(us.store, mode="r")
    folder = stage / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    sim = read_stored(results, "reason") == SIMULATED
    iso = config.run.iso
    scen = [s.name for s in config.scenarios]
    base = us.baseline_index
    years = config.periods.forward_years
    tags = {**_provenance(config), "uncertainty_mode": us.mode}
    written: list[str] = []
    maps: list[tuple[str, np.ndarray, str, str]] = []
    y, x = grid.coords()
    data: dict[str, Any] = {}
    labels: dict[str, tuple[list[str], str]] = {}

    if us.mode == "gsocseq":
        soc = stored_array(results, "soc")
        t0 = np.asarray(soc[0, 0])
        final = np.stack([np.asarray(soc[i, years]) for i in range(len(scen))])
        lo_t0, hi_t0 = read_stored(store, "minmax_t0")
        lo_f, hi_f = read_stored(store, "minmax_final")
        u_t0 = _pct(hi_t0 - lo_t0, 2 * t0)
        u_f = _pct(hi_f - lo_f, 2 * final)  # (S, y, x)
        ssm = [i for i in range(len(scen)) if i != base]
        ssm_ref = scen.index("SSM2") if "SSM2" in scen else (ssm[0] if ssm else base)
        maps += [
            (uncertainty_name(iso, "T0"), u_t0, "%", "uncertainty of SOC at T0"),
            (
                uncertainty_name(iso, "BAU"),
                u_f[base],
                "%",
                f"uncertainty of final SOC, {scen[base]}",
            ),
            (
                uncertainty_name(iso, "SSM"),
                u_f[ssm_ref],
                "%",
                f"uncertainty of final SOC, {scen[ssm_ref]}",
            ),
        ]
        u_asr = np.empty_like(u_f)
        c_asr = np.empty_like(u_f)
        u_rsr = np.full_like(u_f, np.nan)
        c_rsr = np.full_like(u_f, np.nan)
        for i, name in enumerate(scen):
            u_asr[i] = _pct(np.hypot(u_f[i] * final[i], u_t0 * t0) / 100.0, np.abs(t0 + final[i]))
            c_asr[i] = _pct(
                np.abs((hi_f[i] - hi_t0) - (lo_f[i] - lo_t0)), 2 * np.abs(final[i] - t0)
            )
            maps += [
                (
                    uncertainty_name(iso, "ASR", name),
                    u_asr[i],
                    "%",
                    f"uncertainty of ASR as published (sum of stocks), {name}",
                ),
                (
                    corrected_name(iso, "ASR", name),
                    c_asr[i],
                    "%",
                    f"half range of ASR over the min/max runs relative to ASR, {name}",
                ),
            ]
            if i != base:
                u_rsr[i] = _pct(
                    np.hypot(u_f[i] * final[i], u_f[base] * final[base]) / 100.0,
                    np.abs(final[base] + final[i]),
                )
                c_rsr[i] = _pct(
                    np.abs((hi_f[i] - hi_f[base]) - (lo_f[i] - lo_f[base])),
                    2 * np.abs(final[i] - final[base]),
                )
                maps += [
                    (
                        uncertainty_name(iso, "RSR", name),
                        u_rsr[i],
                        "%",
                        f"uncertainty of RSR as published (sum of stocks), {name}",
                    ),
                    (
                        corrected_name(iso, "RSR", name),
                        c_rsr[i],
                        "%",
                        f"half range of RSR over the min/max runs relative to RSR, {name}",
                    ),
                ]
        run_dim = ("run", "scenario", "y", "x")
        data = {
            "soc_t0_t_ha": (
                ("run", "y", "x"),
                np.stack([lo_t0, hi_t0]),
                {"units": STOCK_UNITS, "long_name": "SOC at T0 of the min/max runs"},
            ),
            "soc_final_t_ha": (
                run_dim,
                np.stack([lo_f, hi_f]),
                {"units": STOCK_UNITS, "long_name": "final SOC, min/max runs"},
            ),
            "asr_t_ha_yr": (
                run_dim,
                np.stack([absolute_rate(lo_f, lo_t0, years), absolute_rate(hi_f, hi_t0, years)]),
                {"units": RATE_UNITS, "long_name": "ASR, min/max runs"},
            ),
            "u_final_pct": (
                ("scenario", "y", "x"),
                u_f,
                {"units": "%", "long_name": "uncertainty of final SOC (eq. 12.7)"},
            ),
            "u_asr_published_pct": (
                ("scenario", "y", "x"),
                u_asr,
                {"units": "%", "long_name": "uncertainty of ASR as published (eq. 12.2)"},
            ),
            "u_asr_corrected_pct": (
                ("scenario", "y", "x"),
                c_asr,
                {"units": "%", "long_name": "half range of ASR over the min/max runs"},
            ),
            "u_rsr_published_pct": (
                ("scenario", "y", "x"),
                u_rsr,
                {"units": "%", "long_name": "uncertainty of RSR as published (eq. 12.2)"},
            ),
            "u_rsr_corrected_pct": (
                ("scenario", "y", "x"),
                c_rsr,
                {"units": "%", "long_name": "half range of RSR over the min/max runs"},
            ),
        }
        labels = {"run": (["min", "max"], "input set of the run (GSOCseq manual ch. 12)")}
    else:
        t0s = read_stored(store, "t0_stats")
        stats = {k: read_stored(store, k) for k in ("final_stats", "asr_stats", "rsr_stats")}
        prob = read_stored(store, "p_4p1000")
        from socseq.pipeline.uncertainty import STATISTICS

        for k, stat in enumerate(STATISTICS):
            maps.append((mc_name(iso, "T0", stat), t0s[k], STOCK_UNITS, f"SOC at T0, {stat}"))
            for i, name in enumerate(scen):
                maps += [
                    (
                        mc_name(iso, "finalSOC", stat, name),
                        stats["final_stats"][k, i],
                        STOCK_UNITS,
                        f"final SOC, {name}, {stat}",
                    ),
                    (
                        mc_name(iso, "ASR", stat, name),
                        stats["asr_stats"][k, i],
                        RATE_UNITS,
                        f"ASR, {name}, {stat}",
                    ),
                ]
                if i != base:
                    maps.append(
                        (
                            mc_name(iso, "RSR", stat, name),
                            stats["rsr_stats"][k, i],
                            RATE_UNITS,
                            f"RSR, {name}, {stat}",
                        )
                    )
        for i, name in enumerate(scen):
            maps.append(
                (
                    f"{iso}_socseq_MC_P4p1000_{name}_Map030.tif",
                    prob[i],
                    "1",
                    f"probability that {FOUR_PER_1000_RULE}, {name}",
                )
            )
        sdim = ("statistic", "scenario", "y", "x")
        data = {
            "soc_t0_t_ha": (
                ("statistic", "y", "x"),
                t0s,
                {"units": STOCK_UNITS, "long_name": "SOC stock at T0"},
            ),
            "soc_final_t_ha": (
                sdim,
                stats["final_stats"],
                {"units": STOCK_UNITS, "long_name": "final SOC stock"},
            ),
            "asr_t_ha_yr": (
                sdim,
                stats["asr_stats"],
                {"units": RATE_UNITS, "long_name": "absolute sequestration rate"},
            ),
            "rsr_t_ha_yr": (
                sdim,
                stats["rsr_stats"],
                {"units": RATE_UNITS, "long_name": "relative sequestration rate"},
            ),
            "p_4p1000": (
                ("scenario", "y", "x"),
                prob,
                {"units": "1", "long_name": f"share of members with {FOUR_PER_1000_RULE}"},
            ),
        }
        labels = {"statistic": (list(STATISTICS), "statistic over the members")}

    for file, values, units, long_name in maps:
        write_geotiff(
            _grid_da(grid, np.where(sim, values, np.nan), file[:-4], units, long_name),
            folder / file,
            tags=tags,
            dtype="float32",
            threads=threads,
        )
        written.append(f"{FOLDER}/{file}")
    # CF coordinate variables are numeric: the names of runs, statistics and scenarios are
    # auxiliary (label) coordinates of dimensions without a coordinate variable.
    labels["scenario"] = (scen, "management scenario")
    coords = {
        f"{dim}_name": ((dim,), np.array(values, dtype=object), {"long_name": long_name})
        for dim, (values, long_name) in labels.items()
    }
    ds = xr.Dataset(
        {
            k: (dims, np.where(sim, v, np.nan).astype(np.float32), attrs)
            for k, (dims, v, attrs) in data.items()
        },
        coords={**coords, "y": y, "x": x},
        attrs=netcdf_attrs(
            config.digest(),
            f"socseq uncertainty ({us.mode}): {config.run.name}",
            members=us.members,
            seed=us.seed,
            forward_years=years,
        ),
    )
    ds = ds.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    write_netcdf(ds, folder / "uncertainty.nc", complevel=1, threads=threads)
    written.append(f"{FOLDER}/uncertainty.nc")
    zones = read_stored(results, "zones") if "zones" in results else None
    write_csv_atomic(summary_table(unc, config, zones), folder / "summary.csv")
    written.append(f"{FOLDER}/summary.csv")
    return written


def summary_table(unc: UncertaintyRun, config: RunConfig, zones: np.ndarray | None) -> pd.DataFrame:
    """Area-weighted domain (``all``) and zone summaries over members.

    Every member's summary is computed from that member's cells (sums of area × value over
    the windows), then the statistics are taken over the members' summaries.
    """
    us = unc.settings
    names = _zone_names(config, zones)
    sums = unc.zone_sums
    groups: list[tuple[str, list[int]]] = [("all", list(sums))]
    groups += [(names.get(z, str(z)), [z]) for z in sorted(sums) if z >= 0]
    years = config.periods.forward_years
    base = us.baseline_index
    rows = []
    for label, keys in groups:
        if not keys:
            continue
        area = sum(sums[z]["area"] for z in keys)
        crop = sum(sums[z]["crop_area"] for z in keys)
        t0 = sum(sums[z]["t0"] for z in keys)
        final = sum(sums[z]["final"] for z in keys)
        reach = sum(sums[z]["reach"] for z in keys)
        with np.errstate(divide="ignore", invalid="ignore"):
            for i, scen in enumerate(config.scenarios):
                quantities = {
                    "mean_soc_t0_t_ha": t0 / area,
                    "mean_soc_final_t_ha": final[i] / area,
                    "mean_asr_t_ha_yr": absolute_rate(final[i], t0, years) / area,
                    "total_asr_t_yr": absolute_rate(final[i], t0, years),
                    "share_4p1000_pct": 100.0 * reach[i] / crop,
                }
                if i != base:
                    rsr = relative_rate(final[i], final[base], years)
                    quantities["mean_rsr_t_ha_yr"] = rsr / area
                    quantities["total_rsr_t_yr"] = rsr
                for quantity, values in quantities.items():
                    row = {
                        "zone": label,
                        "scenario": scen.name,
                        "quantity": quantity,
                        "simulated_area_ha": area,
                        "deterministic": float(values[-1]),
                    }
                    members = values[:-1]
                    if us.mode == "montecarlo":
                        row.update(
                            mean=float(members.mean()),
                            median=float(np.median(members)),
                            q05=float(np.quantile(members, 0.05)),
                            q95=float(np.quantile(members, 0.95)),
                        )
                    else:
                        row.update(min_run=float(members[0]), max_run=float(members[1]))
                    rows.append(row)
    return pd.DataFrame(rows)
