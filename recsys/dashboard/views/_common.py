"""What every page shares: the project paths, the time-range picker, auto-refresh, empty states, formats."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from recsys.clock import utc_now
from recsys.paths import ProjectPaths

TIME_RANGES: dict[str, timedelta] = {
    "Last 15 minutes": timedelta(minutes=15),
    "Last hour": timedelta(hours=1),
    "Last 6 hours": timedelta(hours=6),
    "Last 24 hours": timedelta(days=1),
    "Last 7 days": timedelta(days=7),
    "Last 30 days": timedelta(days=30),
    "Last 90 days": timedelta(days=90),
}
REFRESH_SECONDS = 30
REFRESH_ENV = "RECSYS_DASHBOARD_REFRESH_SECONDS"  # overrides REFRESH_SECONDS (e.g. faster in tests)


def project_paths() -> ProjectPaths:
    """The project's paths (root from ``$RECSYS_HOME``), read on every run so tests can point elsewhere."""
    return ProjectPaths.from_env()


def now() -> datetime:
    """The current UTC time; the one place pages ask for it."""
    return utc_now()


def time_range(key: str, default: str = "Last hour") -> tuple[str, timedelta]:
    """A sidebar selector of the time range; returns its label and span."""
    labels = list(TIME_RANGES)
    label = st.sidebar.selectbox("Time range", labels, index=labels.index(default), key=key)
    return label, TIME_RANGES[label]


def auto_refresh(key: str) -> int | None:
    """A sidebar switch for auto-refresh; the refresh period in seconds, or None when off."""
    try:
        seconds = max(1, int(os.environ.get(REFRESH_ENV, REFRESH_SECONDS)))
    except ValueError:
        seconds = REFRESH_SECONDS
    on = st.sidebar.toggle(f"Auto-refresh every {seconds} s", value=True, key=key)
    return seconds if on else None


def live(body: Callable[[], None], every: int | None) -> None:
    """Run ``body`` as a fragment that reruns by itself every ``every`` seconds (once if None)."""
    st.fragment(body, run_every=every)()


def no_data(what: str, source: str) -> None:
    """The clear empty state: what is missing and which store or process fills it."""
    st.info(f"No data yet: {what}. It appears here once {source}.")


def stamp(span_label: str | None = None) -> None:
    """A caption saying when the figures were read (UTC) and over what range."""
    text = f"Updated {now():%Y-%m-%d %H:%M:%S} UTC"
    st.caption(f"{text} · {span_label}" if span_label else text)


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage, or an en dash when unknown."""
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}%}"


def ms(value: float | None) -> str:
    """Milliseconds with one decimal, or an en dash when unknown."""
    return "–" if value is None or pd.isna(value) else f"{value:.1f} ms"


def num(value: float | None, digits: int = 4) -> str:
    """A number with ``digits`` decimals, or an en dash when unknown."""
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def over_range(fig, end: datetime, span: timedelta):
    """Show the whole selected range on a time axis (a lone point would otherwise get a microsecond-wide axis)."""
    return fig.update_xaxes(range=[f"{end - span:%Y-%m-%d %H:%M:%S}", f"{end:%Y-%m-%d %H:%M:%S}"])


def table(frame: pd.DataFrame, key: str) -> None:
    """A full-width table without the index."""
    st.dataframe(frame, hide_index=True, key=key)
