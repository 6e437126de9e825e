"""How log files are opened; the rotation and retention policy (issue 7) plugs in here."""

from __future__ import annotations

import logging
from pathlib import Path


def make_file_handler(path: Path) -> logging.Handler:
    """A UTF-8 appending handler for ``path``."""
    return logging.FileHandler(path, encoding="utf-8")
