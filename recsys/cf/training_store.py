"""``logs/training_metrics.db``: one row per training run and one per iteration (the spec's schema)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from recsys.clock import format_ts
from recsys.db import apply_schema, connect

TRAINING_DDL = """
CREATE TABLE IF NOT EXISTS training_runs (
    run_id TEXT PRIMARY KEY,
    model_type TEXT,
    started_at TIMESTAMP,
    completed_at TIMESTAMP,
    status TEXT,
    hyperparameters TEXT,
    recall_at_10 REAL,
    recall_at_20 REAL,
    ndcg_at_10 REAL,
    ndcg_at_20 REAL,
    coverage REAL,
    baseline_recall_at_10 REAL,
    improvement_pct REAL,
    training_time_seconds REAL,
    data_version TEXT,
    git_commit TEXT,
    artifacts_path TEXT,
    model_id TEXT,
    registered_at TIMESTAMP,
    registry_status TEXT,
    error TEXT
);
CREATE TABLE IF NOT EXISTS iteration_metrics (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    iteration INT,
    timestamp TIMESTAMP,
    loss REAL,
    validation_recall REAL,
    validation_ndcg REAL,
    wall_time_seconds REAL,
    samples INTEGER,
    FOREIGN KEY (run_id) REFERENCES training_runs(run_id)
);
CREATE INDEX IF NOT EXISTS idx_iteration_run ON iteration_metrics(run_id, iteration);
"""


def open_training_db(path: str | Path) -> sqlite3.Connection:
    """Connect to the training metrics store, creating its tables if needed."""
    conn = connect(path)
    apply_schema(conn, TRAINING_DDL)
    return conn


def insert_run(conn: sqlite3.Connection, run_id: str, model_type: str, hyperparameters: dict,
               data_version: str | None, git_commit: str | None) -> None:
    """A new run in status 'running'."""
    conn.execute(
        "INSERT INTO training_runs (run_id, model_type, started_at, status, hyperparameters, data_version, git_commit)"
        " VALUES (?, ?, ?, 'running', ?, ?, ?)",
        (run_id, model_type, format_ts(), json.dumps(hyperparameters, sort_keys=True, default=str),
         data_version or "unknown", git_commit),
    )
    conn.commit()


def insert_iteration(conn: sqlite3.Connection, run_id: str, iteration: int, loss: float | None,
                     wall_time_seconds: float, *, samples: int | None = None,
                     validation_recall: float | None = None, validation_ndcg: float | None = None) -> None:
    """One ALS iteration or BPR epoch."""
    conn.execute(
        "INSERT INTO iteration_metrics (run_id, iteration, timestamp, loss, validation_recall, validation_ndcg,"
        " wall_time_seconds, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, iteration, format_ts(), loss, validation_recall, validation_ndcg, wall_time_seconds, samples),
    )
    conn.commit()


def complete_run(conn: sqlite3.Connection, run_id: str, metrics: dict, artifacts_path: str) -> None:
    """Mark a run completed with its evaluation metrics, baseline comparison and artifacts path."""
    conn.execute(
        """UPDATE training_runs SET completed_at = ?, status = 'completed', recall_at_10 = ?, recall_at_20 = ?,
               ndcg_at_10 = ?, ndcg_at_20 = ?, coverage = ?, baseline_recall_at_10 = ?, improvement_pct = ?,
               training_time_seconds = ?, artifacts_path = ? WHERE run_id = ?""",
        (format_ts(), metrics["recall@10"], metrics.get("recall@20"), metrics["ndcg@10"], metrics.get("ndcg@20"),
         metrics.get("coverage"), metrics.get("baseline_recall@10"), metrics.get("improvement_pct"),
         metrics["training_time"], str(artifacts_path), run_id),
    )
    conn.commit()


def record_registration(conn: sqlite3.Connection, run_id: str, model_id: str | None, status: str) -> None:
    """Link a run to its registry entry ('active') or record that registration failed ('failed')."""
    conn.execute(
        "UPDATE training_runs SET model_id = ?, registered_at = ?, registry_status = ? WHERE run_id = ?",
        (model_id, format_ts() if model_id else None, status, run_id),
    )
    conn.commit()


def fail_run(conn: sqlite3.Connection, run_id: str, error: str) -> None:
    """Mark a run failed with the error text."""
    conn.execute(
        "UPDATE training_runs SET completed_at = ?, status = 'failed', error = ? WHERE run_id = ?",
        (format_ts(), error, run_id),
    )
    conn.commit()


def get_run(conn: sqlite3.Connection, run_id: str) -> dict | None:
    """One run as a dict, or None."""
    row = conn.execute("SELECT * FROM training_runs WHERE run_id = ?", (run_id,)).fetchone()
    return dict(row) if row else None


def list_runs(conn: sqlite3.Connection, model_type: str | None = None, limit: int = 100) -> list[dict]:
    """Most recent runs first."""
    rows = conn.execute(
        "SELECT * FROM training_runs WHERE (? IS NULL OR model_type = ?) ORDER BY started_at DESC LIMIT ?",
        (model_type, model_type, limit),
    ).fetchall()
    return [dict(r) for r in rows]


def iterations(conn: sqlite3.Connection, run_id: str) -> list[dict]:
    """A run's iterations in order."""
    rows = conn.execute(
        "SELECT * FROM iteration_metrics WHERE run_id = ? ORDER BY iteration", (run_id,)
    ).fetchall()
    return [dict(r) for r in rows]
