"""``logs/service/recommender.log`` written off the event loop: records are queued, a thread writes them.

The request path only builds a LogRecord and puts it on a queue (``ServiceLog.fast``, a few
microseconds, no caller lookup, message formatted later). A listener thread wakes every
``interval`` seconds and writes everything queued through the file handler, so the event loop
never waits for the file and a busy service does not wake a thread per line. Lines keep the
spec's format (``2025-01-15 10:30:00 | INFO | Request | ...``, UTC).
"""

from __future__ import annotations

import logging
import queue
import threading
from pathlib import Path

from recsys.logfmt import UTCFormatter
from recsys.logrotate import make_file_handler


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

    def start(self) -> logging.Logger:
        """Open the file, start the writing thread and return the logger."""
        if self._thread is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            file_handler = make_file_handler(self.path)
            file_handler.setFormatter(UTCFormatter())
            self._handlers = [file_handler]
            if self.console:
                stream = logging.StreamHandler()
                stream.setFormatter(UTCFormatter())
                self._handlers.append(stream)
            for handler in list(self.logger.handlers):
                self.logger.removeHandler(handler)
            self.logger.addHandler(_QueueHandler(self.queue))
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="recsys-service-log", daemon=True)
            self._thread.start()
        return self.logger

    def fast(self, level: int, msg: str, *args: object) -> None:
        """Log from the request path: no caller lookup, ``msg % args`` is done by the writing thread."""
        logger = self.logger
        if logger.isEnabledFor(level):
            self.queue.put(logger.makeRecord(logger.name, level, "(request)", 0, msg, args, None))

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
            try:
                record = get()
            except queue.Empty:
                return
            for handler in self._handlers:
                try:
                    if record.levelno >= handler.level:
                        handler.handle(record)
                except Exception:  # a bad record or a full disk must not kill the log thread
                    handler.handleError(record)
