"""What the monitor records in ``logs/monitor.db``: drift checks, alerts, data quality, jobs, retrain decisions."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.dashboard.queries._db import parse_json, parse_times, read_frame, window

DRIFT_COLUMNS = ("id, timestamp, check_type, drift_detected, status, statistic, p_value, effect_size, effect_metric,"
                 " n_historical, n_recent, details, data_version")


def latest_drift_checks(db: str | Path, check_type: str | None = None) -> pd.DataFrame:
    """The newest drift check of each type (or of ``check_type`` only), with ``details`` parsed."""
    frame = read_frame(
        db,
        f"SELECT {DRIFT_COLUMNS} FROM drift_checks WHERE id IN"  # fixed column list
        " (SELECT MAX(id) FROM drift_checks WHERE (? IS NULL OR check_type = ?) GROUP BY check_type)"
        " ORDER BY check_type",
        (check_type, check_type),
    )
    return _drift_frame(frame)


def drift_history(db: str | Path, now: datetime, span: timedelta, check_type: str | None = None) -> pd.DataFrame:
    """Drift checks within ``span`` before ``now`` in time order, optionally of one type."""
    start, end = window(now, span)
    frame = read_frame(
        db,
        f"SELECT {DRIFT_COLUMNS} FROM drift_checks WHERE timestamp >= ? AND timestamp <= ?"
        " AND (? IS NULL OR check_type = ?) ORDER BY timestamp, id",
        (start, end, check_type, check_type),
    )
    return _drift_frame(frame)


def _drift_frame(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return frame
    frame["details"] = frame["details"].map(parse_json)
    frame["drift_detected"] = frame["drift_detected"].fillna(0).astype(bool)
    return parse_times(frame, ["timestamp"])


def firing_alerts(db: str | Path) -> pd.DataFrame:
    """Alerts firing now, and those pending (condition true, waiting out their ``for``), most severe first."""
    frame = read_frame(
        db,
        "SELECT rule, state, severity, value, threshold, started_at, fired_at, last_notified_at, notifications_sent,"
        " message FROM alerts WHERE state IN ('firing', 'pending')"
        " ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, started_at",
    )
    return parse_times(frame, ["started_at", "fired_at", "last_notified_at"])


def alert_history(db: str | Path, now: datetime, span: timedelta, limit: int = 200) -> pd.DataFrame:
    """Alerts that started, fired or resolved within ``span`` before ``now``, newest first."""
    start, end = window(now, span)
    frame = read_frame(
        db,
        "SELECT id, rule, state, severity, value, threshold, started_at, fired_at, resolved_at, notifications_sent,"
        " delivery_errors, message FROM alerts"
        " WHERE (started_at >= ? AND started_at <= ?) OR (fired_at >= ? AND fired_at <= ?)"
        " OR (resolved_at >= ? AND resolved_at <= ?) OR state IN ('firing', 'pending')"
        " ORDER BY COALESCE(fired_at, started_at) DESC LIMIT ?",
        (start, end, start, end, start, end, limit),
    )
    return parse_times(frame, ["started_at", "fired_at", "resolved_at"])


def delivery_failures(alerts: pd.DataFrame) -> pd.DataFrame:
    """One row per failed delivery found in the ``delivery_errors`` JSON of an alerts frame.

    Accepts a list of ``{channel, error, at}`` objects (or plain strings) or a ``{channel: error}`` object.
    """
    rows: list[dict[str, Any]] = []
    if alerts.empty or "delivery_errors" not in alerts.columns:
        return pd.DataFrame(columns=["rule", "severity", "channel", "error", "at"])
    for _, alert in alerts.iterrows():
        raw = alert["delivery_errors"]
        errors = parse_json(raw)
        if errors is None and isinstance(raw, str) and raw.strip():
            errors = [raw]  # not JSON: keep the text rather than lose it
        if isinstance(errors, dict):
            errors = [{"channel": k, "error": v} for k, v in errors.items()]
        for item in errors or []:
            entry = item if isinstance(item, dict) else {"error": item}
            rows.append({"rule": alert["rule"], "severity": alert["severity"], "channel": entry.get("channel"),
                         "error": str(entry.get("error", entry)),
                         "at": entry.get("at") or entry.get("timestamp") or alert.get("fired_at")})
    return pd.DataFrame(rows, columns=["rule", "severity", "channel", "error", "at"])


def latest_quality_checks(db: str | Path) -> pd.DataFrame:
    """The newest result of each data quality check, failures first."""
    frame = read_frame(
        db,
        "SELECT timestamp, data_version, check_name, passed, severity, count, examples, message"
        " FROM data_quality_checks WHERE id IN (SELECT MAX(id) FROM data_quality_checks GROUP BY check_name)"
        " ORDER BY passed, check_name",
    )
    if not frame.empty:
        frame["passed"] = frame["passed"].fillna(0).astype(bool)
    return parse_times(frame, ["timestamp"])


def latest_job_runs(db: str | Path) -> pd.DataFrame:
    """Each monitor job's latest run, and when it last failed."""
    frame = read_frame(
        db,
        "SELECT j.job, j.started_at, j.finished_at, j.status, j.error,"
        " (SELECT MAX(f.started_at) FROM job_runs f WHERE f.job = j.job AND f.status = 'failed') AS last_failure"
        " FROM job_runs j WHERE j.id IN (SELECT MAX(id) FROM job_runs GROUP BY job) ORDER BY j.job",
    )
    return parse_times(frame, ["started_at", "finished_at", "last_failure"])


def retrain_decisions(db: str | Path, limit: int = 20) -> pd.DataFrame:
    """The latest retrain decisions with their reasons, newest first."""
    frame = read_frame(
        db,
        "SELECT timestamp, should_retrain, reasons, action, outcome FROM retrain_decisions"
        " ORDER BY timestamp DESC, id DESC LIMIT ?",
        (limit,),
    )
    if not frame.empty:
        frame["should_retrain"] = frame["should_retrain"].fillna(0).astype(bool)
        frame["reasons"] = frame["reasons"].map(
            lambda text: "; ".join(map(str, r)) if isinstance(r := parse_json(text), list) else (text or ""))
    return parse_times(frame, ["timestamp"])
