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
import threading
import time
from pathlib import Path

from recsys.logfmt import UTCFormatter
from recsys.logrotate import make_file_handler

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


class ServiceLog:
    """The service logger; ``start()`` before use, ``stop()`` writes what is queued and closes the file."""

    def __init__(self, path: str | Path, *, name: str | None = None, console: bool = False, interval: float = 0.2):
        self.path = Path(path)
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
            file_handler = make_file_handler(self.path)
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
        for handler in self._handlers:
            try:
                handler.handle(block)
            except Exception:  # a full disk must not kill the log thread
                handler.handleError(block)

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
