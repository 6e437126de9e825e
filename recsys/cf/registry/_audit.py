"""The registry's audit trail: one line in ``logs/registry_audit.log`` and one row in
``logs/registry_operations.db`` per change, plus the ``model_versions`` mirror of the registry.

Line format (the spec's, UTC, no fraction)::

    2025-01-15 10:32:15 | REGISTER | als_v1_20250115_103000 | ndcg@10=0.1890
    2025-01-15 10:32:20 | SELECT_BEST | als_v1_20250115_103000 | ndcg@10=0.1890 improvement=+5.2%

Callers hold the registry lock while recording, so lines and rows of several processes never
interleave and the database mirrors the registry file in the order the changes happened.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from recsys.clock import format_ts, to_utc
from recsys.db import apply_schema, connect
from recsys.errors import RegistryError

ACTIONS = ("REGISTER", "SELECT_BEST", "ARCHIVE", "DELETE", "UPDATE_STATUS", "ROLLBACK")
LINE_TS_FORMAT = "%Y-%m-%d %H:%M:%S"

SCHEMA = """
CREATE TABLE IF NOT EXISTS registry_operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TIMESTAMP,
    action TEXT,
    model_id TEXT,
    model_type TEXT,
    details TEXT,
    metric TEXT,
    metric_value REAL,
    improvement_pct REAL,
    previous_best_id TEXT,
    artifacts_path TEXT,
    data_version TEXT,
    git_commit TEXT
);
CREATE INDEX IF NOT EXISTS idx_registry_operations_ts ON registry_operations (timestamp);
CREATE INDEX IF NOT EXISTS idx_registry_operations_action ON registry_operations (action, timestamp);
CREATE TABLE IF NOT EXISTS model_versions (
    model_id TEXT PRIMARY KEY,
    model_type TEXT,
    version TEXT,
    created_at TIMESTAMP,
    registered_at TIMESTAMP,
    recall_at_10 REAL,
    ndcg_at_10 REAL,
    coverage REAL,
    status TEXT,
    is_current_best BOOLEAN,
    selected_at TIMESTAMP,
    data_version TEXT,
    git_commit TEXT,
    artifacts_path TEXT
);
"""

_OPERATION_COLUMNS = ("timestamp", "action", "model_id", "model_type", "details", "metric", "metric_value",
                      "improvement_pct", "previous_best_id", "artifacts_path", "data_version", "git_commit")
_VERSION_COLUMNS = ("model_id", "model_type", "version", "created_at", "registered_at", "recall_at_10",
                    "ndcg_at_10", "coverage", "status", "is_current_best", "selected_at", "data_version",
                    "git_commit", "artifacts_path")
_UNSAFE_IN_LINE = re.compile(r"[\x00-\x1f\x7f|]")
_ACTION_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")


@dataclass
class Operation:
    """One audited change; the SELECT_BEST/ROLLBACK and REGISTER columns are ``None`` for other actions."""

    action: str
    model_id: str | None
    timestamp: datetime
    summary: str = ""
    model_type: str | None = None
    details: dict[str, Any] | None = field(default=None)
    metric: str | None = None
    metric_value: float | None = None
    improvement_pct: float | None = None
    previous_best_id: str | None = None
    artifacts_path: str | None = None
    data_version: str | None = None
    git_commit: str | None = None

    def __post_init__(self) -> None:
        if not _ACTION_NAME.match(self.action):
            raise RegistryError(f"audit action '{self.action}' must be an upper-case word like SELECT_BEST")


def clean_for_line(text: str) -> str:
    """``text`` safe inside one audit line: control characters and ``|`` (the separator) become spaces."""
    return _UNSAFE_IN_LINE.sub(" ", text)


def format_improvement(pct: float | None) -> str:
    """``+5.2%`` / ``-0.4%`` / ``n/a`` (no previous best to compare with)."""
    return "n/a" if pct is None else f"{pct:+.1f}%"


def format_metric(metric: str, value: float | None) -> str:
    """``ndcg@10=0.1890`` (``n/a`` when the model has no value for that metric)."""
    return f"{metric}=n/a" if value is None else f"{metric}={value:.4f}"


def format_audit_line(op: Operation) -> str:
    """The spec's audit line for ``op`` (with a trailing newline)."""
    stamp = to_utc(op.timestamp).strftime(LINE_TS_FORMAT)
    parts = [stamp, op.action, clean_for_line(op.model_id or "-")]
    if op.summary:
        parts.append(clean_for_line(op.summary))
    return " | ".join(parts) + "\n"


