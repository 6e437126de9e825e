"""Read-only access to the SQLite stores: a missing store or table reads as an empty frame."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.clock import format_ts
from recsys.db import connect

# Errors that mean "this store has not been filled yet" (a writer that has not created the table or
# column yet), as opposed to a broken query, which should still fail loudly in tests.
_NOT_YET = ("no such table", "no such column")


def read_frame(path: str | Path, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
    """Rows of one parameterised query on a read-only connection; empty if the store or table is missing."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame()
    conn = connect(path, readonly=True)
    try:
        cursor = conn.execute(sql, tuple(params))
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame([tuple(row) for row in cursor.fetchall()], columns=columns)
    except sqlite3.OperationalError as exc:
        if any(text in str(exc) for text in _NOT_YET):
            return pd.DataFrame()
        raise
    finally:
        conn.close()


def window(now: datetime, span: timedelta) -> tuple[str, str]:
    """The store-format bounds ``(now - span, now)`` of a time range ending at ``now``."""
    return format_ts(now - span), format_ts(now)


def parse_times(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Turn store timestamp text columns into timezone-aware UTC datetimes (in place, returned)."""
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601", errors="coerce")
    return frame


def parse_json(text: Any) -> Any:
    """A JSON column's value; ``None`` for NULL or text that is not JSON (shown as-is by the caller)."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return None
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None
