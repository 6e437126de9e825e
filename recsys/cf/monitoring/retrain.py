"""When to retrain (spec Component 6): ``should_retrain`` and the weekly ``check_retrain_trigger``.

Reasons to retrain, each with a configurable threshold: the rating distribution drifted (latest
``drift_checks`` row, else computed now); click-through rate from ``/feedback`` events fell more
than 10% from the 7 days after the current model went live to the last 7 days; the newest
interaction is older than 30 days; there is no current best model. Every decision is stored in
``retrain_decisions`` (``logs/monitor.db``). The training itself is a ``runner`` callable, run
under a file lock so that only one retrain happens at a time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field

from recsys.clock import format_ts, parse_ts, to_utc, utc_now
from recsys.db import apply_schema, connect
from recsys.errors import RecsysError
from recsys.paths import ProjectPaths

from .drift import detect_rating_distribution_drift
from .drift_check import (
    DriftConfig,
    DriftStore,
    Notifier,
    default_notifier,
    load_recent_interactions,
    read_interactions,
)

RETRAIN_DDL = """
CREATE TABLE IF NOT EXISTS retrain_decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TIMESTAMP NOT NULL,
    should_retrain BOOLEAN NOT NULL,
    reasons TEXT,          -- JSON list of strings
    details TEXT,          -- JSON: what each check saw
    action TEXT,           -- 'none' | 'retrain' | 'skipped'
    outcome TEXT           -- 'not needed' | 'running' | 'ok: ...' | 'failed: ...' | why skipped
);
CREATE INDEX IF NOT EXISTS idx_retrain_decisions_ts ON retrain_decisions(timestamp);
"""

Runner = Callable[[ProjectPaths], Any]
"""Performs the retrain (e.g. trains ALS then BPR with --auto-select); returns a JSON-able summary."""


class RetrainConfig(BaseModel):
    """Thresholds of the retrain decision (the ``retrain:`` section of the monitor config)."""

    model_config = ConfigDict(extra="forbid")

    drift_max_age_days: float = Field(8, gt=0)
    """A rating drift check younger than this is reused; otherwise drift is computed now."""
    compute_drift_if_missing: bool = True
    """Compute rating drift from the interactions when no recent check is stored."""
    ctr_drop: float = Field(0.10, gt=0, lt=1)
    """Retrain when recent CTR < baseline CTR × (1 − ctr_drop)."""
    ctr_window_days: float = Field(7, gt=0)
    """Length of both CTR windows: the last N days, and the N days after the current best went live."""
    min_impressions: int = Field(100, ge=1)
    """Each CTR window needs at least this many impressions to be compared."""
    max_data_age_days: float = Field(30, gt=0)
    """Retrain when the newest interaction is older than this."""
    retrain_without_best: bool = True
    """No current best model is a reason to train."""
    drift: DriftConfig = Field(default_factory=DriftConfig)
    """Settings used when rating drift is computed here."""


# --- the decision --------------------------------------------------------------------------------


def should_retrain(
    paths: ProjectPaths, *, now: datetime | None = None, config: RetrainConfig | dict | None = None
) -> dict[str, Any]:
    """``{should_retrain, reasons, details}``: the spec's decision, with what each check saw in ``details``."""
    config = config if isinstance(config, RetrainConfig) else RetrainConfig.model_validate(config or {})
    now = to_utc(now or utc_now())
    reasons: list[str] = []
    details: dict[str, Any] = {"checked_at": format_ts(now)}

    details["drift"] = drift = _rating_drift(paths, now, config)
    if drift.get("drift_detected"):
        reasons.append(f"Rating distribution drift (p={drift['p_value']:.4g}, PSI={drift['psi']:.3f})")

    best, best_error = _current_best(paths)
    details["current_best"] = {"model_id": best.get("model_id") if best else None, "error": best_error}
    if best is None and best_error is None and config.retrain_without_best:
        reasons.append("No current best model")

    details["ctr"] = ctr = _ctr_check(paths, now, best, config)
    if ctr.get("degraded"):
        reasons.append(
            f"CTR degraded {ctr['drop']:.1%} (last {config.ctr_window_days:g} days {ctr['recent_ctr']:.4f} "
            f"vs {ctr['baseline_ctr']:.4f} after {ctr['model_id']} went live)"
        )

    details["data_age"] = age = _data_age(paths, now)
    if age.get("days") is not None and age["days"] > config.max_data_age_days:
        reasons.append(f"Training data is {age['days']:.0f} days old (newest interaction {age['newest']})")

    return {"should_retrain": bool(reasons), "reasons": reasons, "details": details}


