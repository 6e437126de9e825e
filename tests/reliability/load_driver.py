"""A bounded loopback load: a few keep-alive clients posting ``/recommend`` in a loop, every answer recorded.

The driver runs its clients on an asyncio loop in a background thread, so the test thread can reload
models, kill the server or poll ``/health`` meanwhile. Every request becomes one ``Outcome``:
when it was sent and answered (``time.monotonic``), the HTTP status (``None`` for a transport error)
and, for a 200, the ``request_id`` and ``model_id`` of the answer — so a test can match answers
to ``requests`` rows one by one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from recsys.testing.service import USER_BASE


@dataclass(frozen=True)
class Outcome:
    """One request as the client saw it."""

    sent: float
    answered: float
    status: int | None
    request_id: str | None = None
    model_id: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Answered with 200."""
        return self.status == 200

    @property
    def latency_ms(self) -> float:
        """Client-side round trip."""
        return (self.answered - self.sent) * 1000


def request_bodies(n_known: int = 40, count: int = 97) -> list[dict]:
    """Known and cold-start users, varied topk, some filtered requests (a prime count, so clients interleave)."""
    bodies = []
    for i in range(count):
        user = USER_BASE + i % n_known if i % 5 else 900_000 + i  # every 5th is a cold-start user
        body: dict = {"user_id": user, "topk": 1 + i % 20, "exclude_seen": i % 3 != 0}
        if i % 7 == 0:
            body["filter_params"] = {"category": "serum", "price_max": 250.0}
        bodies.append(body)
    return bodies


class LoadDriver:
    """``clients`` concurrent keep-alive connections to ``url`` until ``stop()`` (or ``max_requests`` in all)."""

    def __init__(self, url: str, *, clients: int = 4, bodies: Sequence[dict] | None = None,
                 timeout: float = 10.0, max_requests: int = 1_000_000):
        self.url = url
        self.clients = clients
        self.bodies = list(bodies or request_bodies())
        self.timeout = timeout
        self.max_requests = max_requests
        self.outcomes: list[Outcome] = []  # appended from the loop thread; list.append is atomic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started_at = 0.0
        self.stopped_at = 0.0

    def start(self) -> LoadDriver:
        """Start the clients in a background thread."""
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="load-driver", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> list[Outcome]:
        """Let each client finish its request in flight, then return every outcome."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), "load clients did not stop"
        self.stopped_at = time.monotonic()
        return self.outcomes

    def wait_for(self, answered: int, timeout: float = 30.0) -> None:
        """Block until at least ``answered`` requests got a 200."""
        deadline = time.monotonic() + timeout
        while sum(o.ok for o in self.outcomes) < answered:
            assert time.monotonic() < deadline, f"fewer than {answered} answers in {timeout}s"
            time.sleep(0.02)

    async def _main(self) -> None:
        await asyncio.gather(*(self._client(k) for k in range(self.clients)))

    async def _client(self, k: int) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=self.url, limits=limits, timeout=self.timeout) as client:
            i = k * 13
            while not self._stop.is_set() and len(self.outcomes) < self.max_requests:
                body = self.bodies[i % len(self.bodies)]
                i += 1
                sent = time.monotonic()
                try:
                    response = await client.post("/recommend", json=body)
                except httpx.HTTPError as exc:
                    self.outcomes.append(Outcome(sent, time.monotonic(), None, error=f"{type(exc).__name__}: {exc}"))
                    await asyncio.sleep(0.05)  # a dead server: do not spin
                    continue
                answered = time.monotonic()
                if response.status_code == 200:
                    answer = response.json()
                    self.outcomes.append(Outcome(sent, answered, 200, answer["request_id"], answer["model_id"]))
                else:
                    self.outcomes.append(Outcome(sent, answered, response.status_code, error=response.text[:200]))
