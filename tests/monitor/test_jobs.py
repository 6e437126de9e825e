"""The monitor's jobs on a real project: data with injected drift, a trained model, embeddings."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from recsys.cf.pipeline import train_model
from recsys.cf.trainers import AlsParams
from recsys.cli import cli
from recsys.data.generate import GenerateConfig, generate
from recsys.data.ingest import ingest
from recsys.monitor.config import JobSchedule, MonitorConfig
from recsys.monitor.jobs import JOBS
from recsys.monitor.scheduler import Monitor
from recsys.paths import ProjectPaths


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small shop whose last two weeks carry a strong rating shift, one ALS model, one embedding build."""
    from recsys.embeddings.build import build_embeddings

    paths = ProjectPaths.from_env(tmp_path_factory.mktemp("monitored"))
    interactions, products = generate(
        GenerateConfig(preset="small", seed=3, drift_weeks=2, rating_shift=0.6), progress=False)
    assert ingest(paths, interactions, products, {"kind": "test"}).written
    train_model(paths, "als", params=AlsParams(factors=16, iterations=5), auto_select=True, progress=False)
    build_embeddings(paths, progress=False)
    return paths


@pytest.fixture
def monitor(project):
    sent = []
    mon = Monitor.create(project, MonitorConfig(jobs={}), JOBS,
                         extras={"notifier": lambda subject, message, severity="info": sent.append(
                             (subject, message, severity))})
    mon.sent = sent
    return mon


def test_registry_health_job(monitor):
    health = monitor.run("registry_health")
    assert health["status"] == "healthy" and health["issues"] == []
    assert "Registry health | status=healthy" in monitor.context.paths.monitor_log.read_text()


def test_weekly_drift_job_flags_the_injected_rating_shift(monitor):
    results = monitor.run("weekly_drift_check")
    assert results["cf"]["rating"]["drift_detected"] is True
    assert any(subject == "Data Drift Detected" for subject, _, _ in monitor.sent)
    assert results["semantic"]["status"] == "skipped"  # one embedding version: nothing to compare yet


def test_data_quality_and_freshness_jobs(monitor):
    assert monitor.run("data_quality")["passed"] is True
    assert monitor.run("embedding_freshness")["age_days"] == 0
    assert not [s for s in monitor.sent if s[0] == "BERT Embeddings Stale"]


def test_alerts_job_sees_the_drift(monitor):
    monitor.run("weekly_drift_check")
    outcomes = {o["rule"]: o for o in monitor.run("check_alerts")}
    assert outcomes["data_drift"]["state"] == "firing"
    assert outcomes["no_best_model"]["state"] != "firing"
    assert "data_drift" in monitor.context.paths.alerts_log.read_text()


def test_registry_health_job_reports_a_corrupt_registry(project):
    mon = Monitor.create(project, MonitorConfig(jobs={"registry_health": JobSchedule(trigger="interval", hours=1)}),
                         JOBS)
    project.registry_file.write_text("{not json")
    try:
        health = mon.run("registry_health")
    finally:
        project.registry_file.unlink()
    assert health["status"] == "unhealthy" and "corrupt" in " ".join(health["issues"]).lower()


def test_monitor_once_from_the_cli(project):
    result = CliRunner().invoke(cli, ["--home", str(project.root), "monitor", "--once", "data_quality"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["passed"] is True
    bad = CliRunner().invoke(cli, ["--home", str(project.root), "monitor", "--once", "nope"])
    assert bad.exit_code == 2 and "unknown job 'nope'" in bad.output


def test_loader_stats_job_reads_each_workers_newest_snapshot(tmp_path):
    from datetime import UTC, datetime, timedelta

    from recsys.clock import format_ts
    from recsys.db import connect
    from recsys.service.schema import ensure_service_schema

    paths = ProjectPaths.from_env(tmp_path)
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    mon = Monitor.create(paths, MonitorConfig(jobs={}), JOBS, clock=lambda: now)
    assert mon.run("loader_stats")["workers"] == 0
    assert "no snapshot from any service worker" in paths.monitor_log.read_text()
    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    rows = [(format_ts(now - timedelta(seconds=s)), "als_v1", pid, hits) for s, pid, hits in
            [(30, 101, 7), (90, 101, 5), (20, 102, 3), (600, 103, 9)]]  # worker 103 went quiet long ago
    conn.executemany("INSERT INTO model_loader_stats (timestamp, model_id, worker_pid, cache_hits) VALUES (?, ?, ?, ?)",
                     rows)
    conn.commit()
    summary = mon.run("loader_stats")
    assert summary["workers"] == 2
    assert {(s["worker_pid"], s["cache_hits"]) for s in summary["snapshots"]} == {(101, 7), (102, 3)}
