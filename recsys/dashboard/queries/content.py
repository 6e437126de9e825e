"""Content embeddings (their metadata sidecars) and the hybrid reranker's hourly metrics."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from recsys.clock import parse_ts
from recsys.dashboard.queries._db import parse_times, read_frame, window

STALE_AFTER_DAYS = 30  # the spec's freshness threshold


def embedding_sidecars(directory: str | Path, now: datetime, stale_after_days: float = STALE_AFTER_DAYS
                       ) -> pd.DataFrame:
    """One row per embeddings metadata file under ``directory`` (newest first) with its age in days.

    A JSON file counts as a sidecar when it has ``created_at``; unreadable files are listed with the reason.
    """
    directory = Path(directory)
    rows = []
    for path in sorted(directory.rglob("*.json")) if directory.is_dir() else []:
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            rows.append({"file": str(path.relative_to(directory)), "problem": f"unreadable: {exc}"})
            continue
        if not isinstance(meta, dict) or "created_at" not in meta:
            continue
        try:
            created = parse_ts(str(meta["created_at"]))
        except ValueError:
            rows.append({"file": str(path.relative_to(directory)), "problem": f"bad created_at {meta['created_at']!r}"})
            continue
        age = (now - created).total_seconds() / 86400
        rows.append({
            "file": str(path.relative_to(directory)), "created_at": created, "age_days": age,
            "stale": age > stale_after_days, "model": meta.get("model"), "dim": meta.get("dim"),
            "n": meta.get("n"), "data_version": meta.get("data_version"), "problem": None,
        })
    frame = pd.DataFrame(rows, columns=["file", "created_at", "age_days", "stale", "model", "dim", "n",
                                        "data_version", "problem"])
    return frame.sort_values("created_at", ascending=False, na_position="last", kind="stable").reset_index(drop=True)


def reranking_metrics(db: str | Path, now: datetime, span: timedelta) -> pd.DataFrame:
    """``reranking_metrics`` rows (hourly aggregates) within ``span`` before ``now``, in time order."""
    start, end = window(now, span)
    frame = read_frame(
        db,
        "SELECT timestamp, requests_with_rerank, requests_without_rerank, avg_latency_rerank_ms,"
        " avg_latency_cf_only_ms, latency_overhead_pct, avg_content_score, avg_semantic_alignment,"
        " avg_diversity_rerank, avg_diversity_cf_only FROM reranking_metrics"
        " WHERE timestamp >= ? AND timestamp <= ? ORDER BY timestamp",
        (start, end),
    )
    return parse_times(frame, ["timestamp"])
