"""Where each alert metric's current value comes from: an allow-list of metric name → function.

A rule's ``metric`` picks a function here; it never becomes part of an SQL string. Each function
gets the evaluation context (paths and the time "now", from an injected clock) and the rule's
window, and returns the value, or ``None`` when there is no data in the window.
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from recsys.clock import format_ts
from recsys.db import connect
from recsys.errors import RecsysError
from recsys.paths import ProjectPaths

HARD_SEVERITIES = ("hard", "error", "critical")
"""``data_quality_checks.severity`` values that make a failed check a hard failure."""

DRIFT_ALERT_TYPES = ("rating", "popularity", "semantic")
"""Drift check types the ``drift_detected`` metric looks at (volume is reported, not alerted on)."""


class SourceUnavailable(RecsysError):
    """A metric's source cannot be read at all (e.g. the registry package is not installed)."""


@dataclass
class SourceContext:
    """What a metric function may read: the project's stores, as of ``now``."""

    paths: ProjectPaths
    now: datetime
    _connections: dict[Path, sqlite3.Connection | None] = field(default_factory=dict)

    def db(self, path: Path) -> sqlite3.Connection | None:
        """A read-only connection to ``path``, or None if the store does not exist yet."""
        if path not in self._connections:
            self._connections[path] = connect(path, readonly=True) if path.exists() else None
        return self._connections[path]

    def close(self) -> None:
        """Close every connection opened for this evaluation."""
        for conn in self._connections.values():
            if conn is not None:
                conn.close()
        self._connections.clear()


def _rows(ctx: SourceContext, path: Path, sql: str, params: tuple) -> list[sqlite3.Row]:
    conn = ctx.db(path)
    if conn is None:
        return []
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):  # the writer has not created it yet: no data
            return []
        raise


def _window(ctx: SourceContext, window: timedelta) -> tuple[str, str]:
    return format_ts(ctx.now - window), format_ts(ctx.now)


# --- service_health ------------------------------------------------------------------------------

_HEALTH_SQL = (
    "SELECT requests_per_minute, avg_latency_ms, p95_latency_ms, fallback_rate, error_rate "
    "FROM service_health WHERE timestamp > ? AND timestamp <= ?"
)


def _health_rows(ctx: SourceContext, window: timedelta) -> list[sqlite3.Row]:
    return _rows(ctx, ctx.paths.service_db, _HEALTH_SQL, _window(ctx, window))


def _weighted(column: str) -> Callable[[SourceContext, timedelta], float | None]:
    """Per-minute values combined over the window, weighted by that minute's request count."""

    def metric(ctx: SourceContext, window: timedelta) -> float | None:
        pairs = [(row[column], row["requests_per_minute"] or 0.0) for row in _health_rows(ctx, window)]
        pairs = [(value, weight) for value, weight in pairs if value is not None]
        if not pairs:
            return None
        total = sum(weight for _, weight in pairs)
        if total <= 0:  # rows without request counts: plain mean
            return sum(value for value, _ in pairs) / len(pairs)
        return sum(value * weight for value, weight in pairs) / total

    metric.__doc__ = f"Request-weighted mean of service_health.{column} over the window."
    return metric


def requests_per_minute(ctx: SourceContext, window: timedelta) -> float | None:
    """Mean requests per minute over the aggregated minutes in the window."""
    values = [row["requests_per_minute"] for row in _health_rows(ctx, window) if row["requests_per_minute"] is not None]
    return sum(values) / len(values) if values else None


# --- registry and loader -------------------------------------------------------------------------


def registry_status(ctx: SourceContext, window: timedelta) -> str:
    """'healthy' or 'unhealthy' from ``check_registry_health`` (a registry that cannot be read is unhealthy)."""
    try:
        from recsys.cf.monitoring.registry_monitor import check_registry_health
    except ImportError as exc:
        raise SourceUnavailable(f"registry health check not available: {exc}") from exc
    try:
        if "paths" in inspect.signature(check_registry_health).parameters:
            health = check_registry_health(paths=ctx.paths)
        else:
            health = check_registry_health(str(ctx.paths.registry_file))
    except RecsysError:
        return "unhealthy"
    status = health.get("status") if isinstance(health, dict) else health
    return "healthy" if status == "healthy" else "unhealthy"


