"""``job_runs``: one row per monitor job run (job, started, finished, status, error, summary)."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from recsys.clock import format_ts, parse_ts
from recsys.db import apply_schema, connect

JOB_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS job_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status TEXT NOT NULL,      -- 'running', 'ok', 'failed'
    error TEXT,
    summary TEXT               -- JSON: what the job found or did
);
CREATE INDEX IF NOT EXISTS idx_job_runs_job ON job_runs(job, started_at);
"""


class JobRunStore:
    """Records monitor job runs in ``logs/monitor.db``."""

    def __init__(self, db_path: str | Path):
        self._conn: sqlite3.Connection = connect(db_path, check_same_thread=False)
        # Jobs run in the scheduler's thread pool and share this connection: without the lock two
        # concurrent starts can read each other's lastrowid and finish the wrong row.
        self._lock = threading.Lock()
        apply_schema(self._conn, JOB_RUNS_DDL)

    def start(self, job: str, started: datetime) -> int:
        """A 'running' row; returns its id."""
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO job_runs (job, started_at, status) VALUES (?, ?, 'running')", (job, format_ts(started))
            )
            self._conn.commit()
            return int(cur.lastrowid)

    def finish(self, run_id: int, finished: datetime, *, error: str | None = None, summary=None) -> None:
        """Close a run as 'ok' or (with ``error``) 'failed'."""
        with self._lock:
            self._conn.execute(
                "UPDATE job_runs SET finished_at = ?, status = ?, error = ?, summary = ? WHERE id = ?",
                (format_ts(finished), "failed" if error else "ok", error,
                 json.dumps(summary, default=str) if summary is not None else None, run_id),
            )
            self._conn.commit()

    def last_started(self, job: str) -> datetime | None:
        """When ``job`` last started (any status), or None."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(started_at) FROM job_runs WHERE job = ?", (job,)).fetchone()
        return parse_ts(row[0]) if row and row[0] else None

    def recent(self, limit: int = 50) -> list[dict]:
        """The latest runs, newest first."""
        with self._lock:
            rows = self._conn.execute("SELECT * FROM job_runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
