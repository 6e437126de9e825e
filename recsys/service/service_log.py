"""``logs/service/recommender.log`` written off the event loop: lines are queued, a thread writes them.

The request path only puts ``(time, level, format, args)`` on a queue (``ServiceLog.fast``, a
fraction of a microsecond: no LogRecord, no caller lookup, no formatting). Other code logs through
the ordinary ``logger``, whose records join the same queue. A thread wakes every ``interval``
seconds, formats everything queued into the spec's lines (``2025-01-15 10:30:00 | INFO | Request |
...``, UTC) and hands them to the file handler as one block, so the event loop never waits for the
file and a busy service costs one write per interval, not one per line.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from recsys.logfmt import UTCFormatter
from recsys.logrotate import RotatingLineHandler, policy_for

_BLOCK_LINES = 256  # lines formatted per hold of the GIL


class _BlockFormatter(logging.Formatter):
    """The lines are formatted already; a block record's message is written as is."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


class _QueueHandler(logging.Handler):
    """Puts records on the queue; a traceback is rendered now (it cannot wait), the message later."""

    def __init__(self, sink: queue.SimpleQueue):
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        self.sink.put(record)


class _FileHandler(RotatingLineHandler):
    """The log file; a block it cannot write (a full disk) goes to ``on_error``, not as a traceback to stderr."""

    def __init__(self, path: Path, on_error: Callable[[logging.LogRecord, BaseException | None], None]):
        super().__init__(path, policy_for(path))
        self.on_error = on_error

    def handleError(self, record: logging.LogRecord) -> None:
        self.on_error(record, sys.exc_info()[1])


class ServiceLog:
    """The service logger; ``start()`` before use, ``stop()`` writes what is queued and closes the file.

    Lines that cannot be written (a full disk) are counted in ``lines_lost`` and passed to
    ``on_lost(n)`` (for a metric); ``last_error`` holds the error until a block is written again, and
    stderr gets one short line about it at most every ``error_report_interval`` seconds — not a
    traceback with every lost line, which under load would flood whatever collects stderr.
    """

    def __init__(self, path: str | Path, *, name: str | None = None, console: bool = False, interval: float = 0.2,
                 on_lost: Callable[[int], None] | None = None, error_report_interval: float = 10.0):
        self.path = Path(path)
        self.on_lost = on_lost
        self.error_report_interval = error_report_interval
        self.lines_lost = 0
        self.last_error: str | None = None
        self._last_report = float("-inf")
        self._block_failed = False
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        # One logger per file, so two apps in one process (tests) never share handlers.
        self.logger = logging.getLogger(name or f"recsys.service[{self.path.resolve()}]")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.console = console
        self.interval = interval
        self._handlers: list[logging.Handler] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._formatter = UTCFormatter()
        self._second, self._stamp = -1, ""

    def start(self) -> logging.Logger:
        """Open the file, start the writing thread and return the logger."""
        if self._thread is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            file_handler = _FileHandler(self.path, self._write_failed)
            file_handler.setFormatter(_BlockFormatter())
            self._handlers = [file_handler]
            if self.console:
                stream = logging.StreamHandler()
                stream.setFormatter(_BlockFormatter())
                self._handlers.append(stream)
            for handler in list(self.logger.handlers):
                self.logger.removeHandler(handler)
            self.logger.addHandler(_QueueHandler(self.queue))
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="recsys-service-log", daemon=True)
            self._thread.start()
        return self.logger

    def fast(self, level: int, msg: str, *args: object) -> None:
        """Log from the request path; ``msg % args`` is done by the writing thread (pass immutable args)."""
        if level >= self.logger.level:
            self.queue.put((time.time(), level, msg, args))

    def stop(self) -> None:
        """Write every queued line, then close the file."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
        for handler in self._handlers:
            handler.close()
        self._handlers = []

    def _run(self) -> None:
        while True:
            stopping = self._stop.wait(self.interval)
            self._drain()
            if stopping:
                return

    def _drain(self) -> None:
        get = self.queue.get_nowait
        while True:
            lines: list[str] = []
            try:
                while len(lines) < _BLOCK_LINES:
                    lines.append(self._line(get()))
            except queue.Empty:
                pass
            if lines:
                self._write_block(lines)
            if len(lines) < _BLOCK_LINES:
                return
            time.sleep(0)  # let the event loop have the GIL between blocks

    def _write_block(self, lines: list[str]) -> None:
        block = logging.LogRecord(self.logger.name, logging.INFO, "(service log)", 0, "\n".join(lines), None, None)
        self._block_failed = False
        for handler in self._handlers:
            try:
                handler.handle(block)
            except Exception:  # a full disk must not kill the log thread
                handler.handleError(block)
        if not self._block_failed:
            self.last_error = None

    def _write_failed(self, block: logging.LogRecord, exc: BaseException | None) -> None:
        lost = block.getMessage().count("\n") + 1
        self._block_failed = True
        self.lines_lost += lost
        self.last_error = f"{type(exc).__name__}: {exc}" if exc is not None else "write failed"
        if self.on_lost is not None:
            self.on_lost(lost)
        now = time.monotonic()
        if now - self._last_report >= self.error_report_interval:
            self._last_report = now
            try:
                sys.stderr.write(f"recsys service log: cannot write {self.path}: {self.last_error} "
                                 f"({self.lines_lost} lines lost so far)\n")
            except Exception:  # noqa: BLE001 - nowhere left to report to
                pass

    def _line(self, item: logging.LogRecord | tuple) -> str:
        if isinstance(item, logging.LogRecord):
            return self._formatter.format(item)
        epoch, level, msg, args = item
        second = int(epoch // 1)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(second))
        try:
            message = msg % args if args else msg
        except (TypeError, ValueError):
            message = f"{msg} {args!r}"
        return f"{self._stamp} | {logging.getLevelName(level)} | {message}"
