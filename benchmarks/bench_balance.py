"""Cost of the runtime carbon-balance check in the phase engine, without the pipeline around it.

Run:  python benchmarks/bench_balance.py --cells 100000 --repeat 7

Builds ``--cells`` synthetic cropland cells (a seasonal 12-month climate per cell, a 20-year
warm-up with its own monthly climate, the forward climatology) and times
:func:`socseq.pipeline.engine.simulate` as a window task calls it: exact spin-up, 20 warm-up
years, BAU and SSM1–3 over 20 forward years. Calls with and without the check alternate
(ABBA) after one unmeasured call that compiles the kernels; the medians of the engine's own
phase timings are printed, and the seconds spent inside the check's own functions (the
verification year of the spin-up and the arithmetic of every phase), which the load of a
shared machine disturbs far less than the difference of two medians.
``bench_pipeline.py --check-cost`` measures the same in a whole
``socseq run``, where reading the inputs and writing the products dilute it.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from socseq.pipeline import balance, engine
from socseq.pipeline.engine import CellInputs, EngineSettings, Members, ScenarioSpec, simulate
from socseq.pipeline.landuse import read_class_table

WARM, FORWARD = 20, 20
PHASES = ("spin-up", "warm-up", "forward")


def cells(n: int, seed: int = 0) -> CellInputs:
    """``n`` cropland cells with a seasonal climate and yearly noise in the warm-up."""
    rng = np.random.default_rng(seed)
    season = np.cos(2 * np.pi * (np.arange(12) - 6.5) / 12)
    tas = 16 + rng.uniform(-6, 8, (n, 1)) + 7 * season
    pr = np.clip(70 + 60 * season + rng.uniform(-20, 20, (n, 1)), 0, None)
    pet = np.clip(35 + 5 * tas, 5, None)
    months = 12 * WARM

    def series(a: np.ndarray, low: float) -> np.ndarray:
        return np.clip(np.tile(a, (1, WARM)) + rng.normal(0, 1.0, (n, months)), low, None)

    classes = np.full(n, 2)
    cover = read_class_table("fao").cover[classes]
    return CellInputs(
        classes=classes,
        soc=rng.uniform(20, 80, n),
        clay=rng.uniform(5, 60, n),
        spin={"tas": tas, "pr": pr, "pet": pet},
        npp_spin=rng.uniform(900, 1400, n),
        warm={"tas": series(tas, -40), "pr": series(pr, 0), "pet": series(pet, 1)},
        npp_warm=rng.uniform(900, 1400, (n, WARM)),
        fwd={"tas": tas, "pr": pr, "pet": pet},
        cover=cover,
        warm_cover=None,
        fwd_cover=cover,
        yearly=np.full((n, WARM), 2),
        fwd_classes=classes,
    )


def settings() -> EngineSettings:
    """The pipeline's defaults: exact spin-up, official constants, BAU and SSM1–3."""
    return EngineSettings(
        table=read_class_table("fao"),
        paddy_rate_factor=0.4,
        evap_coefficient=1.0,
        spinup_method="exact",
        monthly_shares=(1.0 / 12.0,) * 12,
        constants="official",
        depth_cm=30.0,
        bare_threshold=0.8,
        scenarios=tuple(
            ScenarioSpec(name, m, 0.0, None)
            for name, m in (("BAU", 1.0), ("SSM1", 1.05), ("SSM2", 1.10), ("SSM3", 1.20))
        ),
        n_warmup_years=WARM,
        forward_years=FORWARD,
    )


#: Seconds spent inside the check's functions during the current call.
INSIDE = {"seconds": 0.0, "depth": 0}


def _stopwatch(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` adding its outermost calls' seconds to :data:`INSIDE`."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        INSIDE["depth"] += 1
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            INSIDE["depth"] -= 1
            if INSIDE["depth"] == 0:
                INSIDE["seconds"] += time.perf_counter() - started

    return wrapper


engine._check_spinup = _stopwatch(engine._check_spinup)
engine._check_forward = _stopwatch(engine._check_forward)
balance.CarbonLedger.check = _stopwatch(balance.CarbonLedger.check)  # type: ignore[method-assign]


def timed(batch: CellInputs, ts: EngineSettings, check: bool) -> list[float]:
    """Seconds of spin-up, warm-up, forward, the whole call and inside the check."""
    balance._ENABLED = check
    INSIDE["seconds"] = 0.0
    try:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        simulate(ts, batch, Members.identity(batch, ts), timings=timings)
        total = time.perf_counter() - started
    finally:
        balance._ENABLED = True
    return [*(timings[p] for p in PHASES), total, INSIDE["seconds"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7, help="calls of each kind")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python "
        f"{platform.python_version()}, numba threads {numba.get_num_threads()}"
    )
    batch, ts = cells(args.cells), settings()
    timed(batch, ts, True)  # compiles; not measured
    rows: dict[bool, list[list[float]]] = {True: [], False: []}
    for r in range(args.repeat):
        for check in (True, False) if r % 2 == 0 else (False, True):
            rows[check].append(timed(batch, ts, check))
            print(
                f"check {'on ' if check else 'off'}: "
                + " / ".join(f"{v:.3f}" for v in rows[check][-1])
            )
    print(
        f"medians (s), {args.cells:,} cells: spin-up / warm-up / forward / simulate / "
        "inside the check"
    )
    for check in (True, False):
        medians = np.median(np.array(rows[check]), axis=0)
        print(f"check {'on ' if check else 'off'}: " + " / ".join(f"{v:.3f}" for v in medians))


if __name__ == "__main__":
    main()
