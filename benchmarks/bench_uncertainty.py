"""Monte Carlo uncertainty of ``socseq run``: N members × every cell through all phases.

Run:  python benchmarks/bench_uncertainty.py --side 317 --members 100 [--chunk 64]

Writes the synthetic domain of ``bench_pipeline.py`` (``side × side`` 1 km cropland cells,
1981–2020 monthly climate on a 5 km grid), adds an ``[uncertainty]`` section (Monte Carlo,
SOC lognormal 10 %, clay 10 %, temperature ±0.5 °C and precipitation 10 % shared over space,
input 10 % and scenario increase 30 %), runs ``socseq run`` in a child process under GNU time
and prints the wall time, the phase timings of ``run.json`` (``uncertainty`` is the members'
spin-up, warm-up and four forward scenarios) and the child's peak resident memory.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_pipeline import print_timings, timed_run, write_inputs  # noqa: E402

SECTION = """
[uncertainty]
mode = "montecarlo"
members = {members}
seed = 2024
[uncertainty.soc]
source = "relative"
relative = 0.10
distribution = "lognormal"
[uncertainty.clay]
relative_sd = 0.10
[uncertainty.climate]
temperature_sd_degC = 0.5
precipitation_relative_sd = 0.10
shared_over_space = true
[uncertainty.inputs]
relative_sd = 0.10
increase_relative_sd = 0.30
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=317, help="cells per side (317² ≈ 10⁵)")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=64, help="run.chunk_size")
    parser.add_argument("--workers", type=int, help="LocalCluster worker processes")
    parser.add_argument("--work", type=Path, default=Path("bench-uncertainty-work"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    config = write_inputs(args.work, args.side)
    text = config.read_text().replace(
        'output_dir = "out"', f'output_dir = "out"\nchunk_size = {args.chunk}'
    )
    config.write_text(text + SECTION.format(members=args.members))
    _, wall, peak, manifest = timed_run(config, args.workers)
    unc = manifest["uncertainty"]
    print(
        f"simulated cells: {manifest['cells']['simulated']:,}; members {unc['members']}; "
        f"member runs {unc['member_runs']:,}; rows per batch {unc['rows_per_batch']:,}"
    )
    print_timings(wall, peak, manifest)
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
