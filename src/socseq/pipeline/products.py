"""Products of a run: GSOCseq maps, the CF NetCDF cube, 4-per-1000 maps and summary tables.

Definitions (GSOCseq Technical Manual ch. 2 and Annex II; ``docs/pipeline.md``):

- T0: SOC at the end of the warm-up; finalSOC: SOC after ``forward_years``.
- AbsDiff = finalSOC − T0; ASR = AbsDiff / forward_years [t C/ha/yr].
- RelDiff = finalSOC(SSM) − finalSOC(BAU); RSR = RelDiff / forward_years.
- A cell reaches "4 per 1000" when ASR ≥ 0.004 · T0 (0.4 % of its T0 stock per year).
- Areas are true cell areas (ellipsoidal on geographic grids) times the optional area fraction;
  means are area-weighted; totals are Σ rate × area [t C/yr]; the 4-per-1000 share is the
  simulated cropland area reaching it over the simulated cropland area.
"""

# Long module: every product of a run (GSOCseq maps, 4-per-1000 maps, the CF cube, the summary
# tables) is computed from one ProductSet, so their definitions stay side by side.

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr
import zarr

from socseq._heap import collect_cycles
from socseq.atomic import write_csv_atomic, write_json_atomic
from socseq.io.grid import GridSpec
from socseq.io.metadata import (
    RATE_UNITS,
    SOC_STANDARD_NAME,
    STOCK_UNITS,
    netcdf_attrs,
    provenance,
)
from socseq.io.raster import write_geotiff, write_netcdf
from socseq.io.stores import read_stored, stored_array
from socseq.io.tables import read_zone_names
from socseq.pipeline.config import RunConfig
from socseq.pipeline.exclusions import (
    EXCLUSION_REASONS,
    NO_LAND_USE,
    NOT_AGRICULTURAL,
    OUTSIDE_DOMAIN,
    SIMULATED,
)
from socseq.pipeline.landuse import read_class_table
from socseq.pipeline.npp import npp_t_c_ha
from socseq.pipeline.rates import (
    FOUR_PER_1000_RULE,
    absolute_rate,
    reaches_four_per_1000,
    relative_rate,
)
from socseq.pipeline.run_notes import netcdf_climate_attrs

__all__ = [
    "FLAG_FILL",
    "ProductSet",
    "compute_products",
    "exclusion_flag_meanings",
    "product_name",
]

#: Excluded-cell reasons that are not candidate (agricultural) cells.
OTHER_REASONS = {NOT_AGRICULTURAL: "not an agricultural class", NO_LAND_USE: "no land-use data"}

#: Value of the 0/1 flags (GeoTIFF nodata, NetCDF ``_FillValue``) where a cell was not simulated.
FLAG_FILL = 255


def exclusion_flag_meanings() -> dict[int, str]:
    """CF ``flag_meanings`` words of the ``exclusion_reason`` codes, by code.

    Each reason is cut before its parenthesis and spelled with underscores (CF flag meanings
    are blank-separated words): ``6: "SOC_above_the_mask_limit"``.
    """
    reasons = {SIMULATED: "simulated", **EXCLUSION_REASONS, **OTHER_REASONS}
    return {
        code: text.split(" (")[0].replace(" ", "_").replace("≤", "le").replace("−", "-")
        for code, text in reasons.items()
    }


def product_name(iso: str, kind: str, scenario: str | None = None) -> str:
    """GSOCseq product file name, e.g. ``TWN_GSOCseq_ASR_SSM1_Map030.tif``."""
    middle = kind if scenario is None else f"{kind}_{scenario}"
    return f"{iso}_GSOCseq_{middle}_Map030.tif"


def four_per_1000_name(iso: str, scenario: str) -> str:
    """File name of the 4-per-1000 map of a scenario."""
    return f"{iso}_socseq_4p1000_{scenario}_Map030.tif"


