"""Stores filled with rows of hand-made ages, for the retention tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from recsys.alerts.store import ALERTS_DDL
from recsys.cf.monitoring.drift_check import DRIFT_DDL
from recsys.cf.registry._audit import SCHEMA as REGISTRY_DDL
from recsys.cf.training_store import TRAINING_DDL
from recsys.clock import format_ts
from recsys.db import apply_schema, connect
from recsys.monitor.runs import JOB_RUNS_DDL
from recsys.paths import ProjectPaths
from recsys.service.schema import ensure_service_schema

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
REQUEST_AGES = (0.5, 29.9, 30.1, 45, 400)
"""Days before NOW; ``ROWS_PER_AGE`` requests and feedback rows at each."""
ROWS_PER_AGE = 10
HEALTH_AGES = (1, 364, 366, 500)


def ago(days: float, now: datetime = NOW) -> str:
    """Store text of ``days`` before ``now``."""
    return format_ts(now - timedelta(days=days))


def legacy_store(path) -> None:
    """Create ``path`` with SQLite's default auto_vacuum=NONE fixed by a first table."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE IF NOT EXISTS _legacy (x)")
    raw.commit()
    raw.close()


def fill_service_store(paths: ProjectPaths, now: datetime = NOW) -> None:
    """requests/feedback at REQUEST_AGES, one service_health row at each of HEALTH_AGES.

    The store is made the way stores were made before recsys set incremental auto-vacuum on new
    files (auto_vacuum NONE), so the conversion paths of retention are exercised.
    """
    legacy_store(paths.service_db)
    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    with conn:
        conn.executemany("INSERT INTO requests (timestamp, user_id, topk, latency_ms) VALUES (?, ?, 10, 4.2)",
                         [(ago(age, now), n) for age in REQUEST_AGES for n in range(ROWS_PER_AGE)])
        conn.executemany("INSERT INTO feedback (timestamp, user_id, product_id, event) VALUES (?, ?, 1, 'click')",
                         [(ago(age, now), n) for age in REQUEST_AGES for n in range(ROWS_PER_AGE)])
        conn.executemany("INSERT INTO service_health (timestamp, requests_per_minute) VALUES (?, 60)",
                         [(ago(age, now),) for age in HEALTH_AGES])
    conn.close()


def fill_other_stores(paths: ProjectPaths, now: datetime = NOW) -> None:
    """training runs, registry operations and monitor rows, all 400 days old plus a few recent ones."""
    conn = connect(paths.training_db)
    apply_schema(conn, TRAINING_DDL)
    with conn:
        conn.execute("INSERT INTO training_runs (run_id, model_type, started_at, status) "
                     "VALUES ('old', 'als', ?, 'completed')", (ago(400, now),))
        conn.execute("INSERT INTO iteration_metrics (run_id, iteration, timestamp, loss) VALUES ('old', 1, ?, 0.5)",
                     (ago(400, now),))
    conn.close()
    conn = connect(paths.registry_db)
    apply_schema(conn, REGISTRY_DDL)
    with conn:
        conn.execute("INSERT INTO registry_operations (timestamp, action, model_id) VALUES (?, 'REGISTER', 'm')",
                     (ago(400, now),))
    conn.close()
    conn = connect(paths.monitor_db)
    apply_schema(conn, JOB_RUNS_DDL + ALERTS_DDL + DRIFT_DDL)
    with conn:
        conn.executemany("INSERT INTO job_runs (job, started_at, finished_at, status) VALUES (?, ?, ?, 'ok')",
                         [(job, ago(age, now), ago(age, now)) for job, age in
                          (("aggregate", 100), ("aggregate", 10), ("aggregate", 1),
                           ("weekly", 200), ("weekly", 100))])
        conn.executemany("INSERT INTO alerts (rule, state, started_at, resolved_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                         [("latency", "resolved", ago(101, now), ago(100, now), ago(100, now)),
                          ("latency", "resolved", ago(2, now), ago(1, now), ago(1, now)),
                          ("errors", "firing", ago(100, now), None, ago(100, now))])
        conn.executemany("INSERT INTO drift_checks (timestamp, check_type, drift_detected, status) "
                         "VALUES (?, ?, 0, 'ok')",
                         [(ago(age, now), kind) for kind, age in (("rating", 90), ("rating", 60), ("semantic", 90))])
    conn.close()


def rows(path, sql: str, params: tuple = ()) -> list[tuple]:
    """All rows of ``sql`` on a fresh connection."""
    conn = connect(path, readonly=True)
    try:
        return [tuple(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()
