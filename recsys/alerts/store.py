"""The ``alerts`` table of ``logs/monitor.db``: one row per alert episode, so a restart does not re-fire.

An episode goes ``pending`` (condition true, ``for`` not yet elapsed) → ``firing`` → ``resolved``,
or ``pending`` → ``inactive`` when the condition clears before it fired. The open episode of a rule
is its newest row in state pending or firing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from recsys.clock import format_ts
from recsys.db import apply_schema, connect
from recsys.paths import ProjectPaths

ALERTS_DDL = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    state TEXT NOT NULL,           -- 'pending' | 'firing' | 'resolved' | 'inactive'
    severity TEXT,
    value TEXT,                    -- JSON: the metric's last value
    threshold TEXT,                -- JSON
    started_at TIMESTAMP,          -- condition first seen true
    fired_at TIMESTAMP,
    last_notified_at TIMESTAMP,
    resolved_at TIMESTAMP,
    notifications_sent INTEGER NOT NULL DEFAULT 0,
    delivery_errors TEXT,          -- JSON list of {at, event, channel, error, attempts}
    message TEXT,
    updated_at TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_alerts_rule_state ON alerts(rule, state);
CREATE INDEX IF NOT EXISTS idx_alerts_started ON alerts(started_at);
"""

OPEN_STATES = ("pending", "firing")
MAX_KEPT_ERRORS = 50
_COLUMNS = {
    "state", "severity", "value", "threshold", "started_at", "fired_at", "last_notified_at", "resolved_at",
    "notifications_sent", "delivery_errors", "message", "updated_at",
}


class AlertStore:
    """Reads and writes alert episodes; each state change is its own short transaction."""

    def __init__(self, paths: ProjectPaths):
        self.path = paths.monitor_db
        self._conn = connect(self.path, check_same_thread=False)
        apply_schema(self._conn, ALERTS_DDL)
        self._conn.isolation_level = None  # transactions are explicit (BEGIN IMMEDIATE below)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction: two monitors cannot both claim one transition."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def open_alert(self, rule: str) -> dict | None:
        """The rule's pending or firing episode, if any."""
        row = self._conn.execute(
            "SELECT * FROM alerts WHERE rule = ? AND state IN ('pending', 'firing') ORDER BY id DESC LIMIT 1",
            (rule,),
        ).fetchone()
        return _decode(row) if row else None

    def insert(self, rule: str, **fields: Any) -> int:
        """A new episode row; returns its id."""
        fields = _encode(fields)
        names = ["rule", *fields]
        cursor = self._conn.execute(
            f"INSERT INTO alerts ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
            [rule, *fields.values()],
        )
        return int(cursor.lastrowid)

    def update(self, alert_id: int, **fields: Any) -> None:
        """Change columns of one episode (column names are checked against the table's)."""
        fields = _encode(fields)
        if not fields:
            return
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self._conn.execute(f"UPDATE alerts SET {assignments} WHERE id = ?", [*fields.values(), alert_id])

    def add_delivery_errors(self, alert_id: int, errors: list[dict]) -> None:
        """Append delivery failures to the episode (the newest ``MAX_KEPT_ERRORS`` are kept)."""
        if not errors:
            return
        with self.transaction() as conn:
            row = conn.execute("SELECT delivery_errors FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            kept = json.loads(row["delivery_errors"]) if row and row["delivery_errors"] else []
            kept = (kept + errors)[-MAX_KEPT_ERRORS:]
            conn.execute("UPDATE alerts SET delivery_errors = ? WHERE id = ?", (json.dumps(kept), alert_id))

    def get(self, alert_id: int) -> dict | None:
        """One episode by id."""
        row = self._conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return _decode(row) if row else None

    def firing(self) -> list[dict]:
        """Every open (pending or firing) episode, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM alerts WHERE state IN ('pending', 'firing') ORDER BY id"
        ).fetchall()
        return [_decode(row) for row in rows]

    def recent(self, limit: int = 20, since: datetime | None = None) -> list[dict]:
        """The newest episodes, newest first."""
        sql, params = "SELECT * FROM alerts", []
        if since is not None:
            sql += " WHERE updated_at >= ?"
            params.append(format_ts(since))
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(int(limit))
        return [_decode(row) for row in self._conn.execute(sql, params)]

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - _COLUMNS
    if unknown:
        raise ValueError(f"unknown alerts column(s) {sorted(unknown)}")
    encoded = {}
    for name, value in fields.items():
        if name in ("value", "threshold", "delivery_errors"):
            value = json.dumps(value, default=str)
        elif isinstance(value, datetime):
            value = format_ts(value)
        encoded[name] = value
    return encoded


def _decode(row: sqlite3.Row) -> dict:
    record = dict(row)
    for name in ("value", "threshold"):
        record[name] = json.loads(record[name]) if record[name] is not None else None
    record["delivery_errors"] = json.loads(record["delivery_errors"]) if record["delivery_errors"] else []
    return record
