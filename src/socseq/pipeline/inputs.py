"""Inputs read where they are used: each window task reads its part of every source.

Before a run, :func:`socseq.pipeline.plan.plan_inputs` checks every layer on its metadata and
decides its resampling rule once. Every window task then calls :func:`read_window`, which
reads the window's part of each source (cropped in the source's CRS with a resampling margin),
converts its units once, aligns it to the window's cells with the layer's rule and fills
coastal cells from the nearest cell with climate. There is no staged copy of the inputs and no
1 km monthly climate cube: the work runs where the window runs, on the threads of this process
or on cluster workers. (A climate series whose chunks the windows would decompress many times
over is read from a copy on its own grid that the run writes once: :mod:`socseq.pipeline.rechunk`.)

Climate per window:

- **Spin-up**: the 12 monthly means of the spin-up years, and each year's annual mean
  temperature and precipitation for MIAMI NPP, are computed on the source grid and then
  resampled: bilinear and average resampling are linear (weights that sum to one), so the
  resampled means equal the means of the resampled months to rounding, at a twentieth of the
  cost. A ``[climate.spinup]`` file of 12 monthly means is read as it is.
- **Warm-up**: year by year, 12 months at a time; NPP of each year from the cell's months.
- **Forward**: the mean of the warm-up years month by month, or a future series year by year.

Coastal fill (:func:`socseq.pipeline.sources.read_filled`) reads a margin around the window as
wide as the fill distance when the window has candidate cells without climate, so a window
fills exactly as the whole grid would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
import zarr
from zarr.codecs import BloscCodec

from socseq.climate.gridded import cell_latitude_deg, monthly_pet
from socseq.climate.pet import thornthwaite_heat_index
from socseq.io.grid import GridSpec, cell_area_ha
from socseq.io.stores import stored_array
from socseq.pipeline.domain import domain_cells
from socseq.pipeline.landuse import class_codes
from socseq.pipeline.npp import miami_npp_g_dm_m2
from socseq.pipeline.plan import CLIMATE_VARIABLES, InputPlan, Window
from socseq.pipeline.sources import BlockReader, LayerSpec, read_block, read_filled

__all__ = [
    "SCRATCH_CODEC",
    "WindowData",
    "read_window",
]

#: Compression of the scratch stores, which live for one run: LZ4 with byte shuffle wrote a
#: smooth 12-month float32 slab of 10^6 cells 1.8x faster than zarr's default zstd, 20 % smaller.
SCRATCH_CODEC = BloscCodec(cname="lz4", clevel=1, shuffle="shuffle")


# --------------------------------------------------------------------------------------------
# A window's inputs


@dataclass
class WindowData:
    """A window's inputs: per-cell layers and the candidate cells' climate.

    Attributes
    ----------
    layers : dict of str to numpy.ndarray
        ``(rows, cols)``: ``land_use`` (FAO class, ``NO_CLASS`` without one), ``domain``
        (inside the ``[domain]``; every cell without one), ``soc`` [t C/ha], ``clay`` [%],
        ``sand``, ``ec`` (if configured), ``area_ha``, ``zones`` (−1 without), ``npp_spin``
        [g DM/m2/yr], ``climate_ok`` (every month of every phase has climate), ``cold``
        (every spin-up month below −5 °C).
    candidate : numpy.ndarray
        ``(rows, cols)`` bool: cells of an agricultural class inside the domain (the cells
        whose climate is read).
    climate : dict of str to numpy.ndarray
        Over the candidate cells: ``spin_tas`` … ``(n, 12)``, ``warm_tas`` … ``(n, 12·years)``,
        ``fwd_tas`` … ``(n, period)``, ``npp_warm`` ``(n, years)``.
    cover : numpy.ndarray or None
        ``(n, 12)`` cover factor of the candidate cells (cover raster or NDVI).
    yearly : numpy.ndarray or None
        ``(n, years)`` class of each warm-up year (``NO_CLASS`` where unknown).
    uncertainty : dict of str to numpy.ndarray
        ``(n,)`` SOC/clay uncertainty layers of the candidate cells.
    filled : dict of str to int
        Candidate cells filled from the nearest climate cell, per layer.
    """

    layers: dict[str, np.ndarray]
    candidate: np.ndarray
    climate: dict[str, np.ndarray]
    cover: np.ndarray | None
    yearly: np.ndarray | None
    uncertainty: dict[str, np.ndarray]
    filled: dict[str, int]


def _read_static(
    plan: InputPlan, window: Window, own: GridSpec, threads: int
) -> dict[str, np.ndarray]:
    layers: dict[str, np.ndarray] = {}
    lu = read_block(plan.static["land_use"], own, threads=threads)
    layers["land_use"] = class_codes(
        lu.values, lu.rio.nodata, plan.source_classes, plan.table
    ).astype(np.int64)
    if plan.baseline is not None:
        layers["soc"] = _baseline_window(plan.baseline, "soc_mean_t_ha", window)
    for name in ("soc", "clay", "sand", "ec"):
        if name in plan.static:
            layers[name] = np.asarray(read_block(plan.static[name], own, threads=threads).values)
    fraction = np.ones(own.shape)
    if "area_fraction" in plan.static:
        spec = plan.static["area_fraction"]
        scale = {"1": 1.0, "": 1.0, "-": 1.0, "fraction": 1.0, "%": 0.01}[
            (spec.units or "1").strip().lower()
        ]
        fraction = np.asarray(read_block(spec, own, threads=threads).values) * scale
    layers["area_ha"] = np.asarray(cell_area_ha(own).values) * np.nan_to_num(fraction)
    if "zones" in plan.static:
        zones = read_block(plan.static["zones"], own, threads=threads)
        values = np.asarray(zones.values, dtype=np.float64)
        if zones.rio.nodata is not None:
            values[values == zones.rio.nodata] = np.nan
        layers["zones"] = np.where(np.isfinite(values), values, -1).astype(np.int32)
    else:
        layers["zones"] = np.full(own.shape, -1, np.int32)
    return layers


def _spin_reduce(n_years: int, annual: bool) -> Any:
    """Source-grid reduction of the spin-up months: 12 monthly means, then n annual totals.

    The annual totals (12-month sums; temperature is divided by 12 later) feed MIAMI NPP,
    which is computed per cell from the resampled annual fields; evaporation needs none.
    """

    def reduce(block: xr.DataArray) -> xr.DataArray:
        values = np.asarray(block.values, dtype=np.float64)
        by_year = values.reshape(n_years, 12, *values.shape[1:])
        fields = [by_year.mean(axis=0)] + ([by_year.sum(axis=1)] if annual else [])
        out = xr.DataArray(
            np.concatenate(fields, axis=0),
            dims=("time", "y", "x"),
            coords={"y": block["y"].values, "x": block["x"].values},
        )
        out.rio.write_crs(block.rio.crs, inplace=True)
        out.rio.write_transform(block.rio.transform(), inplace=True)
        return out

    return reduce


def _mean_temperature(values: dict[str, np.ndarray]) -> None:
    """Add ``tas`` = (tmin + tmax)/2 (FAO-56) when only minimum and maximum are given.

    Linear, so it holds for monthly means and annual sums alike.
    """
    if "tas" not in values:
        values["tas"] = (values["tasmin"] + values["tasmax"]) / 2.0


@dataclass
class _PetInputs:
    """What computing PET in a window needs: the method, cell latitudes, the heat index.

    The Thornthwaite heat index I of a cell comes from its spin-up climatology (the 12
    monthly means of the spin-up years, the ``[climate.spinup]`` means or the
    ``[climate.normals]``), computed per cell once and used for every phase, so PET does
    not depend on the windows or on which months are computed together.
    """

    method: str | None
    lat: np.ndarray | None = None
    heat: np.ndarray | None = None

    @classmethod
    def of(cls, plan: InputPlan, own: GridSpec) -> _PetInputs:
        if plan.pet_method is None:
            return cls(None)
        return cls(plan.pet_method, cell_latitude_deg(own))

    def add_heat_index(self, spin_tas: np.ndarray) -> None:
        """Heat index of every cell of the window from its 12 spin-up monthly means."""
        if self.method == "thornthwaite":
            self.heat = thornthwaite_heat_index(spin_tas)

    def add(self, values: dict[str, np.ndarray], years: int, cells: Any = None) -> None:
        """Add ``pet`` [mm/month] to a phase's values, shape ``(12·years, ...)``.

        ``cells`` picks the window's cells that the values hold (None: the whole window).
        """
        if self.method is None:
            return
        assert self.lat is not None
        pick = (lambda a: a) if cells is None else (lambda a: a[cells])
        heat = None if self.heat is None else pick(self.heat)
        values["pet"] = monthly_pet(
            self.method,  # type: ignore[arg-type]
            np.tile(np.arange(1, 13), years),
            pick(self.lat),
            tas_degC=values["tas"],
            heat_index=heat,
            tmin_degC=values.get("tasmin"),
            tmax_degC=values.get("tasmax"),
        )


def read_window(plan: InputPlan, window: Window, threads: int = 1) -> WindowData:
    """Read, convert and align every input of one window.

    Parameters
    ----------
    plan : InputPlan
    window : Window
    threads : int
        Threads this task may use (GDAL warper).

    Returns
    -------
    WindowData
    """
    own = plan.grid.window(*window.bounds)
    layers = _read_static(plan, window, own, threads)
    layers["domain"] = domain_cells(plan.domain, own, threads)
    # Cells outside the domain are excluded before anything else: no climate is read for them.
    candidate = np.isin(layers["land_use"], plan.candidate_classes) & layers["domain"]
    if not candidate.any():
        layers["npp_spin"] = np.full(own.shape, np.nan)
        layers["climate_ok"] = np.zeros(own.shape, bool)
        layers["cold"] = np.zeros(own.shape, bool)
        return WindowData(layers, candidate, {}, None, None, {}, {})
    read = _ClimateReader(plan, window, candidate, threads)
    pet = _PetInputs.of(plan, own)
    climate = _read_spinup(plan, read, candidate, layers, pet)
    fwd_means = _read_warmup(plan, read, candidate, climate, pet)
    if plan.forward is None:
        for short in CLIMATE_VARIABLES:
            climate[f"fwd_{short}"] = np.ascontiguousarray(fwd_means[short].T)
    else:
        fp = plan.forward
        fwd = {
            short: _pick_cells(
                read(spec, slice(fp.first[short], fp.first[short] + fp.months), group=12),
                candidate,
            )
            for short, spec in fp.layers.items()
        }
        _mean_temperature(fwd)
        pet.add(fwd, fp.months // 12, candidate)
        for short in CLIMATE_VARIABLES:
            climate[f"fwd_{short}"] = np.ascontiguousarray(fwd[short].T)
    layers["climate_ok"] = read.ok
    return WindowData(
        layers=layers,
        candidate=candidate,
        climate=climate,
        cover=_read_cover(plan, own, candidate, threads),
        yearly=_read_yearly(plan, own, candidate, threads),
        uncertainty=_read_uncertainty(plan, window, own, candidate, threads),
        filled=read.filled,
    )


class _ClimateReader:
    """Reads months of a climate layer onto a window, filling coastal candidate cells.

    Keeps, over every call, which cells had climate in every month (``ok``) and the largest
    number of cells filled per layer (``filled``). ``[climate.normals]`` serve the spin-up and
    the warm-up: a 12-month read is kept and not read again (one group of 12 fills as
    ``group=None`` does).
    """

    def __init__(self, plan: InputPlan, window: Window, candidate: np.ndarray, threads: int):
        self.plan, self.window, self.candidate, self.threads = plan, window, candidate, threads
        self.ok = np.ones(candidate.shape, bool)
        self.filled: dict[str, int] = {}
        self._twelve: dict[tuple[LayerSpec, int], np.ndarray] = {}

    def __call__(
        self, spec: LayerSpec, months: slice, reduce: Any = None, group: int | None = None
    ) -> np.ndarray:
        key = (spec, months.start)
        twelve = reduce is None and months.stop - months.start == 12
        if twelve and key in self._twelve:
            return self._twelve[key]

        values, count = read_filled(
            BlockReader(spec, months, reduce, self.threads),
            self.plan.grid,
            self.window.bounds,
            self.candidate,
            self.plan.fill_distance_m,
            spec.name,
            group,
        )
        self.filled[spec.name] = max(self.filled.get(spec.name, 0), count)
        self.ok &= np.isfinite(values).all(axis=0)
        if twelve:
            self._twelve[key] = values
        return values


def _read_spinup(
    plan: InputPlan,
    read: _ClimateReader,
    candidate: np.ndarray,
    layers: dict[str, np.ndarray],
    pet: _PetInputs,
) -> dict[str, np.ndarray]:
    """Spin-up climate of the candidate cells, and the ``npp_spin`` and ``cold`` layers.

    From a series, the monthly means (and the annual fields for NPP) are computed on the
    source grid and then resampled.
    """
    sp = plan.spin
    spin: dict[str, np.ndarray] = {}
    if plan.spin_from_series:
        n_spin = plan.n_spin_years
        annual: dict[str, np.ndarray] = {}
        for short, spec in sp.layers.items():
            months = slice(sp.first[short], sp.first[short] + sp.months)
            values = read(spec, months, _spin_reduce(n_spin, short != "pet"))
            spin[short], annual[short] = values[:12], values[12:]
        _mean_temperature(annual)
        _mean_temperature(spin)
        npp_years = miami_npp_g_dm_m2(annual["tas"] / 12.0, annual["pr"])
        layers["npp_spin"] = npp_years.sum(axis=0) / n_spin
    else:
        for short, spec in sp.layers.items():
            spin[short] = read(spec, slice(sp.first[short], sp.first[short] + 12))
        _mean_temperature(spin)
        layers["npp_spin"] = miami_npp_g_dm_m2(spin["tas"].mean(axis=0), spin["pr"].sum(axis=0))
    layers["cold"] = np.all(spin["tas"] < -5.0, axis=0)
    pet.add_heat_index(spin["tas"])
    pet.add(spin, 1)
    return {
        f"spin_{k}": np.ascontiguousarray(_pick_cells(spin[k], candidate).T)
        for k in CLIMATE_VARIABLES
    }


def _pick_cells(values: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """``values[:, candidate]`` of ``(months, rows, cols)`` values, laid out cell by cell.

    Returns the ``(months, cells)`` transpose of a C-contiguous ``(cells, months)`` array,
    the layout the phases take: each cell's months are one run. The resampled climate is
    already cell-major (:func:`socseq.io._interp.bilinear_bands`), so a window whose every
    cell is a candidate takes it as it is, and otherwise each candidate's run is copied whole.
    """
    by_cell = np.moveaxis(values, 0, -1)
    if candidate.all():
        picked = by_cell.reshape(-1, by_cell.shape[-1])
    else:
        picked = by_cell[candidate]
    return np.ascontiguousarray(picked).T


def _read_warmup(
    plan: InputPlan,
    read: _ClimateReader,
    candidate: np.ndarray,
    climate: dict[str, np.ndarray],
    pet: _PetInputs,
) -> dict[str, np.ndarray]:
    """Add the warm-up months and yearly NPP to ``climate``; return the forward climatology.

    The forward climatology is the mean of the warm-up years month by month, summed in year
    order as a year-by-year reader would.
    """
    wp = plan.warm
    n_warm = plan.n_warmup_years
    n = int(candidate.sum())
    warm: dict[str, np.ndarray] = {}
    for short, spec in wp.layers.items():
        values = read(spec, slice(wp.first[short], wp.first[short] + wp.months), group=12)
        cells = _pick_cells(values, candidate)
        warm[short] = np.tile(cells.T, (1, wp.repeat)).T if wp.repeat > 1 else cells
        del values, cells
    _mean_temperature(warm)
    pet.add(warm, n_warm, candidate)
    from socseq.pipeline._climatology import monthly_means

    fwd_means = {}
    for short in CLIMATE_VARIABLES:
        by_cell = np.ascontiguousarray(warm.pop(short).T)
        fwd_means[short] = monthly_means(by_cell, n_warm).T
        climate[f"warm_{short}"] = by_cell
        del by_cell
    by_year = {k: climate[f"warm_{k}"].reshape(n, n_warm, 12) for k in ("tas", "pr")}
    climate["npp_warm"] = miami_npp_g_dm_m2(
        by_year["tas"].sum(axis=2) / 12.0, by_year["pr"].sum(axis=2)
    )
    return fwd_means


def _read_cover(
    plan: InputPlan, own: GridSpec, candidate: np.ndarray, threads: int
) -> np.ndarray | None:
    """``(n, 12)`` cover factor of the candidate cells from a cover raster or NDVI."""
    if plan.cover is None:
        return None
    block = read_block(plan.cover, own, threads=threads)
    values = np.asarray(block.values, dtype=np.float64)
    if plan.cover_source == "raster":
        factor = np.where(np.isfinite(values), values, 1.0)
    else:
        months = block["time"].dt.month.values
        factor = np.ones((12, *own.shape))
        for m in range(12):
            sel = values[months == m + 1]
            # GSOCseq: NA counts as not green; p = share of images above the threshold.
            share = (np.nan_to_num(sel, nan=-np.inf) > plan.ndvi_threshold).mean(axis=0)
            factor[m] = 1.0 - 0.4 * share
    return np.ascontiguousarray(factor[:, candidate].T)


def _read_yearly(
    plan: InputPlan, own: GridSpec, candidate: np.ndarray, threads: int
) -> np.ndarray | None:
    """``(n, years)`` FAO class of each warm-up year for the candidate cells."""
    if plan.yearly is None:
        return None
    n_warm = plan.n_warmup_years
    out = np.empty((int(candidate.sum()), n_warm), np.int64)
    for year in range(n_warm):
        spec = LayerSpec(**{**plan.yearly.__dict__, "band": plan.yearly_first_band + year + 1})
        block = read_block(spec, own, threads=threads)
        codes = class_codes(block.values, block.rio.nodata, plan.source_classes, plan.table)
        out[:, year] = codes[candidate]
    return out


def _read_uncertainty(
    plan: InputPlan, window: Window, own: GridSpec, candidate: np.ndarray, threads: int
) -> dict[str, np.ndarray]:
    """SOC/clay uncertainty layers of the candidate cells."""
    out = {
        name: np.asarray(read_block(spec, own, threads=threads).values)[candidate]
        for name, spec in plan.uncertainty.items()
    }
    if plan.uncertainty_baseline:
        assert plan.baseline is not None
        for name in plan.uncertainty_baseline:
            out[name] = _baseline_window(plan.baseline, f"{name}_t_ha", window)[candidate]
    return out


def _baseline_window(store: str, name: str, window: Window) -> np.ndarray:
    """Read a window of one of the ``[dsm]`` baseline maps kept in scratch."""
    array = stored_array(zarr.open_group(store, mode="r"), name)
    ys, xs = window.slices
    return np.asarray(array[ys, xs], dtype=np.float64)
