"""Registry monitoring (spec Component 2): the operations store, the ``model_versions`` mirror, and health.

``ModelRegistry`` audits its own changes; ``RegistryMonitor`` adds what the spec asks of a monitor (log
other components' operations, resync the mirror, summarise) and read helpers for dashboards, which
must not open or create the database themselves. ``check_registry_health`` never raises for a broken
registry: a corrupt file is reported as an unhealthy status with the reason.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from recsys.cf.registry import ModelRegistry
from recsys.cf.registry._audit import SCHEMA
from recsys.clock import Clock, utc_now
from recsys.db import apply_schema, connect
from recsys.errors import RegistryError
from recsys.paths import ProjectPaths

MAX_ARCHIVED = 50


def setup_registry_monitoring(registry_path: str | os.PathLike | None = None, *,
                              paths: ProjectPaths | None = None) -> RegistryMonitor:
    """A ``RegistryMonitor`` on ``registry_path`` (default ``artifacts/cf/registry.json``), store ready."""
    return RegistryMonitor(registry_path, paths=paths)


class RegistryMonitor:
    """Tracks registry operations in ``logs/registry_operations.db`` and summarises the registry's state."""

    def __init__(self, registry_path: str | os.PathLike | None = None, *, paths: ProjectPaths | None = None,
                 clock: Clock = utc_now):
        self.registry = ModelRegistry(registry_path, paths=paths, clock=clock)
        self.paths = self.registry.paths
        self.registry_path = self.registry.registry_path
        self.db_path = self.paths.registry_db
        self._init_db()

    def _init_db(self) -> None:
        """Create the spec's two tables if they are missing (the store creates its schema, idempotently)."""
        conn = connect(self.db_path)
        try:
            apply_schema(conn, SCHEMA)
        finally:
            conn.close()

    def log_operation(self, action: str, model_id: str | None, details: dict[str, Any] | None = None) -> None:
        """Record ``action`` on ``model_id`` (an audit line and a ``registry_operations`` row).

        Registry changes are already recorded by ``ModelRegistry``; this is for other events, such as a
        loader's ``RELOAD``. ``action`` must be an upper-case word.
        """
        self.registry.record_operation(action, model_id, details)

    def sync_model_versions(self) -> int:
        """Make ``model_versions`` mirror the registry file now; returns the number of models."""
        return self.registry.sync_model_versions()

    def get_registry_health(self) -> dict[str, Any]:
        """The spec's summary: counts, current best and its ndcg@10, models by type, last update.

        Raises ``RegistryCorruptError`` for a broken file; ``check_registry_health`` reports it instead.
        """
        stats = self.registry.get_registry_stats()
        best = self.registry.get_current_best()
        return {
            "total_models": stats["total_models"],
            "active_models": stats["active_models"],
            "archived_models": stats["archived_models"],
            "current_best": best["model_id"] if best else None,
            "current_best_ndcg": best["model_info"]["metrics"].get("ndcg@10") if best else None,
            "by_type": stats["by_type"],
            "last_updated": stats["last_updated"],
        }

    def recent_operations(self, limit: int = 50, action: str | None = None) -> list[dict[str, Any]]:
        """The latest ``limit`` operations (of ``action``, if given), newest first; read-only, [] if no store."""
        return read_operations(self.db_path, limit=limit, action=action)


def read_operations(db_path: str | os.PathLike, *, limit: int = 50, action: str | None = None) -> list[dict]:
    """Rows of ``registry_operations``, newest first, through a read-only connection (never creates the DB)."""
    path = Path(db_path)
    if not path.exists():
        return []
    conn = connect(path, readonly=True)
    try:
        sql = "SELECT * FROM registry_operations"
        params: list[Any] = []
        if action is not None:
            sql += " WHERE action = ?"
            params.append(action)
        sql += " ORDER BY timestamp DESC, id DESC LIMIT ?"
        params.append(int(limit))
        return [dict(row) for row in conn.execute(sql, params)]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def check_registry_health(registry_path: str | os.PathLike | None = None, *, paths: ProjectPaths | None = None,
                          max_archived: int = MAX_ARCHIVED) -> dict[str, Any]:
    """``{status: healthy|unhealthy, issues, warnings}`` from the spec's checks; never raises for a bad file.

    Issues (unhealthy): the registry file is corrupt; no current best; the current best is not active;
    an active model's artifacts directory is missing. Warning: more than ``max_archived`` archived models.
    """
    registry = ModelRegistry(registry_path, paths=paths)
    health: dict[str, Any] = {"status": "healthy", "issues": [], "warnings": [],
                              "registry_path": str(registry.registry_path)}

    def issue(text: str) -> None:
        health["status"] = "unhealthy"
        health["issues"].append(text)

    try:
        document = registry._registry  # one read: every check sees the same snapshot
    except RegistryError as exc:
        issue(f"Registry file corruption: {exc}")
        return health
    if not registry.registry_path.exists():
        health["warnings"].append(f"Registry file does not exist yet: {registry.registry_path}")
    models = document["models"]
    best = document.get("current_best")
    if not best:
        issue("No current best model selected")
    elif models[best["model_id"]]["status"] != "active":
        issue(f"Current best model {best['model_id']} is {models[best['model_id']]['status']}, not active")
    for model_id, model in models.items():
        if model["status"] == "active" and not Path(model["path"]).is_dir():
            issue(f"Model {model_id} artifacts missing: {model['path']}")
    archived = sum(model["status"] == "archived" for model in models.values())
    if archived > max_archived:
        health["warnings"].append(f"Too many archived models: {archived} (more than {max_archived})")
    return health