def _ends(soc: zarr.Array, years: int) -> tuple[np.ndarray, np.ndarray]:
    """Read the final stocks ``(S, y, x)`` and T0 ``(y, x)`` of the stocks ``(S, years + 1, y, x)``.

    Read one stored chunk at a time: a chunk holds every scenario and year of a window, so
    reading T0 and each final year separately decompressed every chunk S + 1 times.
    """
    n_scen, _, ny, nx = soc.shape
    finals = np.empty((n_scen, ny, nx))
    t0 = np.empty((ny, nx))
    cy, cx = soc.chunks[2:]
    for y0 in range(0, ny, cy):
        for x0 in range(0, nx, cx):
            block = np.asarray(soc[:, :, y0 : y0 + cy, x0 : x0 + cx])
            finals[:, y0 : y0 + cy, x0 : x0 + cx] = block[:, years]
            t0[y0 : y0 + cy, x0 : x0 + cx] = block[0, 0]
    return finals, t0


class ProductSet:
    """Maps of one run as float64 arrays (``(y, x)``), computed from the results store.

    Parameters
    ----------
    config : RunConfig
    grid : GridSpec
    results : zarr.Group
        The window tasks' results (``results.zarr``: stocks, reasons, areas, classes).
    """

    def __init__(self, config: RunConfig, grid: GridSpec, results: zarr.Group) -> None:
        self.config = config
        self.grid = grid
        self.scenarios = [s.name for s in config.scenarios]
        self.baseline = config.baseline.name
        self.years = config.periods.forward_years
        #: ``(S, y, x)`` SOC after the forward years of every scenario [t C/ha].
        self.finals, self.t0 = _ends(stored_array(results, "soc"), self.years)
        self.final = {name: self.finals[i] for i, name in enumerate(self.scenarios)}
        self.reason = read_stored(results, "reason")
        self.area = read_stored(results, "area_ha")
        self.land_use = read_stored(results, "land_use")
        self.zones = read_stored(results, "zones") if "zones" in results else None
        self.simulated = self.reason == SIMULATED
        #: The soil layer of the stocks, for labels (``0-30 cm``).
        self.layer = f"0-{config.model.depth_cm:g} cm"

    def abs_diff(self, scenario: str) -> np.ndarray:
        """Return finalSOC − T0 [t C/ha]."""
        return self.final[scenario] - self.t0

    def asr(self, scenario: str) -> np.ndarray:
        """Absolute sequestration rate [t C/ha/yr]."""
        return absolute_rate(self.final[scenario], self.t0, self.years)

    def rel_diff(self, scenario: str) -> np.ndarray:
        """finalSOC(scenario) − finalSOC(baseline) [t C/ha]."""
        return self.final[scenario] - self.final[self.baseline]

    def rsr(self, scenario: str) -> np.ndarray:
        """Relative sequestration rate [t C/ha/yr]."""
        return relative_rate(self.final[scenario], self.final[self.baseline], self.years)

    def reaches_4p1000(self, scenario: str) -> np.ndarray:
        """Flag cells where ASR ≥ 0.004 · T0 (False outside simulated cells)."""
        return self.simulated & reaches_four_per_1000(self.asr(scenario), self.t0)

    def cropland(self) -> np.ndarray:
        """Cells whose class counts as cropland."""
        return np.isin(self.land_use, self.config.land_use.cropland)

    def summary(self) -> pd.DataFrame:
        """One row per (zone, scenario); zone ``all`` first, then each zone."""
        zone_names = _zone_names(self.config, self.zones)
        groups: list[tuple[str, np.ndarray]] = [("all", np.ones(self.grid.shape, bool))]
        if self.zones is not None:
            groups += [
                (zone_names.get(int(z), str(int(z))), self.zones == z)
                for z in np.unique(self.zones[self.zones >= 0])
            ]
        # The cropland of the domain: cells outside it count in no area (exclusions.csv has them).
        crop = self.cropland() & (self.reason != OUTSIDE_DOMAIN)
        rows = []
        for zone, in_zone in groups:
            sim = self.simulated & in_zone
            area = np.where(sim, self.area, 0.0)
            sim_area = area.sum()
            crop_sim = np.where(sim & crop, self.area, 0.0)
            for scen_cfg in self.config.scenarios:
                name = scen_cfg.name
                asr = np.nan_to_num(self.asr(name))
                rsr = np.nan_to_num(self.rsr(name))
                reach = np.where(self.reaches_4p1000(name), crop_sim, 0.0).sum()

                def mean(
                    values: np.ndarray, a: np.ndarray = area, total: float = sim_area
                ) -> float:
                    return float((values * a).sum() / total) if total > 0 else float("nan")

                rows.append(
                    {
                        "zone": zone,
                        "scenario": name,
                        "input_multiplier": scen_cfg.input_multiplier,
                        "cropland_area_ha": float(np.where(crop & in_zone, self.area, 0).sum()),
                        "simulated_area_ha": float(sim_area),
                        "simulated_cropland_area_ha": float(crop_sim.sum()),
                        "simulated_cells": int(sim.sum()),
                        "mean_soc_t0_t_ha": mean(np.nan_to_num(self.t0)),
                        "mean_soc_final_t_ha": mean(np.nan_to_num(self.final[name])),
                        "mean_asr_t_ha_yr": mean(asr),
                        "mean_rsr_t_ha_yr": (float("nan") if scen_cfg.is_baseline else mean(rsr)),
                        "total_asr_t_yr": float((asr * area).sum()),
                        "total_rsr_t_yr": (
                            float("nan") if scen_cfg.is_baseline else float((rsr * area).sum())
                        ),
                        "area_4p1000_ha": float(reach),
                        "share_4p1000_pct": (
                            100.0 * float(reach / crop_sim.sum())
                            if crop_sim.sum() > 0
                            else float("nan")
                        ),
                    }
                )
        return pd.DataFrame(rows)

    def exclusions(self) -> pd.DataFrame:
        """Cells and area by reason: every candidate cell is simulated or has a reason."""
        rows = [{"code": SIMULATED, "reason": "simulated"}]
        rows += [{"code": c, "reason": r} for c, r in EXCLUSION_REASONS.items()]
        rows += [{"code": c, "reason": r} for c, r in OTHER_REASONS.items()]
        cell_area = np.nan_to_num(self.area)
        for row in rows:
            hit = self.reason == row["code"]
            row["cells"] = int(hit.sum())
            row["area_ha"] = float(cell_area[hit].sum())
        return pd.DataFrame(rows)


