"""examples/fetched/run.py end to end (fetch -> validate -> run) on the loopback server."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd

from .providers import BOX

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fetched" / "run.py"


def test_fetch_validate_run(server, base_urls, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("fetched_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["fetched_example"] = module
    spec.loader.exec_module(module)
    args = [
        "--bbox",
        ",".join(map(str, BOX)),
        "--years",
        "1999-2002",
        "--out",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--timeout",
        "5",
    ]
    for name, url in base_urls.items():
        args += ["--base-url", f"{name}={url}"]
    summary_csv = module.main(args)
    table = pd.read_csv(summary_csv)
    rows = table[table["zone"] == "all"].set_index("scenario")
    assert list(rows.index) == ["BAU", "SSM1", "SSM2", "SSM3"]
    # More input, more carbon: the scenarios are ordered.
    assert rows["mean_asr_t_ha_yr"].is_monotonic_increasing
    manifest = json.loads((summary_csv.parent / "run.json").read_text())
    assert manifest["cells"]["simulated"] > 500
