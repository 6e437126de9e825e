"""The alert engine end to end against a real SMTP server and a real webhook receiver on loopback."""

from __future__ import annotations

import json
import sys
import types
from datetime import timedelta

import pytest

from recsys.alerts.config import parse_alerts_config
from recsys.alerts.engine import AlertEngine
from recsys.clock import format_ts
from recsys.db import connect
from recsys.testing.loopback import alerts_config, write_health


def make_engine(paths, clock, raw, env=None):
    config = parse_alerts_config(raw, env=env or {})
    return AlertEngine(paths, config, clock)


def fill_minutes(paths, clock, latency: float, minutes: int = 5, **kwargs) -> None:
    """Per-minute health rows for the ``minutes`` up to the clock's now."""
    for back in range(minutes):
        write_health(paths, clock.now - timedelta(minutes=back, seconds=1), avg_latency_ms=latency, **kwargs)


def alert_rows(paths) -> list[dict]:
    conn = connect(paths.monitor_db, readonly=True)
    rows = [dict(r) for r in conn.execute("SELECT * FROM alerts ORDER BY id")]
    conn.close()
    return rows


def test_latency_spike_fires_once_repeats_after_interval_and_resolves(paths, clock, smtp_server, slack_receiver):
    engine = make_engine(paths, clock, alerts_config(smtp_port=smtp_server.port, webhook=slack_receiver.url()))
    fill_minutes(paths, clock, latency=80)
    [outcome] = engine.evaluate()
    assert (outcome.state, outcome.event) == ("inactive", "none")
    assert smtp_server.box.messages == [] and slack_receiver.posts == []

    # the spike
    clock.advance(minutes=5)
    fill_minutes(paths, clock, latency=450)
    [outcome] = engine.evaluate()
    assert (outcome.state, outcome.event) == ("firing", "fired")
    assert outcome.value == pytest.approx(450)
    assert {d.channel: d.ok for d in outcome.deliveries} == {"log": True, "email": True, "slack": True}
    [mail] = smtp_server.box.messages
    assert mail["Subject"] == "[WARNING] high_latency"
    assert mail["To"] == "team@example.com, oncall@example.com"
    assert "avg_latency_ms = 450 is above the threshold 200" in mail.get_content()
    [post] = slack_receiver.posts
    assert post["json"]["text"].startswith("*[WARNING] high_latency*\navg_latency_ms = 450")

    # still high: nothing new until the repeat interval (30 min) has passed
    for _ in range(5):
        clock.advance(minutes=5)
        fill_minutes(paths, clock, latency=500)
        [outcome] = engine.evaluate()
        assert (outcome.state, outcome.event) == ("firing", "none")
    assert len(smtp_server.box.messages) == 1 and len(slack_receiver.posts) == 1
    clock.advance(minutes=5)  # 30 minutes after the first notice
    fill_minutes(paths, clock, latency=500)
    [outcome] = engine.evaluate()
    assert outcome.event == "renotified"
    assert len(smtp_server.box.messages) == 2 and len(slack_receiver.posts) == 2
    assert "still firing since" in smtp_server.box.messages[1].get_content()

    # back to normal
    clock.advance(minutes=5)
    fill_minutes(paths, clock, latency=90)
    [outcome] = engine.evaluate()
    assert (outcome.state, outcome.event) == ("resolved", "resolved")
    assert smtp_server.box.messages[-1]["Subject"] == "[WARNING] RESOLVED: high_latency"
    assert "back within the threshold" in smtp_server.box.messages[-1].get_content()
    assert slack_receiver.posts[-1]["json"]["text"].startswith("*[WARNING] RESOLVED: high_latency*")

    [row] = alert_rows(paths)
    assert row["state"] == "resolved" and row["notifications_sent"] == 3
    assert row["fired_at"] == "2025-03-03 09:05:00.000000" and row["resolved_at"] == "2025-03-03 09:40:00.000000"
    assert json.loads(row["delivery_errors"] or "[]") == []
    log = paths.alerts_log.read_text()
    assert " | WARNING | Alert | subject=high_latency, severity=warning, message=avg_latency_ms = 450" in log
    assert "subject=RESOLVED: high_latency" in log
    engine.close()


