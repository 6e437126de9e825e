"""Hourly reranking aggregate against a hand-computed table; one empty group is not an error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from recsys.db import connect
from recsys.embeddings.aggregate import aggregate_reranking_metrics, latency_overhead_pct
from recsys.service.schema import ensure_service_schema

NOW = datetime(2025, 1, 15, 11, 0, tzinfo=UTC)

# timestamp, rerank_enabled, latency_ms, content_score, semantic_alignment, diversity
REQUESTS = [
    ("2025-01-15 10:00:00.000000", 1, 20.0, 0.5, 0.8, 0.6),    # window start: inside
    ("2025-01-15 10:30:00.000000", 1, 30.0, 0.7, 0.6, 0.4),
    ("2025-01-15 10:15:00.000000", 1, 40.0, None, None, None),  # reranked, but no history: metrics NULL
    ("2025-01-15 10:59:59.999999", 0, 10.0, 0.2, 0.1, 0.3),
    ("2025-01-15 10:45:00.000000", None, 14.0, None, None, 0.5),  # recorded before reranking existed: CF-only
    ("2025-01-15 09:59:59.999999", 1, 1000.0, 0.0, 0.0, 0.0),   # before the window
    ("2025-01-15 11:00:00.000000", 0, 1000.0, 0.0, 0.0, 0.0),   # window end: outside
]


def _insert(paths, rows):
    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    with conn:
        conn.executemany("INSERT INTO requests (timestamp, user_id, rerank_enabled, latency_ms, content_score,"
                         " semantic_alignment, diversity) VALUES (?, 1, ?, ?, ?, ?, ?)", rows)
    conn.close()


def _stored(paths):
    conn = connect(paths.service_db)
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM reranking_metrics ORDER BY rowid")]
    finally:
        conn.close()


def test_matches_hand_computed_table(paths):
    _insert(paths, REQUESTS)
    row = aggregate_reranking_metrics(paths, now=NOW)
    expected = {
        "timestamp": "2025-01-15 11:00:00.000000",
        "requests_with_rerank": 3,
        "requests_without_rerank": 2,
        "avg_latency_rerank_ms": 30.0,           # (20 + 30 + 40) / 3
        "avg_latency_cf_only_ms": 12.0,          # (10 + 14) / 2
        "latency_overhead_pct": 150.0,           # (30 / 12 − 1) × 100
        "avg_content_score": 0.6,                # (0.5 + 0.7) / 2; NULLs are not zeros
        "avg_semantic_alignment": 0.7,
        "avg_diversity_rerank": 0.5,             # (0.6 + 0.4) / 2
        "avg_diversity_cf_only": 0.4,            # (0.3 + 0.5) / 2
    }
    assert row.keys() == expected.keys()
    for key, value in expected.items():
        assert row[key] == pytest.approx(value), key
    assert _stored(paths) == [row]


def test_one_group_without_requests(paths):
    _insert(paths, [r for r in REQUESTS if r[1] == 1])
    row = aggregate_reranking_metrics(paths, now=NOW)
    assert row["requests_with_rerank"] == 3 and row["requests_without_rerank"] == 0
    assert row["avg_latency_cf_only_ms"] is None and row["avg_diversity_cf_only"] is None
    assert row["latency_overhead_pct"] is None
    assert row["avg_latency_rerank_ms"] == pytest.approx(30.0)


def test_only_cf_requests_and_an_empty_hour(paths):
    _insert(paths, [r for r in REQUESTS if r[1] != 1])
    cf_only = aggregate_reranking_metrics(paths, now=NOW)
    assert (cf_only["requests_with_rerank"], cf_only["requests_without_rerank"]) == (0, 2)
    assert cf_only["avg_content_score"] is None and cf_only["latency_overhead_pct"] is None
    empty = aggregate_reranking_metrics(paths, now=datetime(2025, 1, 16, tzinfo=UTC))
    assert (empty["requests_with_rerank"], empty["requests_without_rerank"]) == (0, 0)
    assert len(_stored(paths)) == 2


def test_old_store_without_rerank_columns(paths):
    conn = connect(paths.service_db)
    conn.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, timestamp TIMESTAMP, latency_ms REAL)")
    conn.execute("INSERT INTO requests (timestamp, latency_ms) VALUES ('2025-01-15 10:10:00.000000', 8.0)")
    conn.commit()
    conn.close()
    row = aggregate_reranking_metrics(paths, now=NOW)
    assert row["requests_without_rerank"] == 1 and row["avg_latency_cf_only_ms"] == pytest.approx(8.0)


def test_overhead_formula():
    assert latency_overhead_pct(15.0, 10.0) == pytest.approx(50.0)
    assert latency_overhead_pct(15.0, 0.0) is None
    assert latency_overhead_pct(None, 10.0) is None
