"""How old the embeddings are, and a warning when they are stale (the spec's ``check_embedding_freshness``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from recsys.clock import parse_ts, to_utc, utc_now
from recsys.embeddings.store import latest, read_metadata
from recsys.errors import EmbeddingFileError
from recsys.paths import ProjectPaths

Notifier = Callable[[str, str, str], object]
"""``notifier(subject, message, severity)``: how an alert leaves this module (mail, Slack, log …)."""

DEFAULT_MAX_AGE_DAYS = 30


def freshness(embeddings_path: str | os.PathLike, *, now: datetime | None = None,
              max_age_days: int = DEFAULT_MAX_AGE_DAYS) -> dict:
    """Age and identity of an embeddings file, for monitoring: ``age_days`` (whole days, as the spec), ``stale``."""
    path = Path(embeddings_path)
    metadata = read_metadata(path)
    created_text = metadata.get("created_at")
    if not created_text:
        raise EmbeddingFileError(str(path), "metadata has no created_at")
    try:
        created = parse_ts(str(created_text))
    except ValueError as exc:
        raise EmbeddingFileError(str(path), f"created_at is not a timestamp: {created_text!r}") from exc
    age = to_utc(now or utc_now()) - created
    age_days = age.days  # whole days, floored, like the spec's (now - created_at).days
    return {
        "path": str(path),
        "version": metadata.get("version"),
        "created_at": created_text,
        "age_days": age_days,
        "age_hours": round(age.total_seconds() / 3600, 3),
        "max_age_days": max_age_days,
        "stale": age_days > max_age_days,
        "model": metadata.get("model"),
        "backend": metadata.get("backend"),
        "dim": metadata.get("dim"),
        "n": metadata.get("n"),
        "data_version": metadata.get("data_version"),
    }


def check_embedding_freshness(embeddings_path: str | os.PathLike, *, now: datetime | None = None,
                              max_age_days: int = DEFAULT_MAX_AGE_DAYS, notifier: Notifier | None = None) -> int:
    """Age of the embeddings in whole days; past ``max_age_days`` a warning goes through ``notifier``."""
    info = freshness(embeddings_path, now=now, max_age_days=max_age_days)
    if info["stale"] and notifier is not None:
        notifier(
            "BERT Embeddings Stale",
            f"Embeddings are {info['age_days']} days old (limit {max_age_days}; model {info['model']}, "
            f"file {Path(embeddings_path).name}). Consider regenerating: recsys embeddings build",
            "warning",
        )
    return info["age_days"]


def check_latest_freshness(paths: ProjectPaths, *, now: datetime | None = None,
                           max_age_days: int = DEFAULT_MAX_AGE_DAYS, notifier: Notifier | None = None) -> dict | None:
    """Freshness record of the newest version (alerting like ``check_embedding_freshness``); None if none exists.

    No embeddings is not an alert: a deployment without reranking never builds them.
    """
    newest = latest(paths)
    if newest is None:
        return None
    check_embedding_freshness(newest, now=now, max_age_days=max_age_days, notifier=notifier)
    return freshness(newest, now=now, max_age_days=max_age_days)
