"""Retention: how long each store keeps its rows, how logs rotate, how many archived models keep artifacts.

One config, ``config/retention.yaml`` (the project's own copy wins over the shipped one), and one
entry point, ``apply_retention`` (the monitor's daily ``retention`` job and ``recsys logs prune``):

- rows older than their table's retention are deleted in batches of ``prune.batch_size`` rows,
  one short transaction each, with a pause as long as the batch took in between, so a writer
  (the service's batch writer, the monitor) waits at most about one batch;
- the freed space is returned to the filesystem: a store in ``auto_vacuum=INCREMENTAL`` mode gets
  ``PRAGMA incremental_vacuum`` in small steps. SQLite creates stores with ``auto_vacuum=NONE`` and
  only a full ``VACUUM`` changes that; a store up to ``prune.convert_max_bytes`` is converted once by
  that ``VACUUM`` (quick while it is small), a larger one keeps ``NONE`` (freed pages are reused by
  new rows, the file does not shrink) until someone runs ``recsys logs vacuum`` at a quiet moment;
- archived models beyond ``artifacts.keep_archived`` (the oldest archived first) are deleted through
  the registry with their artifacts, audited as ``DELETE``; the current and the previous best never;
- every log is checked for rotation (an idle log past ``max_age_hours`` rotates here) and backups
  beyond ``backup_count`` are dropped.

Table names in SQL come from ``TABLES`` (this module's constants), never from the config: the config
can only name tables that are fields of its models.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from recsys.clock import format_ts, to_utc, utc_now
from recsys.db import connect
from recsys.errors import RecsysError, RetentionError
from recsys.logrotate import backups, drop_excess_backups, log_key, rotate_if_due, rotation_due
from recsys.paths import ProjectPaths
from recsys.retention_config import RetentionConfig, RotationConfig, project_config

VACUUM_STEP_PAGES = 2_000
AUTO_VACUUM_MODES = {0: "none", 1: "full", 2: "incremental"}

# --- what each store keeps -----------------------------------------------------------------------

@dataclass(frozen=True)
class TableSpec:
    """How a table's rows age: ``age`` is the SQL expression of a row's timestamp, ``keep`` the rows never pruned."""

    age: str = "timestamp"
    keep: str = ""


def _latest(table: str, group: str | None = None, age: str = "timestamp") -> str:
    """The newest row (per ``group``) of ``table``; SQLite returns the bare ``rowid`` of the MAX row."""
    if group is None:
        return f"rowid = (SELECT rowid FROM {table} ORDER BY {age} DESC LIMIT 1)"
    return f"rowid IN (SELECT newest FROM (SELECT rowid AS newest, MAX({age}) FROM {table} GROUP BY {group}))"


STORE_PATHS: dict[str, Callable[[ProjectPaths], Path]] = {
    "service_metrics": lambda paths: paths.service_db,
    "training_metrics": lambda paths: paths.training_db,
    "registry_operations": lambda paths: paths.registry_db,
    "monitor": lambda paths: paths.monitor_db,
}

# Dashboards and the monitor read "the latest" aggregate, job run or check: that row always stays.
TABLES: dict[str, dict[str, TableSpec]] = {
    "service_metrics": {
        "requests": TableSpec(),
        "feedback": TableSpec(),
        "model_reload_events": TableSpec(keep=_latest("model_reload_events")),
        "service_health": TableSpec(keep=_latest("service_health")),
        "model_loader_stats": TableSpec(keep=_latest("model_loader_stats")),
        "reranking_metrics": TableSpec(keep=_latest("reranking_metrics")),
    },
    "training_metrics": {
        "training_runs": TableSpec(age="started_at"),
        "iteration_metrics": TableSpec(),
    },
    "registry_operations": {
        "registry_operations": TableSpec(),
    },
    "monitor": {
        "job_runs": TableSpec(age="started_at", keep=_latest("job_runs", "job", "started_at")),
        "alerts": TableSpec(age="COALESCE(resolved_at, updated_at, started_at)",
                            keep="state IN ('pending', 'firing')"),
        "drift_checks": TableSpec(keep=_latest("drift_checks", "check_type")),
        "data_quality_checks": TableSpec(keep=_latest("data_quality_checks", "check_name")),
        "retrain_decisions": TableSpec(keep=_latest("retrain_decisions")),
    },
}


def _where(spec: TableSpec) -> str:
    return f"{spec.age} < ?" + (f" AND NOT ({spec.keep})" if spec.keep else "")


def prune_table(conn: sqlite3.Connection, table: str, spec: TableSpec, cutoff: str, *, batch_size: int,
                dry_run: bool = False, progress: Any = None) -> dict[str, Any]:
    """Delete (or, dry, count) ``table``'s rows older than ``cutoff`` in batches; ``{rows, batches|oldest}``.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each batch is its own
    ``BEGIN IMMEDIATE`` … ``COMMIT``, followed by a pause as long as the batch took.
    """
    where = _where(spec)
    if dry_run:
        rows, oldest = conn.execute(f"SELECT COUNT(*), MIN({spec.age}) FROM {table} WHERE {where}",
                                    (cutoff,)).fetchone()
        return {"rows": rows, "oldest": oldest}
    deleted = batches = 0
    statement = f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {where} LIMIT ?)"
    while True:
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        try:
            count = conn.execute(statement, (cutoff, batch_size)).rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        deleted, batches = deleted + count, batches + 1
        if progress is not None:
            progress.update(count)
        if count < batch_size:
            return {"rows": deleted, "batches": batches}
        time.sleep(time.perf_counter() - started)  # writers waiting on the lock get their turn


def db_bytes(path: Path) -> int:
    """Bytes on disk of a SQLite store (the database and its -wal/-shm files)."""
    return sum(os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")
               if os.path.exists(f"{path}{suffix}"))


def reclaim_space(conn: sqlite3.Connection, path: Path, convert_max_bytes: int) -> dict[str, Any]:
    """Return free pages to the filesystem (see the module docstring); ``{vacuum, bytes_reclaimed}``."""
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    before = conn.execute("PRAGMA page_count").fetchone()[0]
    mode = AUTO_VACUUM_MODES.get(conn.execute("PRAGMA auto_vacuum").fetchone()[0], "none")
    try:
        if mode == "none":
            size = db_bytes(path)
            if size <= convert_max_bytes:
                conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("VACUUM")  # rewrites the file once; from now on incremental_vacuum works
                action = "converted to incremental (full VACUUM)"
            else:
                action = (f"none: auto_vacuum=NONE and {size} bytes > convert_max_bytes; freed pages are reused, "
                          "run `recsys logs vacuum` at a quiet moment to shrink the file")
        elif mode == "incremental":
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            while free:
                # executescript steps the pragma to the end (execute would free one page only)
                conn.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES:d})")
                left = conn.execute("PRAGMA freelist_count").fetchone()[0]
                if left >= free:
                    break
                free = left
            action = "incremental"
        else:
            action = "full (automatic)"
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the file shrinks when the WAL is checkpointed
    except sqlite3.OperationalError as exc:
        action = f"failed: {exc}"
    after = conn.execute("PRAGMA page_count").fetchone()[0]
    return {"vacuum": action, "bytes_reclaimed": max(0, before - after) * page_size}


def prune_store(path: Path, tables: dict[str, TableSpec], keep_days: dict[str, float | None], now: datetime, *,
                batch_size: int, convert_max_bytes: int, dry_run: bool = False,
                progress: bool = False) -> dict[str, Any]:
    """Prune every table of one store; ``{path, tables: {table: {keep_days, cutoff, rows}}, vacuum, …}``."""
    result: dict[str, Any] = {"path": str(path), "tables": {}}
    if not path.exists():
        result["missing"] = True
        return result
    conn = connect(path, readonly=dry_run, check_same_thread=False)
    conn.isolation_level = None
    try:
        existing = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        result["bytes_before"] = db_bytes(path)
        for table, spec in tables.items():
            days = keep_days.get(table)
            if table not in existing:
                continue
            if days is None:
                result["tables"][table] = {"keep_days": None, "cutoff": None, "rows": 0}
                continue
            cutoff = format_ts(now - timedelta(days=days))
            bar = None
            if progress and not dry_run:
                total = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {_where(spec)}", (cutoff,)).fetchone()[0]
                if total > batch_size:  # a bar only where deleting takes several batches
                    from tqdm import tqdm

                    bar = tqdm(total=total, unit="rows", desc=f"{path.name}:{table}", leave=False)
            try:
                pruned = prune_table(conn, table, spec, cutoff, batch_size=batch_size, dry_run=dry_run, progress=bar)
            finally:
                if bar is not None:
                    bar.close()
            result["tables"][table] = {"keep_days": days, "cutoff": cutoff, **pruned}
        if dry_run:
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            result["auto_vacuum"] = AUTO_VACUUM_MODES.get(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
            result["free_bytes"] = conn.execute("PRAGMA freelist_count").fetchone()[0] * page_size
        else:
            result.update(reclaim_space(conn, path, convert_max_bytes))
    finally:
        conn.close()
    result["bytes_after"] = db_bytes(path)
    return result


def vacuum_store(path: Path) -> dict[str, Any]:
    """Full ``VACUUM`` of one store into ``auto_vacuum=INCREMENTAL`` (blocks its writers while it runs)."""
    before = db_bytes(path)
    conn = connect(path)
    conn.isolation_level = None
    try:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return {"path": str(path), "bytes_before": before, "bytes_after": db_bytes(path)}


# --- archived models ---------------------------------------------------------------------------------

def _dir_bytes(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) if directory.is_dir() else 0


def prune_archived_models(paths: ProjectPaths, keep: int | None, *, now: datetime | None = None,
                          dry_run: bool = False) -> dict[str, Any]:
    """Delete (with their artifacts) the archived models beyond the ``keep`` most recently archived.

    Goes through ``ModelRegistry.delete_model``: audited as ``DELETE``, refused for the current and the
    previous best (those are skipped and reported).
    """
    result: dict[str, Any] = {"keep_archived": keep, "archived": 0, "removed": [], "skipped": []}
    if keep is None or not paths.registry_file.exists():
        return result
    from recsys.cf.registry import ModelRegistry

    registry = ModelRegistry(paths=paths, clock=(lambda: now) if now is not None else utc_now)
    archived = registry.list_models(status="archived")
    archived.sort(key=lambda e: e.get("archived_at") or e.get("status_changed_at") or e.get("registered_at") or "",
                  reverse=True)
    result["archived"] = len(archived)
    best = registry.get_current_best()
    protected = {best["model_id"] if best else None, registry.previous_best_id()} - {None}
    for entry in archived[keep:]:
        model_id, directory = entry["model_id"], Path(entry["path"])
        if model_id in protected:
            result["skipped"].append({"model_id": model_id, "reason": "current or previous best"})
            continue
        size = _dir_bytes(directory)
        if not dry_run:
            try:
                registry.delete_model(model_id, remove_artifacts=True)
            except RecsysError as exc:
                result["skipped"].append({"model_id": model_id, "reason": str(exc)})
                continue
        result["removed"].append({"model_id": model_id, "path": str(directory), "bytes": size})
    return result


# --- logs ----------------------------------------------------------------------------------------

def find_logs(paths: ProjectPaths) -> list[Path]:
    """Every live log file under ``logs/`` (``*.log``), sorted."""
    if not paths.logs_dir.is_dir():
        return []
    return sorted(p for p in paths.logs_dir.rglob("*.log") if p.is_file())


def rotate_logs(paths: ProjectPaths, rotation: RotationConfig, *, now: datetime | None = None,
                force: bool = False, dry_run: bool = False) -> dict[str, Any]:
    """Rotate each log that is due (``force``: each non-empty one) and drop backups beyond the bound."""
    moment = (now or utc_now()).timestamp()
    rotated, dropped = [], []
    logs = find_logs(paths)
    for path in logs:
        key, policy = log_key(paths, path), rotation.policy_for(log_key(paths, path))
        if dry_run:
            if rotation_due(path, policy, now=moment) or (force and path.stat().st_size > 0):
                rotated.append(key)
            dropped += [str(f) for index, f in backups(path) if index > policy.backup_count]
            continue
        if rotate_if_due(path, policy, force=force, now=moment):
            rotated.append(key)
        dropped += [str(f) for f in drop_excess_backups(path, policy)]
    return {"checked": len(logs), "rotated": rotated, "backups_dropped": dropped}


# --- all of it -------------------------------------------------------------------------------------

def apply_retention(paths: ProjectPaths, *, now: datetime | None = None, config: RetentionConfig | None = None,
                    dry_run: bool = False, progress: bool = False, raise_errors: bool = True) -> dict[str, Any]:
    """Prune every store, remove archived models' artifacts beyond the count, rotate logs; a JSON-able summary.

    Each part runs even if another failed; then, with ``raise_errors``, a ``RetentionError`` carrying the
    summary reports the failures. ``dry_run`` counts and lists what would go and changes nothing.
    """
    now = to_utc(now or utc_now())
    config = config or project_config(paths)
    summary: dict[str, Any] = {"now": format_ts(now), "dry_run": dry_run, "stores": {}, "artifacts": {},
                               "logs": {}, "errors": []}
    for store, tables in TABLES.items():
        keep_days = getattr(config.stores, store).model_dump()
        try:
            summary["stores"][store] = prune_store(
                STORE_PATHS[store](paths), tables, keep_days, now, batch_size=config.prune.batch_size,
                convert_max_bytes=int(config.prune.convert_max_bytes), dry_run=dry_run, progress=progress)
        except sqlite3.Error as exc:
            summary["errors"].append(f"{STORE_PATHS[store](paths)}: {exc}")
    try:
        summary["artifacts"] = prune_archived_models(paths, config.artifacts.keep_archived, now=now, dry_run=dry_run)
    except RecsysError as exc:
        summary["errors"].append(f"archived models: {exc}")
    try:
        summary["logs"] = rotate_logs(paths, config.rotation, now=now, dry_run=dry_run)
    except OSError as exc:
        summary["errors"].append(f"log rotation: {exc}")
    if summary["errors"] and raise_errors:
        raise RetentionError(summary)
    return summary


# --- status --------------------------------------------------------------------------------------

def log_status(paths: ProjectPaths, rotation: RotationConfig) -> list[dict[str, Any]]:
    """Each log: its size, its backups (count and bytes) and its policy."""
    rows = []
    for path in find_logs(paths):
        key = log_key(paths, path)
        files = [f for _, f in backups(path)]
        rows.append({"log": key, "bytes": path.stat().st_size, "backups": len(files),
                     "backup_bytes": sum(f.stat().st_size for f in files), "policy": rotation.policy_for(key)})
    return rows


def store_status(paths: ProjectPaths) -> list[dict[str, Any]]:
    """Each store: bytes on disk, auto_vacuum mode, free bytes, and per table its rows and oldest timestamp."""
    rows = []
    for store, tables in TABLES.items():
        path = STORE_PATHS[store](paths)
        info: dict[str, Any] = {"store": store, "path": str(path), "exists": path.exists(), "tables": {}}
        if path.exists():
            info["bytes"] = db_bytes(path)
            conn = connect(path, readonly=True)
            try:
                existing = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                page_size = conn.execute("PRAGMA page_size").fetchone()[0]
                info["auto_vacuum"] = AUTO_VACUUM_MODES.get(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
                info["free_bytes"] = conn.execute("PRAGMA freelist_count").fetchone()[0] * page_size
                for table, spec in tables.items():
                    if table in existing:
                        count, oldest = conn.execute(f"SELECT COUNT(*), MIN({spec.age}) FROM {table}").fetchone()
                        info["tables"][table] = {"rows": count, "oldest": oldest}
            finally:
                conn.close()
        rows.append(info)
    return rows
