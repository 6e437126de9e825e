"""The spec's log-line format (``2025-01-15 10:30:00 | INFO | message``), in UTC, one handler per file."""

from __future__ import annotations

import logging
import time
from pathlib import Path

LINE_FORMAT = "%(asctime)s | %(levelname)s | %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class UTCFormatter(logging.Formatter):
    """The spec's line format with UTC timestamps, like every store."""

    converter = time.gmtime

    def __init__(self, fmt: str = LINE_FORMAT, datefmt: str = DATE_FORMAT):
        super().__init__(fmt, datefmt)


def format_fields(fields: dict) -> str:
    """``{'factors': 64, 'reg': 0.01}`` → ``factors=64, reg=0.01`` (the spec's ``key=value`` lists)."""
    return ", ".join(f"{key}={value}" for key, value in fields.items())


def file_logger(name: str, path: Path, *, console: bool = False, level: int = logging.INFO) -> logging.Logger:
    """Logger ``name`` writing to ``path`` in the spec's format; calling it again adds no second handler."""
    from recsys.logrotate import make_file_handler  # rotation policy lives with its config

    logger = logging.getLogger(name)
    logger.setLevel(level)
    logger.propagate = False
    target = str(Path(path).resolve())
    if not any(getattr(h, "recsys_target", None) == target for h in logger.handlers):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = make_file_handler(Path(target))
        handler.recsys_target = target
        handler.setFormatter(UTCFormatter())
        logger.addHandler(handler)
    if console and not any(getattr(h, "recsys_console", False) for h in logger.handlers):
        stream = logging.StreamHandler()
        stream.recsys_console = True
        stream.setFormatter(UTCFormatter())
        logger.addHandler(stream)
    return logger


def close_logger(logger: logging.Logger) -> None:
    """Detach and close every handler of ``logger`` (tests and short-lived runs)."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
