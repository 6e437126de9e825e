"""The registry's state (through ``ModelRegistry`` when it is installed), its operations and the loader's stats."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from recsys.dashboard.queries._db import parse_times, read_frame, window
from recsys.paths import ProjectPaths


def registry_state(paths: ProjectPaths) -> dict[str, Any]:
    """``{available, health, current_best, stats, error}`` from the registry package.

    ``available`` is False when ``recsys.cf.registry`` cannot be imported (the page then falls back on the
    ``model_versions`` table); ``error`` holds the text of a registry that could not be read.
    """
    state: dict[str, Any] = {"available": False, "health": None, "current_best": None, "stats": None, "error": None}
    try:
        from recsys.cf.monitoring.registry_monitor import check_registry_health
        from recsys.cf.registry import ModelRegistry
    except ImportError as exc:
        state["error"] = f"cannot import the registry package: {exc}"
        return state
    state["available"] = True
    try:
        # The health check reports a corrupt file as an issue; anything else it raises is shown, not crashed on.
        state["health"] = check_registry_health(paths=paths)
        registry = ModelRegistry(paths=paths)
        state["current_best"] = registry.get_current_best()
        state["stats"] = registry.get_registry_stats()
    except Exception as exc:  # a corrupt registry: shown on the page, never a crash of the dashboard
        state["error"] = str(exc)
    return state


def best_metric(current_best: dict | None, metric: str = "ndcg@10") -> float | None:
    """``metric`` of the current best from its ``model_info.metrics`` (or its selection value)."""
    if not current_best:
        return None
    metrics = (current_best.get("model_info") or {}).get("metrics") or {}
    if metric in metrics:
        return metrics[metric]
    return current_best.get("value") if current_best.get("metric") == metric else None


def model_versions(db: str | Path) -> pd.DataFrame:
    """The ``model_versions`` snapshot the registry keeps in its operations store, newest first."""
    frame = read_frame(
        db,
        "SELECT model_id, model_type, version, status, is_current_best, recall_at_10, ndcg_at_10, coverage,"
        " registered_at, selected_at, data_version, git_commit, artifacts_path FROM model_versions"
        " ORDER BY registered_at DESC",
    )
    return parse_times(frame, ["registered_at", "selected_at"])


def stats_from_versions(versions: pd.DataFrame) -> dict[str, Any]:
    """Registry counts and the current best from a ``model_versions`` frame (the fallback source)."""
    if versions.empty:
        return {"total_models": 0, "active_models": 0, "archived_models": 0, "failed_models": 0, "current_best": None}
    status = versions["status"].fillna("")
    best = versions[versions["is_current_best"].fillna(0).astype(bool)]
    return {
        "total_models": len(versions),
        "active_models": int((status == "active").sum()),
        "archived_models": int((status == "archived").sum()),
        "failed_models": int((status == "failed").sum()),
        "current_best": None if best.empty else best.iloc[0].to_dict(),
    }


def registry_operations(db: str | Path, limit: int = 50) -> pd.DataFrame:
    """The latest registry operations (the audit trail's database copy), newest first."""
    frame = read_frame(
        db,
        "SELECT timestamp, action, model_id, model_type, metric, metric_value, improvement_pct, previous_best_id,"
        " details FROM registry_operations ORDER BY timestamp DESC, id DESC LIMIT ?",
        (limit,),
    )
    return parse_times(frame, ["timestamp"])


def best_model_history(db: str | Path, limit: int = 200) -> pd.DataFrame:
    """``SELECT_BEST`` operations in time order: which model became best, by how much, with what metric value."""
    frame = read_frame(
        db,
        "SELECT timestamp, model_id, model_type, metric, metric_value, improvement_pct, previous_best_id"
        " FROM (SELECT * FROM registry_operations WHERE action = 'SELECT_BEST' ORDER BY timestamp DESC, id DESC"
        " LIMIT ?) ORDER BY timestamp",
        (limit,),
    )
    return parse_times(frame, ["timestamp"])


def loader_stats(db: str | Path, now: datetime, span: timedelta) -> pd.DataFrame:
    """``model_loader_stats`` snapshots (written by the monitor) within ``span`` before ``now``."""
    start, end = window(now, span)
    frame = read_frame(
        db,
        "SELECT timestamp, model_id, total_loads, cache_hits, cache_misses, cache_hit_rate, reload_count,"
        " last_load_time_ms, last_reload_at FROM model_loader_stats WHERE timestamp >= ? AND timestamp <= ?"
        " ORDER BY timestamp",
        (start, end),
    )
    return parse_times(frame, ["timestamp", "last_reload_at"])


def latest_loader_stats(db: str | Path) -> dict | None:
    """The newest ``model_loader_stats`` snapshot, whatever its age."""
    frame = read_frame(db, "SELECT * FROM model_loader_stats ORDER BY timestamp DESC LIMIT 1")
    return None if frame.empty else frame.iloc[0].to_dict()


def reload_events(db: str | Path, limit: int = 50) -> pd.DataFrame:
    """The latest model reloads (startup, watch, admin, rollback), with failures and load times."""
    frame = read_frame(
        db,
        "SELECT timestamp, trigger, old_model_id, new_model_id, status, error, load_time_ms"
        " FROM model_reload_events ORDER BY timestamp DESC, id DESC LIMIT ?",
        (limit,),
    )
    return parse_times(frame, ["timestamp"])