def _zone_names(config: RunConfig, zones: np.ndarray | None) -> dict[int, str]:
    path = config.inputs.zone_names
    if zones is None or path is None:
        return {}
    return read_zone_names(path)  # issue 13: one checked reader (validate uses it too)


def _grid_da(
    grid: GridSpec, values: np.ndarray, name: str, units: str, long_name: str
) -> xr.DataArray:
    y, x = grid.coords()
    da = xr.DataArray(
        values,
        dims=("y", "x"),
        coords={"y": y, "x": x},
        name=name,
        attrs={"units": units, "long_name": long_name},
    )
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


def _provenance(config: RunConfig) -> dict[str, str]:
    """Provenance tags of every product (one vocabulary with the DSM, :mod:`socseq.io.metadata`)."""
    return provenance(config.digest())


def compute_products(
    config: RunConfig,
    grid: GridSpec,
    results: zarr.Group,
    stage: Path,
    *,
    warmup_sums: dict[str, Any],
    forward_sums: np.ndarray,
    threads: int = 1,
) -> list[str]:
    """Write every product of the run into ``stage`` (a folder published afterwards).

    ``threads`` compress the files (GDAL's COG writer, :func:`~socseq.io.raster.write_netcdf`).

    The GeoTIFF maps, then the NetCDF cube: one after the other. Writing them at once saved no
    time at 10^6 cells and about a fifth of this step at 10^7 (112-119 s against 130-146 s),
    but stacked both writers' buffers on the peak memory of the 10^7 run (6.2-6.9 GiB against
    4.75-4.86 GiB, docs/benchmarks.md).

    Returns
    -------
    list of str
        Paths of the written products, relative to ``stage``.
    """
    products = ProductSet(config, grid, results)
    written: list[str] = []
    if config.outputs.geotiff:
        written += _write_maps(config, grid, products, stage, threads)
    if config.outputs.netcdf:
        written += _write_cube(config, grid, products, results, stage, threads)

    summary = products.summary()
    write_csv_atomic(summary, stage / "summary.csv")
    write_json_atomic(
        summary.replace({np.nan: None}).to_dict(orient="records"), stage / "summary.json"
    )
    exclusions = products.exclusions()
    write_csv_atomic(exclusions, stage / "exclusions.csv")
    series = _timeseries(config, warmup_sums, forward_sums)
    write_csv_atomic(series, stage / "timeseries.csv")
    written += ["summary.csv", "summary.json", "exclusions.csv", "timeseries.csv"]
    return written


