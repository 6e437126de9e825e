"""The request path's only contact with SQLite: a bounded in-memory queue drained by one writer thread.

A handler calls ``submit_request(row)`` / ``submit_feedback(row)`` (a ``SimpleQueue.put``, well
under a microsecond). A row's first value, its timestamp, may be a ``time.time()`` float: the
writer thread turns it into the stores' UTC text, so the request path does not format dates.
The writer thread owns the one connection (WAL) and writes everything queued in one transaction
per cycle (``executemany``), at least every ``flush_interval`` seconds and once more on ``close()``,
so a graceful shutdown loses nothing. A full queue drops the record and counts it;
the request is never blocked.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from itertools import chain
from pathlib import Path

from recsys.db import connect
from recsys.service.schema import ensure_service_schema

REQUEST_COLUMNS = (
    "timestamp", "user_id", "topk", "exclude_seen", "filter_params", "latency_ms", "num_recommendations",
    "fallback", "fallback_method", "error", "model_id", "model_version", "loader_cache_hit", "reload_triggered",
    "request_id", "rerank_enabled", "content_score", "semantic_alignment", "diversity",
)
FEEDBACK_COLUMNS = ("timestamp", "request_id", "user_id", "product_id", "event")

REQUESTS, FEEDBACK = 0, 1  # the two tables the writer fills


# Rows go in as multi-row INSERTs of these sizes (greedy). Python's sqlite3 releases the GIL around
# every statement step; ``executemany`` steps once per row, and beside a busy event loop each of those
# GIL hand-offs costs a thread switch (bench/bench_request_log.py: ~7x the CPU per row, and the writer
# falls far behind). One step per 500 rows avoids that; 500 x 19 parameters stay below SQLite's limit.
CHUNKS = (500, 100, 20, 1)


def _insert(table: str, columns: tuple[str, ...], rows: int) -> str:
    # Table and column names are the constants above, never input; values are bound.
    one = "(" + ", ".join("?" * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * rows)


_STATEMENTS = {
    kind: {size: _insert(table, columns, size) for size in CHUNKS}
    for kind, table, columns in ((REQUESTS, "requests", REQUEST_COLUMNS), (FEEDBACK, "feedback", FEEDBACK_COLUMNS))
}


def insert_rows(conn: sqlite3.Connection, kind: int, rows: list[tuple]) -> None:
    """Insert ``rows`` of table ``kind`` with as few statements as ``CHUNKS`` allow (caller owns the transaction)."""
    statements = _STATEMENTS[kind]
    start = 0
    for size in CHUNKS:
        while len(rows) - start >= size:
            conn.execute(statements[size], list(chain.from_iterable(rows[start:start + size])))
            start += size


_MAX_WRITE_ATTEMPTS = 5


class EpochText:
    """``time.time()`` floats → ``recsys.clock.format_ts`` text, reusing the formatted second (fast)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, epoch: float) -> str:
        second = int(epoch // 1)
        micros = round((epoch - second) * 1_000_000)
        if micros >= 1_000_000:  # rounding carried into the next second
            second, micros = second + 1, micros - 1_000_000
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{micros:06d}"


class RequestLogWriter:
    """Background writer of ``requests`` and ``feedback`` rows into ``db_path``.

    ``max_queue``: records held in memory before new ones are dropped. ``flush_interval``: the
    longest a record waits before its transaction (seconds, <= 1). ``on_drop(n)`` is called (from
    the submitting thread) when records are dropped, for a metric; ``on_write_error()`` (from the writer
    thread) when a transaction fails. ``last_error`` is the error of the last failed write until a
    write succeeds again.
    """

    def __init__(self, db_path: str | Path, *, max_queue: int = 100_000, flush_interval: float = 0.25,
                 logger: logging.Logger | None = None, on_drop: Callable[[int], None] | None = None,
                 drop_warning_interval: float = 10.0, on_write_error: Callable[[], None] | None = None):
        self.db_path = Path(db_path)
        self.max_queue = int(max_queue)
        self.flush_interval = min(float(flush_interval), 1.0)
        self.logger = logger or logging.getLogger("recsys.service.request_log")
        self.on_drop = on_drop
        self.on_write_error = on_write_error
        self.drop_warning_interval = drop_warning_interval
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[int, tuple]] = []
        self._attempts = 0
        self.written = 0
        self.dropped = 0
        self.write_errors = 0
        self.last_error: str | None = None
        self._dropped_since_warning = 0
        self._last_drop_warning = float("-inf")
        self._epoch_text = EpochText()

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> RequestLogWriter:
        """Open the store (creating its schema) and start the writer thread."""
        if self._thread is None:
            conn = connect(self.db_path, check_same_thread=False)
            ensure_service_schema(conn)
            self._conn = conn
            self._closing = False
            self._thread = threading.Thread(target=self._run, name="recsys-request-log", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Write everything still queued, then close the connection."""
        if self._thread is None:
            return
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        self._thread = None

    # --- the request path ---------------------------------------------------------------------
    def submit_request(self, row: tuple) -> bool:
        """Queue one ``requests`` row (values in ``REQUEST_COLUMNS`` order); False if it was dropped."""
        return self._submit(REQUESTS, row)

    def submit_feedback(self, row: tuple) -> bool:
        """Queue one ``feedback`` row (values in ``FEEDBACK_COLUMNS`` order); False if it was dropped."""
        return self._submit(FEEDBACK, row)

    def _submit(self, kind: int, row: tuple) -> bool:
        # qsize() and put() are not one atomic step: the bound can be overshot by a few records
        # under contention, which is harmless; a lock here would cost every request.
        if self._closing or self._queue.qsize() >= self.max_queue:
            self._drop(1)
            return False
        self._queue.put((kind, row))
        return True

    def _drop(self, count: int) -> None:
        self.dropped += count
        self._dropped_since_warning += count
        if self.on_drop is not None:
            self.on_drop(count)
        now = time.monotonic()
        if now - self._last_drop_warning >= self.drop_warning_interval:
            self._last_drop_warning = now
            self.logger.warning("Request log full | dropped=%d, queue_depth=%d, max_queue=%d",
                                self._dropped_since_warning, self.depth, self.max_queue)
            self._dropped_since_warning = 0

    @property
    def depth(self) -> int:
        """Records waiting to be written."""
        return self._queue.qsize() + len(self._pending)

    # --- the writer thread --------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(self.flush_interval)
                closing = self._closing
                self._flush()
                if closing:
                    self._flush()  # anything submitted while the last flush ran
                    break
        finally:
            if self._pending:
                self._drop(len(self._pending))
                self.logger.error("Request log closed with unwritten records | lost=%d", len(self._pending))
                self._pending = []
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _flush(self) -> None:
        batch = self._pending
        get = self._queue.get_nowait
        try:
            while True:
                batch.append(get())
        except queue.Empty:
            pass
        self._pending = batch
        if not batch:
            return
        try:
            self._write(batch)
        except sqlite3.Error as exc:
            self.write_errors += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            if self.on_write_error is not None:
                self.on_write_error()
            self._attempts += 1
            self.logger.error("Request log write failed | rows=%d, attempt=%d, error=%s: %s", len(batch),
                              self._attempts, type(exc).__name__, exc)
            if self._attempts >= _MAX_WRITE_ATTEMPTS or len(batch) > self.max_queue:
                self._drop(len(batch))
                self._pending, self._attempts = [], 0
            return
        self.written += len(batch)
        self._pending, self._attempts = [], 0
        self.last_error = None

    def _write(self, batch: list[tuple[int, tuple]]) -> None:
        text = self._epoch_text
        conn = self._conn
        with conn:  # one transaction; rolled back as a whole on error, so a retry never duplicates rows
            # Chunk by chunk: the GIL is released at each statement, so the event loop never waits long.
            for start in range(0, len(batch), CHUNKS[0]):
                requests, feedback = [], []
                for kind, row in batch[start:start + CHUNKS[0]]:
                    if type(row[0]) is float:
                        row = (text(row[0]), *row[1:])
                    (requests if kind == REQUESTS else feedback).append(row)
                insert_rows(conn, REQUESTS, requests)
                insert_rows(conn, FEEDBACK, feedback)
