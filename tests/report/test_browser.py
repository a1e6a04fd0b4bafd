"""The report opens from disk in headless Chromium: every image loads, the console stays clean.

Uses Debian's ``chromium`` and ``chromium-driver`` (same version, no download) through
Selenium. Without Chromium the test skips on a developer machine and fails in CI
(``CI=true``), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
