"""Whole-file replacement: readers (other processes included) see the old file or the new one, never a part.

Every file recsys rewrites in place — the processed data, the registry, model artifacts, embeddings
— goes through ``write_atomic``: a temp file in the same directory, flushed and fsynced, then
renamed over the target (and, where the rename itself must survive a crash, the directory fsynced).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which is not thread-safe later on.
_FILE_MODE = 0o666 & ~_current_umask()


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object], *, durable_rename: bool = False) -> None:
    """Replace ``path`` with what ``write(handle)`` writes; ``durable_rename`` also fsyncs the directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; these files are shared like any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable_rename:
        fsync_directory(path.parent)


def write_text_atomic(path: str | os.PathLike, text: str, *, durable_rename: bool = False) -> None:
    """``write_atomic`` of UTF-8 text."""
    data = text.encode("utf-8")
    write_atomic(path, lambda handle: handle.write(data), durable_rename=durable_rename)
