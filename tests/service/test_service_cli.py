"""``recsys serve`` as a user runs it: a subprocess on a free port, stopped with Ctrl-C (SIGINT)."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from recsys.testing.service import USER_BASE, start_serve, stop_with_ctrl_c


def test_serve_answers_and_stops_cleanly_on_ctrl_c(project):
    paths, model_id = project
    process, url = start_serve(paths, workers=1)
    try:
        with httpx.Client(base_url=url) as client:
            answers = [client.post("/recommend", json={"user_id": USER_BASE + i % 60}) for i in range(50)]
    finally:
        stop_with_ctrl_c(process)
    assert all(a.status_code == 200 and a.json()["model_id"] == model_id for a in answers)
    conn = sqlite3.connect(paths.service_db)
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 50
    assert conn.execute("SELECT COUNT(*) FROM model_loader_stats").fetchone()[0] == 1  # the shutdown snapshot
    conn.close()
    log = paths.service_log.read_text(encoding="utf-8")
    assert "| INFO | Service started | model_id=" + model_id in log and "| INFO | Service stopped |" in log


@pytest.mark.slow
def test_two_workers_share_the_stores_and_metrics(project):
    paths, model_id = project
    process, url = start_serve(paths, workers=2)
    try:
        # Separate connections, so both workers get requests.
        for i in range(60):
            assert httpx.post(f"{url}/recommend", json={"user_id": USER_BASE + i}).status_code == 200
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        stop_with_ctrl_c(process)
    # Multiprocess mode: whichever worker answers /metrics reports the sum over both.
    assert 'recsys_http_requests_total{endpoint="/recommend",status="200"} 60.0' in metrics
    assert 'recsys_fallback_total{method="popularity"} 20.0' in metrics
    conn = sqlite3.connect(paths.service_db)
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 60
    pids = conn.execute("SELECT COUNT(DISTINCT worker_pid) FROM model_loader_stats").fetchone()[0]
    conn.close()
    assert pids == 2  # each worker snapshots its own loader at shutdown
