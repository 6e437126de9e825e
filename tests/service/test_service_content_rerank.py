"""rerank=true with the real content embeddings: lists change, content figures recorded for both groups."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import httpx
import pytest

from recsys.clock import utc_now
from recsys.embeddings import aggregate_reranking_metrics
from recsys.embeddings.build import build_embeddings
from recsys.embeddings.service_reranker import content_reranker_for
from recsys.service.app import create_app
from recsys.service.settings import ServiceSettings
from recsys.testing.service import USER_BASE, LiveServer


def test_no_embeddings_means_pure_cf(project):
    paths, _ = project
    assert content_reranker_for(paths) is None


def test_rerank_uses_the_embeddings_and_both_groups_are_measured(project):
    paths, _ = project
    build_embeddings(paths, dim=16)
    reranker = content_reranker_for(paths)
    assert reranker is not None
    settings = ServiceSettings(watch_interval=0.05, loader_stats_interval=0, log_flush_interval=0.05)
    users = [USER_BASE + i for i in range(30)]
    with LiveServer(create_app(paths, settings=settings, reranker=reranker)) as server, \
            httpx.Client(base_url=server.url) as client:
        plain = {u: client.post("/recommend", json={"user_id": u, "topk": 5}).json() for u in users}
        mixed = {u: client.post("/recommend", json={"user_id": u, "topk": 5, "rerank": True}).json() for u in users}
    changed = [u for u in users if [r["product_id"] for r in plain[u]["recommendations"]]
               != [r["product_id"] for r in mixed[u]["recommendations"]]]
    assert changed, "reranking never changed a list"
    conn = sqlite3.connect(paths.service_db)
    conn.row_factory = sqlite3.Row
    stored = {r["request_id"]: r for r in conn.execute("SELECT * FROM requests")}
    for u in users:
        cf_row, re_row = stored[plain[u]["request_id"]], stored[mixed[u]["request_id"]]
        assert cf_row["rerank_enabled"] == 0 and re_row["rerank_enabled"] == 1
        for row in (cf_row, re_row):
            assert row["diversity"] is not None and row["content_score"] is not None
    cf_content = [stored[plain[u]["request_id"]]["content_score"] for u in users]
    re_content = [stored[mixed[u]["request_id"]]["content_score"] for u in users]
    assert sum(re_content) > sum(cf_content)  # reranking pulls the list towards the user's history

    aggregate = aggregate_reranking_metrics(paths, now=utc_now() + timedelta(seconds=1))
    assert aggregate["requests_with_rerank"] == len(users) and aggregate["requests_without_rerank"] == len(users)
    assert aggregate["avg_content_score"] == pytest.approx(sum(re_content) / len(users))
