"""Schema of ``logs/service_metrics.db``: the spec's tables plus the columns later issues record.

The service writes ``requests``, ``feedback`` and ``model_reload_events``; the monitor writes the
aggregates (``service_health``, ``model_loader_stats``, ``reranking_metrics``). Every timestamp is
UTC text in ``recsys.clock.TS_FORMAT``.
"""

from __future__ import annotations

import sqlite3

from recsys.db import add_missing_columns, apply_schema

SERVICE_DDL = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TIMESTAMP,
    user_id INTEGER,
    topk INTEGER,
    exclude_seen BOOLEAN,
    filter_params TEXT,
    latency_ms REAL,
    num_recommendations INT,
    fallback BOOLEAN,
    fallback_method TEXT,
    error TEXT,
    model_id TEXT,
    model_version TEXT,
    loader_cache_hit BOOLEAN,
    reload_triggered BOOLEAN,
    request_id TEXT,
    rerank_enabled BOOLEAN,
    content_score REAL,
    semantic_alignment REAL,
    diversity REAL
);

CREATE TABLE IF NOT EXISTS service_health (
    timestamp TIMESTAMP PRIMARY KEY,
    requests_per_minute REAL,
    avg_latency_ms REAL,
    p95_latency_ms REAL,
    fallback_rate REAL,
    error_rate REAL,
    active_model_id TEXT
);

CREATE TABLE IF NOT EXISTS model_loader_stats (
    timestamp TIMESTAMP PRIMARY KEY,
    model_id TEXT,
    total_loads INTEGER,
    cache_hits INTEGER,
    cache_misses INTEGER,
    cache_hit_rate REAL,
    reload_count INTEGER,
    last_load_time_ms REAL,
    last_reload_at TIMESTAMP,
    worker_pid INTEGER       -- each service worker snapshots its own loader
);

CREATE TABLE IF NOT EXISTS model_reload_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TIMESTAMP,
    trigger TEXT,            -- 'startup', 'watch', 'admin', 'rollback'
    old_model_id TEXT,
    new_model_id TEXT,
    status TEXT,             -- 'ok' or 'failed'
    error TEXT,
    load_time_ms REAL
);
CREATE INDEX IF NOT EXISTS idx_reload_events_timestamp ON model_reload_events(timestamp);

CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp TIMESTAMP,
    request_id TEXT,
    user_id INTEGER,
    product_id INTEGER,
    event TEXT               -- 'impression', 'click', 'purchase'
);
CREATE INDEX IF NOT EXISTS idx_feedback_timestamp ON feedback(timestamp);

CREATE TABLE IF NOT EXISTS reranking_metrics (
    timestamp TIMESTAMP,
    requests_with_rerank INTEGER,
    requests_without_rerank INTEGER,
    avg_latency_rerank_ms REAL,
    avg_latency_cf_only_ms REAL,
    latency_overhead_pct REAL,
    avg_content_score REAL,
    avg_semantic_alignment REAL,
    avg_diversity_rerank REAL,
    avg_diversity_cf_only REAL
);
"""


# Columns added after the first stores were made: a store without them gets them (before the indexes).
LATER_COLUMNS = {
    "requests": {"request_id": "TEXT", "rerank_enabled": "BOOLEAN", "content_score": "REAL",
                 "semantic_alignment": "REAL", "diversity": "REAL"},
    "model_loader_stats": {"worker_pid": "INTEGER"},
}

INDEX_DDL = """
CREATE INDEX IF NOT EXISTS idx_requests_timestamp ON requests(timestamp);
CREATE INDEX IF NOT EXISTS idx_requests_request_id ON requests(request_id);
"""


def ensure_service_schema(conn: sqlite3.Connection) -> None:
    """Create every table of the service metrics store that does not exist yet, and any later column."""
    apply_schema(conn, SERVICE_DDL)
    for table, columns in LATER_COLUMNS.items():
        add_missing_columns(conn, table, columns)
    apply_schema(conn, INDEX_DDL)
