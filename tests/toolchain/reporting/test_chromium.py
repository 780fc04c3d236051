"""report.html as a user sees it: headless Chromium renders it to PNG without console errors, and
the memory-map and timeline figures show the right numbers."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import require_tool


@pytest.fixture
def browser(tmp_path):
    chromium = require_tool("chromium")
    driver_path = require_tool("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,2400", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def _texts(driver, section: str) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(e.get_attribute("textContent") for e in
                    driver.find_elements(By.CSS_SELECTOR, f"#{section} svg text"))


def test_renders_without_errors_with_the_right_labels(browser, overflow_report, tmp_path):
    out, report = overflow_report
    browser.get((out / "report.html").as_uri())
    png = tmp_path / "report.png"
    assert browser.save_screenshot(str(png)) and png.stat().st_size > 10_000
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    memory = _texts(browser, "memory-map")
    assert "flash: 390,632 B of 262,144 B (over by 128,488 B)" in memory
    assert "model" in memory and "333,288 B" in memory
    timeline = _texts(browser, "timeline")
    assert f"peak {report['timeline']['peak_bytes']:,} B at op" in timeline
    assert "CONV_2D" in timeline
