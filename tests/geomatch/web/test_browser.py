"""The review application in a real browser (Debian's Chromium, headless, through chromium-driver): log in with
the keyboard, read and filter the queue, open a hit, see its map load, record an outcome, see the status change,
download the statement. Real evidence packs from ``geomatch match --evidence``.

Set ``GEOMATCH_SCREENSHOTS=DIR`` to keep the screenshots of the queue and a hit (docs/img has the README's).
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import cli
from geomatch.store import get_hit, list_hits
from geomatch.store.accounts import add_user
from geomatch.store.assignment import load_subjects
from geomatch.web import WebSettings, create_app
from tests.geomatch.evidence.test_evidence import build_world

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists()
                                                 else None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no Chromium here: apt-get install chromium chromium-driver (.ci/run installs them)")
PASSWORD = "a long enough password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``geomatch match --evidence --db`` on a small world, served by uvicorn on 127.0.0.1 in a thread."""
    import uvicorn

    folder = tmp_path_factory.mktemp("browser")
    trails, crimes = build_world(folder)
    url = f"sqlite:///{folder}/store.db"
    result = CliRunner().invoke(cli.geomatch, ["match", "--trails", str(trails), "--crimes", str(crimes),
                                               "--out", str(folder / "run"), "--db", url, "--evidence"])
    assert result.exit_code == 0, result.output
    add_user(url, "rita", role="reviewer", password=PASSWORD, team="north")
    hits = list_hits(url)
    load_subjects(url, pd.DataFrame({"subject_id": sorted(set(hits["subject_id"])), "offender_manager": "rita",
                                     "team": "north"}))
    settings = WebSettings(db_url=url, evidence_dir=folder / "run" / "evidence")
    port = _free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", url, hits, folder
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1440,1000"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False,
                                              "plugins.always_open_pdf_externally": True})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


def _wait(predicate, timeout: float = 15.0, what: str = "the page"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:  # the element is not there yet, or went stale while htmx swapped it
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _screenshot(driver, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GEOMATCH_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def test_review_a_hit_in_a_real_browser(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    base, url, hits, _ = server
    browser.get(base + "/")
    assert "/login" in browser.current_url
    username = browser.switch_to.active_element  # autofocus: keyboard only from here
    assert username.get_attribute("id") == "username"
    username.send_keys("rita", Keys.TAB)
    browser.switch_to.active_element.send_keys(PASSWORD, Keys.ENTER)
    rows = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "table.queue tbody tr"), what="the queue")
    assert len(rows) == len(hits)
    shown = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.queue tbody a")]
    assert shown == hits.sort_values(["score", "hit_id"], ascending=[False, True])["hit_id"].tolist()
    _screenshot(browser, "web-queue.png", tmp_path)

    offence = hits["offence"].value_counts().index[-1]  # filter (htmx swaps the table, the URL follows)
    Select(browser.find_element(By.NAME, "offence")).select_by_value(offence)
    _wait(lambda: "offence=" in browser.current_url and len(browser.find_elements(
        By.CSS_SELECTOR, "table.queue tbody tr")) == (hits["offence"] == offence).sum(), what="the filtered queue")
    browser.find_element(By.LINK_TEXT, "Clear").click()

    top = shown[0]
    _wait(lambda: browser.find_element(By.LINK_TEXT, top)).click()
    _wait(lambda: f"/hits/{top}" in browser.current_url, what="the hit page")
    frame = browser.find_element(By.CSS_SELECTOR, "iframe.map")
    browser.switch_to.frame(frame)
    _wait(lambda: browser.find_elements(By.CSS_SELECTOR, ".leaflet-container .leaflet-overlay-pane canvas, .leaflet-container .leaflet-overlay-pane path"), what="the map")
    browser.switch_to.default_content()
    assert browser.find_element(By.CSS_SELECTOR, "img.timeline").get_property("naturalWidth") > 100
    browser.set_window_size(1440, 1900)  # the summary, reasons, form and the map in one picture
    _screenshot(browser, "web-hit.png", tmp_path)
    browser.set_window_size(1440, 1000)

    Select(browser.find_element(By.ID, "outcome")).select_by_value("intelligence_submitted")
    note = browser.find_element(By.ID, "note")
    note.send_keys("seen near the scene; <b>shared</b> with intel")
    note.submit()
    done = _wait(lambda: browser.find_element(By.CSS_SELECTOR, "p.done"), what="the confirmation")
    assert done.text.startswith("Recorded: Intelligence submitted by rita")
    assert "INTELLIGENCE SUBMITTED" in browser.find_element(By.CSS_SELECTOR, "h1 .badge").text.upper()
    assert "<b>shared</b>" in browser.find_element(By.ID, "history").text  # shown as text, not markup
    assert get_hit(url, top).status == "intelligence_submitted"

    browser.find_element(By.ID, "dl-pdf").click()
    pdf = _wait(lambda: [p for p in browser.downloads.glob("*.pdf")], what="the statement download")[0]
    _wait(lambda: pdf.read_bytes().startswith(b"%PDF") and not list(browser.downloads.glob("*.crdownload")),
          what="the whole PDF")

    browser.get(base + "/")
    pending = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.queue tbody a")]
    assert top not in pending and len(pending) == len(hits) - 1