def _rating_drift(paths: ProjectPaths, now: datetime, config: RetrainConfig) -> dict[str, Any]:
    store = DriftStore(paths)
    try:
        row = store.latest("rating", since=now - timedelta(days=config.drift_max_age_days), until=now)
    finally:
        store.close()
    if row is not None:
        info = row["details"] or {}
        return {"source": "drift_checks", "checked_at": row["timestamp"], "drift_detected": row["drift_detected"],
                "status": row["status"], "p_value": row["p_value"], "psi": info.get("psi", row["effect_size"])}
    if not config.compute_drift_if_missing:
        return {"source": None, "drift_detected": False, "status": "no recent check"}
    try:
        interactions = read_interactions(paths, columns=["rating", "timestamp", "user_id", "product_id"])
    except RecsysError as exc:
        return {"source": "computed", "drift_detected": False, "status": "error", "error": str(exc)}
    historical, recent = load_recent_interactions(interactions, days=config.drift.days, now=now)
    result = detect_rating_distribution_drift(
        historical, recent, config.drift.p_threshold,
        psi_threshold=config.drift.psi_threshold, min_samples=config.drift.min_samples,
    )
    return {"source": "computed", "drift_detected": result["drift_detected"], "status": result["status"],
            "p_value": result["p_value"], "psi": result["psi"], "n_recent": result["n_recent"]}


def _current_best(paths: ProjectPaths) -> tuple[dict | None, str | None]:
    """(current best record or None, error text when the registry could not be read)."""
    from recsys.alerts.sources import read_current_best

    try:
        return read_current_best(paths), None
    except Exception as exc:  # an unreadable registry is reported, not mistaken for "no model"
        return None, f"{type(exc).__name__}: {exc}"


def click_through(paths: ProjectPaths, start: datetime, end: datetime) -> tuple[int, int]:
    """(impressions, clicks) among ``feedback`` events in [start, end)."""
    if not paths.service_db.exists():
        return 0, 0
    conn = connect(paths.service_db, readonly=True)
    try:
        rows = conn.execute(
            "SELECT event, COUNT(*) AS n FROM feedback WHERE timestamp >= ? AND timestamp < ? "
            "AND event IN ('impression', 'click') GROUP BY event",
            (format_ts(start), format_ts(end)),
        ).fetchall()
    except Exception as exc:
        if "no such table" in str(exc):
            return 0, 0
        raise
    finally:
        conn.close()
    counts = {row["event"]: row["n"] for row in rows}
    return int(counts.get("impression", 0)), int(counts.get("click", 0))


def _ctr_check(paths: ProjectPaths, now: datetime, best: dict | None, config: RetrainConfig) -> dict[str, Any]:
    if not best:
        return {"status": "no current best model"}
    window = timedelta(days=config.ctr_window_days)
    selected = best.get("selected_at")
    if not selected:
        return {"status": "current best has no selected_at", "model_id": best.get("model_id")}
    try:
        live_since = parse_ts(str(selected))
    except ValueError:
        return {"status": f"unreadable selected_at {selected!r}", "model_id": best.get("model_id")}
    info: dict[str, Any] = {"model_id": best.get("model_id"), "live_since": format_ts(live_since)}
    if live_since + window > now - window:
        # the baseline week must be over before the recent week starts, or the two overlap
        info["status"] = "model live for less than two windows; no comparison yet"
        return info
    base_imp, base_clicks = click_through(paths, live_since, live_since + window)
    recent_imp, recent_clicks = click_through(paths, now - window, now)
    info.update(baseline_impressions=base_imp, baseline_clicks=base_clicks,
                recent_impressions=recent_imp, recent_clicks=recent_clicks)
    if base_imp < config.min_impressions or recent_imp < config.min_impressions:
        info["status"] = f"fewer than {config.min_impressions} impressions in a window; no comparison"
        return info
    baseline, recent = base_clicks / base_imp, recent_clicks / recent_imp
    info.update(status="ok", baseline_ctr=baseline, recent_ctr=recent)
    info["drop"] = 1 - recent / baseline if baseline > 0 else 0.0
    info["degraded"] = baseline > 0 and recent < baseline * (1 - config.ctr_drop)
    return info


