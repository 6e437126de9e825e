"""Hourly reranking aggregate: reranked vs CF-only requests of one window, into ``reranking_metrics``."""

from __future__ import annotations

from datetime import datetime, timedelta

from recsys.clock import format_ts, to_utc, utc_now
from recsys.db import connect
from recsys.paths import ProjectPaths
from recsys.service.schema import ensure_service_schema

# One pass over the window; requests recorded before reranking existed (NULL) were CF-only.
_GROUPS_SQL = """
SELECT COALESCE(rerank_enabled, 0) AS reranked,
       COUNT(*) AS num_requests,
       AVG(latency_ms) AS avg_latency,
       AVG(content_score) AS avg_content_score,
       AVG(semantic_alignment) AS avg_semantic_alignment,
       AVG(diversity) AS avg_diversity
FROM requests
WHERE timestamp >= ? AND timestamp < ?
GROUP BY COALESCE(rerank_enabled, 0)
"""

_INSERT_SQL = """
INSERT INTO reranking_metrics
    (timestamp, requests_with_rerank, requests_without_rerank, avg_latency_rerank_ms, avg_latency_cf_only_ms,
     latency_overhead_pct, avg_content_score, avg_semantic_alignment, avg_diversity_rerank, avg_diversity_cf_only)
VALUES (:timestamp, :requests_with_rerank, :requests_without_rerank, :avg_latency_rerank_ms,
        :avg_latency_cf_only_ms, :latency_overhead_pct, :avg_content_score, :avg_semantic_alignment,
        :avg_diversity_rerank, :avg_diversity_cf_only)
"""


def latency_overhead_pct(rerank_ms: float | None, cf_only_ms: float | None) -> float | None:
    """``(rerank / cf_only − 1) × 100``; None when either side is missing or the baseline is not positive."""
    if rerank_ms is None or cf_only_ms is None or cf_only_ms <= 0:
        return None
    return (rerank_ms / cf_only_ms - 1.0) * 100.0


def aggregate_reranking_metrics(paths: ProjectPaths, *, now: datetime | None = None,
                                window: timedelta = timedelta(hours=1)) -> dict:
    """Aggregate ``requests`` of ``[now − window, now)`` by ``rerank_enabled``; insert and return the row.

    Content score and alignment come from the reranked requests (what reranking is for); diversity
    is reported for both groups so they can be compared. A group without requests has count 0 and
    NULL averages, and the overhead is NULL then.
    """
    end = to_utc(now or utc_now())
    bounds = (format_ts(end - window), format_ts(end))
    conn = connect(paths.service_db)
    try:
        ensure_service_schema(conn)  # also adds the rerank columns to a store made before they existed
        groups = {int(row["reranked"]): row for row in conn.execute(_GROUPS_SQL, bounds)}
        rerank, cf_only = groups.get(1), groups.get(0)

        def value(row, column):
            return row[column] if row is not None else None

        record = {
            "timestamp": bounds[1],
            "requests_with_rerank": value(rerank, "num_requests") or 0,
            "requests_without_rerank": value(cf_only, "num_requests") or 0,
            "avg_latency_rerank_ms": value(rerank, "avg_latency"),
            "avg_latency_cf_only_ms": value(cf_only, "avg_latency"),
            "latency_overhead_pct": latency_overhead_pct(value(rerank, "avg_latency"), value(cf_only, "avg_latency")),
            "avg_content_score": value(rerank, "avg_content_score"),
            "avg_semantic_alignment": value(rerank, "avg_semantic_alignment"),
            "avg_diversity_rerank": value(rerank, "avg_diversity"),
            "avg_diversity_cf_only": value(cf_only, "avg_diversity"),
        }
        with conn:
            conn.execute(_INSERT_SQL, record)
    finally:
        conn.close()
    return record
