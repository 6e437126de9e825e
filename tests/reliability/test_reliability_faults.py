"""Faults injected into a serving system: a corrupt registry, deleted artifacts, a full disk, a dead SMTP server.

The service is the real app under uvicorn on 127.0.0.1 with a light load running through each
fault; the monitor runs its real jobs (``registry_health``, ``check_alerts``) and the alerts go to
real loopback servers (aiosmtpd, an http.server webhook receiver) and the alerts log.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time

import httpx
import pytest
import yaml
from load_driver import LoadDriver
from reliability_helpers import fill_disk, integrity, query, small_tmpfs

from recsys.monitor.config import MonitorConfig
from recsys.monitor.jobs import JOBS
from recsys.monitor.scheduler import Monitor
from recsys.paths import ProjectPaths
from recsys.service.app import create_app
from recsys.service.settings import ServiceSettings
from recsys.testing.loopback import free_port
from recsys.testing.service import LiveServer, register, save_tiny_model, tiny_data, write_products

TOKEN = "reliability-token"
SMTP_TIMEOUT_S = 1.0
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| (DEBUG|INFO|WARNING|ERROR|CRITICAL) \| ")
RULES = [
    {"name": "registry_health", "metric": "registry_status", "threshold": "unhealthy", "window": "5min",
     "severity": "critical", "action": "email+slack"},
    {"name": "model_reload_failed", "metric": "reload_error", "threshold": True, "window": "1min",
     "severity": "warning", "action": "email"},
]


def make_app(paths: ProjectPaths, **settings):
    options = {"watch_interval": 0.1, "loader_stats_interval": 0, "log_flush_interval": 0.1, "admin_token": TOKEN,
               **settings}
    return create_app(paths, settings=ServiceSettings(**options))


def write_alerts_config(paths: ProjectPaths, *, smtp_port: int, webhook: str, rules: list = RULES) -> None:
    """The project's own config/alerts_config.yaml, pointing at the loopback servers."""
    config = {"alerts": rules,
              "email": {"smtp_server": "127.0.0.1", "smtp_port": smtp_port, "sender": "alerts@example.com",
                        "recipients": ["oncall@example.com"], "enabled": True},
              "slack": {"webhook_url": webhook},
              "delivery": {"attempts": 2, "backoff_seconds": 0.01, "timeout_seconds": SMTP_TIMEOUT_S}}
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    (paths.config_dir / "alerts_config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def monitor_run(paths: ProjectPaths, job: str):
    """Run one of the monitor's real jobs now, as ``recsys monitor --once JOB`` does."""
    return Monitor.create(paths, MonitorConfig(), JOBS).run(job)


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not reached in {timeout}s"
        time.sleep(0.05)


def health(client: httpx.Client) -> dict:
    response = client.get("/health")
    assert response.status_code == 200, response.text  # still serving: never 503 while a model is loaded
    return response.json()


def fired(outcomes: list[dict]) -> dict[str, dict]:
    return {o["rule"]: o for o in outcomes if o["event"] == "fired"}


def assert_rows_match(paths: ProjectPaths, outcomes) -> None:
    """One ``requests`` row per answered request, nothing more."""
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok][:3]
    stored = [row[0] for row in query(paths.service_db, "SELECT request_id FROM requests")]
    assert sorted(stored) == sorted(o.request_id for o in outcomes)


