"""``logs/service/recommender.log`` written off the event loop: a QueueHandler feeding a listener thread.

The request path only builds a LogRecord and puts it on a queue; the file write (and its lock)
happens in the listener's thread. Lines keep the spec's format (``... | INFO | Request | ...``).
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
from pathlib import Path

from recsys.logfmt import UTCFormatter
from recsys.logrotate import make_file_handler


class _CheapQueueHandler(logging.handlers.QueueHandler):
    """Puts the record as is: formatting (and the timestamp text) happens in the listener thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if record.exc_info:
            # The traceback object cannot wait: render it now, like QueueHandler does.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.args:
            record.msg, record.args = record.getMessage(), None
        return record


class ServiceLog:
    """The service logger and its listener; ``start()`` before use, ``stop()`` flushes and closes the file."""

    def __init__(self, path: str | Path, *, name: str | None = None, console: bool = False):
        self.path = Path(path)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        # One logger per file, so two apps in one process (tests) never share handlers.
        self.logger = logging.getLogger(name or f"recsys.service[{self.path.resolve()}]")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.console = console
        self._listener: logging.handlers.QueueListener | None = None
        self._handlers: list[logging.Handler] = []

    def start(self) -> logging.Logger:
        """Open the file, start the listener thread and return the logger."""
        if self._listener is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            file_handler = make_file_handler(self.path)
            file_handler.setFormatter(UTCFormatter())
            self._handlers = [file_handler]
            if self.console:
                stream = logging.StreamHandler()
                stream.setFormatter(UTCFormatter())
                self._handlers.append(stream)
            self._listener = logging.handlers.QueueListener(self.queue, *self._handlers,
                                                            respect_handler_level=True)
            self._listener.start()
            for handler in list(self.logger.handlers):
                self.logger.removeHandler(handler)
            self.logger.addHandler(_CheapQueueHandler(self.queue))
        return self.logger

    def stop(self) -> None:
        """Write every queued line, then close the file."""
        if self._listener is None:
            return
        self._listener.stop()  # processes what is queued, then joins
        self._listener = None
        for handler in list(self.logger.handlers):
            self.logger.removeHandler(handler)
        for handler in self._handlers:
            handler.close()
        self._handlers = []
