"""Aggregation jobs over ``logs/service_metrics.db``: ``service_health`` per minute, loader snapshots.

They read the shared ``requests`` table, so they are right however many service workers wrote it,
and they are meant to run in one place (the monitor process, or ``recsys serve`` until it exists).
The hourly ``reranking_metrics`` job belongs to the embeddings package
(``recsys.embeddings.aggregate_reranking_metrics``).
Windows are half-open ``[now - window, now)``; both ends are computed in Python from an injected
clock and bound as parameters in the stores' one UTC text format (never SQLite's ``'now'``).

p95 is exact, by the nearest-rank definition: the value at 1-based rank ``ceil(0.95 * n)`` of the
sorted latencies (SQLite has no ``PERCENTILE``; the spec's query cannot run).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from recsys.clock import format_ts, to_utc, utc_now
from recsys.db import connect
from recsys.paths import ProjectPaths
from recsys.service.schema import ensure_service_schema

MINUTE = timedelta(minutes=1)


# --- pure statistics ----------------------------------------------------------------------------
def percentile_nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile (0 < q <= 1) of ``values``; None for no values."""
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(q * len(ordered))) - 1])


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def summarize_requests(rows: Sequence[tuple[float | None, Any, Any]], window: timedelta) -> dict[str, Any]:
    """Health figures of ``(latency_ms, fallback, error)`` rows seen in ``window``.

    Rates are fractions of all requests (an error counts in the error rate, not the fallback
    rate); latency figures cover every request with a latency. No requests: counts 0, the rest None.
    """
    n = len(rows)
    latencies = [float(row[0]) for row in rows if row[0] is not None]
    return {
        "requests": n,
        "requests_per_minute": n / (window.total_seconds() / 60.0),
        "avg_latency_ms": _mean(latencies),
        "p95_latency_ms": percentile_nearest_rank(latencies, 0.95),
        "fallback_rate": sum(1 for row in rows if row[1]) / n if n else None,
        "error_rate": sum(1 for row in rows if row[2] is not None) / n if n else None,
    }


# --- jobs ---------------------------------------------------------------------------------------
def _window(now: datetime | None, window: timedelta) -> tuple[str, str, datetime]:
    end = to_utc(now or utc_now())
    return format_ts(end - window), format_ts(end), end


def _open(paths_or_db: ProjectPaths | str | Path) -> sqlite3.Connection:
    db = paths_or_db.service_db if isinstance(paths_or_db, ProjectPaths) else Path(paths_or_db)
    conn = connect(db)
    ensure_service_schema(conn)
    return conn


def aggregate_metrics(paths: ProjectPaths | str | Path, *, now: datetime | None = None, window: timedelta = MINUTE,
                      active_model_id: str | None = None, write: bool = True) -> dict[str, Any]:
    """Summarize ``requests`` in ``[now - window, now)`` into one ``service_health`` row stamped ``now``.

    ``active_model_id`` defaults to the model of the latest request in the window (or, if there
    was none, of the latest request at all). Re-running for the same ``now`` replaces the row.
    Returns the row (plus ``requests``, the count).
    """
    start, end, end_dt = _window(now, window)
    conn = _open(paths)
    try:
        rows = conn.execute(
            "SELECT latency_ms, fallback, error FROM requests WHERE timestamp >= ? AND timestamp < ?",
            (start, end)).fetchall()
        summary = summarize_requests([tuple(row) for row in rows], window)
        if active_model_id is None:
            latest = conn.execute(
                "SELECT model_id FROM requests WHERE timestamp < ? AND model_id IS NOT NULL "
                "ORDER BY timestamp DESC LIMIT 1", (end,)).fetchone()
            active_model_id = latest[0] if latest else None
        row = {"timestamp": end, **{k: v for k, v in summary.items() if k != "requests"},
               "active_model_id": active_model_id}
        if write:
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO service_health (timestamp, requests_per_minute, avg_latency_ms, "
                    "p95_latency_ms, fallback_rate, error_rate, active_model_id) VALUES (:timestamp, "
                    ":requests_per_minute, :avg_latency_ms, :p95_latency_ms, :fallback_rate, :error_rate, "
                    ":active_model_id)", row)
        return {**row, "requests": summary["requests"], "window_start": start}
    finally:
        conn.close()


def latest_loader_stats(paths: ProjectPaths, *, now: datetime | None = None,
                        within: timedelta = timedelta(minutes=3)) -> list[dict]:
    """The newest ``model_loader_stats`` row of each worker that snapshotted within ``within`` of ``now``."""
    if not paths.service_db.exists():
        return []
    cutoff = format_ts((now or utc_now()) - within)
    conn = _open(paths)
    try:
        rows = conn.execute(
            "SELECT s.* FROM model_loader_stats s JOIN (SELECT worker_pid, MAX(timestamp) AS ts FROM model_loader_stats"
            " WHERE timestamp >= ? GROUP BY worker_pid) m ON s.worker_pid IS m.worker_pid AND s.timestamp = m.ts"
            " ORDER BY s.worker_pid",
            (cutoff,),
        ).fetchall()
    finally:
        conn.close()
    return [dict(r) for r in rows]
