"""End-to-end throughput of ``socseq run``: GeoTIFF/NetCDF inputs in, written products out.

Run:  python benchmarks/bench_pipeline.py --side 1000 [--workers 2] [--work DIR]
      python benchmarks/bench_pipeline.py --side 316 --check-cost --repeat 5

Writes a synthetic square domain of ``side × side`` 1 km cells (EPSG:3826): SOC, clay and land
use as GeoTIFF (every cell cropland, so every cell is simulated), and a 1981–2020 monthly
climate (temperature, precipitation, PET) as NetCDF on a 5 km grid, as national studies take
it from TerraClimate or CRU; the pipeline aligns it to 1 km (bilinear). Then runs
``socseq run`` in a child process under GNU time and prints wall time, the phase timings of
``run.json`` and the child's peak resident memory. Four scenarios, 20-year warm-up and
20-year forward run, exact spin-up.

``--check-cost`` measures what the runtime carbon-balance check costs: the same inputs are run
``--repeat`` times with the check and as often without it, alternating (ABBA), after one
unmeasured run that fills the numba cache, and the medians are printed. Runs without the check
exist only here: the child process clears the private switch of
:mod:`socseq.pipeline.balance` before it starts ``socseq run``, which no configuration, option
or environment variable can do (threaded scheduler only: ``--workers`` processes would not
see the switch).

``--rechunk-cost`` measures what rewriting the climate into scratch saves
(:mod:`socseq.pipeline.rechunk`): the same inputs are run ``--repeat`` times with the rule
deciding (at 10^6 cells and more, the benchmark's climate is rewritten) and as often with the
rewrite switched off through the module's private switch, alternating (ABBA) after one
unmeasured run, and the ``inputs`` phase of ``run.json``, the wall time and their medians are
printed (``--workers`` is fine: the decision is made in the run's own process).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine

from socseq.io.grid import GridSpec
from socseq.io.raster import write_geotiff, write_netcdf


def _da(grid: GridSpec, values: np.ndarray, name: str) -> xr.DataArray:
    y, x = grid.coords()
    dims = ("y", "x") if values.ndim == 2 else ("time", "y", "x")
    da = xr.DataArray(values, dims=dims, coords={"y": y, "x": x}, name=name)
    return da.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


def write_inputs(root: Path, side: int, climate_km: int = 5, seed: int = 0) -> Path:
    """Write the synthetic domain and its configuration; return the configuration path."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    grid = GridSpec("EPSG:3826", Affine(1000.0, 0, 100_000.0, 0, -1000.0, 2_900_000.0), side, side)
    yy, xx = np.meshgrid(np.linspace(0, 1, side), np.linspace(0, 1, side), indexing="ij")
    soc = 35 + 15 * np.sin(6 * xx) * np.cos(4 * yy) + rng.normal(0, 3, (side, side))
    clay = np.clip(25 + 10 * np.cos(5 * xx + 2 * yy) + rng.normal(0, 2, (side, side)), 5, 60)
    write_geotiff(_da(grid, soc.astype(np.float32), "soc"), root / "soc.tif", dtype="float32")
    write_geotiff(_da(grid, clay.astype(np.float32), "clay"), root / "clay.tif", dtype="float32")
    write_geotiff(
        _da(grid, np.full((side, side), 2, np.uint8), "land_use"),
        root / "landuse.tif",
        nodata=0,
        dtype="uint8",
    )

    n = max(2, side * 1000 // (climate_km * 1000) + 2)
    coarse = GridSpec(
        "EPSG:3826",
        Affine(
            climate_km * 1000.0, 0, 100_000.0 - 5000, 0, -climate_km * 1000.0, 2_900_000.0 + 5000
        ),
        n,
        n,
    )
    months = np.arange(480)
    cy, cx = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n), indexing="ij")
    season = np.cos(2 * np.pi * ((months % 12) - 6.5) / 12)[:, None, None]
    year_t = np.repeat(rng.normal(0, 0.5, 40), 12)[:, None, None]
    tas = (18 + 8 * cy - 4 * cx)[None] + 6 * season + year_t
    wet = np.clip(np.sin(np.pi * ((months % 12) - 3.5) / 7), 0, None)[:, None, None]
    year_p = np.repeat(rng.gamma(20, 1 / 20, 40), 12)[:, None, None]
    pr = (20 + 300 * wet) * year_p * (0.7 + 0.6 * cx)[None]
    pet = np.clip(35 + 5.5 * tas, 5, None)
    time_axis = pd.date_range("1981-01-01", periods=480, freq="MS")
    for name, values, units in (("tas", tas, "degC"), ("pr", pr, "mm"), ("pet", pet, "mm")):
        da = _da(coarse, values.astype(np.float32), name).assign_coords(time=time_axis)
        da.attrs["units"] = units
        write_netcdf(da.to_dataset(), root / f"{name}.nc")
    config = root / "run.toml"
    config.write_text(f"""
[run]
name = "benchmark {side}x{side}"
iso = "XBM"
output_dir = "out"

[inputs]
soc = {{ path = "soc.tif", units = "t/ha" }}
clay = {{ path = "clay.tif", units = "%" }}
land_use = {{ path = "landuse.tif" }}

[climate.series]
temperature = {{ path = "tas.nc", variable = "tas", units = "degC" }}
precipitation = {{ path = "pr.nc", variable = "pr", units = "mm" }}
evaporation = {{ path = "pet.nc", variable = "pet", units = "mm" }}

[outputs]
report = false
""")
    return config


