"""report.html as a user sees it: headless Chromium renders it to PNG without console errors, and
the memory-map and timeline figures show the right numbers."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import require_tool


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = require_tool("chromium")
    driver_path = require_tool("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tmp_path_factory.mktemp("chromium") / "profile"  # a fresh one
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1200,2400", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _texts(driver, section: str) -> str:
    from selenium.webdriver.common.by import By

    return " ".join(e.get_attribute("textContent") for e in
                    driver.find_elements(By.CSS_SELECTOR, f"#{section} svg text"))


def _budget_title(name: str, b: dict) -> str:
    status = (f"over by {b['used_bytes'] - b['budget_bytes']:,} B" if b["used_bytes"] > b["budget_bytes"]
              else f"{b['free_bytes']:,} B free")
    return f"{name}: {b['used_bytes']:,} B of {b['budget_bytes']:,} B ({status})"


@pytest.mark.parametrize("which", ["example_report", "overflow_report"])
def test_renders_without_errors_with_the_right_labels(browser, which, request, tmp_path):
    out, report = request.getfixturevalue(which)
    browser.get_log("browser")  # earlier pages' messages
    browser.get((out / "report.html").as_uri())
    png = tmp_path / "report.png"
    assert browser.save_screenshot(str(png)) and png.stat().st_size > 10_000
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    memory = _texts(browser, "memory-map")
    for key, name in (("flash", "flash"), ("sram", "SRAM"), ("arena", "arena")):
        assert _budget_title(name, report["fit"][key]) in memory
    for item in report["fit"]["flash"]["items"]:
        assert f"{item['label']}: {item['bytes']:,} B" in memory
    timeline = _texts(browser, "timeline")
    t = report["timeline"]
    assert t["matches_measured"] is True
    assert "equal to the arena head TFLM measured" in timeline
    assert f"peak {t['peak_bytes']:,} B at op {t['peak_op']} ({t['ops'][t['peak_op']]['op']}" in timeline
    assert all(f"{o['index']} {o['op']}" in timeline for o in t["ops"])
    shown = browser.execute_script(
        "return ['memory-map', 'timeline', 'layers'].map(id => document.querySelector('#' + id + ' svg'))"
        ".map(svg => svg.getBoundingClientRect()).map(r => [r.width, r.height]);")
    assert all(w > 500 and h > 150 for w, h in shown)


def test_the_error_check_sees_errors(browser, tmp_path):
    """The console check above would notice a failing page: this one logs an error."""
    page = tmp_path / "broken.html"
    page.write_text('<html><body><script>console.error("report broken")</script></body></html>')
    browser.get_log("browser")
    browser.get(page.as_uri())
    assert any("report broken" in e["message"] for e in browser.get_log("browser"))


@pytest.mark.parametrize("which", ["firmware_report", "bench_report", "example_report"])
def test_every_figure_text_is_readable_at_1400_px(browser, which, request):
    """At a 1400 px wide window, no text in a figure (legends, labels, values) is drawn under 12.5 px
    high: 9 pt matplotlib text in a figure the page shrinks is not (it was 10 to 11 px)."""
    out, _ = request.getfixturevalue(which)
    browser.set_window_size(1400, 2400)
    try:
        browser.get_log("browser")
        browser.get((out / "report.html").as_uri())
        assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
        heights = browser.execute_script(
            "return Array.from(document.querySelectorAll('section svg text'))"
            ".map(t => t.getBoundingClientRect().height).filter(h => h > 0);")
        assert heights and min(heights) >= 12.5
        sections = browser.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id);")
        want = {"firmware_report": ["memory-map", "firmware-parts", "tflm-instead", "timeline", "layers", "weights"],
                "bench_report": ["bench", "layers"], "example_report": ["memory-map", "timeline", "layers"]}[which]
        assert [s for s in sections if s != "json"][:len(want)] == want
    finally:
        browser.set_window_size(1200, 2400)
