"""The real app over a real socket (uvicorn on 127.0.0.1): responses, rows, log lines, reloads, admin."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from recsys.cf.artifacts import MODEL_FILE
from recsys.service.app import create_app
from recsys.service.rerank import RerankOutcome
from recsys.service.settings import ServiceSettings
from recsys.testing.service import USER_BASE, LiveServer, register, save_tiny_model

TOKEN = "test-admin-token"


def make_app(paths, reranker=None, **settings):
    options = {"watch_interval": 0.05, "loader_stats_interval": 0, "log_flush_interval": 0.05, **settings}
    return create_app(paths, settings=ServiceSettings(**options), reranker=reranker)


def rows(paths, sql: str, params=()) -> list[sqlite3.Row]:
    conn = sqlite3.connect(paths.service_db)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_n_requests_give_exactly_n_rows_and_lines(project):
    paths, model_id = project
    n = 240
    bodies = [{"user_id": USER_BASE + i % 50, "topk": 1 + i % 20, "exclude_seen": i % 3 != 0,
               **({"filter_params": {"category": "serum", "price_max": 250}} if i % 4 == 0 else {})}
              for i in range(n)]
    with LiveServer(make_app(paths)) as server:
        local = threading.local()

        def call(body):
            if not hasattr(local, "client"):  # one keep-alive connection per thread
                local.client = httpx.Client(base_url=server.url)
            return local.client.post("/recommend", json=body)

        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(call, bodies))
    assert [r.status_code for r in responses] == [200] * n
    stored = {row["request_id"]: row for row in rows(paths, "SELECT * FROM requests")}
    assert len(stored) == n
    for body, response in zip(bodies, responses, strict=True):
        answer = response.json()
        row = stored[answer["request_id"]]
        assert response.headers["x-request-id"] == answer["request_id"]
        assert (row["user_id"], row["topk"], bool(row["exclude_seen"])) == (body["user_id"], body["topk"],
                                                                           body["exclude_seen"])
        assert row["num_recommendations"] == answer["count"] == len(answer["recommendations"]) <= body["topk"]
        assert bool(row["fallback"]) == answer["is_fallback"] == (body["user_id"] >= USER_BASE + 40)
        assert row["model_id"] == answer["model_id"] == model_id and row["model_version"] == "v1"
        assert row["error"] is None and row["latency_ms"] > 0 and row["loader_cache_hit"] == 1
        assert (row["filter_params"] is not None) == ("filter_params" in body)
        assert [item["rank"] for item in answer["recommendations"]] == list(range(1, answer["count"] + 1))
    log = paths.service_log.read_text(encoding="utf-8")
    cold = sum(1 for body in bodies if body["user_id"] >= USER_BASE + 40)
    assert log.count(" | INFO | Request | user_id=") == n - cold  # one line per request
    assert log.count(" | WARNING | Cold-start | user_id=") == cold
    assert f"| INFO | Service started | model_id={model_id}" in log


def test_cold_start_gets_fallback_row_and_warning(project):
    paths, _ = project
    with LiveServer(make_app(paths)) as server:
        answer = httpx.post(f"{server.url}/recommend", json={"user_id": 99999, "topk": 5}).json()
    assert answer["is_fallback"] and answer["fallback_method"] == "popularity" and answer["count"] == 5
    row = rows(paths, "SELECT fallback, fallback_method, user_id FROM requests")[0]
    assert tuple(row) == (1, "popularity", 99999)
    log = paths.service_log.read_text(encoding="utf-8")
    assert "| WARNING | Cold-start | user_id=99999, fallback=True, topk=5, latency=" in log
    assert "Request | user_id=99999" not in log  # the WARNING line is that request's line


def test_hot_reload_during_request_stream_fails_nothing(project, data):
    paths, first = project
    statuses: list[int] = []
    seen_models: list[str] = []
    stop = threading.Event()

    def stream(url: str, offset: int) -> None:
        with httpx.Client(base_url=url) as client:
            i = 0
            while not stop.is_set():
                response = client.post("/recommend", json={"user_id": USER_BASE + (i + offset) % 45, "topk": 10})
                statuses.append(response.status_code)
                if response.status_code == 200:
                    seen_models.append(response.json()["model_id"])
                i += 1

    with LiveServer(make_app(paths)) as server:
        threads = [threading.Thread(target=stream, args=(server.url, k)) for k in range(3)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(statuses) > 50)
        second = register(paths, save_tiny_model(paths, data, seed=11), 0.8)
        wait_for(lambda: seen_models.count(second) > 50)
        stop.set()
        for thread in threads:
            thread.join()
    assert statuses and set(statuses) == {200}
    assert first in seen_models and second in seen_models
    served = [row["model_id"] for row in rows(paths, "SELECT model_id FROM requests ORDER BY id")]
    assert len(served) == len(statuses)
    switch = served.index(second)
    assert set(served[:switch]) == {first} and set(served[switch:]) == {second}
    marked = rows(paths, "SELECT model_id FROM requests WHERE reload_triggered = 1")
    assert [row["model_id"] for row in marked] == [second]
    assert "Model reloaded | old=" in paths.service_log.read_text(encoding="utf-8")


def test_broken_new_model_keeps_old_one_serving(project, data):
    paths, first = project
    with LiveServer(make_app(paths)) as server:
        client = httpx.Client(base_url=server.url)
        directory = save_tiny_model(paths, data, seed=13)
        (directory / MODEL_FILE).unlink()
        broken = register(paths, directory, 0.9)
        # The listener that counts the failure runs right after the loader's own counter: wait for the metric.
        wait_for(lambda: "recsys_model_reload_failures_total 1.0" in client.get("/metrics").text)
        answer = client.post("/recommend", json={"user_id": USER_BASE, "topk": 3})
        assert answer.status_code == 200 and answer.json()["model_id"] == first
        metrics = client.get("/metrics").text
        health = client.get("/health").json()
        client.close()
    assert "recsys_model_reload_failures_total 1.0" in metrics
    assert f'recsys_model_info{{model_id="{first}",model_type="als",model_version="v1"}} 1.0' in metrics
    # Still answering from the old model, but not the registry's choice: degraded, with the reason.
    assert health["status"] == "degraded" and "ArtifactError" in health["last_reload_error"]
    assert health["issues"] == [f"last model load failed (serving {first}): {health['last_reload_error']}"]
    failed = rows(paths, "SELECT old_model_id, new_model_id, error FROM model_reload_events WHERE status='failed'")
    assert [(r["old_model_id"], r["new_model_id"]) for r in failed] == [(first, broken)]
    assert "model.npz" in failed[0]["error"] or "cannot read" in failed[0]["error"]
    assert "| ERROR | Model reload failed | trigger=watch, model_id=" + broken in paths.service_log.read_text()


def test_admin_endpoints_need_the_token(project, data, monkeypatch):
    paths, first = project
    monkeypatch.setenv("RECSYS_ADMIN_TOKEN", TOKEN)
    app = create_app(paths, settings=ServiceSettings.from_env(watch_interval=0.05, loader_stats_interval=0))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        for path in ("/admin/reload", "/admin/rollback"):
            missing = client.post(path)
            assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
            assert client.post(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.post(path, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        reload = client.post("/admin/reload", headers=auth)
        assert reload.status_code == 200 and reload.json()["new_model_id"] == first
        second = register(paths, save_tiny_model(paths, data, seed=17), 0.9)
        wait_for(lambda: client.get("/model").json()["model"]["model_id"] == second)
        rollback = client.post("/admin/rollback", headers=auth)
        assert rollback.status_code == 200
        assert rollback.json()["model_id"] == first and rollback.json()["rolled_back_from"] == second
        assert client.post("/recommend", json={"user_id": USER_BASE}).json()["model_id"] == first
        nothing_left = client.post("/admin/rollback", headers=auth)
        assert nothing_left.status_code == 409 and "roll back" in nothing_left.json()["detail"]
    assert TOKEN not in paths.service_log.read_text(encoding="utf-8")


def test_admin_endpoints_are_off_without_a_token(project, monkeypatch):
    paths, _ = project
    monkeypatch.delenv("RECSYS_ADMIN_TOKEN", raising=False)
    app = create_app(paths, settings=ServiceSettings.from_env(loader_stats_interval=0))
    with LiveServer(app) as server:
        response = httpx.post(f"{server.url}/admin/reload", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404 and "RECSYS_ADMIN_TOKEN" in response.json()["detail"]


class _BrokenReranker:
    def rerank(self, product_ids, scores, history_ids, k, popularity):
        raise KeyError("embedding missing")

    def measure(self, product_ids, history_ids):
        return None, None, 0.5


class _ReversingReranker:
    """Reverses the CF candidates; records what it was given."""

    def __init__(self):
        self.calls = []

    def rerank(self, product_ids, scores, history_ids, k, popularity):
        self.calls.append((product_ids.copy(), history_ids.copy(), popularity.copy()))
        return RerankOutcome(product_ids[::-1][:k], np.linspace(1, 0, len(product_ids))[:k], content_score=0.7,
                             semantic_alignment=0.6, diversity=0.9)

    def measure(self, product_ids, history_ids):
        return 0.1, 0.2, 0.25


def test_internal_error_is_a_json_500_with_request_id_and_an_error_row(project):
    paths, _ = project
    with LiveServer(make_app(paths, reranker=_BrokenReranker())) as server:
        client = httpx.Client(base_url=server.url)
        failed = client.post("/recommend", json={"user_id": USER_BASE + 1, "rerank": True})
        ok = client.post("/recommend", json={"user_id": USER_BASE + 1})
        metrics = client.get("/metrics").text
        client.close()
    assert failed.status_code == 500 and ok.status_code == 200
    body = failed.json()
    assert body == {"detail": "internal server error", "request_id": failed.headers["x-request-id"]}
    assert "Traceback" not in failed.text
    assert 'recsys_errors_total{endpoint="/recommend"} 1.0' in metrics
    stored = rows(paths, "SELECT request_id, error, diversity FROM requests ORDER BY id")
    assert stored[0]["request_id"] == body["request_id"] and stored[0]["error"].startswith("KeyError")
    assert stored[1]["error"] is None and stored[1]["diversity"] == 0.5
    log = paths.service_log.read_text(encoding="utf-8")
    assert f"| ERROR | Recommendation failed | user_id={USER_BASE + 1}, error=KeyError" in log
    assert "Traceback (most recent call last)" in log


def test_reranker_seam_records_quality(project, data):
    paths, _ = project
    reranker = _ReversingReranker()
    with LiveServer(make_app(paths, reranker=reranker)) as server:
        client = httpx.Client(base_url=server.url)
        plain = client.post("/recommend", json={"user_id": USER_BASE + 2, "topk": 4}).json()
        reranked = client.post("/recommend", json={"user_id": USER_BASE + 2, "topk": 4, "rerank": True}).json()
        client.close()
    assert reranked["reranked"] and not plain["reranked"] and reranked["count"] == 4
    candidates, history, popularity = reranker.calls[0]
    assert len(candidates) == 20  # topk * rerank_candidates, of which the reranker keeps 4
    assert [item["product_id"] for item in reranked["recommendations"]] == candidates[::-1][:4].tolist()
    assert sorted(history.tolist()) == sorted(data.item_ids[data.matrix[2].indices].tolist())
    item_popularity = np.asarray(data.matrix.sum(axis=0)).ravel()
    assert popularity.tolist() == item_popularity[candidates - data.item_ids[0]].tolist()
    stored = rows(paths, "SELECT rerank_enabled, content_score, semantic_alignment, diversity FROM requests "
                         "ORDER BY id")
    assert [tuple(r) for r in stored] == [(0, 0.1, 0.2, 0.25), (1, 0.7, 0.6, 0.9)]


INVALID = [
    ({"user_id": -1}, "user_id"),
    ({"user_id": 2**63}, "user_id"),
    ({"user_id": "12"}, "user_id"),
    ({"user_id": 1.5}, "user_id"),
    ({"user_id": True}, "user_id"),
    ({"user_id": 1, "topk": 0}, "topk"),
    ({"user_id": 1, "topk": 101}, "topk"),
    ({"user_id": 1, "exclude_seen": "yes"}, "exclude_seen"),
    ({"user_id": 1, "unknown": 1}, "unknown"),
    ({"user_id": 1, "filter_params": {"colour": "red"}}, "colour"),
    ({"user_id": 1, "filter_params": {"price_min": 10, "price_max": 5}}, "filter_params"),
    ({"user_id": 1, "filter_params": {"min_rating": 7}}, "min_rating"),
    ({"user_id": 1, "filter_params": {"category": ""}}, "category"),
    ({"topk": 3}, "user_id"),
]


def test_invalid_requests_are_422_naming_the_field(project):
    paths, _ = project
    with LiveServer(make_app(paths)) as server, httpx.Client(base_url=server.url) as client:
        for body, field in INVALID:
            response = client.post("/recommend", json=body)
            assert response.status_code == 422, body
            assert any(field in [str(part) for part in error["loc"]] or field in error["msg"]
                       for error in response.json()["detail"]), body
    assert rows(paths, "SELECT COUNT(*) FROM requests")[0][0] == 0


def test_oversized_and_malformed_bodies(project):
    paths, _ = project
    with LiveServer(make_app(paths, max_body_bytes=4096)) as server, httpx.Client(base_url=server.url) as client:
        big = client.post("/recommend", content=b"{" + b" " * 5000 + b"}", headers={"content-type": "application/json"})
        assert big.status_code == 413

        def chunks():
            yield b'{"user_id": 1, "pad": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}'

        streamed = client.post("/recommend", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        garbage = client.post("/recommend", content=b"{not json", headers={"content-type": "application/json"})
        assert garbage.status_code == 422
        feedback = client.post("/feedback", json={"user_id": 1, "product_id": 2, "event": "like"})
        assert feedback.status_code == 422


def test_feedback_is_stored(project):
    paths, _ = project
    with LiveServer(make_app(paths)) as server, httpx.Client(base_url=server.url) as client:
        rid = client.post("/recommend", json={"user_id": USER_BASE}).json()["request_id"]
        for event in ("impression", "click", "purchase"):
            assert client.post("/feedback", json={"request_id": rid, "user_id": USER_BASE, "product_id": 501,
                                                  "event": event}).status_code == 202
        assert client.post("/feedback", json={"user_id": 5, "product_id": 7, "event": "click"}).status_code == 202
    stored = rows(paths, "SELECT request_id, user_id, product_id, event FROM feedback ORDER BY id")
    assert [tuple(r) for r in stored] == [(rid, USER_BASE, 501, "impression"), (rid, USER_BASE, 501, "click"),
                                          (rid, USER_BASE, 501, "purchase"), (None, 5, 7, "click")]


def test_health_model_and_metrics_endpoints(project):
    paths, model_id = project
    with LiveServer(make_app(paths)) as server, httpx.Client(base_url=server.url) as client:
        client.post("/recommend", json={"user_id": 123456})
        health = client.get("/health").json()
        model = client.get("/model").json()
        exposition = client.get("/metrics")
    assert health["status"] == "ok" and health["model_id"] == model_id and health["uptime_seconds"] >= 0
    assert "queue_depth" in health
    assert model["model"]["model_id"] == model_id and model["loader"]["total_loads"] == 1
    text = exposition.text
    assert exposition.headers["content-type"].startswith("text/plain")
    for name in ("recsys_http_requests_total", "recsys_request_latency_seconds_bucket", "recsys_fallback_total",
                 "recsys_errors_total", "recsys_model_reloads_total", "recsys_model_reload_failures_total",
                 "recsys_request_log_dropped_total", "recsys_model_info"):
        assert name in text, name
    assert 'recsys_http_requests_total{endpoint="/recommend",status="200"} 1.0' in text
    assert 'recsys_fallback_total{method="popularity"} 1.0' in text
    assert "123456" not in text  # never a user id in a label


def test_monitoring_off_records_nothing(project):
    paths, _ = project
    with LiveServer(make_app(paths, monitoring=False)) as server:
        assert httpx.post(f"{server.url}/recommend", json={"user_id": USER_BASE}).status_code == 200
        text = httpx.get(f"{server.url}/metrics").text
    assert rows(paths, "SELECT COUNT(*) FROM requests")[0][0] == 0
    assert "Request |" not in paths.service_log.read_text(encoding="utf-8")
    assert 'endpoint="/recommend"' not in text


def test_no_model_and_no_catalogue_is_503(paths):
    with LiveServer(make_app(paths)) as server:
        health = httpx.get(f"{server.url}/health")
        answer = httpx.post(f"{server.url}/recommend", json={"user_id": 1})
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert answer.status_code == 503 and "no model" in answer.json()["detail"]
    assert rows(paths, "SELECT error FROM requests")[0][0].startswith("no model")


def test_generated_traffic_fills_the_stores(project):
    from recsys.service.traffic import drive_traffic, plan_from_project

    paths, _ = project
    plan = plan_from_project(paths)
    assert len(plan.known_users) == 40 and "serum" in plan.categories
    with LiveServer(make_app(paths)) as server:
        summary = drive_traffic(server.url, plan, requests=40, seed=3, progress=False)
    assert summary.statuses == {200: 40} and 0 < summary.fallbacks < 40
    assert summary.feedback_events["impression"] > 0
    assert rows(paths, "SELECT COUNT(*) FROM requests")[0][0] == 40
    assert rows(paths, "SELECT COUNT(*) FROM requests WHERE filter_params IS NOT NULL")[0][0] > 0
    assert rows(paths, "SELECT COUNT(*) FROM feedback")[0][0] == sum(summary.feedback_events.values())


def test_unexpected_error_anywhere_is_a_json_500_with_trace_only_in_the_log(project, monkeypatch):
    paths, _ = project
    app = make_app(paths)
    state = app.state.service

    def broken_health():
        raise RuntimeError("disk on fire")

    with LiveServer(app) as server:
        monkeypatch.setattr(state, "health", broken_health)
        response = httpx.get(f"{server.url}/health")
        metrics = httpx.get(f"{server.url}/metrics").text
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error", "request_id": response.headers["x-request-id"]}
    assert "disk on fire" not in response.text
    assert 'recsys_errors_total{endpoint="/health"} 1.0' in metrics
    log = paths.service_log.read_text(encoding="utf-8")
    assert "| ERROR | Unhandled error | path=/health" in log and "RuntimeError: disk on fire" in log
