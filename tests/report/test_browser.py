"""The report opens from disk in headless Chromium: every image loads, the console stays clean.

Uses Debian's ``chromium`` and ``chromium-driver`` (same version, no download) through
Selenium. Without Chromium the test skips on a developer machine and fails in CI
(``CI=true``), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from socseq.report import build_report

from .test_report import FULL_FIGURES

IMAGES_JS = (
    "return Array.from(document.images).map("
    "i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
)


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run the browser test (.ci/run installs Chromium)")
    pytest.skip(f"{reason}: install Debian's chromium and chromium-driver to run it")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        _missing("headless Chromium (chromium + chromedriver) is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1280,1600",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open(driver: Any, page: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Load a page from disk; return its images and its console errors."""
    driver.get_log("browser")  # drop messages of earlier pages
    driver.get(page.resolve().as_uri())
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))"
        ".then(() => done(true));"
    )
    images = driver.execute_script(IMAGES_JS)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    return images, errors


def _full_page_png(driver: Any, path: Path) -> Path:
    import base64

    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def test_report_renders_in_chromium(browser: Any, run_folder: Path, tmp_path: Path) -> None:
    report = build_report(run_folder)
    images, errors = _open(browser, report)
    assert len(images) == len(FULL_FIGURES)
    broken = [i["alt"] for i in images if not i["complete"] or i["width"] == 0]
    assert not broken, f"images that did not load: {broken}"
    assert not errors, f"console errors: {errors}"
    assert "SOC sequestration report" in browser.title
    shot = _full_page_png(browser, tmp_path / "report-screenshot.png")
    assert shot.stat().st_size > 50_000
    browser.save_screenshot(str(tmp_path / "report-viewport.png"))


def test_the_check_sees_a_broken_image(browser: Any, run_folder: Path, tmp_path: Path) -> None:
    """Negative control: a corrupted image is caught by the same check."""
    html = build_report(run_folder).read_text(encoding="utf-8")
    broken = tmp_path / "broken.html"
    broken.write_text(
        html.replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1), encoding="utf-8"
    )
    images, _ = _open(browser, broken)
    assert sum(i["width"] == 0 for i in images) == 1


# --- the interactive map, on a real demo run -----------------------------------------------


def _number(text: str) -> float:
    """The first number of a text such as ``-0.0401 t C/ha/yr`` (commas allowed)."""
    return float(re.search(r"-?[\d,]*\.?\d+", text).group(0).replace(",", ""))


def _near(shown: str, value: float) -> bool:
    """Whether a number as shown rounds ``value``: within half a unit of its last digit."""
    digits = re.search(r"-?[\d,]*\.?\d+", shown).group(0)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    scale = 10.0**-decimals
    if "." not in digits:  # integers are rounded to their significant figures
        scale = 10.0 ** max(0, len(digits.replace(",", "").lstrip("-")) - 3)
    return abs(_number(shown) - value) <= scale / 2 * 1.0001 + 1e-6 * abs(value)


def _view(driver: Any) -> tuple[float, float, float, float]:
    text = driver.execute_script("return document.getElementById('im-canvas').dataset.view")
    scale, ox, oy, aspect = (float(v) for v in text.split())
    return scale, ox, oy, aspect


def _cell_point(driver: Any, row: int, col: int) -> tuple[int, int]:
    """Viewport coordinates of a cell's centre, from the canvas position and its view."""
    driver.execute_script("document.getElementById('im-canvas').scrollIntoView({block: 'center'})")
    left, top = driver.execute_script(
        "const b = document.getElementById('im-canvas').getBoundingClientRect();"
        "return [b.left + document.getElementById('im-canvas').clientLeft,"
        " b.top + document.getElementById('im-canvas').clientTop]"
    )
    scale, ox, oy, aspect = _view(driver)
    return round(left + ox + (col + 0.5) * scale), round(top + oy + (row + 0.5) * scale * aspect)