def _write_cube(
    config: RunConfig,
    grid: GridSpec,
    products: ProductSet,
    results: zarr.Group,
    stage: Path,
    threads: int,
) -> list[str]:
    """Write the CF cube ``soc_stocks.nc``; the largest product, so deflated lightly."""
    cube, encoding = _cube(config, grid, products, results)
    write_netcdf(cube, stage / "soc_stocks.nc", encoding=encoding, complevel=1, threads=threads)
    return ["soc_stocks.nc"]


def _map_layers(
    products: ProductSet, iso: str
) -> list[tuple[str, Callable[[], np.ndarray], str, str]]:
    """List the GSOCseq maps (file, how to compute it, units, long name) in GSOCseq order."""
    layers: list[tuple[str, Callable[[], np.ndarray], str, str]] = [
        (
            product_name(iso, "T0"),
            lambda: products.t0,
            STOCK_UNITS,
            f"SOC stock {products.layer} at T0 (t C/ha)",
        )
    ]
    for name in products.scenarios:
        layers += [
            (
                product_name(iso, "finalSOC", name),
                partial(products.final.__getitem__, name),
                STOCK_UNITS,
                f"SOC stock {products.layer} after {products.years} years, {name} (t C/ha)",
            ),
            (
                product_name(iso, "AbsDiff", name),
                partial(products.abs_diff, name),
                STOCK_UNITS,
                f"SOC change from T0 after {products.years} years, {name} (t C/ha)",
            ),
            (
                product_name(iso, "ASR", name),
                partial(products.asr, name),
                RATE_UNITS,
                f"absolute sequestration rate, {name} (t C/ha/yr)",
            ),
        ]
        if name != products.baseline:
            layers += [
                (
                    product_name(iso, "RelDiff", name),
                    partial(products.rel_diff, name),
                    STOCK_UNITS,
                    f"SOC difference to {products.baseline}, {name} (t C/ha)",
                ),
                (
                    product_name(iso, "RSR", name),
                    partial(products.rsr, name),
                    RATE_UNITS,
                    f"relative sequestration rate vs {products.baseline}, {name} (t C/ha/yr)",
                ),
            ]
    return layers


def _write_maps(
    config: RunConfig, grid: GridSpec, products: ProductSet, stage: Path, threads: int
) -> list[str]:
    """Write the GSOCseq maps and the 4-per-1000 maps as COGs into ``stage/maps``."""
    tags = _provenance(config)
    iso = config.run.iso
    sim = products.simulated
    maps = stage / "maps"
    maps.mkdir(parents=True, exist_ok=True)
    written = []
    # Each layer is computed when it is written: holding all of them (4 S + 1 full maps) at
    # once was the largest memory of a 10^7-cell run.
    for file, compute, units, long_name in _map_layers(products, iso):
        write_geotiff(
            _grid_da(grid, np.where(sim, compute(), np.nan), file[:-4], units, long_name),
            maps / file,
            tags=tags,
            dtype="float32",
            threads=threads,
        )
        collect_cycles()  # the map just written, held by its xarray cycle (socseq._heap)
        written.append(f"maps/{file}")
    for name in products.scenarios:
        flag = np.where(sim, products.reaches_4p1000(name), FLAG_FILL).astype(np.uint8)
        file = four_per_1000_name(iso, name)
        write_geotiff(
            _grid_da(
                grid,
                flag,
                file[:-4],
                "1",
                f"4 per 1000 reached (1) or not (0), {FOUR_PER_1000_RULE}, {name}; "
                f"{FLAG_FILL} not simulated",
            ),
            maps / file,
            tags=tags,
            nodata=FLAG_FILL,
            dtype="uint8",
            threads=threads,
        )
        collect_cycles()
        written.append(f"maps/{file}")
    return written


