"""Fetch public inputs for a box, validate them and run socseq on them, in one script.

With a network connection (real providers; North Macedonia, 1991-2020)::

    python examples/fetched/run.py --out mkd-fetched

Against another server (a mirror, or the test suite's loopback provider server)::

    python examples/fetched/run.py --bbox 21.0,41.0,21.5,41.3 --years 1999-2002
        --base-url terraclimate=http://127.0.0.1:8000 ...   (one --base-url per source)

Steps: ``socseq.fetch.fetch`` (TerraClimate, SoilGrids clay and SOC, ESA WorldCover into
``OUT``, with ``OUT/socseq.toml``), ``validate_config`` (files, units, ranges, overlap), then
``run_pipeline`` (spin-up, warm-up, BAU and SSM1-3) into ``OUT/socseq-out``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from socseq.fetch import HttpOptions, fetch
from socseq.pipeline.config import load_run_config
from socseq.pipeline.run import run_pipeline, validate_config

#: North Macedonia (the shared mkd-* data sets cover it).
MKD_BBOX = "20.4,40.8,23.1,42.4"


def main(argv: list[str] | None = None) -> Path:
    """Fetch, validate and run; return the run's summary.csv."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bbox", default=MKD_BBOX, help="WEST,SOUTH,EAST,NORTH (degrees)")
    parser.add_argument("--years", default="1991-2020")
    parser.add_argument("--out", type=Path, default=Path("socseq-fetched"))
    parser.add_argument("--iso", default="MKD")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--base-url", action="append", default=[], help="NAME=URL")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    base_urls = dict(item.split("=", 1) for item in args.base_url)

    result = fetch(
        args.bbox,
        years=args.years,
        out=args.out,
        base_urls=base_urls,
        cache_dir=args.cache_dir,
        options=HttpOptions(timeout_s=args.timeout),
        iso=args.iso,
    )
    print(f"fetched {len(result.fetched)} files, {len(result.cache_hits)} from the cache")
    config = load_run_config(result.config)
    checked = validate_config(config)
    print(f"valid: {checked['candidate_cells']} candidate cells on {checked['grid']}")
    summary = run_pipeline(config)
    print(f"products in {summary.output_dir}")
    return summary.summary_csv


if __name__ == "__main__":
    main()
