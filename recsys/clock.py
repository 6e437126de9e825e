"""UTC time, in the one text format every store and log uses.

Stores keep timestamps as ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC. That format sorts as text, and
compares correctly with SQLite's own ``datetime('now', ...)`` (also UTC), so a window such as
"the last minute" is the last minute and not the last few hours of local time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

Clock = Callable[[], datetime]
"""A function returning the current aware UTC datetime; tests pass a fake one."""


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; naive datetimes are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_ts(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as store text: ``2025-01-15 10:30:00.000000`` in UTC."""
    return to_utc(moment or utc_now()).strftime(TS_FORMAT)


def parse_ts(text: str) -> datetime:
    """Store text (with or without fraction, ``T`` or space) back to an aware UTC datetime."""
    moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    return to_utc(moment)