def test_smtp_down_is_recorded_slack_still_delivered_engine_alive(paths, clock, closed_port, slack_receiver):
    engine = make_engine(paths, clock, alerts_config(smtp_port=closed_port, webhook=slack_receiver.url()))
    fill_minutes(paths, clock, latency=900)
    [outcome] = engine.evaluate()  # must not raise
    results = {d.channel: d for d in outcome.deliveries}
    assert results["email"].ok is False and results["email"].attempts == 3
    assert "Connection" in results["email"].error or "refused" in results["email"].error
    assert results["slack"].ok and results["log"].ok
    assert len(slack_receiver.posts) == 1

    [row] = alert_rows(paths)
    assert row["state"] == "firing" and row["notifications_sent"] == 1
    [error] = json.loads(row["delivery_errors"])
    assert error["channel"] == "email" and error["event"] == "fired" and error["attempts"] == 3
    assert "Alert delivery failed | channel=email" in paths.alerts_log.read_text()

    # the engine keeps working on the next evaluation
    clock.advance(minutes=1)
    fill_minutes(paths, clock, latency=90)
    [outcome] = engine.evaluate()
    assert outcome.event == "resolved" and len(slack_receiver.posts) == 2
    assert len(json.loads(alert_rows(paths)[0]["delivery_errors"])) == 2  # resolved notice failed by mail too
    engine.close()


def test_state_survives_a_restart(paths, clock, smtp_server, slack_receiver):
    raw = alerts_config(smtp_port=smtp_server.port, webhook=slack_receiver.url())
    first = make_engine(paths, clock, raw)
    fill_minutes(paths, clock, latency=600)
    assert first.evaluate()[0].event == "fired"
    first.close()

    clock.advance(minutes=2)
    fill_minutes(paths, clock, latency=600)
    second = make_engine(paths, clock, raw)  # a restarted monitor
    [outcome] = second.evaluate()
    assert (outcome.state, outcome.event) == ("firing", "none")
    assert len(smtp_server.box.messages) == 1 and len(slack_receiver.posts) == 1
    assert [r["rule"] for r in second.open_alerts()] == ["high_latency"]
    second.close()

    raw["alerts"][0]["name"] = "renamed_latency"  # the old rule left the config: its episode is closed
    third = make_engine(paths, clock, raw)
    third.evaluate()
    assert [r["rule"] for r in third.open_alerts()] == ["renamed_latency"]
    assert alert_rows(paths)[0]["message"] == "rule removed from the config"
    third.close()


def test_for_duration_keeps_the_alert_pending_first(paths, clock, smtp_server):
    rules = [{"name": "slow_p95", "metric": "p95_latency_ms", "threshold": 300, "window": "5min",
              "severity": "critical", "action": "email", "for": "3min"}]
    engine = make_engine(paths, clock, alerts_config(smtp_port=smtp_server.port, rules=rules))
    fill_minutes(paths, clock, latency=400)  # p95 = 800
    assert engine.evaluate()[0].event == "pending"
    clock.advance(minutes=2)
    fill_minutes(paths, clock, latency=400)
    assert engine.evaluate()[0].state == "pending"
    assert smtp_server.box.messages == []
    clock.advance(minutes=1)
    fill_minutes(paths, clock, latency=400)
    outcome = engine.evaluate()[0]
    assert outcome.event == "fired" and smtp_server.box.messages[0]["Subject"] == "[CRITICAL] slow_p95"

    # a blip that clears before `for` elapses never notifies
    rules[0]["name"] = "slow_p95_b"
    clock.advance(minutes=10)
    other = make_engine(paths, clock, alerts_config(smtp_port=smtp_server.port, rules=rules))
    fill_minutes(paths, clock, latency=400, minutes=1)
    assert other.evaluate()[0].event == "pending"
    clock.advance(minutes=6)
    fill_minutes(paths, clock, latency=50, minutes=1)
    assert other.evaluate()[0].event == "cleared"
    assert len(smtp_server.box.messages) == 1
    engine.close()
    other.close()


def test_no_data_in_the_window_does_not_fire(paths, clock):
    engine = make_engine(paths, clock, alerts_config())
    write_health(paths, clock.now - timedelta(hours=5), avg_latency_ms=5000)  # 5 hours ago: outside 5min
    [outcome] = engine.evaluate()
    assert (outcome.state, outcome.event, outcome.value) == ("inactive", "no_data", None)
    write_health(paths, clock.now + timedelta(minutes=3), avg_latency_ms=5000)  # in the future: outside too
    assert engine.evaluate()[0].event == "no_data"
    engine.close()


def test_below_rule_and_request_weighting(paths, clock):
    rules = [
        {"name": "low_traffic", "metric": "requests_per_minute", "threshold": 10, "window": "5min",
         "severity": "warning", "action": "log", "condition": "below"},
        {"name": "errors", "metric": "error_rate", "threshold": 0.05, "window": "5min",
         "severity": "critical", "action": "log"},
    ]
    engine = make_engine(paths, clock, alerts_config(rules=rules))
    # 1 request with 100% errors and 99 requests with none: the request-weighted error rate is 1%
    write_health(paths, clock.now - timedelta(minutes=1), avg_latency_ms=50, requests=1, error_rate=1.0)
    write_health(paths, clock.now - timedelta(minutes=2), avg_latency_ms=50, requests=99, error_rate=0.0)
    low, errors = engine.evaluate()
    assert errors.value == pytest.approx(0.01) and errors.state == "inactive"
    assert low.value == pytest.approx(50) and low.state == "inactive"
    clock.advance(minutes=10)
    write_health(paths, clock.now - timedelta(minutes=1), avg_latency_ms=50, requests=3)
    low, _ = engine.evaluate()
    assert low.event == "fired" and "is below the threshold 10" in low.message
    engine.close()


