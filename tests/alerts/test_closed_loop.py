"""The closed loop, end to end: injected drift → drift job → alert mail → retrain → new best → service reload.

Real parts throughout: generated data with a rating shift in its last two weeks, a model trained by
the pipeline, the service as its own process (`recsys serve`), a real SMTP server on loopback, the
monitor's own jobs, and the retrain running `recsys train` subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from recsys.cf.pipeline import train_model
from recsys.cf.registry import ModelRegistry
from recsys.cf.trainers import AlsParams
from recsys.data.generate import GenerateConfig, generate
from recsys.data.ingest import ingest
from recsys.monitor.config import MonitorConfig
from recsys.monitor.jobs import JOBS
from recsys.monitor.scheduler import Monitor
from recsys.paths import ProjectPaths
from recsys.testing.loopback import alerts_config, free_port

REPO = Path(__file__).resolve().parents[2]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _health(url: str) -> dict | None:
    try:
        response = httpx.get(url + "/health", timeout=1.0)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


@pytest.mark.slow
def test_drift_alert_retrain_and_hot_reload(tmp_path, smtp_server):
    paths = ProjectPaths.from_env(tmp_path)
    interactions, products = generate(
        GenerateConfig(preset="small", seed=11, drift_weeks=2, rating_shift=0.6), progress=False)
    assert ingest(paths, interactions, products, {"kind": "test"}).written
    first = train_model(paths, "als", params=AlsParams(factors=8, iterations=2), auto_select=True, progress=False)
    assert ModelRegistry(paths=paths).get_current_best()["model_id"] == first.model_id

    paths.config_dir.mkdir(parents=True, exist_ok=True)
    config = alerts_config(smtp_port=smtp_server.port, rules=[])
    (paths.config_dir / "alerts_config.yaml").write_text(yaml.safe_dump(config))

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RECSYS_HOME": str(paths.root), "PYTHONPATH": str(REPO)}
    service = subprocess.Popen(
        [sys.executable, "-m", "recsys", "serve", "--port", str(port), "--no-aggregate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        health = _wait(lambda: _health(url), 60, "the service to start")
        assert health["model_id"] == first.model_id

        monitor = Monitor.create(paths, MonitorConfig(jobs={}), JOBS)
        drift = monitor.run("weekly_drift_check")
        assert drift["cf"]["rating"]["drift_detected"] is True
        mail = _wait(lambda: [m for m in smtp_server.box.messages if "Data Drift Detected" in m["Subject"]], 10,
                     "the drift mail")
        assert mail[0]["Subject"].startswith("[INFO]") and "team@example.com" in mail[0]["To"]

        outcome = monitor.run("check_retrain_trigger")
        decision = outcome["decision"]
        assert decision["should_retrain"] is True
        assert any("drift" in reason.lower() for reason in decision["reasons"])
        assert outcome["action"] == "retrain" and outcome["outcome"].startswith("ok")
        new_best = outcome["result"]["current_best"]
        assert outcome["result"]["changed"] and new_best != first.model_id
        assert ModelRegistry(paths=paths).get_current_best()["model_id"] == new_best
        assert any("Model Retrain Triggered" in m["Subject"] for m in smtp_server.box.messages)

        assert outcome["service_reloaded"] is True  # the monitor saw the service's reload record
        assert _wait(lambda: (_health(url) or {}).get("model_id") == new_best, 30, "the reload")
        answer = httpx.post(url + "/recommend", json={"user_id": 1, "topk": 5}, timeout=5).json()
        assert answer["model_id"] == new_best
        reload_line = f"Model reloaded | old={first.model_id}, new={new_best}"
        assert reload_line in paths.service_log.read_text()
    finally:
        service.terminate()
        service.wait(timeout=30)