def _data_age(paths: ProjectPaths, now: datetime) -> dict[str, Any]:
    """Age of the newest interaction (manifest ``created_at`` when the parquet cannot be read)."""
    newest = None
    if paths.interactions.exists():
        try:
            column = pq.read_table(paths.interactions, columns=["timestamp"]).column("timestamp")
            value = pc.max(column).as_py()
            newest = to_utc(value) if value is not None else None
        except Exception:  # fall back to the manifest below
            newest = None
    source = "interactions"
    if newest is None:
        source = "manifest"
        try:
            manifest = json.loads(paths.data_manifest.read_text(encoding="utf-8"))
            newest = parse_ts(str(manifest["created_at"]))
        except (OSError, ValueError, KeyError, TypeError):
            return {"days": None, "status": "no interactions or manifest to date the data"}
    return {"days": (now - newest) / timedelta(days=1), "newest": format_ts(newest)[:19], "source": source}


# --- the store and the trigger -------------------------------------------------------------------


class RetrainDecisionStore:
    """The ``retrain_decisions`` table: every decision, what was done, and how it went."""

    def __init__(self, paths: ProjectPaths):
        self._conn = connect(paths.monitor_db, check_same_thread=False)
        apply_schema(self._conn, RETRAIN_DDL)

    def record(self, decision: dict, action: str, outcome: str, timestamp: datetime | None = None) -> int:
        """Store one decision; returns its id."""
        with self._conn:
            cursor = self._conn.execute(
                "INSERT INTO retrain_decisions (timestamp, should_retrain, reasons, details, action, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (format_ts(timestamp), bool(decision["should_retrain"]), json.dumps(decision["reasons"]),
                 json.dumps(decision.get("details"), default=str), action, outcome),
            )
        return int(cursor.lastrowid)

    def set_outcome(self, decision_id: int, outcome: str) -> None:
        """Record how the action ended."""
        with self._conn:
            self._conn.execute("UPDATE retrain_decisions SET outcome = ? WHERE id = ?", (outcome, decision_id))

    def recent(self, limit: int = 20) -> list[dict]:
        """Newest decisions first, JSON fields parsed."""
        rows = self._conn.execute("SELECT * FROM retrain_decisions ORDER BY id DESC LIMIT ?", (int(limit),))
        out = []
        for row in rows:
            record = dict(row)
            record["should_retrain"] = bool(record["should_retrain"])
            record["reasons"] = json.loads(record["reasons"] or "[]")
            record["details"] = json.loads(record["details"]) if record["details"] else None
            out.append(record)
        return out

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def retrain_lock_path(paths: ProjectPaths):
    """The lock file that keeps retrains one at a time (across processes)."""
    return paths.logs_dir / "monitor" / "retrain.lock"


def check_retrain_trigger(
    paths: ProjectPaths,
    runner: Runner,
    *,
    now: datetime | None = None,
    config: RetrainConfig | dict | None = None,
    notifier: Notifier | None = None,
    lock_timeout: float = 0.0,
) -> dict[str, Any]:
    """Decide; when a retrain is needed, alert with the reasons and run ``runner`` under the retrain lock.

    Returns ``{decision, action, outcome, decision_id, result}``; a runner failure is recorded and
    alerted, never raised.
    """
    now = to_utc(now or utc_now())
    decision = should_retrain(paths, now=now, config=config)
    send = notifier if notifier is not None else default_notifier(paths)
    store = RetrainDecisionStore(paths)
    try:
        if not decision["should_retrain"]:
            decision_id = store.record(decision, "none", "not needed", now)
            return {"decision": decision, "action": "none", "outcome": "not needed", "decision_id": decision_id,
                    "result": None}
        lock_file = retrain_lock_path(paths)
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_file))
        try:
            lock.acquire(timeout=lock_timeout)
        except Timeout:
            outcome = "skipped: another retrain is running"
            decision_id = store.record(decision, "skipped", outcome, now)
            return {"decision": decision, "action": "skipped", "outcome": outcome, "decision_id": decision_id,
                    "result": None}
        try:
            decision_id = store.record(decision, "retrain", "running", now)
            send("Model Retrain Triggered", "Reasons:\n" + "\n".join(decision["reasons"]), "info")
            try:
                result = runner(paths)
                outcome = "ok" + (f": {json.dumps(result, default=str)}" if result is not None else "")
            except Exception as exc:  # the monitor records a failed retrain and keeps running
                result = None
                outcome = f"failed: {type(exc).__name__}: {exc}"
                send("Model Retrain Failed", f"Retrain after {decision['reasons']} failed: {exc}", "warning")
            store.set_outcome(decision_id, outcome)
            return {"decision": decision, "action": "retrain", "outcome": outcome, "decision_id": decision_id,
                    "result": result}
        finally:
            lock.release()
    finally:
        store.close()

