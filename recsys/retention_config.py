"""``config/retention.yaml``: how logs rotate and how long each store keeps its rows, validated.

The project's own copy wins over the shipped one; errors name the file, the entry and the field.
Table names here are fields of the models, never free text, so the config cannot name a table that
``recsys.retention`` does not know.
"""

from __future__ import annotations

import functools
import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ByteSize, ConfigDict, Field, ValidationError, field_validator

from recsys.errors import ConfigError
from recsys.logrotate import RotationPolicy
from recsys.paths import ProjectPaths

CONFIG_NAME = "retention.yaml"

Days = Annotated[float, Field(gt=0)] | None
"""Days a row is kept; ``null`` keeps it forever."""
Size = Annotated[ByteSize, Field(gt=0)]
"""Bytes: a number or a string such as ``10 MiB`` / ``500KB``."""


# --- config --------------------------------------------------------------------------------------

class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RotationSettings(_Model):
    """Rotation of one log (or the default of every log)."""

    max_bytes: Size = ByteSize(10 * 1024 * 1024)
    """Rotate when a write leaves the file at this size or more."""
    backup_count: int = Field(5, ge=0, le=1000)
    """Backups kept (``X.1`` … ``X.N``); older ones are deleted. 0 keeps none."""
    compress: bool = True
    """Gzip backups from ``X.2`` on (``X.1`` stays plain text)."""
    max_age_hours: Annotated[float, Field(gt=0)] | None = None
    """Also rotate a non-empty log whose current file is this old; ``null``: by size only."""

    def policy(self) -> RotationPolicy:
        """As the writer's policy object."""
        return RotationPolicy(int(self.max_bytes), self.backup_count, self.compress, self.max_age_hours)


class LogRotationOverride(_Model):
    """Fields that differ from the default for the logs a key matches."""

    max_bytes: Size | None = None
    backup_count: int | None = Field(None, ge=0, le=1000)
    compress: bool | None = None
    max_age_hours: Annotated[float, Field(gt=0)] | None = None


class RotationConfig(_Model):
    """``rotation:``: a default and per-log overrides."""

    default: RotationSettings = RotationSettings()
    """Applies to every log no key of ``logs`` matches."""
    logs: dict[str, LogRotationOverride] = Field(default_factory=dict)
    """Log path under ``logs/`` (a glob pattern allowed: ``cf/*.log``) → overrides; exact keys win."""

    @field_validator("logs")
    @classmethod
    def _relative_keys(cls, value: dict[str, LogRotationOverride]) -> dict[str, LogRotationOverride]:
        for key in value:
            if key.startswith("/") or ".." in Path(key).parts:
                raise ValueError(f"log '{key}' must be a path under logs/ such as 'service/recommender.log'")
        return value

    def policy_for(self, key: str) -> RotationPolicy:
        """The policy of the log named ``key`` (its path under ``logs/``)."""
        override = self.logs.get(key)
        if override is None:
            override = next((o for pattern, o in self.logs.items() if fnmatchcase(key, pattern)), None)
        if override is None:
            return self.default.policy()
        merged = {**self.default.model_dump(), **override.model_dump(exclude_none=True)}
        return RotationSettings(**merged).policy()


class ServiceMetricsRetention(_Model):
    """``logs/service_metrics.db``."""

    requests: Days = 30
    """Raw request rows (one per answered request)."""
    feedback: Days = 30
    """Raw feedback events (impressions, clicks, purchases)."""
    model_reload_events: Days = 365
    """Model reloads of the service."""
    service_health: Days = 365
    """Per-minute aggregates."""
    model_loader_stats: Days = 365
    """Per-minute loader stats."""
    reranking_metrics: Days = 365
    """Hourly reranking aggregates."""


class TrainingMetricsRetention(_Model):
    """``logs/training_metrics.db``."""

    training_runs: Days = None
    """One row per training run."""
    iteration_metrics: Days = None
    """One row per training iteration."""


class RegistryOperationsRetention(_Model):
    """``logs/registry_operations.db`` (``model_versions`` mirrors the registry and is never pruned)."""

    registry_operations: Days = None
    """The audit rows of registry changes."""


class MonitorRetention(_Model):
    """``logs/monitor.db``; the latest row per job / check and every open alert are always kept."""

    job_runs: Days = None
    alerts: Days = None
    """Alert episodes, aged by when they resolved."""
    drift_checks: Days = None
    data_quality_checks: Days = None
    retrain_decisions: Days = None


class StoresRetention(_Model):
    """``stores:``: days each table keeps its rows."""

    service_metrics: ServiceMetricsRetention = ServiceMetricsRetention()
    training_metrics: TrainingMetricsRetention = TrainingMetricsRetention()
    registry_operations: RegistryOperationsRetention = RegistryOperationsRetention()
    monitor: MonitorRetention = MonitorRetention()


class ArtifactsRetention(_Model):
    """``artifacts:``."""

    keep_archived: int | None = Field(20, ge=0)
    """Archived models that keep their artifacts (newest archived first); older ones are deleted. null: all."""


class PruneSettings(_Model):
    """``prune:``: how rows are deleted and space reclaimed."""

    batch_size: int = Field(5_000, ge=1, le=100_000)
    """Rows deleted per transaction."""
    convert_max_bytes: Size = ByteSize(64 * 1024 * 1024)
    """A store with ``auto_vacuum=NONE`` up to this size is VACUUMed once into incremental mode."""


class RetentionConfig(_Model):
    """The whole ``config/retention.yaml``."""

    rotation: RotationConfig = RotationConfig()
    stores: StoresRetention = StoresRetention()
    artifacts: ArtifactsRetention = ArtifactsRetention()
    prune: PruneSettings = PruneSettings()


def load_retention_config(path: str | os.PathLike) -> RetentionConfig:
    """Read and validate ``path``; errors name the file, the entry and the field."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror}") from exc
    return _load_cached(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _load_cached(path: str, mtime_ns: int, size: int) -> RetentionConfig:
    """Parsed once per file version: every log handler looks its policy up here."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(path, "not valid YAML" + (f" at line {mark.line + 1}" if mark else "")) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path, "must be a mapping with rotation/stores/artifacts/prune sections")
    try:
        return RetentionConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"] if not str(part).startswith(("constrained-", "function-"))]
        known = _config_keys(raw, loc)
        entry = ".".join(known[:-1]) or None
        raise ConfigError(path, first["msg"], entry=entry, field=known[-1] if known else None) from exc


def _config_keys(raw: dict, loc: list[str]) -> list[str]:
    """The leading part of a pydantic error location that names keys of the file (drops type tags)."""
    keys, node = [], raw
    for part in loc:
        if not isinstance(node, dict) or part not in node:
            if not keys or isinstance(node, dict):
                keys.append(part)  # a missing or extra key is still the field the error is about
            break
        keys.append(part)
        node = node[part]
    return keys


def project_config(paths: ProjectPaths) -> RetentionConfig:
    """The retention config of the project (its own file, else the shipped one, else the defaults)."""
    from recsys.config_files import config_file

    path = config_file(paths, CONFIG_NAME)
    return load_retention_config(path) if path.exists() else RetentionConfig()


