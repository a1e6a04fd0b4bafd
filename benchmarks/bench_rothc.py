"""Throughput of the RothC engine: forward kernel, exact equilibrium, and a plain-Python loop.

Run:  python benchmarks/bench_rothc.py [--cells 10000 100000 1000000] [--repeat 3]

Prints one line per measurement (median of the repeats, after a warm-up call that compiles the
numba kernels). Forcing is per cell: a 12-month climatology (temperature, rain, evaporation)
and a constant monthly plant input, as in a GSOCseq forward run, with yearly output (240 months
-> 20 records). Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import time

import numba
import numpy as np

from socseq.rothc import MonthlyForcing, Soil, run
from socseq.rothc import _reference as ref
from socseq.rothc.equilibrium import equilibrium


def _inputs(n: int, seed: int = 0) -> tuple[Soil, MonthlyForcing, np.ndarray]:
    rng = np.random.default_rng(seed)
    months = np.arange(12)
    mean_t = rng.uniform(5.0, 27.0, (n, 1))
    tmp = mean_t + rng.uniform(2.0, 10.0, (n, 1)) * np.sin(2 * np.pi * (months - 3) / 12)
    soil = Soil(clay_pct=rng.uniform(5.0, 60.0, n), depth_cm=30.0, iom_t_ha=rng.uniform(1, 5, n))
    forcing = MonthlyForcing(
        tmp_degC=tmp,
        rain_mm=rng.uniform(0.0, 250.0, (n, 12)),
        evap_mm=rng.uniform(10.0, 180.0, (n, 12)),
        plant_cover=1.0,
        c_inp_t_ha=rng.uniform(0.05, 0.5, (n, 1)),
        dpm_rpm=1.44,
    )
    return soil, forcing, rng.uniform(15.0, 120.0, n)


def _median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _plain_python_cell_months_per_s(months: int = 240) -> float:
    limits = ref.standard_limits(25.0, 30.0)
    year = [
        ref.Month(15 + 8 * np.sin(2 * np.pi * (m - 3) / 12), 80.0, 70.0, 1, 0.2) for m in range(12)
    ]
    state = ref.CellState(0.2, 5.0, 0.8, 30.0, 3.0)
    start = time.perf_counter()
    for m in range(months):
        ref.step(state, year[m % 12], 25.0, limits)
    return months / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=240)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, {numba.config.NUMBA_NUM_THREADS} "
        f"numba threads, numpy {np.__version__}, numba {numba.__version__}"
    )
    soil, forcing, target = _inputs(100)
    run(soil, forcing, 24)  # compile
    equilibrium(soil, forcing, target_soc=target)
    for n in args.cells:
        soil, forcing, target = _inputs(n)
        t = _median_time(
            lambda s=soil, f=forcing: run(s, f, args.months, record="year"), args.repeat
        )
        print(
            f"forward  cells={n:>9,d} months={args.months}  {t:8.3f} s  "
            f"{n * args.months / t:12.4g} cell-months/s"
        )
    n = max(args.cells)
    soil, forcing, target = _inputs(n)
    t = _median_time(lambda: equilibrium(soil, forcing, target_soc=target), args.repeat)
    print(f"equilibrium+fit cells={n:>9,d}  {t:8.3f} s  {n / t:12.4g} cells/s")
    plain = _plain_python_cell_months_per_s()
    print(f"plain-Python one-cell loop (socseq.rothc._reference): {plain:12.4g} cell-months/s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory of this process: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
