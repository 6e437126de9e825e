"""Service health: the monitor's per-minute aggregates, or the same figures straight from ``requests``."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from recsys.dashboard.queries._db import parse_times, read_frame, window

HEALTH_COLUMNS = ["timestamp", "requests_per_minute", "avg_latency_ms", "p95_latency_ms", "fallback_rate",
                  "error_rate", "active_model_id"]


def service_health(db: str | Path, now: datetime, span: timedelta) -> pd.DataFrame:
    """``service_health`` rows (one per minute, written by the monitor) within ``span`` before ``now``."""
    start, end = window(now, span)
    frame = read_frame(
        db,
        "SELECT timestamp, requests_per_minute, avg_latency_ms, p95_latency_ms, fallback_rate, error_rate,"
        " active_model_id FROM service_health WHERE timestamp >= ? AND timestamp <= ? ORDER BY timestamp",
        (start, end),
    )
    return parse_times(frame, ["timestamp"])


# Per-minute figures from the raw rows, for when no monitor has aggregated them. p95 is the nearest-rank
# percentile (the smallest latency whose rank is at least 0.95·n), computed with window functions because
# SQLite has no PERCENTILE().
_MINUTES_SQL = """
WITH win AS (
    SELECT substr(timestamp, 1, 16) AS minute, latency_ms, fallback, error
    FROM requests WHERE timestamp >= ? AND timestamp <= ?
), ranked AS (
    SELECT minute, latency_ms,
           ROW_NUMBER() OVER (PARTITION BY minute ORDER BY latency_ms) AS rn,
           COUNT(*) OVER (PARTITION BY minute) AS n
    FROM win WHERE latency_ms IS NOT NULL
), p95 AS (
    SELECT minute, MIN(latency_ms) AS p95_latency_ms FROM ranked WHERE rn >= 0.95 * n GROUP BY minute
)
SELECT w.minute || ':00' AS timestamp,
       COUNT(*) AS requests_per_minute,
       AVG(w.latency_ms) AS avg_latency_ms,
       p.p95_latency_ms AS p95_latency_ms,
       AVG(CASE WHEN w.fallback THEN 1.0 ELSE 0.0 END) AS fallback_rate,
       AVG(CASE WHEN w.error IS NOT NULL THEN 1.0 ELSE 0.0 END) AS error_rate
FROM win w LEFT JOIN p95 p ON p.minute = w.minute
GROUP BY w.minute ORDER BY w.minute
"""


def request_minutes(db: str | Path, now: datetime, span: timedelta) -> pd.DataFrame:
    """The ``service_health`` figures per minute computed from ``requests`` rows within ``span`` before ``now``."""
    frame = read_frame(db, _MINUTES_SQL, window(now, span))
    return parse_times(frame, ["timestamp"])


def request_summary(db: str | Path, now: datetime, span: timedelta) -> dict | None:
    """Totals over ``span`` before ``now``: requests, per-minute rate, avg/p95 latency, fallback and error rates.

    ``None`` when there was no request in the range.
    """
    start, end = window(now, span)
    totals = read_frame(
        db,
        "SELECT COUNT(*) AS requests, AVG(latency_ms) AS avg_latency_ms, COUNT(latency_ms) AS timed,"
        " AVG(CASE WHEN fallback THEN 1.0 ELSE 0.0 END) AS fallback_rate,"
        " AVG(CASE WHEN error IS NOT NULL THEN 1.0 ELSE 0.0 END) AS error_rate"
        " FROM requests WHERE timestamp >= ? AND timestamp <= ?",
        (start, end),
    )
    if totals.empty or not totals.at[0, "requests"]:
        return None
    row = totals.iloc[0]
    timed = int(row["timed"])
    p95 = None
    if timed:
        rank = math.ceil(0.95 * timed)  # nearest rank, 1-based
        p95_frame = read_frame(
            db,
            "SELECT latency_ms FROM requests WHERE timestamp >= ? AND timestamp <= ? AND latency_ms IS NOT NULL"
            " ORDER BY latency_ms LIMIT 1 OFFSET ?",
            (start, end, rank - 1),
        )
        p95 = float(p95_frame.at[0, "latency_ms"]) if not p95_frame.empty else None
    minutes = span.total_seconds() / 60
    return {
        "requests": int(row["requests"]),
        "requests_per_minute": int(row["requests"]) / minutes,
        "avg_latency_ms": None if pd.isna(row["avg_latency_ms"]) else float(row["avg_latency_ms"]),
        "p95_latency_ms": p95,
        "fallback_rate": float(row["fallback_rate"]),
        "error_rate": float(row["error_rate"]),
    }


def fallback_methods(db: str | Path, now: datetime, span: timedelta) -> pd.DataFrame:
    """Fallback answers by method within ``span`` before ``now`` (most used first)."""
    start, end = window(now, span)
    return read_frame(
        db,
        "SELECT COALESCE(fallback_method, 'unknown') AS method, COUNT(*) AS requests FROM requests"
        " WHERE timestamp >= ? AND timestamp <= ? AND fallback GROUP BY method ORDER BY requests DESC",
        (start, end),
    )


def recent_errors(db: str | Path, now: datetime, span: timedelta, limit: int = 20) -> pd.DataFrame:
    """The latest failed requests within ``span`` before ``now``."""
    start, end = window(now, span)
    frame = read_frame(
        db,
        "SELECT timestamp, request_id, user_id, error, model_id FROM requests"
        " WHERE timestamp >= ? AND timestamp <= ? AND error IS NOT NULL ORDER BY timestamp DESC LIMIT ?",
        (start, end, limit),
    )
    return parse_times(frame, ["timestamp"])


def active_model(db: str | Path) -> dict | None:
    """The model that answered the latest request (``model_id``, ``model_version``, ``seen_at``), else the
    monitor's latest ``active_model_id``; ``None`` when neither store says."""
    latest = read_frame(
        db,
        "SELECT model_id, model_version, timestamp FROM requests WHERE model_id IS NOT NULL"
        " ORDER BY timestamp DESC LIMIT 1",
    )
    if not latest.empty:
        row = latest.iloc[0]
        return {"model_id": row["model_id"], "model_version": row["model_version"], "seen_at": row["timestamp"]}
    health = read_frame(
        db,
        "SELECT active_model_id, timestamp FROM service_health WHERE active_model_id IS NOT NULL"
        " ORDER BY timestamp DESC LIMIT 1",
    )
    if not health.empty:
        row = health.iloc[0]
        return {"model_id": row["active_model_id"], "model_version": None, "seen_at": row["timestamp"]}
    return None
