"""`m2t view`: the page is self-contained and embeds the caption document, the index lists a folder,
and the page works in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven
by selenium): no console errors, a skeleton on the canvas, scrubbing shows that time's subtitle,
play advances the time. Captions come from the shipped default model."""
from __future__ import annotations

import json
import re
import shutil
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from m2t.cli.app import app
from m2t.converters.synthetic import write_walk_bvh
from m2t.models.schemas import CAPTION_SCHEMA
from schema_check import validate

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    d = tmp_path_factory.mktemp("view")
    write_walk_bvh(d / "walk.bvh", seconds=4.0)
    r = invoke("view", d / "walk.bvh", "-o", d / "walk.html")
    assert r.exit_code == 0, r.output
    return d / "walk.html"


def embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="m2t-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_page_is_self_contained_and_embeds_the_caption(page):
    html = page.read_text()
    assert not re.search(r"<script[^>]+src=|<link |@import|url\(", html)
    assert not re.search(r"https?://(?!www\.w3\.org)", html.split('id="m2t-data">')[0])
    doc = embedded(html)
    validate(doc["caption"], CAPTION_SCHEMA)
    c, m = doc["caption"], doc["motion"]
    assert "frame_times_s" in c and all("window" in t and "alpha" in t for t in c["tokens"])
    assert m["frames"] == c["frames"] and len(m["positions"]) == m["frames"]
    assert len(m["positions"][0]) == 3 * len(m["parents"]) == 66
    assert len(doc["timeline"]["active"]) == m["frames"]


def test_folder_writes_pages_and_an_index(tmp_path):
    d = tmp_path / "in"
    (d / "a").mkdir(parents=True)
    write_walk_bvh(d / "a" / "w1.bvh", seconds=1.5)
    write_walk_bvh(d / "w2.bvh", seconds=2.0)
    (d / "broken.bvh").write_text("HIERARCHY\n")
    r = invoke("view", d, "-r", "-o", tmp_path / "pages")
    assert r.exit_code == 1, r.output
    assert (tmp_path / "pages" / "a" / "w1.html").is_file() and (tmp_path / "pages" / "w2.html").is_file()
    index = (tmp_path / "pages" / "index.html").read_text()
    assert "href='a/w1.html'" in index and "href='w2.html'" in index and "broken.bvh" in index
    assert "2 captioned clip(s), 1 failed" in index and "Error: " in r.stderr
    (d / "a" / "w1.bvh").write_text("HIERARCHY\n")
    (d / "w2.bvh").write_text("HIERARCHY\n")
    r = invoke("view", d, "-r", "-o", tmp_path / "none")                 # every file fails: nothing written
    assert r.exit_code == 1 and not (tmp_path / "none").exists()


def test_view_user_errors(tmp_path):
    r = invoke("view", tmp_path / "missing.bvh", "-o", tmp_path / "o")
    assert r.exit_code == 2 and "missing.bvh: no such file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = invoke("view", tmp_path / "x.bvh", "--onset-rule", "half")
    assert r.exit_code == 2 and "--onset-rule" in r.stderr


# ----------------------------------------------------------------------------- real browser
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    chrome, driver_bin = _chromium(), shutil.which("chromedriver")
    if not chrome or not driver_bin:
        pytest.skip("Chromium or chromedriver not found (Debian: apt-get install chromium chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--window-size=1000,1400",
              f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=driver_bin))
    yield drv
    drv.quit()


# [pixels unlike the background, "ink" pixels: dark or saturated, as the skeleton's colours are and
# the floor grid (214, 214, 208), root path and shadows are not]
NON_BG = """const c = document.getElementById(arguments[0]), g = c.getContext('2d');
const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0, ink = 0;
for (let i = 0; i < d.length; i += 4) {
  if (Math.abs(d[i] - 248) + Math.abs(d[i + 1] - 248) + Math.abs(d[i + 2] - 245) > 60) n++;
  const hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
  if (lo < 130 || hi - lo > 50) ink++;
}
return [n, ink];"""


def test_page_in_headless_chromium(browser, page, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    doc = embedded(page.read_text())
    cap = doc["caption"]
    browser.get(page.as_uri())
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    assert browser.execute_script("return typeof window.m2tViewer") == "object"
    _, ink = browser.execute_script(NON_BG, "view")
    assert ink > 400, "no skeleton on the 3D canvas"
    for cid in ("windows", "heatmap"):
        assert browser.execute_script(NON_BG, cid)[0] > 400, f"#{cid} is blank"

    # scrub with the mouse to the middle of the first motion word's span; the subtitle follows
    words = [t for t in cap["tokens"] if t["is_motion_word"]]
    assert words, "the default model said no motion word for a walk"
    w = words[0]
    target = (w["onset_s"] + w["offset_s"]) / 2
    slider = browser.find_element(By.ID, "scrub")
    before = float(slider.get_attribute("value"))
    box = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.width, r.height];", slider)
    ActionChains(browser).move_to_element_with_offset(slider, box[0] * (target / cap["duration_s"] - 0.5), 0) \
        .click().perform()
    t = float(slider.get_attribute("value"))
    assert t != before and abs(t - target) < 0.25 * (w["offset_s"] - w["onset_s"]) + 0.1
    cue = browser.find_element(By.ID, "cue").text
    expect = [x["word"] for x in words if x["onset_s"] <= t <= x["offset_s"]]
    assert w["word"] in expect
    assert [c.split(" (")[0] for c in cue.split(" · ")] == expect
    k = min(round(t * cap["fps"]), cap["frames"] - 1)
    active = doc["timeline"]["active"][k]
    hl = browser.find_elements(By.CSS_SELECTOR, "#caption span.active")
    assert [e.text for e in hl] == ([cap["tokens"][active]["word"]] if active >= 0 else [])
    assert browser.find_element(By.ID, "time").text.startswith(f"{t:.2f}")

    # every time of a sweep shows exactly the word cues whose span contains it
    for x in np.linspace(0, cap["duration_s"], 61):
        browser.execute_script("window.m2tViewer.seek(arguments[0])", float(x))
        cue = browser.find_element(By.ID, "cue").text
        expect = [y["word"] for y in words if y["onset_s"] <= x <= y["offset_s"]]
        assert [c.split(" (")[0] for c in cue.split(" · ") if c] == expect, (x, cue)

    # orbit by dragging changes the picture; play advances the time
    view = browser.find_element(By.ID, "view")
    before = browser.execute_script("return document.getElementById('view').toDataURL()")
    ActionChains(browser).move_to_element(view).click_and_hold().move_by_offset(120, 30).release().perform()
    assert browser.execute_script("return document.getElementById('view').toDataURL()") != before
    browser.execute_script("window.m2tViewer.seek(0)")
    browser.find_element(By.ID, "play").click()
    time.sleep(0.6)
    browser.find_element(By.ID, "play").click()
    assert 0.2 < browser.execute_script("return window.m2tViewer.state.t") < 3.0
    shot = tmp_path / "viewer.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