#: The child's entry point without the carbon-balance check (``--check-cost`` only).
WITHOUT_BALANCE_CHECK = (
    "import socseq.pipeline.balance as b; b._ENABLED = False; from socseq.cli import main; main()"
)


#: The child's entry point with the climate rewrite switched off (``--rechunk-cost`` only).
WITHOUT_RECHUNK = (
    "import socseq.pipeline.rechunk as r; r._FORCE = False; from socseq.cli import main; main()"
)


def timed_run(
    config: Path, workers: int | None = None, balance_check: bool = True, rechunk: bool = True
) -> tuple[list[str], float, float, dict]:
    """Run ``socseq run CONFIG`` in a child process under GNU time.

    Returns
    -------
    command, wall time [s], peak resident memory of the child [GiB], its run.json
    """
    out = config.parent / "out"
    shutil.rmtree(out, ignore_errors=True)
    socseq = [str(Path(sys.executable).parent / "socseq")]
    if not balance_check:
        socseq = [sys.executable, "-c", WITHOUT_BALANCE_CHECK]
    if not rechunk:
        socseq = [sys.executable, "-c", WITHOUT_RECHUNK]
    command = [*socseq, "run", str(config), "-q"]
    if workers:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        raise SystemExit(proc.returncode)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])
    manifest = json.loads((out / "run.json").read_text())
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
        f"python {platform.python_version()}"
    )
    print(f"command: {' '.join(command[1:])}")
    return command, wall, peak_kb / 2**20, manifest


def print_timings(wall: float, peak_gib: float, manifest: dict) -> None:
    """Print wall time, peak memory and the phase timings of run.json."""
    print(f"wall time: {wall:.1f} s; peak RSS of the run process: {peak_gib:.2f} GiB")
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in manifest["timings_s"].items()))


def check_cost(config: Path, repeat: int) -> None:
    """Run with and without the carbon-balance check, alternating; print the medians."""
    timed_run(config)  # fills the numba cache; not measured
    phases = ("spin-up", "warm-up", "forward")
    rows: dict[bool, list[list[float]]] = {True: [], False: []}
    for r in range(repeat):
        for check in (True, False) if r % 2 == 0 else (False, True):
            _, wall, _, manifest = timed_run(config, balance_check=check)
            timings = manifest["timings_s"]
            figures = [wall, *(timings[p] for p in phases), sum(timings[p] for p in phases)]
            rows[check].append(figures)
            print(f"check {'on ' if check else 'off'}: " + " / ".join(f"{v:.2f}" for v in figures))
    print("medians (s): wall / spin-up / warm-up / forward / the three phases")
    for check in (True, False):
        medians = np.median(np.array(rows[check]), axis=0)
        print(f"check {'on ' if check else 'off'}: " + " / ".join(f"{v:.2f}" for v in medians))


def rechunk_cost(config: Path, repeat: int, workers: int | None) -> None:
    """Run with the climate rewrite decided by its rule and switched off, alternating."""
    timed_run(config, workers)  # fills the numba cache; not measured
    rows: dict[bool, list[list[float]]] = {True: [], False: []}
    for r in range(repeat):
        for rechunk in (True, False) if r % 2 == 0 else (False, True):
            _, wall, _, manifest = timed_run(config, workers, rechunk=rechunk)
            timings = manifest["timings_s"]
            rows[rechunk].append([wall, timings["inputs"], timings["total"]])
            rewritten = [
                name
                for name, s in manifest["staging"]["rechunked_sources"].items()
                if s["rewritten"]
            ]
            print(
                f"rewrite {'on ' if rechunk else 'off'}: wall {wall:.1f} s, inputs "
                f"{timings['inputs']:.1f} s, total {timings['total']:.1f} s; rewritten: "
                f"{', '.join(rewritten) or 'none'}"
            )
    print("medians (s): wall / inputs / total")
    for rechunk in (True, False):
        medians = np.median(np.array(rows[rechunk]), axis=0)
        label = "on " if rechunk else "off"
        print(f"rewrite {label}: " + " / ".join(f"{v:.1f}" for v in medians))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=1000, help="cells per side")
    parser.add_argument("--workers", type=int, help="LocalCluster worker processes")
    parser.add_argument("--work", type=Path, default=Path("bench-pipeline-work"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--check-cost", action="store_true", help="time runs with and without the balance check"
    )
    parser.add_argument(
        "--rechunk-cost",
        action="store_true",
        help="time runs with and without rewriting the climate into scratch",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="runs of each kind (--check-cost, --rechunk-cost)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    config = write_inputs(args.work, args.side)
    print(
        f"inputs written in {time.perf_counter() - started:.1f} s "
        f"({args.side}x{args.side} = {args.side**2:,} cells)"
    )
    if args.check_cost:
        check_cost(config, args.repeat)
    elif args.rechunk_cost:
        rechunk_cost(config, args.repeat, args.workers)
    else:
        _, wall, peak, manifest = timed_run(config, args.workers)
        print(f"simulated cells: {manifest['cells']['simulated']:,}")
        print_timings(wall, peak, manifest)
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
