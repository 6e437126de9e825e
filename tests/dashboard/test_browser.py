"""The real thing: ``recsys dashboard`` served on loopback, every page loaded in headless Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from dash_stores import LATENCIES, fill_all

from recsys.clock import format_ts, utc_now
from recsys.dashboard.app import PAGE_TABLE
from recsys.db import connect

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
ROOT = Path(__file__).resolve().parents[2]
TITLES = {"service": "CF Recommendation Service Dashboard", "training": "Training Runs",
          "registry": "Model Registry Dashboard", "drift": "Data & Drift", "alerts": "Alerts",
          "embeddings": "Embeddings & Reranking"}
# Charts each page draws for the hand-made store.
CHARTS = {"service": 4, "training": 3, "registry": 2, "drift": 3, "alerts": 1, "embeddings": 2}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason="chromium/chromedriver not installed (Debian packages `chromium` and `chromium-driver`;"
                              " scripts/install_test_deps.sh installs them)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dashboard(paths, now, tmp_path):
    """``recsys dashboard`` on a free loopback port over a filled project; yields its base URL."""
    fill_all(paths, now)
    port = free_port()
    env = {**os.environ, "RECSYS_HOME": str(paths.root), "RECSYS_DASHBOARD_REFRESH_SECONDS": "2",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    log = open(tmp_path / "dashboard.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "recsys", "dashboard", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dashboard did not start: {(tmp_path / 'dashboard.log').read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1400,2400", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # no driver download
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def test_every_page_renders_in_chromium(dashboard, browser, paths, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    assert {url for _, _, url in PAGE_TABLE} == set(TITLES)
    default = PAGE_TABLE[0][2]  # served at the root URL
    for url_path, title in TITLES.items():
        browser.get(f"{dashboard}/{'' if url_path == default else url_path}")
        wait = WebDriverWait(browser, 60, poll_frequency=0.5)
        wait.until(lambda d, t=title: any(h.text.strip() == t for h in d.find_elements(By.TAG_NAME, "h1")))
        # Charts are drawn when Plotly has put its SVG layers in place.
        wait.until(lambda d, n=CHARTS[url_path]: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg"))
                   >= n)
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))
        time.sleep(0.5)
        shot = tmp_path / f"{url_path}.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), url_path
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Traceback" not in body and "Page not found" not in body, url_path
        if url_path == "service":
            assert "105.0 ms" in body and "190.0 ms" in body  # the hand-made store's latency figures
    # The service page refreshes itself: a new request shows up without reloading the page.
    browser.get(dashboard)
    wait = WebDriverWait(browser, 60, poll_frequency=0.5)
    wait.until(lambda d: "Total Requests" in d.find_element(By.TAG_NAME, "body").text)
    assert "105.0 ms" in browser.find_element(By.TAG_NAME, "body").text
    conn = connect(paths.service_db)
    conn.execute("INSERT INTO requests (timestamp, latency_ms, fallback, model_id) VALUES (?, 1000.0, 0, 'x')",
                 (format_ts(utc_now()),))
    conn.commit()
    conn.close()
    expected = f"{(sum(LATENCIES) + 1000.0) / (len(LATENCIES) + 1):.1f} ms"  # the new average
    wait.until(lambda d: expected in d.find_element(By.TAG_NAME, "body").text)
    keep = os.environ.get("RECSYS_KEEP_SCREENSHOTS")
    if keep:
        for shot in tmp_path.glob("*.png"):
            shutil.copy(shot, Path(keep) / shot.name)