def read_current_best(paths: ProjectPaths) -> dict | None:
    """The registry's current best as ``{'model_id', 'selected_at', ...}``, or None when there is none."""
    try:
        from recsys.cf.registry import ModelRegistry
    except ImportError as exc:
        raise SourceUnavailable(f"model registry not available: {exc}") from exc
    best = ModelRegistry(paths=paths).get_current_best()
    if not best:
        return None
    if isinstance(best, str):
        return {"model_id": best}
    return dict(best)


def current_best(ctx: SourceContext, window: timedelta) -> str | None:
    """The current best model id, None when no model is selected (an ``is_null`` rule fires on that)."""
    best = read_current_best(ctx.paths)
    return str(best["model_id"]) if best and best.get("model_id") else None


def reload_error(ctx: SourceContext, window: timedelta) -> bool:
    """True when a model reload failed within the window (no failed row → False)."""
    rows = _rows(
        ctx, ctx.paths.service_db,
        "SELECT COUNT(*) AS n FROM model_reload_events WHERE status = 'failed' AND timestamp > ? AND timestamp <= ?",
        _window(ctx, window),
    )
    return bool(rows and rows[0]["n"])


# --- monitor store -------------------------------------------------------------------------------


def drift_detected(ctx: SourceContext, window: timedelta) -> bool | None:
    """True when the latest rating/popularity/semantic drift check within the window flagged drift."""
    latest: dict[str, bool] = {}
    rows = _rows(
        ctx, ctx.paths.monitor_db,
        "SELECT check_type, drift_detected FROM drift_checks WHERE timestamp > ? AND timestamp <= ? "
        "ORDER BY timestamp DESC, id DESC",
        _window(ctx, window),
    )
    for row in rows:
        if row["check_type"] in DRIFT_ALERT_TYPES:
            latest.setdefault(row["check_type"], bool(row["drift_detected"]))
    return any(latest.values()) if latest else None


def data_quality(ctx: SourceContext, window: timedelta) -> bool | None:
    """True when a hard data-quality check failed within the window; None when no check ran."""
    rows = _rows(
        ctx, ctx.paths.monitor_db,
        "SELECT passed, severity FROM data_quality_checks WHERE timestamp > ? AND timestamp <= ?",
        _window(ctx, window),
    )
    if not rows:
        return None
    return any(not row["passed"] and str(row["severity"]).lower() in HARD_SEVERITIES for row in rows)


MetricFunction = Callable[[SourceContext, timedelta], Any]

METRIC_SOURCES: dict[str, MetricFunction] = {
    "avg_latency_ms": _weighted("avg_latency_ms"),
    "p95_latency_ms": _weighted("p95_latency_ms"),
    "error_rate": _weighted("error_rate"),
    "fallback_rate": _weighted("fallback_rate"),
    "requests_per_minute": requests_per_minute,
    "registry_status": registry_status,
    "reload_error": reload_error,
    "drift_detected": drift_detected,
    "current_best": current_best,
    "data_quality": data_quality,
}
"""The allow-list: the only metric names a rule may use."""

METRIC_KINDS: dict[str, str] = {
    "avg_latency_ms": "number",
    "p95_latency_ms": "number",
    "error_rate": "number",
    "fallback_rate": "number",
    "requests_per_minute": "number",
    "registry_status": "status",
    "reload_error": "flag",
    "drift_detected": "flag",
    "current_best": "id",
    "data_quality": "flag",
}
"""What each metric's value is: a number, a flag (bool), a status word, or an id that may be null."""

STATUS_VALUES = ("healthy", "unhealthy")


def read_metric(metric: str, ctx: SourceContext, window: timedelta) -> Any:
    """The current value of an allow-listed ``metric`` over ``window``."""
    try:
        function = METRIC_SOURCES[metric]
    except KeyError:
        raise SourceUnavailable(f"unknown metric {metric!r}") from None
    return function(ctx, window)