@pytest.mark.slow
def test_corrupt_registry_keeps_the_old_model_degrades_health_and_alerts(project, smtp_server, slack_receiver):
    paths, model_id = project
    write_alerts_config(paths, smtp_port=smtp_server.port, webhook=slack_receiver.url())
    good = paths.registry_file.read_bytes()
    with LiveServer(make_app(paths)) as server, httpx.Client(base_url=server.url) as client:
        assert health(client)["status"] == "ok"
        driver = LoadDriver(server.url, clients=2).start()
        driver.wait_for(50)
        # Corrupted in place (not an atomic replace): what a bad disk or a careless editor leaves.
        with open(paths.registry_file, "r+b") as handle:
            handle.truncate(len(good) // 2)
        report = wait_for(lambda: (h := health(client))["status"] == "degraded" and h, what="degraded health")
        assert report["model_id"] == model_id and "RegistryCorruptError" in report["last_reload_error"]
        assert any("registry" in issue.lower() for issue in report["issues"])
        seen = len(driver.outcomes)
        driver.wait_for(seen + 100)  # still answering, from the old model

        registry = monitor_run(paths, "registry_health")
        assert registry["status"] == "unhealthy" and "corruption" in registry["issues"][0].lower()
        alerts = fired(monitor_run(paths, "check_alerts"))
        assert set(alerts) == {"registry_health", "model_reload_failed"}
        assert {d["channel"]: d["ok"] for d in alerts["registry_health"]["deliveries"]} == {
            "log": True, "email": True, "slack": True}
        subjects = sorted(mail["Subject"] for mail in smtp_server.box.messages)
        assert subjects == ["[CRITICAL] registry_health", "[WARNING] model_reload_failed"]
        slack_titles = [post["json"]["text"].splitlines()[0] for post in slack_receiver.posts]
        assert slack_titles == ["*[CRITICAL] registry_health*"]
        assert "Alert | subject=registry_health, severity=critical" in paths.alerts_log.read_text(encoding="utf-8")

        # Repaired: the service follows the registry again and the alert resolves.
        tmp = paths.registry_file.with_suffix(".repair")
        tmp.write_bytes(good)
        os.replace(tmp, paths.registry_file)
        wait_for(lambda: health(client)["status"] == "ok", what="ok health after the repair")
        outcomes = driver.stop()
        after = {o["rule"]: o for o in monitor_run(paths, "check_alerts")}
        assert after["registry_health"]["event"] == "resolved"
    assert {o.model_id for o in outcomes} == {model_id}
    assert_rows_match(paths, outcomes)
    failed = query(paths.service_db, "SELECT trigger, status, error FROM model_reload_events WHERE status = 'failed'")
    assert failed and all("RegistryCorruptError" in row[2] for row in failed)
    assert set(integrity(paths).values()) == {"ok"}


@pytest.mark.slow
def test_deleted_artifacts_keep_the_model_in_memory_degrade_health_and_alert(project, smtp_server, slack_receiver):
    paths, model_id = project
    write_alerts_config(paths, smtp_port=smtp_server.port, webhook=slack_receiver.url(), rules=RULES[:1])
    artifacts = json.loads(paths.registry_file.read_text(encoding="utf-8"))["models"][model_id]["path"]
    with LiveServer(make_app(paths)) as server, httpx.Client(base_url=server.url) as client:
        driver = LoadDriver(server.url, clients=2).start()
        driver.wait_for(50)
        shutil.rmtree(paths.root / artifacts if not os.path.isabs(artifacts) else artifacts)
        report = wait_for(lambda: (h := health(client))["status"] == "degraded" and h, what="degraded health")
        assert report["model_id"] == model_id and any("artifacts" in issue for issue in report["issues"])
        # Reloading on purpose cannot re-read them: refused, and the model in memory keeps serving.
        reload = client.post("/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"})
        assert reload.status_code == 409 and reload.json()["status"] == "failed"
        seen = len(driver.outcomes)
        driver.wait_for(seen + 100)
        registry = monitor_run(paths, "registry_health")
        assert registry["status"] == "unhealthy" and "artifacts missing" in " ".join(registry["issues"])
        alerts = fired(monitor_run(paths, "check_alerts"))
        assert set(alerts) == {"registry_health"}
        assert [mail["Subject"] for mail in smtp_server.box.messages] == ["[CRITICAL] registry_health"]
        assert len(slack_receiver.posts) == 1
        outcomes = driver.stop()
    assert {o.model_id for o in outcomes} == {model_id}
    assert_rows_match(paths, outcomes)


