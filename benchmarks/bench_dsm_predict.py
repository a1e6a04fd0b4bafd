"""Time whole-grid DSM prediction (mean, quantiles, SD, DI/AOA) on the FAO Cookbook 1 km grid.

Usage: python benchmarks/bench_dsm_predict.py [--repeat 3]

Uses examples/mkd_cookbook/dsm.toml (QRF + residual kriging, 500 trees) and the data in
../shared/data/mkd-soc-cookbook. Prints the time of each step; the prediction step is the one
with the 60 s target (310 × 182 grid, 39,437 mapped cells).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

from socseq.dsm import load_config, predict, train
from socseq.dsm.api import open_covariates, prediction_mask
from socseq.dsm.prediction import predict_grid, write_prediction

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "mkd_cookbook" / "dsm.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = load_config(CONFIG)
    timings: dict[str, list[float]] = {}

    def timed(name, func, *args, **kwargs):
        started = time.perf_counter()
        result = func(*args, **kwargs)
        timings.setdefault(name, []).append(time.perf_counter() - started)
        return result

    with TemporaryDirectory() as tmp:
        config = config.model_copy(
            update={"output": config.output.model_copy(update={"dir": Path(tmp)})}
        )
        for _ in range(args.repeat):
            stack = timed("open + align 13 covariates", open_covariates, config)
            mask = prediction_mask(config, stack.grid)
            trained = timed("train (QRF fit, kriging, AOA)", train, config, write=False)
            ds = timed(
                "predict grid (mean, q05/q50/q95, SD, DI, AOA)",
                predict_grid,
                trained.model,
                stack,
                mask=mask,
                aoa=trained.aoa,
                frame=trained.frame,
            )
            timed("write 7 COGs + NetCDF", write_prediction, ds, Path(tmp) / "maps")
            timed(
                "predict() end to end (open, predict, write, figure)",
                predict,
                config,
                trained=trained,
            )
    cells = int(np.isfinite(ds["soc_mean_t_ha"].values).sum())
    print(
        f"grid {stack.grid.shape[1]} x {stack.grid.shape[0]}, {cells} cells mapped, "
        f"{len(trained.training)} training samples; median of {args.repeat} runs"
    )
    for name, values in timings.items():
        print(f"  {name:<55} {statistics.median(values):7.2f} s")
    seconds = statistics.median(timings["predict grid (mean, q05/q50/q95, SD, DI, AOA)"])
    print(f"  prediction throughput: {cells / seconds:,.0f} cells/s (target: whole grid ≤ 60 s)")


if __name__ == "__main__":
    main()
