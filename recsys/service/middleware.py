"""One pure-ASGI middleware: request id, body-size limit, Prometheus counts, and the JSON 500 of last resort.

Pure ASGI (not ``@app.middleware("http")``, whose BaseHTTPMiddleware costs about a third of the
throughput here) and it never reads the body for logging: the handler records what it knows.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable

from starlette.exceptions import HTTPException

from recsys.service.metrics import ServiceMetrics

Scope = dict
Message = dict
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_KEY = "recsys.request_id"
_GOOD_REQUEST_ID = re.compile(rb"^[A-Za-z0-9_.:-]{1,64}$")


class BodyTooLarge(HTTPException):
    """The request body exceeded the limit while being read (an HTTPException, so FastAPI answers 413)."""

    def __init__(self, limit: int):
        super().__init__(413, f"request body larger than {limit} bytes")


class RequestIds:
    """Unique, cheap request ids: a random per-process prefix and a counter (unique across workers)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        return f"{self._prefix}-{next(self._counter):x}"


class ServiceMiddleware:
    """Wraps the FastAPI app: every HTTP request gets an id, a body limit, metrics and a safe 500."""

    def __init__(self, app: ASGIApp, *, endpoints: Iterable[str], max_body_bytes: int,
                 metrics: ServiceMetrics | None, logger: Callable[[], logging.Logger],
                 on_error: Callable[[str, str, BaseException], None] | None = None):
        self.app = app
        self.endpoints = frozenset(endpoints)
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.logger = logger
        self.on_error = on_error
        self.new_id = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self._request_id(scope)
        scope[REQUEST_ID_KEY] = request_id
        path = scope["path"]
        endpoint = path if path in self.endpoints else "other"
        status = 500
        response_started = False
        header = (b"x-request-id", request_id.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body_bytes:
                await self._send_json(send_wrapper, 413, {"detail": f"request body larger than "
                                                                    f"{self.max_body_bytes} bytes",
                                                          "request_id": request_id})
            else:
                await self.app(scope, self._limited(receive), send_wrapper)
        except BodyTooLarge:
            if not response_started:
                await self._send_json(send_wrapper, 413, {"detail": f"request body larger than "
                                                                    f"{self.max_body_bytes} bytes",
                                                          "request_id": request_id})
        except Exception as exc:  # the last line of defence: log the trace here, never send it
            self.logger().error("Unhandled error | path=%s, request_id=%s, error=%s", path, request_id,
                                type(exc).__name__, exc_info=True)
            if self.on_error is not None:
                self.on_error(endpoint, request_id, exc)
            if not response_started:
                await self._send_json(send_wrapper, 500, {"detail": "internal server error",
                                                          "request_id": request_id})
        finally:
            if self.metrics is not None:
                self.metrics.observe_request(endpoint, status, time.perf_counter() - started)

    def _request_id(self, scope: Scope) -> str:
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id" and _GOOD_REQUEST_ID.match(value):
                return value.decode()
        return self.new_id()

    def _limited(self, receive: Receive) -> Receive:
        limit = self.max_body_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited_receive

    @staticmethod
    async def _send_json(send: Send, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