def _hover(driver: Any, row: int, col: int) -> dict[str, str]:
    """Move the pointer over a cell; return the panel's texts."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    x, y = _cell_point(driver, row, col)
    actions = ActionChains(driver)
    actions.w3c_actions.pointer_action.move_to_location(x, y)
    actions.perform()
    ids = ("im-cell", "im-reason", "im-t0", "im-dsm", "im-scenario-name", "im-asr", "im-final")
    out = {i: driver.find_element(By.ID, i).text for i in (*ids, "im-flag")}
    out["cell"] = driver.execute_script("return document.getElementById('im-info').dataset.cell")
    return out


@pytest.fixture(scope="module")
def demo_cells(demo_run: Any) -> dict[str, Any]:
    """Values of two known cells of the demo, read from its products without socseq."""
    import rasterio
    import xarray as xr

    with xr.open_dataset(demo_run.path / "soc_stocks.nc") as ds:
        names = [str(s) for s in ds["scenario_name"].values]
        reason = ds["exclusion_reason"].values  # float: 255 (no land use) decoded to NaN
        reach = ds["reaches_4p1000"].values
        crop = ds["cropland"].values
        asr = ds["asr_t_ha_yr"].values
        final = ds["soc_t_ha"].isel(year=-1).values
        t0 = ds["soc_t0_t_ha"].values
        meanings = dict(
            zip(
                ds["exclusion_reason"].attrs["flag_values"].tolist(),
                ds["exclusion_reason"].attrs["flag_meanings"].split(),
                strict=True,
            )
        )
    dsm = {}
    for q in ("q05", "q95"):
        with rasterio.open(demo_run.path / "dsm" / f"soc_0_30cm_soc_{q}_t_ha.tif") as src:
            dsm[q] = src.read(1, masked=True).filled(np.nan)
    # A simulated cropland cell that reaches 4 per 1000 under the last scenario only.
    pick = (reason == 0) & (crop == 1) & (reach[-1] == 1) & (reach[0] == 0)
    rows, cols = np.nonzero(pick)
    r, c = int(rows[len(rows) // 2]), int(cols[len(cols) // 2])
    excluded = np.nonzero((reason > 0) & (reason < 254))
    er, ec = int(excluded[0][0]), int(excluded[1][0])
    return {
        "names": names,
        "cell": (r, c),
        "t0": t0[r, c],
        "asr": asr[:, r, c],
        "final": final[:, r, c],
        "reach": reach[:, r, c],
        "dsm": (dsm["q05"][r, c], dsm["q95"][r, c]),
        "excluded": (er, ec, meanings[int(reason[er, ec])].replace("_", " ")),
        "width": t0.shape[1],
    }


def test_interactive_map_shows_a_known_cell_for_each_scenario(
    browser: Any, demo_run: Any, demo_cells: dict[str, Any]
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    images, errors = _open(browser, demo_run.path / "report.html")
    assert not errors, f"console errors: {errors}"
    assert browser.execute_script("return document.getElementById('im-canvas').dataset.ready")
    browser.execute_script("document.getElementById('explore').scrollIntoView()")
    r, c = demo_cells["cell"]
    # Zoom with the wheel over the cell: it stays under the pointer, larger.
    scale = _view(browser)[0]
    x, y = _cell_point(browser, r, c)
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_viewport(x, y), 0, -300).perform()
    zoomed = _view(browser)
    assert zoomed[0] > 1.5 * scale
    select = Select(browser.find_element(By.ID, "im-scenario"))
    for s, name in enumerate(demo_cells["names"]):
        select.select_by_visible_text(name)
        shown = _hover(browser, r, c)
        assert shown["cell"] == str(r * demo_cells["width"] + c)
        assert shown["im-cell"].startswith(f"row {r}, column {c}")
        assert shown["im-reason"] == "simulated"
        assert shown["im-scenario-name"] == name
        assert _near(shown["im-t0"], demo_cells["t0"]), (shown, demo_cells["t0"])
        assert _near(shown["im-asr"], demo_cells["asr"][s]), (name, shown, demo_cells["asr"][s])
        assert _near(shown["im-final"], demo_cells["final"][s]), (name, shown)
        expected = "reached" if demo_cells["reach"][s] == 1 else "not reached"
        assert shown["im-flag"] == expected, (name, shown["im-flag"])
        low, high = shown["im-dsm"].split(" t C/ha")[0].split(" – ")
        assert _near(low, demo_cells["dsm"][0]) and _near(high, demo_cells["dsm"][1])
        # The table lists every scenario for the cell, the chosen one highlighted.
        rows = browser.find_elements(By.CSS_SELECTOR, "#im-table tbody tr")
        assert [row.get_attribute("data-scenario") for row in rows] == demo_cells["names"]
        assert "sel" in rows[s].get_attribute("class")
        for i, row in enumerate(rows):
            assert _near(row.find_element(By.CSS_SELECTOR, ".asr").text, demo_cells["asr"][i])
    # Pan by dragging: the view moves with the pointer and the cell is found where it went.
    before = _view(browser)
    x, y = _cell_point(browser, r, c)
    before = _view(browser)
    drag = ActionChains(browser)
    pointer = drag.w3c_actions.pointer_action
    pointer.move_to_location(x, y).pointer_down().move_to_location(x + 40, y + 30).pointer_up()
    drag.perform()
    after = _view(browser)
    assert after[1] == pytest.approx(before[1] + 40, abs=1) and after[2] == pytest.approx(
        before[2] + 30, abs=1
    )
    assert _hover(browser, r, c)["cell"] == str(r * demo_cells["width"] + c)
    # An excluded cell says why, in the words of the cube's flag meanings.
    er, ec, why = demo_cells["excluded"]
    browser.find_element(By.ID, "im-reset").click()
    shown = _hover(browser, er, ec)
    assert shown["im-reason"].startswith(f"not simulated: {why}"), shown
    assert shown["im-asr"] == "–"
