"""Write the README's demo table and timings from a real ``socseq demo`` run.

Usage: python benchmarks/readme_demo.py [--from-run DIR] [--screenshot]

Without ``--from-run`` it runs ``socseq demo`` into a fresh temporary folder as a separate
process (so the region is built and the timings are those of a new user's first run),
measuring its wall-clock and CPU time. It records the run in ``docs/demo-run.json`` and
rewrites the block of README.md between the ``demo:begin`` and ``demo:end`` markers from
that record. ``--screenshot`` also saves the new report's first screen and its interactive map
to ``docs/img/`` with headless Chromium.

``tests/demo/test_readme.py`` fails when the README block differs from the record, or when
the record's numbers differ from a fresh demo run beyond their rounding.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
RECORD = REPO / "docs" / "demo-run.json"
IMG = REPO / "docs" / "img"
BEGIN = "<!-- demo:begin (benchmarks/readme_demo.py writes this block from docs/demo-run.json) -->"
END = "<!-- demo:end -->"
COLUMNS = [
    "zone",
    "scenario",
    "simulated_area_ha",
    "simulated_cells",
    "mean_asr_t_ha_yr",
    "mean_rsr_t_ha_yr",
    "total_asr_t_yr",
    "simulated_cropland_area_ha",
    "share_4p1000_pct",
]


def record_run(folder: Path, wall_s: float, cpu_s: float) -> dict[str, Any]:
    """The record of one demo run: its summary rows, run.json timings, wall and CPU time."""
    summary = pd.read_csv(folder / "summary.csv")
    summary = summary[summary["zone"] == "all"][COLUMNS]
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    return {
        "date": dt.date.today().isoformat(),
        "socseq_version": manifest["socseq_version"],
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}",
        "wall_s": round(wall_s, 1),
        "cpu_s": round(cpu_s, 1),
        "timings_s": manifest["timings_s"],
        "summary": summary.replace({float("nan"): None}).to_dict(orient="records"),
    }


def render_block(record: dict[str, Any]) -> str:
    """The README block: the terminal's scenario table and a sentence of timings."""
    from socseq.cli.run import summary_table
    from socseq.report.numbers import fmt_number, timing_line

    table = pd.DataFrame(record["summary"])
    console = Console(record=True, width=100, file=io.StringIO(), color_system=None)
    console.print(summary_table(table))
    text = "\n".join(line.rstrip() for line in console.export_text().splitlines())
    timings = record["timings_s"]
    wall, cpu = record["wall_s"], record["cpu_s"]
    return (
        f"{BEGIN}\n"
        f"On {record['date']}, a first `socseq demo` into a new folder took "
        f"{fmt_number(wall, 'seconds')} s of wall-clock time and {fmt_number(cpu, 'seconds')} s "
        f"of CPU time ({record['machine']}, shared with other work; it built the region, while "
        "the numba kernels came from numba's cache of an earlier run: the very first run after "
        "installing also compiles them). The run itself, as `run.json` and the report give it: "
        f"{timing_line(timings)}. It prints the scenario table:\n\n"
        f"```\n{text.strip(chr(10))}\n```\n"
        f"{END}"
    )


def replace_block(readme: str, block: str) -> str:
    """README text with the block between the markers replaced."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"{README}: no block between '{BEGIN}' and '{END}'")
    return pattern.sub(lambda _: block, readme)


def run_demo(out: Path) -> tuple[float, float]:
    """Run ``socseq demo`` as a child process; return wall-clock and CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from socseq.cli import main; main()",
            "demo",
            "--out",
            str(out),
            "-q",
        ],
        check=True,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _known_cell(folder: Path) -> tuple[int, int]:
    """A simulated cropland cell that reaches 4 per 1000 under the last scenario only."""
    import numpy as np
    import xarray as xr

    with xr.open_dataset(folder / "soc_stocks.nc") as ds:
        reach = ds["reaches_4p1000"].values
        pick = (ds["exclusion_reason"].values == 0) & (ds["cropland"].values == 1)
    rows, cols = np.nonzero(pick & (reach[-1] == 1) & (reach[0] == 0))
    return int(rows[len(rows) // 3]), int(cols[len(cols) // 3])


def screenshots(report: Path) -> None:
    """Save the report's ASR maps and its interactive map with a pinned cell (Chromium)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.support.ui import Select

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--hide-scrollbars", "--window-size=1280,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(
        service=Service(executable_path=shutil.which("chromedriver") or "chromedriver"),
        options=options,
    )
    try:
        driver.get(report.resolve().as_uri())
        time.sleep(1)
        driver.execute_script(
            "const h = Array.from(document.querySelectorAll('h3'))"
            ".find(e => e.textContent.startsWith('Absolute sequestration rate'));"
            "h.scrollIntoView(); window.scrollBy(0, -50);"
        )
        (IMG / "report-screenshot.png").write_bytes(
            base64.b64decode(driver.get_screenshot_as_base64())
        )
        row, col = _known_cell(report.parent)
        Select(driver.find_element("id", "im-scenario")).select_by_visible_text("SSM3")
        Select(driver.find_element("id", "im-layer")).select_by_value("p4")
        driver.execute_script("document.getElementById('explore').scrollIntoView()")

        def point() -> tuple[int, int]:
            left, top = driver.execute_script(
                "const b = document.getElementById('im-canvas').getBoundingClientRect();"
                "return [b.left + 1, b.top + 1]"
            )
            view = driver.execute_script("return document.getElementById('im-canvas').dataset.view")
            scale, ox, oy, aspect = (float(v) for v in view.split())
            return (
                round(left + ox + (col + 0.5) * scale),
                round(top + oy + (row + 0.5) * scale * aspect),
            )

        x, y = point()
        wheel = ScrollOrigin.from_viewport(x, y)
        ActionChains(driver).scroll_from_origin(wheel, 0, -400).perform()
        x, y = point()
        click = ActionChains(driver)
        click.w3c_actions.pointer_action.move_to_location(x, y).pointer_down().pointer_up()
        click.perform()
        (IMG / "report-interactive-map.png").write_bytes(
            base64.b64decode(driver.get_screenshot_as_base64())
        )
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-run", type=Path, help="record this finished demo folder")
    parser.add_argument("--wall", type=float, help="wall-clock seconds of --from-run")
    parser.add_argument("--cpu", type=float, help="CPU seconds of --from-run")
    parser.add_argument("--screenshot", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="socseq-readme-") as tmp:
        if args.from_run is None:
            folder = Path(tmp) / "socseq-demo"
            wall, cpu = run_demo(folder)
        else:
            folder, wall, cpu = args.from_run, args.wall or 0.0, args.cpu or 0.0
        record = record_run(folder, wall, cpu)
        RECORD.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        README.write_text(replace_block(README.read_text(encoding="utf-8"), render_block(record)))
        if args.screenshot:
            screenshots(folder / "report.html")
    print(render_block(record))


if __name__ == "__main__":
    main()
