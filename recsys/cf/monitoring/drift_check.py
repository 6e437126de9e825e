"""The weekly drift check (spec Component 4): reads the interactions, runs the drift statistics,
stores every result in ``drift_checks`` (``logs/monitor.db``) and alerts as the spec says.

The statistics live in ``drift.py``; this module is the I/O edge (parquet, SQLite, notifier).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from recsys.clock import format_ts, to_utc, utc_now
from recsys.db import apply_schema, connect
from recsys.errors import DataFileError
from recsys.paths import ProjectPaths

from .drift import compute_item_popularity, detect_popularity_shift, detect_rating_distribution_drift, window_summary

CHECK_TYPES = ("rating", "popularity", "volume", "semantic")

log = logging.getLogger(__name__)

DRIFT_DDL = """
CREATE TABLE IF NOT EXISTS drift_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TIMESTAMP NOT NULL,
    check_type TEXT NOT NULL,      -- 'rating' | 'popularity' | 'volume' | 'semantic'
    drift_detected BOOLEAN NOT NULL,
    status TEXT NOT NULL,          -- 'ok' | 'insufficient_data'
    statistic REAL,                -- KS D, Spearman rho, volume change %, ...
    p_value REAL,
    effect_size REAL,
    effect_metric TEXT,            -- 'psi', 'spearman', 'volume_change_pct', ...
    n_historical INTEGER,
    n_recent INTEGER,
    details TEXT,                  -- JSON: the full result
    data_version TEXT
);
CREATE INDEX IF NOT EXISTS idx_drift_checks_type_ts ON drift_checks(check_type, timestamp);
"""

Notifier = Callable[..., Any]
"""``notifier(subject, message, severity)``, e.g. ``recsys.alerts.send_alert``."""


class DriftConfig(BaseModel):
    """Settings of the weekly drift check (the ``drift:`` section of the monitor config)."""

    model_config = ConfigDict(extra="forbid")

    days: float = Field(7, gt=0)
    """Length of the recent window, in days; history is everything before it."""
    anchor: Literal["clock", "data_end"] = "clock"
    """The window ends now ('clock') or at the newest interaction ('data_end', for a static data set)."""
    p_threshold: float = Field(0.05, gt=0, lt=1)
    """KS p-value below which the rating distributions differ statistically."""
    psi_threshold: float = Field(0.1, ge=0)
    """PSI at or above which the rating change is large enough to matter; drift needs both."""
    min_samples: int = Field(100, ge=1)
    """Fewer ratings than this on either side → 'insufficient data', no verdict."""
    popularity_threshold: float = Field(0.8, ge=-1, le=1)
    """Spearman correlation below which item popularity has shifted."""
    popularity_alpha: float = Field(0.05, gt=0, lt=1)
    """The popularity correlation must also be below sampling noise at this level (permutation test)."""
    min_support: int = Field(5, ge=0)
    """Items with fewer interactions (history + window) are left out of the popularity correlation."""
    positives_only: bool = False
    """Count only positive interactions (rating ≥ 4) towards popularity."""
    volume_threshold_pct: float = Field(50.0, gt=0)
    """An interaction volume change of at least this many percent (vs the previous window) is flagged."""
    alert_severity: Literal["info", "warning", "critical"] = "info"
    """Severity of the drift alerts (the spec's data_drift rule says info)."""


# --- reading the interactions --------------------------------------------------------------------


def load_recent_interactions(
    interactions: pd.DataFrame, days: float = 7, now: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(historical, recent): rows before ``now − days`` and rows in ``[now − days, now]`` (UTC timestamps).

    Rows stamped after ``now`` belong to neither (future timestamps are a data-quality failure).
    """
    end = pd.Timestamp(to_utc(now or utc_now()))
    start = end - pd.Timedelta(days=days)
    stamps = pd.to_datetime(interactions["timestamp"])
    stamps = stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps.dt.tz_convert("UTC")
    historical = interactions[stamps < start]
    recent = interactions[(stamps >= start) & (stamps <= end)]
    return historical, recent


REQUIRED_COLUMNS = ("user_id", "product_id", "rating", "timestamp")


def read_interactions(paths: ProjectPaths, columns: list[str] | None = None) -> pd.DataFrame:
    """The processed interactions (``data/processed/interactions.parquet``); a named error if unreadable.

    ``columns`` limits what is read (absent optional columns are skipped); the four columns the drift
    checks need must exist.
    """
    path = paths.interactions
    if not path.exists():
        raise DataFileError(str(path), "no processed interactions; run `recsys data generate` or `recsys data load`")
    try:
        available = set(pq.read_schema(path).names)
        missing = sorted(set(REQUIRED_COLUMNS) - available)
        if missing:
            raise DataFileError(str(path), f"missing column(s) {missing}")
        wanted = [c for c in columns if c in available] if columns else None
        return pd.read_parquet(path, columns=wanted)
    except DataFileError:
        raise
    except Exception as exc:  # pyarrow raises several unrelated types for a broken file
        raise DataFileError(str(path), f"cannot read parquet: {exc}") from exc


def load_recent_interactions_from(
    paths: ProjectPaths, days: float = 7, now: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``load_recent_interactions`` on the project's processed interactions file."""
    return load_recent_interactions(read_interactions(paths), days=days, now=now)


def read_data_version(paths: ProjectPaths) -> str | None:
    """The data version recorded in ``data/processed/manifest.json``, if any."""
    try:
        manifest = json.loads(paths.data_manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = manifest.get("data_version") or manifest.get("version") if isinstance(manifest, dict) else None
    return str(version) if version else None


# --- the store -----------------------------------------------------------------------------------


class DriftStore:
    """The ``drift_checks`` table of ``logs/monitor.db``: one row per check run."""

    def __init__(self, paths: ProjectPaths):
        self.path = paths.monitor_db
        self._conn = connect(self.path, check_same_thread=False)
        apply_schema(self._conn, DRIFT_DDL)

    def record(
        self,
        check_type: str,
        *,
        drift_detected: bool,
        status: str = "ok",
        statistic: float | None = None,
        p_value: float | None = None,
        effect_size: float | None = None,
        effect_metric: str | None = None,
        n_historical: int | None = None,
        n_recent: int | None = None,
        details: dict | None = None,
        data_version: str | None = None,
        timestamp: datetime | None = None,
    ) -> int:
        """Store one check result; returns its row id."""
        if check_type not in CHECK_TYPES:
            raise ValueError(f"check_type must be one of {CHECK_TYPES}, got {check_type!r}")
        with self._conn:
            cursor = self._conn.execute(
                "INSERT INTO drift_checks (timestamp, check_type, drift_detected, status, statistic, p_value, "
                "effect_size, effect_metric, n_historical, n_recent, details, data_version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    format_ts(timestamp), check_type, bool(drift_detected), status, _num(statistic),
                    _num(p_value), _num(effect_size), effect_metric, n_historical, n_recent,
                    json.dumps(details, default=_json_default) if details is not None else None, data_version,
                ),
            )
        return int(cursor.lastrowid)

    def latest(self, check_type: str, since: datetime | None = None, until: datetime | None = None) -> dict | None:
        """The newest row of ``check_type`` (optionally within [since, until]) as a dict, details parsed."""
        rows = self.history(check_type, since=since, until=until, limit=1)
        return rows[0] if rows else None

    def history(
        self, check_type: str | None = None, *, since: datetime | None = None, until: datetime | None = None,
        limit: int = 100,
    ) -> list[dict]:
        """Rows newest first, optionally of one type and within [since, until]."""
        return query_drift_checks(self._conn, check_type, since=since, until=until, limit=limit)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def query_drift_checks(
    conn: sqlite3.Connection, check_type: str | None = None, *, since: datetime | None = None,
    until: datetime | None = None, limit: int = 100,
) -> list[dict]:
    """Rows of ``drift_checks`` newest first (shared by the store, the alert sources and the retrain check)."""
    sql = "SELECT * FROM drift_checks WHERE 1=1"
    params: list[Any] = []
    if check_type is not None:
        sql += " AND check_type = ?"
        params.append(check_type)
    if since is not None:
        sql += " AND timestamp >= ?"
        params.append(format_ts(since))
    if until is not None:
        sql += " AND timestamp <= ?"
        params.append(format_ts(until))
    sql += " ORDER BY timestamp DESC, id DESC LIMIT ?"
    params.append(int(limit))
    rows = []
    for row in conn.execute(sql, params):
        record = dict(row)
        record["drift_detected"] = bool(record["drift_detected"])
        record["details"] = json.loads(record["details"]) if record["details"] else None
        rows.append(record)
    return rows


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (datetime, pd.Timestamp)):
        return format_ts(to_utc(value.to_pydatetime() if isinstance(value, pd.Timestamp) else value))
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


# --- the weekly check ----------------------------------------------------------------------------


def run_drift_checks(
    interactions: pd.DataFrame, *, now: datetime, config: DriftConfig
) -> dict[str, Any]:
    """Rating drift, popularity shift and window volume on ``interactions`` for the window ending ``now``."""
    historical, recent = load_recent_interactions(interactions, days=config.days, now=now)
    rating = detect_rating_distribution_drift(
        historical, recent, config.p_threshold, psi_threshold=config.psi_threshold, min_samples=config.min_samples
    )
    popularity = detect_popularity_shift(
        compute_item_popularity(historical, positives_only=config.positives_only),
        compute_item_popularity(recent, positives_only=config.positives_only),
        config.popularity_threshold,
        min_support=config.min_support,
        alpha=config.popularity_alpha,
    )
    volume = window_summary(historical, recent, days=config.days, window_start=now - timedelta(days=config.days))
    change = volume["volume_change_pct"]
    volume["drift_detected"] = change is not None and abs(change) >= config.volume_threshold_pct
    volume["status"] = "ok" if change is not None else "insufficient_data"
    window = {"start": format_ts(now - timedelta(days=config.days)), "end": format_ts(now)}
    return {"window": window, "rating": rating, "popularity": popularity, "volume": volume}


def weekly_drift_check(
    paths: ProjectPaths,
    *,
    now: datetime | None = None,
    notifier: Notifier | None = None,
    config: DriftConfig | dict | None = None,
) -> dict[str, Any]:
    """Run rating, popularity and volume checks on the processed data, store them, alert on drift.

    As the spec: a "Data Drift Detected" alert when the rating distribution drifted and a
    "Popularity Shift Detected" alert when the popularity ranking shifted. Returns the results
    plus ``row_ids`` and ``alerts`` (what the notifier returned).
    """
    config = config if isinstance(config, DriftConfig) else DriftConfig.model_validate(config or {})
    log.info("Running weekly drift detection")
    interactions = read_interactions(paths, columns=["user_id", "product_id", "rating", "timestamp", "is_positive"])
    if config.anchor == "data_end" and len(interactions):
        stamps = pd.to_datetime(interactions["timestamp"])
        now = to_utc(stamps.max().floor("us").to_pydatetime())
    now = to_utc(now or utc_now())
    results = run_drift_checks(interactions, now=now, config=config)
    rating, popularity = results["rating"], results["popularity"]
    log.info("Rating drift: drift_detected=%s, status=%s, p_value=%s, psi=%s", rating["drift_detected"],
             rating["status"], rating["p_value"], rating["psi"])
    log.info("Popularity shift: shift_detected=%s, status=%s, correlation=%s", popularity["shift_detected"],
             popularity["status"], popularity["correlation"])
    data_version = read_data_version(paths)

    store = DriftStore(paths)
    try:
        results["row_ids"] = _store_results(store, results, now, data_version)
    finally:
        store.close()

    send = notifier if notifier is not None else default_notifier(paths)
    alerts = []
    if rating["drift_detected"]:
        alerts.append(send(
            "Data Drift Detected",
            f"Rating distribution has shifted (p={rating['p_value']:.4g}, PSI={rating['psi']:.3f}, "
            f"KS D={rating['statistic']:.4f}; {rating['n_recent']} ratings in the last {config.days:g} days "
            f"vs {rating['n_historical']} before). Consider retraining.",
            config.alert_severity,
        ))
    if popularity["shift_detected"]:
        movers = ", ".join(
            f"{m['product_id']} (rank {m['old_rank']:g}→{m['new_rank']:g})" for m in popularity["top_movers"][:5]
        )
        alerts.append(send(
            "Popularity Shift Detected",
            f"Item popularity ranking changed (corr={popularity['correlation']:.3f} over "
            f"{popularity['n_items']} items). Update baseline. Top movers: {movers or 'none'}",
            config.alert_severity,
        ))
    results["alerts"] = alerts
    return results


def _store_results(store: DriftStore, results: dict, now: datetime, data_version: str | None) -> dict[str, int]:
    rating, popularity, volume = results["rating"], results["popularity"], results["volume"]
    ids = {}
    ids["rating"] = store.record(
        "rating", drift_detected=rating["drift_detected"], status=rating["status"], statistic=rating["statistic"],
        p_value=rating["p_value"], effect_size=rating["psi"], effect_metric="psi",
        n_historical=rating["n_historical"], n_recent=rating["n_recent"],
        details={**rating, "window": results["window"]}, data_version=data_version, timestamp=now,
    )
    ids["popularity"] = store.record(
        "popularity", drift_detected=popularity["shift_detected"], status=popularity["status"],
        statistic=popularity["correlation"], p_value=popularity["p_value"], effect_size=popularity["correlation"],
        effect_metric="spearman", n_historical=int(popularity["n_old"]), n_recent=int(popularity["n_new"]),
        details={**popularity, "window": results["window"]}, data_version=data_version, timestamp=now,
    )
    ids["volume"] = store.record(
        "volume", drift_detected=volume["drift_detected"], status=volume["status"],
        statistic=volume["volume_change_pct"], effect_size=volume["volume_change_pct"],
        effect_metric="volume_change_pct", n_historical=volume["n_historical"], n_recent=volume["n_recent"],
        details={**volume, "window": results["window"]}, data_version=data_version, timestamp=now,
    )
    return ids


def default_notifier(paths: ProjectPaths) -> Notifier:
    """``send_alert`` bound to the project's paths and alerts config."""
    from recsys.alerts import send_alert  # the alerting package is optional for pure drift users

    def notify(subject: str, message: str, severity: str = "info") -> Any:
        return send_alert(subject, message, severity, paths=paths)

    return notify
