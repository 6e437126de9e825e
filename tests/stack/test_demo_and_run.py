"""`recsys demo` walks every success criterion; `recsys run` brings the stack up and down cleanly."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from recsys.cli import cli

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_demo_shows_every_success_criterion(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "12/12 success criteria shown" in result.output
    for criterion in ("Training runs logged", "Registry operations tracked", "Model loader stats",
                      "Registry health checks", "requests tracked with model_id", "Drift detection (CF + embeddings)",
                      "Embedding freshness", "Alerts sent", "Retrain triggered", "hot-reload", "Dashboard",
                      "rotation policy"):
        assert f"[x] {criterion}" in result.output or criterion in result.output


def test_demo_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "something").write_text("x")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "is not empty" in result.output


@pytest.mark.slow
def test_run_starts_everything_and_ctrl_c_loses_no_request(tmp_path):
    port, dash_port = _free_port(), _free_port()
    env = {**os.environ, "RECSYS_HOME": str(tmp_path), "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(
        [sys.executable, "-m", "recsys", "run", "--preset", "tiny", "--port", str(port),
         "--dashboard-port", str(dash_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = run.stdout.readline()
            lines.append(line)
            if "running; Ctrl-C stops everything" in line or run.poll() is not None:
                break
        assert any(f"service:   http://127.0.0.1:{port}" in line for line in lines), "".join(lines)
        assert any(f"dashboard: http://127.0.0.1:{dash_port}" in line for line in lines)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        time.sleep(4)  # traffic flows
    finally:
        run.send_signal(signal.SIGINT)
        out, _ = run.communicate(timeout=90)
    assert run.returncode == 0, out
    assert "exit codes {'service': 0, 'monitor': 0, 'dashboard': 0}" in out
    sent = int(out.split("traffic sent ")[1].split(" requests")[0])
    conn = sqlite3.connect(tmp_path / "logs" / "service_metrics.db")
    rows = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    assert sent > 0 and rows == sent  # every answered request was written before the service exited
    assert (tmp_path / "logs" / "monitor" / "monitor.log").read_text().count("Job finished") >= 3
