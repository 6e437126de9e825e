"""``ModelRegistry``: the models trained, their metrics and lineage, and which one is the current best.

State lives in ``artifacts/cf/registry.json``; every change is a read-modify-write under an
inter-process lock with an atomic replace, and is audited (``logs/registry_audit.log`` and
``logs/registry_operations.db``). The audit trail records *changes*: a call that changes nothing
(``select_best_model`` keeping the current best, archiving an archived model, setting a status a
model already has) writes no line and no row.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from recsys.cf.registry._audit import AuditTrail, Operation, format_improvement, format_metric
from recsys.cf.registry._entry import (
    BAD_ID_CHARS,
    DIR_NAME,
    check_choice,
    check_mapping,
    check_metrics,
    created_at,
    inside,
    plain,
    read_metadata,
)
from recsys.cf.registry._filestore import (
    MODEL_TYPES,
    STATUSES,
    RegistryFile,
    dumps,
    is_finite_number,
)
from recsys.cf.registry._selection import decide_best, improvement_pct, metric_value, previous_best
from recsys.clock import Clock, format_ts, utc_now
from recsys.errors import ArtifactError, ModelNotFoundError, RegistryError
from recsys.paths import ProjectPaths


class ModelRegistry:
    """The model registry over one registry JSON file (default ``artifacts/cf/registry.json``)."""

    MODEL_TYPES = MODEL_TYPES
    STATUSES = STATUSES

    def __init__(self, registry_path: str | os.PathLike | None = None, *, paths: ProjectPaths | None = None,
                 clock: Clock = utc_now):
        """``registry_path`` relative paths (like the spec's default) are taken from the project root."""
        self.paths = paths or ProjectPaths.from_env()
        path = self.paths.registry_file if registry_path is None else Path(registry_path)
        self.registry_path = path if path.is_absolute() else self.paths.root / path
        self._clock = clock
        self._file = RegistryFile(self.registry_path)
        self._audit = AuditTrail(self.paths.registry_audit_log, self.paths.registry_db, self.paths.root)

    # --- reading ------------------------------------------------------------------------------
    def _load_registry(self) -> dict[str, Any]:
        """The registry document as stored; raises ``RegistryCorruptError`` if the file is not a registry."""
        return self._file.read()

    @property
    def _registry(self) -> dict[str, Any]:
        """A fresh copy of the document with every model's ``path`` made absolute (the spec reads this)."""
        document = self._load_registry()
        document["models"] = {mid: self._public(entry) for mid, entry in document["models"].items()}
        return document

    def get_model(self, model_id: str) -> dict[str, Any]:
        """The entry of ``model_id`` (``path`` absolute); ``ModelNotFoundError`` if it is not registered."""
        return self._public(self._entry(self._load_registry(), model_id))

    def list_models(self, model_type: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Entries in registration order, optionally only of ``model_type`` and/or ``status``."""
        check_choice("model_type", model_type, MODEL_TYPES)
        check_choice("status", status, STATUSES)
        return [self._public(entry) for entry in self._load_registry()["models"].values()
                if (model_type is None or entry["model_type"] == model_type)
                and (status is None or entry["status"] == status)]

    def get_current_best(self) -> dict[str, Any] | None:
        """``{model_id, metric, value, selected_at, model_info}`` of the current best, or ``None``."""
        return self._best_view(self._load_registry())

    def get_registry_stats(self) -> dict[str, Any]:
        """Counts by status and type, ``last_updated`` and the current best's id."""
        document = self._load_registry()
        models = list(document["models"].values())
        by_type = {model_type: 0 for model_type in MODEL_TYPES}
        for entry in models:
            by_type[entry["model_type"]] = by_type.get(entry["model_type"], 0) + 1
        counts = {status: sum(entry["status"] == status for entry in models) for status in STATUSES}
        best = document.get("current_best")
        return {
            "total_models": len(models),
            "active_models": counts["active"],
            "archived_models": counts["archived"],
            "failed_models": counts["failed"],
            "by_type": by_type,
            "last_updated": document.get("updated_at"),
            "current_best": best["model_id"] if best else None,
        }

    def artifacts_present(self, model_id: str) -> bool:
        """True if ``model_id``'s artifacts directory exists."""
        return Path(self.get_model(model_id)["path"]).is_dir()

    def previous_best_id(self) -> str | None:
        """The model ``rollback()`` would return to now (``None`` if there is none)."""
        return previous_best(self._load_registry(), self._usable)

    # --- changing -----------------------------------------------------------------------------
    def register_model(self, artifacts_path: str | os.PathLike, model_type: str, hyperparameters: dict | None,
                       metrics: dict[str, float], training_info: dict | None = None, data_version: str | None = None,
                       baseline_comparison: dict | None = None, git_commit: str | None = None) -> str:
        """Register the artifacts directory ``v<n>_<YYYYMMDD_HHMMSS>`` as model ``<type>_<dir name>``; returns its id.

        ``data_version``, ``git_commit`` and ``created_at`` default to the directory's ``metadata.json``.
        Raises ``ArtifactError`` if the directory is missing, ``RegistryError`` if the id is taken or an
        argument is invalid.
        """
        check_choice("model_type", model_type, MODEL_TYPES, required=True)
        directory = self._absolute(artifacts_path)
        if not directory.exists():
            raise ArtifactError(str(directory), "directory not found")
        if not directory.is_dir():
            raise ArtifactError(str(directory), "is not a directory")
        model_id = f"{model_type}_{directory.name}"
        if BAD_ID_CHARS.search(model_id):
            raise RegistryError(f"model id {model_id!r} contains a control character, '|' or a slash")
        metadata = read_metadata(directory)
        name = DIR_NAME.match(directory.name)
        entry: dict[str, Any] = {
            "model_id": model_id,
            "model_type": model_type,
            "version": name.group("version") if name else directory.name,
            "created_at": created_at(metadata, name),
            "registered_at": None,
            "path": self._stored_path(directory),
            "status": "active",
            "metrics": check_metrics(metrics),
            "hyperparameters": check_mapping("hyperparameters", hyperparameters),
            "training_info": check_mapping("training_info", training_info),
            "data_version": data_version if data_version is not None else metadata.get("data_version"),
            "git_commit": git_commit if git_commit is not None else metadata.get("git_commit"),
            "baseline_comparison": baseline_comparison,
        }
        try:
            json.loads(dumps(entry))  # refuse NaN or unserialisable values before touching the file
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"cannot register {model_id}: a value is not JSON-serialisable: {exc}") from exc
        with self._file.transaction() as document:
            if model_id in document["models"]:
                raise RegistryError(f"model '{model_id}' is already registered")
            now = self._clock()
            entry["registered_at"] = format_ts(now)
            entry["created_at"] = entry["created_at"] or entry["registered_at"]
            document["models"][model_id] = entry
            self._commit(document, now)
            self._audit.record(self._operation("REGISTER", entry, now, format_metric(
                "ndcg@10", metric_value(entry, "ndcg@10")), details={
                    "version": entry["version"], "metrics": entry["metrics"],
                    "baseline_comparison": baseline_comparison}), document)
        return model_id

    def select_best_model(self, metric: str = "ndcg@10", min_improvement: float = 0.0,
                          model_type: str | None = None) -> dict[str, Any] | None:
        """Make the active model with the highest ``metric`` the current best if it improves on it.

        It replaces the current best if there is none, if the current best is no longer active, or if
        it is better by more than ``min_improvement`` (relative, 0.01 = 1 %). Returns
        ``{model_id, metric, value, previous_best_id, improvement_pct, changed, candidate_id}`` where
        ``model_id`` is the best after the call, or ``None`` if no active model has ``metric``. Only a
        change is audited (``SELECT_BEST``); keeping the current best writes no audit line or row.
        """
        if not isinstance(metric, str) or not metric:
            raise RegistryError("metric must be a metric name such as 'ndcg@10'")
        if not is_finite_number(min_improvement) or min_improvement < 0:
            raise RegistryError(f"min_improvement must be a fraction >= 0, got {min_improvement!r}")
        check_choice("model_type", model_type, MODEL_TYPES)
        with self._file.transaction() as document:
            best = document.get("current_best")
            decision = decide_best(document["models"], best["model_id"] if best else None, metric,
                                   float(min_improvement), model_type)
            if decision is None or not decision["changed"]:
                return decision
            now = self._clock()
            self._set_best(document, decision["model_id"], metric, decision["value"], now, "select_best")
            self._commit(document, now)
            entry = document["models"][decision["model_id"]]
            summary = (f"{format_metric(metric, decision['value'])} "
                       f"improvement={format_improvement(decision['improvement_pct'])}")
            self._audit.record(self._operation(
                "SELECT_BEST", entry, now, summary,
                details={"min_improvement": min_improvement, "model_type_filter": model_type},
                metric=metric, metric_value=decision["value"], improvement_pct=decision["improvement_pct"],
                previous_best_id=decision["previous_best_id"]), document)
            return decision

    def archive_model(self, model_id: str, reason: str = "manual") -> dict[str, Any]:
        """Mark ``model_id`` archived (refused for the current best); returns its entry."""
        return self._change_status(model_id, "archived", action="ARCHIVE", reason=reason)

    def update_model_status(self, model_id: str, status: str) -> dict[str, Any]:
        """Set ``model_id``'s status to active/archived/failed; archiving the current best is refused."""
        check_choice("status", status, STATUSES, required=True)
        return self._change_status(model_id, status, action="UPDATE_STATUS")

    def delete_model(self, model_id: str, remove_artifacts: bool = False) -> dict[str, Any]:
        """Remove ``model_id`` from the registry (and its artifacts directory if asked); returns the old entry.

        Refused for the current best and for the previous best (the model a rollback would return to).
        Artifacts are only removed from inside the project's ``artifacts/`` directory.
        """
        with self._file.transaction() as document:
            entry = self._entry(document, model_id)
            best = document.get("current_best")
            if best and best["model_id"] == model_id:
                raise RegistryError(f"model '{model_id}' is the current best; it cannot be deleted")
            if previous_best(document, self._usable) == model_id:
                raise RegistryError(f"model '{model_id}' is the previous best (the rollback target); "
                                    "it cannot be deleted")
            directory = Path(self._public(entry)["path"])
            if remove_artifacts and not inside(directory, self.paths.artifacts_dir):
                raise ArtifactError(str(directory), f"refusing to remove a directory outside "
                                                    f"{self.paths.artifacts_dir}")
            del document["models"][model_id]
            now = self._clock()
            self._commit(document, now)
            removed, failure = False, None
            if remove_artifacts and directory.is_dir():
                try:
                    shutil.rmtree(directory)  # after the registry no longer points at it
                    removed = True
                except OSError as exc:
                    failure = exc
            self._audit.record(self._operation(
                "DELETE", entry, now, f"artifacts={'removed' if removed else 'kept'}",
                details={"remove_artifacts": remove_artifacts, "artifacts_removed": removed,
                         "status": entry["status"], **({"error": str(failure)} if failure else {})}), document)
            if failure is not None:
                raise ArtifactError(str(directory), f"model '{model_id}' was deleted from the registry, but its "
                                                    f"artifacts could not be removed: {failure}")
        return self._public(entry)

    def rollback(self) -> dict[str, Any]:
        """Return to the previous best that is still active with its artifacts present (audited ``ROLLBACK``).

        Returns ``{model_id, metric, value, previous_best_id, improvement_pct, changed}``; raises
        ``RegistryError`` if there is no current best or nothing to roll back to.
        """
        with self._file.transaction() as document:
            best = document.get("current_best")
            if not best:
                raise RegistryError("there is no current best model, so nothing to roll back")
            target_id = previous_best(document, self._usable)
            if target_id is None:
                raise RegistryError(f"cannot roll back from '{best['model_id']}': no earlier best model is "
                                    "still active with its artifacts present")
            metric = best.get("metric") or "ndcg@10"
            target = document["models"][target_id]
            value = metric_value(target, metric)
            old_value = metric_value(document["models"].get(best["model_id"]), metric)
            change = improvement_pct(value, old_value)
            now = self._clock()
            self._set_best(document, target_id, metric, value, now, "rollback", rolled_back_from=best["model_id"])
            self._commit(document, now)
            self._audit.record(self._operation(
                "ROLLBACK", target, now, f"{format_metric(metric, value)} from={best['model_id']}",
                details={"from": best["model_id"], "to": target_id}, metric=metric, metric_value=value,
                improvement_pct=change, previous_best_id=best["model_id"]), document)
        return {"model_id": target_id, "metric": metric, "value": value, "previous_best_id": best["model_id"],
                "improvement_pct": change, "changed": True}

    def record_operation(self, action: str, model_id: str | None, details: dict[str, Any] | None = None) -> None:
        """Audit an event that is not a registry change (e.g. ``RELOAD``): one line and one row.

        The registry already records its own changes; use this for what other components do with models.
        """
        with self._file.locked():
            now = self._clock()
            try:
                entry = self._entry(self._load_registry(), model_id) if model_id else None
            except ModelNotFoundError:
                entry = None
            summary = " ".join(f"{key}={plain(value)}" for key, value in (details or {}).items())
            if entry is not None:
                op = self._operation(action, entry, now, summary, details=details)
            else:
                op = Operation(action=action, model_id=model_id, timestamp=now, summary=summary, details=details)
            self._audit.append_line(op)
            self._audit.record_row(op)

    def sync_model_versions(self) -> int:
        """Rewrite the ``model_versions`` table from the registry file; returns the number of models."""
        with self._file.locked():
            return self._audit.sync(self._load_registry())

    # --- internals ------------------------------------------------------------------------------
    def _change_status(self, model_id: str, status: str, *, action: str, reason: str | None = None) -> dict:
        with self._file.transaction() as document:
            entry = self._entry(document, model_id)
            best = document.get("current_best")
            if status == "archived" and best and best["model_id"] == model_id:
                raise RegistryError(f"model '{model_id}' is the current best; select or roll back to another "
                                    "model before archiving it")
            if entry["status"] == status:
                return self._public(entry)  # nothing changes, nothing to audit
            previous = entry["status"]
            now = self._clock()
            entry["status"] = status
            entry["status_changed_at"] = format_ts(now)
            if status == "archived":
                entry["archived_at"] = format_ts(now)
                entry["archive_reason"] = reason
            self._commit(document, now)
            summary = f"reason={reason}" if action == "ARCHIVE" else f"status={status}"
            self._audit.record(self._operation(action, entry, now, summary, details={
                "status": status, "previous_status": previous, **({"reason": reason} if reason else {})}),
                document)
            return self._public(entry)

    def _set_best(self, document: dict, model_id: str, metric: str, value: float | None, now: datetime,
                  reason: str, **extra: Any) -> None:
        selected = {"model_id": model_id, "metric": metric, "value": value, "selected_at": format_ts(now)}
        document["current_best"] = selected
        document["best_history"].append({**selected, "reason": reason, **extra})

    def _commit(self, document: dict, now: datetime) -> None:
        document["updated_at"] = format_ts(now)
        self._file.write(document)

    def _operation(self, action: str, entry: dict, now: datetime, summary: str, **fields: Any) -> Operation:
        return Operation(action=action, model_id=entry["model_id"], timestamp=now, summary=summary,
                         model_type=entry["model_type"], artifacts_path=self._public(entry)["path"],
                         data_version=entry.get("data_version"), git_commit=entry.get("git_commit"), **fields)

    def _best_view(self, document: dict) -> dict[str, Any] | None:
        best = document.get("current_best")
        if not best:
            return None
        return {"model_id": best["model_id"], "metric": best.get("metric"), "value": best.get("value"),
                "selected_at": best.get("selected_at"),
                "model_info": self._public(document["models"][best["model_id"]])}

    @staticmethod
    def _entry(document: dict, model_id: str) -> dict[str, Any]:
        try:
            return document["models"][model_id]
        except KeyError:
            raise ModelNotFoundError(model_id) from None

    def _usable(self, entry: dict) -> bool:
        return entry["status"] == "active" and Path(self._public(entry)["path"]).is_dir()

    def _absolute(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        return path if path.is_absolute() else self.paths.root / path

    def _stored_path(self, directory: Path) -> str:
        """Relative to the project root when inside it, so a moved RECSYS_HOME keeps working."""
        resolved = directory.resolve()
        try:
            return resolved.relative_to(self.paths.root.resolve()).as_posix()
        except ValueError:
            return str(resolved)

    def _public(self, entry: dict) -> dict[str, Any]:
        return {**entry, "path": str(self._absolute(entry["path"]))}