def _timeseries(
    config: RunConfig, warmup_sums: dict[str, Any], forward_sums: np.ndarray
) -> pd.DataFrame:
    """Area-weighted mean and total SOC per year: warm-up, then each scenario from T0."""
    area = warmup_sums["area"]
    rows = []
    first = config.periods.warmup[0]
    for i, total in enumerate(warmup_sums["area_soc"]):
        rows.append(
            {
                "phase": "warmup",
                "scenario": "",
                "year": first + i,
                "mean_soc_t_ha": total / area if area > 0 else np.nan,
                "total_soc_t": total,
            }
        )
    t0_year = config.periods.warmup[1]
    for s, scen in enumerate(config.scenarios):
        for j, total in enumerate(forward_sums[s]):
            rows.append(
                {
                    "phase": "forward",
                    "scenario": scen.name,
                    "year": t0_year + j,
                    "mean_soc_t_ha": total / area if area > 0 else np.nan,
                    "total_soc_t": total,
                }
            )
    return pd.DataFrame(rows)


def _npp_carbon(config: RunConfig, results: zarr.Group, land_use: np.ndarray) -> np.ndarray:
    """Spin-up MIAMI NPP as soil carbon input [t C/ha/yr] (manual eqs. 6.9–6.12)."""
    factor = read_class_table(config.land_use.table).npp_factor[np.clip(land_use, 0, 255)]
    return npp_t_c_ha(read_stored(results, "npp_spin"), config.model.carbon_fraction) * factor