def _absolute(root: Path, stored: str) -> str:
    """A stored artifacts path (relative to the project root when it lies inside it) made absolute."""
    return str(Path(root, stored)) if not os.path.isabs(stored) else stored


def model_versions_rows(document: dict[str, Any], root: Path) -> list[tuple]:
    """The ``model_versions`` rows mirroring ``document`` (pure; paths made absolute against ``root``)."""
    best = document.get("current_best") or {}
    best_id = best.get("model_id")
    rows = []
    for model_id, entry in document["models"].items():
        metrics = entry.get("metrics") or {}
        is_best = model_id == best_id
        rows.append((
            model_id, entry.get("model_type"), entry.get("version"), entry.get("created_at"),
            entry.get("registered_at"), metrics.get("recall@10"), metrics.get("ndcg@10"), metrics.get("coverage"),
            entry.get("status"), 1 if is_best else 0, best.get("selected_at") if is_best else None,
            entry.get("data_version"), entry.get("git_commit"), _absolute(root, entry["path"]),
        ))
    return rows


class AuditTrail:
    """Writes the audit log line and the database row of each change, and mirrors ``model_versions``."""

    def __init__(self, log_path: Path, db_path: Path, root: Path):
        self.log_path, self.db_path, self.root = Path(log_path), Path(db_path), Path(root)

    def record(self, op: Operation, document: dict[str, Any] | None) -> None:
        """Append ``op``'s line, insert its row and (given the registry ``document``) resync model_versions."""
        try:
            self.append_line(op)
        except OSError as exc:
            raise RegistryError(f"{op.action} of '{op.model_id}' is done, but {self.log_path} could not be "
                                f"written: {exc}") from exc
        try:
            conn = self.connect()
            try:
                with conn:  # one transaction: the row and the mirror change together
                    self._insert(conn, op)
                    if document is not None:
                        self._sync(conn, document)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise RegistryError(
                f"{op.action} of '{op.model_id}' is done and in {self.log_path}, but {self.db_path} "
                f"could not be written: {exc}") from exc

    def append_line(self, op: Operation) -> None:
        """One ``write`` of the whole line to a file opened with O_APPEND: lines never mix."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        data = format_audit_line(op).encode("utf-8")
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def connect(self) -> sqlite3.Connection:
        """A writer connection with the schema in place (created here, by the store, idempotently)."""
        conn = connect(self.db_path)
        apply_schema(conn, SCHEMA)
        return conn

    def sync(self, document: dict[str, Any]) -> int:
        """Make ``model_versions`` mirror ``document``; returns the number of models written."""
        try:
            conn = self.connect()
            try:
                with conn:
                    return self._sync(conn, document)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise RegistryError(f"{self.db_path}: cannot sync model_versions: {exc}") from exc

    def record_row(self, op: Operation) -> None:
        """Insert ``op``'s row only (no line, no mirror)."""
        try:
            conn = self.connect()
            try:
                with conn:
                    self._insert(conn, op)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise RegistryError(f"{self.db_path}: cannot record {op.action} of '{op.model_id}': {exc}") from exc

    @staticmethod
    def _insert(conn: sqlite3.Connection, op: Operation) -> None:
        values = (format_ts(op.timestamp), op.action, op.model_id, op.model_type,
                  json.dumps(op.details, ensure_ascii=False, default=str) if op.details is not None else None,
                  op.metric, op.metric_value, op.improvement_pct, op.previous_best_id,
                  op.artifacts_path, op.data_version, op.git_commit)
        conn.execute(
            f"INSERT INTO registry_operations ({', '.join(_OPERATION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_OPERATION_COLUMNS))})", values)

    def _sync(self, conn: sqlite3.Connection, document: dict[str, Any]) -> int:
        rows = model_versions_rows(document, self.root)
        keep = {row[0] for row in rows}
        gone = [(mid,) for (mid,) in conn.execute("SELECT model_id FROM model_versions") if mid not in keep]
        conn.executemany("DELETE FROM model_versions WHERE model_id = ?", gone)
        conn.executemany(
            f"INSERT OR REPLACE INTO model_versions ({', '.join(_VERSION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_VERSION_COLUMNS))})", rows)
        return len(rows)
