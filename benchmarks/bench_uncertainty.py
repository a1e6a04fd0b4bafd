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
import json
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_pipeline import write_inputs  # noqa: E402

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
    text = config.read_text().replace('output_dir = "out"',
                                      f'output_dir = "out"\nchunk_size = {args.chunk}')
    config.write_text(text + SECTION.format(members=args.members))
    out = args.work / "out"
    shutil.rmtree(out, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "socseq"), "run", str(config), "-q"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    started = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        raise SystemExit(proc.returncode)
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)[1])
    manifest = json.loads((out / "run.json").read_text())
    unc = manifest["uncertainty"]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"python {platform.python_version()}")
    print(f"command: {' '.join(command[1:])}")
    print(f"simulated cells: {manifest['cells']['simulated']:,}; members {unc['members']}; "
          f"member runs {unc['member_runs']:,}; rows per batch {unc['rows_per_batch']:,}")
    print(f"wall time: {wall:.1f} s; peak RSS of the run process: {peak_kb / 2**20:.2f} GiB")
    print("phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in
                                     manifest["timings_s"].items()))
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