def _cube(
    config: RunConfig, grid: GridSpec, products: ProductSet, results: zarr.Group
) -> tuple[xr.Dataset, dict[str, dict[str, Any]]]:
    """CF dataset: yearly stocks (scenario × year × y × x) and the 2-D/3-D products.

    Returns the dataset and the per-variable encodings (fill values of the integer flags).

    CF layout (checked by the IOOS compliance checker in the tests): the ``scenario`` dimension
    has no coordinate variable (CF coordinate variables are numeric); its names are the
    auxiliary coordinate ``scenario_name``. The stocks are ``soil_mass_content_of_carbon`` in
    ``t ha-1`` (the soil of RothC is the modelled layer, ``model.depth_cm``, named in the long
    names). Flags are ``uint8`` with ``flag_values``/``flag_meanings`` and ``_FillValue`` 255:
    not simulated (``reaches_4p1000``), no land-use data (``cropland``, ``exclusion_reason``).
    """
    y, x = grid.coords()
    t0_year = config.periods.warmup[1]
    years = np.arange(t0_year, t0_year + products.years + 1)
    stocks = dsa.from_zarr(results["soc"])  # (S, years + 1, y, x), float64
    soc = stocks.astype(np.float32)
    sim = products.simulated
    scen = products.scenarios
    # The 3-D rates stay lazy (computed window by window while the file is written), so
    # writing the cube holds a few chunks, not S full float64 maps per variable; they come from
    # the final and T0 maps already in memory, not from the stored stocks read again.
    tile = stocks.chunksize[2:]
    mask = dsa.from_array(sim, chunks=tile)
    t0 = dsa.from_array(products.t0, chunks=tile)
    final = dsa.from_array(products.finals, chunks=(1, *tile))
    base = scen.index(products.baseline)
    asr = dsa.where(mask, absolute_rate(final, t0, products.years), np.nan)
    rsr = dsa.where(mask, relative_rate(final, final[base], products.years), np.nan)
    reaches = dsa.where(mask, reaches_four_per_1000(asr, t0), FLAG_FILL).astype(np.uint8)
    on_land = products.reason != NO_LAND_USE
    cropland = np.where(on_land, products.cropland(), FLAG_FILL).astype(np.uint8)
    layer = products.layer
    stock = {"units": STOCK_UNITS, "standard_name": SOC_STANDARD_NAME}
    meanings = exclusion_flag_meanings()

    ds = xr.Dataset(
        {
            "soc_t_ha": (
                ("scenario", "year", "y", "x"),
                soc,
                {
                    **stock,
                    "long_name": f"SOC stock {layer} at the end of each year (t C/ha; first "
                    "year = T0, the end of the warm-up)",
                },
            ),
            "soc_t0_t_ha": (
                ("y", "x"),
                np.where(sim, products.t0, np.nan),
                {**stock, "long_name": f"SOC stock {layer} at T0 (t C/ha)"},
            ),
            "asr_t_ha_yr": (
                ("scenario", "y", "x"),
                asr,
                {
                    "units": RATE_UNITS,
                    "long_name": "absolute sequestration rate (t C/ha/yr): (SOC after "
                    f"{products.years} years - SOC at T0) / {products.years}",
                },
            ),
            "rsr_t_ha_yr": (
                ("scenario", "y", "x"),
                rsr,
                {
                    "units": RATE_UNITS,
                    "long_name": f"relative sequestration rate vs {products.baseline} "
                    f"(t C/ha/yr): (SOC - SOC of {products.baseline}, both after "
                    f"{products.years} years) / {products.years}",
                },
            ),
            "reaches_4p1000": (
                ("scenario", "y", "x"),
                reaches,
                {
                    "long_name": f"4 per 1000 reached: {FOUR_PER_1000_RULE}",
                    "flag_values": np.array([0, 1, FLAG_FILL], np.uint8),
                    "flag_meanings": "not_reached reached not_simulated",
                },
            ),
            "cropland": (
                ("y", "x"),
                cropland,
                {
                    "long_name": "land-use class counted as cropland (the denominator of the "
                    "4-per-1000 share is the simulated cropland area)",
                    "flag_values": np.array([0, 1, FLAG_FILL], np.uint8),
                    "flag_meanings": "not_cropland cropland no_land_use_data",
                },
            ),
            "ceq_t_ha_yr": (
                ("y", "x"),
                read_stored(results, "ceq"),
                {
                    "units": RATE_UNITS,
                    "long_name": "plant carbon input at spin-up equilibrium (t C/ha/yr)",
                },
            ),
            "c_input_bau_t_ha_yr": (
                ("y", "x"),
                read_stored(results, "c_bau"),
                {
                    "units": RATE_UNITS,
                    "long_name": "baseline plant carbon input, mean of the warm-up years "
                    "(t C/ha/yr)",
                },
            ),
            "npp_spinup_t_c_ha_yr": (
                ("y", "x"),
                np.where(sim, _npp_carbon(config, results, products.land_use), np.nan),
                {
                    "units": RATE_UNITS,
                    "long_name": "MIAMI NPP of the spin-up years entering the soil (t C/ha/yr; "
                    f"class NPP factor x carbon fraction {config.model.carbon_fraction}); "
                    "the warm-up scales Ceq by ratios of it",
                },
            ),
            "area_ha": (
                ("y", "x"),
                products.area,
                {
                    "units": "ha",
                    "long_name": "area counted per cell (true cell area times the area "
                    "fraction, if given)",
                },
            ),
            "exclusion_reason": (
                ("y", "x"),
                products.reason,
                {
                    "long_name": "why a cell was not simulated (0 = simulated; docs/pipeline.md)",
                    "flag_values": np.array(list(meanings), np.uint8),
                    "flag_meanings": " ".join(meanings.values()),
                },
            ),
        },
        coords={
            "scenario_name": (
                ("scenario",),
                np.array(scen, dtype=object),
                {"long_name": "management scenario"},
            ),
            "year": (
                ("year",),
                years,
                {
                    "long_name": "calendar year at whose end the stock is given (the first is "
                    "T0, the end of the warm-up)"
                },
            ),
            "y": y,
            "x": x,
        },
        attrs=netcdf_attrs(
            config.digest(),
            f"socseq run: {config.run.name}",
            summary="SOC stocks of the modelled soil layer under management scenarios, with "
            "the GSOCseq sequestration rates and the 4-per-1000 flag (docs/pipeline.md)",
            references="FAO (2020) GSOCseq Technical Manual; Coleman & Jenkinson (1996) RothC",
            forward_years=products.years,
            **netcdf_climate_attrs(config),
        ),
    )
    if config.outputs.warmup_stocks:
        first = config.periods.warmup[0]
        warm = dsa.from_zarr(results["soc_warmup"]).astype(np.float32)
        ds["soc_warmup_t_ha"] = (
            ("warmup_year", "y", "x"),
            warm,
            {**stock, "long_name": f"SOC stock {layer} at the end of each warm-up year (t C/ha)"},
        )
        ds = ds.assign_coords(
            warmup_year=(
                ("warmup_year",),
                np.arange(first, first + warm.shape[0]),
                {"long_name": "calendar year of the warm-up at whose end the stock is given"},
            )
        )
    ds = ds.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    fills = {"_FillValue": FLAG_FILL}
    encoding = {"reaches_4p1000": fills, "cropland": fills, "exclusion_reason": fills}
    return ds, encoding