def test_flag_status_and_null_rules(paths, clock, monkeypatch):
    from recsys.alerts import sources
    from recsys.cf.monitoring.drift_check import DriftStore
    from recsys.service.schema import ensure_service_schema

    health = {"status": "healthy"}
    fake_monitor = types.ModuleType("recsys.cf.monitoring.registry_monitor")
    fake_monitor.check_registry_health = lambda registry_path=None: dict(health)
    monkeypatch.setitem(sys.modules, "recsys.cf.monitoring.registry_monitor", fake_monitor)
    best = {"value": None}
    monkeypatch.setattr(sources, "read_current_best", lambda paths: best["value"])

    raw = alerts_config(rules=None)
    raw["alerts"] = [
        {"name": "data_drift", "metric": "drift_detected", "threshold": True, "window": "weekly",
         "severity": "info", "action": "log"},
        {"name": "registry_health", "metric": "registry_status", "threshold": "unhealthy", "window": "5min",
         "severity": "critical", "action": "log"},
        {"name": "model_reload_failed", "metric": "reload_error", "threshold": True, "window": "1min",
         "severity": "warning", "action": "log"},
        {"name": "no_best_model", "metric": "current_best", "threshold": None, "window": "5min",
         "severity": "critical", "action": "log"},
        {"name": "data_quality", "metric": "data_quality", "threshold": True, "window": "1day",
         "severity": "warning", "action": "log"},
    ]
    engine = make_engine(paths, clock, raw)
    first = {o.rule: o for o in engine.evaluate()}
    assert first["no_best_model"].event == "fired"  # null current best is data, not "no data"
    assert first["data_drift"].event == "no_data" and first["data_quality"].event == "no_data"
    assert first["registry_health"].state == "inactive" and first["model_reload_failed"].value is False

    best["value"] = {"model_id": "als_v1_20250115_103000"}
    health["status"] = "unhealthy"
    store = DriftStore(paths)
    store.record("rating", drift_detected=True, timestamp=clock.now - timedelta(days=2))
    store.record("volume", drift_detected=False, timestamp=clock.now - timedelta(days=1))
    store.close()
    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    with conn:
        conn.execute("INSERT INTO model_reload_events (timestamp, trigger, status, error) VALUES (?, ?, ?, ?)",
                     (format_ts(clock.now - timedelta(seconds=30)), "watch", "failed", "ArtifactError"))
    conn.close()
    dq = connect(paths.monitor_db)
    with dq:
        dq.execute("CREATE TABLE data_quality_checks (id INTEGER PRIMARY KEY, timestamp TIMESTAMP, data_version TEXT,"
                   " check_name TEXT, passed BOOLEAN, severity TEXT, count INTEGER, examples TEXT, message TEXT)")
        dq.execute("INSERT INTO data_quality_checks (timestamp, check_name, passed, severity, count) "
                   "VALUES (?, 'ratings_in_range', 0, 'hard', 12)", (format_ts(clock.now - timedelta(hours=2)),))
    dq.close()

    clock.advance(seconds=1)
    second = {o.rule: o for o in engine.evaluate()}
    assert second["no_best_model"].event == "resolved"
    assert second["data_drift"].event == "fired"
    assert second["registry_health"].event == "fired"
    assert second["model_reload_failed"].event == "fired"
    assert second["data_quality"].event == "fired"

    clock.advance(minutes=2)  # the failed reload is now outside the 1-minute window
    third = {o.rule: o for o in engine.evaluate()}
    assert third["model_reload_failed"].event == "resolved"
    assert third["data_drift"].state == "firing"
    engine.close()


def test_a_broken_source_is_reported_and_other_rules_still_run(paths, clock, monkeypatch):
    from recsys.alerts import sources

    def broken(paths):
        raise RuntimeError("registry exploded")

    monkeypatch.setattr(sources, "read_current_best", broken)
    raw = alerts_config()
    raw["alerts"].append({"name": "no_best_model", "metric": "current_best", "threshold": None, "window": "5min",
                          "severity": "critical", "action": "log"})
    engine = make_engine(paths, clock, raw)
    fill_minutes(paths, clock, latency=999)
    latency, best = engine.evaluate()
    assert latency.event == "fired"
    assert best.event == "error" and "registry exploded" in best.error
    engine.close()
