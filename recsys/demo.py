"""``recsys demo``: a finite scenario that walks every success criterion of the spec and shows the evidence.

It builds a fresh project with drift injected in its last two weeks, trains and registers models,
serves and drives traffic, runs the monitor's jobs (health, drift, freshness, alerts, retrain),
checks the hot reload, brings the dashboard up, applies rotation and retention, and prints one
line per criterion with what proves it (row counts, file paths, alert ids).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import yaml

from recsys.paths import ProjectPaths


@dataclass
class Check:
    """One success criterion and its evidence."""

    criterion: str
    ok: bool
    evidence: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _count(db: Path, sql: str, params: tuple = ()) -> int:
    if not db.exists():
        return 0
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute(sql, params).fetchone()[0] or 0)
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _wait(predicate: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    return None


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return None


class _MailCatcher:
    """A local SMTP server (aiosmtpd) keeping subjects; None when aiosmtpd is not installed."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.subjects: list[str] = []
        catcher = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import email

                catcher.subjects.append(email.message_from_bytes(envelope.content)["Subject"] or "")
                return "250 OK"

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def run_demo(root: Path, *, echo: Callable[[str], None] = print, preset: str = "small") -> list[Check]:
    """Run the scenario in ``root`` (a fresh directory) and return the checklist."""
    from recsys.cf.pipeline import train_model
    from recsys.cf.registry import ModelRegistry
    from recsys.cf.trainers import AlsParams
    from recsys.data.generate import GenerateConfig, generate
    from recsys.data.ingest import ingest
    from recsys.embeddings.build import build_embeddings
    from recsys.monitor.config import MonitorConfig
    from recsys.monitor.jobs import JOBS
    from recsys.monitor.scheduler import Monitor
    from recsys.retention import apply_retention
    from recsys.service.traffic import drive_traffic, plan_from_project

    paths = ProjectPaths.from_env(root)
    checks: list[Check] = []

    def check(criterion: str, ok: bool, evidence: str) -> None:
        checks.append(Check(criterion, bool(ok), evidence))
        echo(f"  [{'x' if ok else ' '}] {criterion}: {evidence}")

    echo(f"demo project: {paths.root}")
    echo("1/7 data with a rating shift and new products in its last two weeks ...")
    interactions, products = generate(GenerateConfig(preset=preset, seed=2026, drift_weeks=2, rating_shift=0.6,
                                                     new_items=20), progress=False)
    ingest(paths, interactions, products, {"kind": "generated", "preset": preset, "demo": True})

    echo("2/7 training (a deliberately small ALS first, then BPR), registering, selecting the best ...")
    train_model(paths, "als", params=AlsParams(factors=8, iterations=3), auto_select=True, progress=False)
    train_model(paths, "bpr", auto_select=True, progress=False)
    runs = _count(paths.training_db, "SELECT COUNT(*) FROM training_runs WHERE status='completed' "
                  "AND model_id IS NOT NULL")
    iterations = _count(paths.training_db, "SELECT COUNT(*) FROM iteration_metrics")
    check("Training runs logged with metrics and auto-registered", runs == 2,
          f"{runs} completed runs with model ids, {iterations} iteration rows in {paths.training_db.name}; "
          f"logs {paths.training_log('als').name}, {paths.training_log('bpr').name}")
    ops = _count(paths.registry_db, "SELECT COUNT(*) FROM registry_operations")
    audit = paths.registry_audit_log.read_text(encoding="utf-8").splitlines()
    check("Registry operations tracked in the database", ops >= 3 and len(audit) == ops,
          f"{ops} registry_operations rows = {len(audit)} audit lines in {paths.registry_audit_log.name}")

    echo("3/7 embeddings, alert channels (a local SMTP server), the service and traffic ...")
    build_embeddings(paths, progress=False)
    build_embeddings(paths, progress=False)  # a second version, so semantic drift has something to compare
    try:
        mail = _MailCatcher()
    except ImportError:
        mail = None
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    shipped = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "alerts_config.yaml").read_text())
    if mail is not None:
        shipped["email"] = {"smtp_server": "127.0.0.1", "smtp_port": mail.port, "sender": "recsys@localhost",
                            "recipients": ["team@localhost"], "enabled": True}
    shipped.pop("slack", None)
    (paths.config_dir / "alerts_config.yaml").write_text(yaml.safe_dump(shipped, sort_keys=False))

    port, dash_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "RECSYS_HOME": str(paths.root)}
    logs = paths.logs_dir / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    service = subprocess.Popen([sys.executable, "-m", "recsys", "serve", "--port", str(port), "--no-aggregate"],
                               env=env, stdout=open(logs / "service.out", "wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    dashboard = subprocess.Popen([sys.executable, "-m", "recsys", "dashboard", "--port", str(dash_port)],
                                 env=env, stdout=open(logs / "dashboard.out", "wb"), stderr=subprocess.STDOUT,
                                 start_new_session=True)
    try:
        up = _wait(lambda: (r := _get(url + "/health")) is not None and r.status_code == 200, 60)
        if not up:
            raise RuntimeError(f"the service did not start; see {logs / 'service.out'}")
        summary = drive_traffic(url, plan_from_project(paths), requests=300, seed=7, progress=False)
        time.sleep(1.5)  # the request log flushes at least every second
        rows = _count(paths.service_db, "SELECT COUNT(*) FROM requests WHERE model_id IS NOT NULL "
                      "AND model_version IS NOT NULL")
        check("Service requests tracked with model_id and version", rows >= 300,
              f"{rows} request rows with model id/version for {sum(summary.statuses.values())} requests "
              f"({summary.fallbacks} fallbacks, {sum(summary.feedback_events.values())} feedback events)")
        answer = _get(url + "/model")
        loader = answer.json().get("loader", {}) if answer is not None and answer.status_code == 200 else {}

        echo("4/7 the monitor's jobs: aggregation, health, drift, freshness, alerts ...")
        monitor = Monitor.create(paths, MonitorConfig(jobs={}), JOBS)
        from recsys.logfmt import file_logger

        file_logger("recsys", paths.monitor_log)  # module loggers (alert engine, drift) into monitor.log
        monitor.run("aggregate_service_metrics")
        health = monitor.run("registry_health")
        check("Registry health checks run", health["status"] == "healthy",
              f"status={health['status']}, issues={health['issues']}, job_runs rows="
              f"{_count(paths.monitor_db, 'SELECT COUNT(*) FROM job_runs')}")
        drift = monitor.run("weekly_drift_check")
        rating = drift["cf"]["rating"]
        semantic = drift.get("semantic", {})
        check("Drift detection (CF + embeddings)", rating["drift_detected"] and semantic.get("status") != "skipped",
              f"rating drift={rating['drift_detected']} (KS p={rating['p_value']:.2g}, PSI={rating['psi']:.3f}); "
              f"semantic mean similarity={semantic.get('mean_similarity')}; "
              f"{_count(paths.monitor_db, 'SELECT COUNT(*) FROM drift_checks')} drift_checks rows")
        age = monitor.run("embedding_freshness")
        check("Embedding freshness monitored", age.get("age_days") == 0, f"newest embeddings are {age} old")
        outcomes = monitor.run("check_alerts")
        firing = [o["rule"] for o in outcomes if o["state"] == "firing"]
        alert_ids = _count(paths.monitor_db, "SELECT MAX(id) FROM alerts")
        delivered = [s for s in (mail.subjects if mail else [])]
        check("Alerts sent for critical issues", bool(delivered) or bool(firing),
              f"firing rules {firing} (alerts ids up to {alert_ids}); mails received: {delivered[:4]}"
              + ("" if mail else "; no SMTP server (aiosmtpd missing): log channel only"))

        echo("5/7 retrain triggered by the drift, and the service's hot reload ...")
        before = ModelRegistry(paths=paths).get_current_best()["model_id"]
        outcome = monitor.run("check_retrain_trigger")
        after = ModelRegistry(paths=paths).get_current_best()["model_id"]
        check("Retrain triggered automatically when needed", outcome["action"] == "retrain",
              f"reasons {outcome['decision']['reasons']}; outcome {outcome['outcome'][:60]}; best {before} → {after}")
        reload_line = f"Model reloaded | old={before}, new={after}"
        reloaded = _wait(lambda: reload_line in paths.service_log.read_text(encoding="utf-8"), 30)
        served = (httpx.post(url + "/recommend", json={"user_id": 1, "topk": 3}, timeout=5).json()
                  if reloaded else {})
        check("Model hot-reload monitored and logged", bool(reloaded) and served.get("model_id") == after,
              f"'{reload_line}' in {paths.service_log.name}; "
              f"{_count(paths.service_db, 'SELECT COUNT(*) FROM model_reload_events')} model_reload_events rows; "
              f"now serving {served.get('model_id')}")

        echo("6/7 the dashboard ...")
        page = _wait(lambda: (r := _get(f"http://127.0.0.1:{dash_port}/")) is not None and r.status_code == 200, 60)
        check("Dashboard visualizes metrics (training + registry + service)", bool(page),
              f"http://127.0.0.1:{dash_port}/ answered 200 (pages: Service, Training, Registry, Data & drift, "
              "Alerts, Embeddings & reranking)")
    finally:
        for process in (service, dashboard):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        if mail is not None:
            mail.stop()

    # Each worker snapshots its loader every minute and when it stops: the stop snapshot is here now.
    snapshots = _count(paths.service_db, "SELECT COUNT(*) FROM model_loader_stats")
    check("Model loader stats monitored", snapshots >= 1 and "cache_hit_rate" in loader,
          f"{snapshots} model_loader_stats rows; /model: total_loads={loader.get('total_loads')}, "
          f"cache_hit_rate={loader.get('cache_hit_rate')}, reload_count={loader.get('reload_count')}")

    echo("7/7 rotation and retention (the clock moved 31 days ahead, so today's raw rows are past 30 days) ...")
    before_rows = _count(paths.service_db, "SELECT COUNT(*) FROM requests")
    from recsys.clock import utc_now
    from recsys.retention import rotate_logs
    from recsys.retention_config import project_config

    summary = apply_retention(paths, now=utc_now() + timedelta(days=31))
    rotated = rotate_logs(paths, project_config(paths).rotation, force=True)
    after_rows = _count(paths.service_db, "SELECT COUNT(*) FROM requests")
    kept = _count(paths.service_db, "SELECT COUNT(*) FROM service_health")
    check("Logs retained with rotation policy", after_rows < before_rows and rotated["rotated"],
          f"requests {before_rows} → {after_rows} rows, service_health kept {kept} rows; "
          f"rotated {len(rotated['rotated'])} logs ({', '.join(Path(p).name for p in rotated['rotated'][:4])} ...)"
          f"; errors {summary['errors']}")
    return checks
