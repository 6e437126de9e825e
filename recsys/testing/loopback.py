"""Loopback servers and helpers for the alert tests: SMTP (aiosmtpd), a webhook receiver, a fake clock."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.smtp import AuthResult

from recsys.clock import format_ts
from recsys.db import connect
from recsys.service.schema import ensure_service_schema

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailBox:
    """aiosmtpd handler keeping every message; optionally checks a login."""

    def __init__(self, password: str | None = None):
        self.messages: list[Message] = []
        self.logins: list[str] = []
        self.tls: list[bool] = []
        self.password = password

    async def handle_DATA(self, server, session, envelope):
        self.tls.append(session.ssl is not None)
        self.messages.append(
            email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        )
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = self.password is not None and auth_data.password.decode() == self.password
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # let aiosmtpd answer 535 on failure


class WebhookReceiver:
    """A local HTTP server that records POSTed JSON bodies, answering ``status`` (and echoing the path)."""

    def __init__(self):
        self.posts: list[dict] = []
        self.status = 200
        self.statuses: list[int] = []  # answered first, one per request, before falling back to ``status``
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                receiver.posts.append({"path": self.path, "json": json.loads(body or b"null"), "at": time.monotonic()})
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                answer = b"ok" if status < 300 else f"no such hook {self.path}".encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str = "/services/T000/B000/XXXX") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def write_health(paths, at: datetime, *, avg_latency_ms: float, requests: float = 60.0, error_rate: float = 0.0,
                 fallback_rate: float = 0.1, p95_latency_ms: float | None = None) -> None:
    """One per-minute ``service_health`` row."""
    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    with conn:
        conn.execute(
            "INSERT OR REPLACE INTO service_health (timestamp, requests_per_minute, avg_latency_ms, p95_latency_ms, "
            "fallback_rate, error_rate, active_model_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (format_ts(at), requests, avg_latency_ms, p95_latency_ms or avg_latency_ms * 2, fallback_rate,
             error_rate, "als_v1_20250115_103000"),
        )
    conn.close()


def alerts_config(*, smtp_port: int | None = None, webhook: str | None = None, rules: list | None = None,
                  attempts: int = 3) -> dict:
    """A config mapping in the spec's format pointing at the loopback servers."""
    raw: dict = {
        "alerts": rules if rules is not None else [{
            "name": "high_latency", "metric": "avg_latency_ms", "threshold": 200, "window": "5min",
            "severity": "warning", "action": "email+slack", "repeat_interval": "30min",
        }],
        "delivery": {"attempts": attempts, "backoff_seconds": 0.01, "timeout_seconds": 3},
    }
    if smtp_port is not None:
        raw["email"] = {"smtp_server": "127.0.0.1", "smtp_port": smtp_port, "sender": "alerts@example.com",
                        "recipients": ["team@example.com", "oncall@example.com"], "enabled": True}
    if webhook is not None:
        raw["slack"] = {"webhook_url": webhook}
    return raw
