"""Service settings: a validated, frozen model; the admin token comes from the environment only."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ADMIN_TOKEN_ENV = "RECSYS_ADMIN_TOKEN"


class ServiceSettings(BaseModel):
    """How the recommendation service runs; every field has a safe default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    admin_token: SecretStr | None = None
    """Bearer token for ``/admin/*`` (from ``RECSYS_ADMIN_TOKEN``); ``None`` turns those endpoints off."""
    monitoring: bool = True
    """Record every request (SQLite rows, log lines, Prometheus). Off only to measure its cost."""
    log_queue_size: int = Field(100_000, ge=1)
    """Records the request log holds in memory before it drops (and counts) new ones."""
    log_flush_interval: float = Field(0.25, gt=0, le=1.0)
    """Seconds between request-log transactions (a record reaches SQLite within this)."""
    drop_warning_interval: float = Field(10.0, gt=0)
    """At most one 'Request log full' WARNING line per this many seconds."""
    watch_interval: float = Field(1.0, ge=0)
    """Seconds between looks at the registry file (0: no hot reload)."""
    retry_failed_after: float = Field(60.0, gt=0)
    """A model that failed to load is tried again after this many seconds (or when the registry changes)."""
    loader_stats_interval: float = Field(60.0, ge=0)
    """Seconds between ``model_loader_stats`` snapshots of this worker (0: none)."""
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    """Larger request bodies are refused with 413."""
    rerank_candidates: int = Field(5, ge=1, le=20)
    """With ``rerank=true`` the reranker chooses topk out of ``topk * rerank_candidates`` CF candidates."""
    console_log: bool = False
    """Also print service log lines to stderr."""
    freeze_gc: bool = True
    """After startup, move every live object to the GC's permanent generation (``gc.freeze``)."""

    @classmethod
    def from_env(cls, **overrides) -> ServiceSettings:
        """Settings with the admin token read from ``RECSYS_ADMIN_TOKEN`` (empty counts as unset)."""
        token = os.environ.get(ADMIN_TOKEN_ENV) or None
        values = {"admin_token": token, **overrides}
        return cls(**values)
