"""Bodies FastAPI cannot parse or that are not JSON: a 4xx that says why, with the request id, and no row."""

from __future__ import annotations

import sqlite3

import httpx

from recsys.service.app import create_app
from recsys.service.settings import ServiceSettings
from recsys.testing.service import LiveServer

JSON = {"content-type": "application/json"}
CASES = [
    (b'{"user_id": ' + b"9" * 5000 + b"}", JSON, 400, "the body holds a number with too many digits"),
    (b'{"user_id": 1, "filter_params": {"brand": "\xff\xfe"}}', JSON, 400, "the body is not valid UTF-8 (byte 43)"),
    (b'{"user_id": 1, "filter_params": ' + b"[" * 20000 + b"]" * 20000 + b"}", JSON, 400,
     "the body cannot be parsed as JSON"),
    (b'{"user_id": 1}', {"content-type": "text/plain"}, 422,
     "send the body as JSON with Content-Type: application/json (got text/plain)"),
    (b'{"user_id": 1}', {}, 422, "send the body as JSON with Content-Type: application/json (got none)"),
    (b'{"user_id": 1, "pad": "' + b"x" * 70_000 + b'"}', JSON, 413, "request body larger than 65536 bytes"),
]


def test_unusable_bodies_are_4xx_saying_why(project):
    paths, _ = project
    app = create_app(paths, settings=ServiceSettings(loader_stats_interval=0, log_flush_interval=0.05))
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        for body, headers, status, reason in CASES:
            response = client.post("/recommend", content=body, headers=headers)
            assert response.status_code == status, (body[:40], response.text)
            answer = response.json()
            detail = answer["detail"] if isinstance(answer["detail"], str) else answer["detail"][0]["msg"]
            assert detail == reason and answer["request_id"] == response.headers["x-request-id"]
        missing = client.get("/no-such-page")
        assert missing.status_code == 404 and missing.json()["request_id"] == missing.headers["x-request-id"]
    conn = sqlite3.connect(paths.service_db)
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0
    conn.close()
    assert "Traceback" not in paths.service_log.read_text(encoding="utf-8")