@pytest.mark.slow
def test_full_log_disk_keeps_answering_and_counts_what_it_drops(tmp_path, monkeypatch, capfd, figures):
    paths = ProjectPaths.from_env(tmp_path)
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))
    with small_tmpfs(paths.logs_dir, "2m"):
        data = tiny_data()
        write_products(paths, data.item_ids)
        model_id = register(paths, save_tiny_model(paths, data), 0.2)
        with LiveServer(make_app(paths)) as server, httpx.Client(base_url=server.url) as client:
            driver = LoadDriver(server.url, clients=2).start()
            driver.wait_for(100)
            filler = fill_disk(paths.logs_dir)
            full_at = len(driver.outcomes)
            # Full: answers go on; the rows that cannot be written are dropped and counted.
            wait_for(lambda: metric(client, "recsys_request_log_dropped_total") > 0, timeout=30,
                     what="a counted drop")
            report = health(client)
            assert report["status"] == "degraded" and report["dropped_records"] > 0
            assert report["log_write_errors"] > 0 and report["log_lines_lost"] > 0
            assert any("request log cannot be written" in issue and "full" in issue for issue in report["issues"])
            assert any("service log cannot be written" in issue for issue in report["issues"])
            assert metric(client, "recsys_request_log_write_errors_total") > 0
            assert metric(client, "recsys_service_log_lines_lost_total") > 0
            driver.wait_for(len([o for o in driver.outcomes if o.ok]) + 200)
            filler.unlink()  # space again: the writer recovers by itself
            wait_for(lambda: health(client)["status"] == "ok", timeout=30, what="ok health after freeing space")
            recovered_at = len(driver.outcomes)
            driver.wait_for(recovered_at + 100)
            outcomes = driver.stop()
            dropped = metric(client, "recsys_request_log_dropped_total")
            lines_lost = metric(client, "recsys_service_log_lines_lost_total")
        assert all(o.ok for o in outcomes) and {o.model_id for o in outcomes} == {model_id}
        stored = {row[0] for row in query(paths.service_db, "SELECT request_id FROM requests")}
        answered = {o.request_id for o in outcomes}
        # Every answered request is either a row or a counted drop: nothing vanishes uncounted.
        assert stored <= answered and len(answered) - len(stored) == dropped
        assert {o.request_id for o in outcomes[recovered_at:]} <= stored  # written again after recovery
        assert set(integrity(paths).values()) == {"ok"}
        lines = paths.service_log.read_text(encoding="utf-8").splitlines()
        torn = [line for line in lines if not LINE.match(line)]
        assert not torn, torn[:3]
        request_lines = sum(" | Request | " in line or " | Cold-start | " in line for line in lines)
        assert len(outcomes) - lines_lost <= request_lines <= len(outcomes)  # written, or counted as lost
        stderr = capfd.readouterr().err
        assert "Traceback" not in stderr and "Logging error" not in stderr  # one short line, not every lost line
        assert 1 <= stderr.count("recsys service log: cannot write") <= 3
        figures.update(requests=len(outcomes), answered_while_full=recovered_at - full_at, dropped=int(dropped))


def metric(client: httpx.Client, name: str) -> float:
    """The value of an unlabelled Prometheus sample from /metrics."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


@pytest.fixture(params=["refused", "silent"])
def dead_smtp(request):
    """A loopback SMTP port that refuses connections, or one that accepts them and never says a word."""
    if request.param == "refused":
        yield free_port(), "Connection refused"
        return
    with socket.socket() as silent:  # listening, never accepting: the connect succeeds, the greeting never comes
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield silent.getsockname()[1], "timed out"


@pytest.mark.slow
def test_smtp_down_is_recorded_and_the_other_channels_still_deliver(paths, slack_receiver, dead_smtp, figures):
    port, symptom = dead_smtp
    rules = [{"name": "no_best_model", "metric": "current_best", "threshold": None, "window": "5min",
              "severity": "critical", "action": "email+slack"}]
    write_alerts_config(paths, smtp_port=port, webhook=slack_receiver.url(), rules=rules)
    started = time.monotonic()
    [outcome] = monitor_run(paths, "check_alerts")  # an empty registry: no current best
    elapsed = time.monotonic() - started
    assert elapsed < 2 * SMTP_TIMEOUT_S + 3  # two bounded attempts, not a hang
    assert outcome["event"] == "fired"
    deliveries = {d["channel"]: d for d in outcome["deliveries"]}
    assert deliveries["email"]["ok"] is False and symptom in deliveries["email"]["error"]
    assert deliveries["email"]["attempts"] == 2
    assert deliveries["slack"]["ok"] is True and deliveries["log"]["ok"] is True
    assert [post["json"]["text"].splitlines()[0] for post in slack_receiver.posts] == ["*[CRITICAL] no_best_model*"]
    [row] = query(paths.monitor_db, "SELECT rule, state, notifications_sent, delivery_errors FROM alerts")
    assert row[:3] == ("no_best_model", "firing", 1)
    [error] = json.loads(row[3])
    assert error["channel"] == "email" and error["event"] == "fired" and symptom in error["error"]
    log = paths.alerts_log.read_text(encoding="utf-8")
    assert "| CRITICAL | Alert | subject=no_best_model, severity=critical" in log
    assert "| WARNING | Alert delivery failed | channel=email, subject=no_best_model, attempts=2" in log
    [run] = query(paths.monitor_db, "SELECT job, error FROM job_runs")
    assert run == ("check_alerts", None)  # a dead channel does not fail the job
    figures.update(check_alerts_seconds=round(elapsed, 2))
