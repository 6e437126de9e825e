"""Size- (and optionally age-) rotated log files that several processes append to at once.

Design (see ``docs/LOGGING.md``):

- Every line is one ``os.write`` of the whole encoded line to a descriptor opened with
  ``O_APPEND``: the kernel places each write at the end of the file atomically, so lines of
  different processes never mix (local filesystems; not NFS).
- Each log ``X`` has a lock file ``X.lock`` used with ``flock``: a writer holds it *shared* while it
  checks that its descriptor still points at the file named ``X`` (same inode as ``os.stat(X)``)
  and writes; a rotation holds it *exclusive*. So no line is ever written to a file that is being
  renamed or compressed, and a writer whose file was rotated by another process reopens ``X``
  before its next line (nothing lost, nothing written to an unlinked file).
- Rotation happens when a write leaves the file at ``max_bytes`` or more (or it is older than
  ``max_age_hours``). Under the exclusive lock the rotating process re-checks the live file (someone
  else may have rotated already), drops backups beyond ``backup_count``, shifts ``X.N[.gz]`` to
  ``X.N+1[.gz]``, gzips the plain ``X.2`` and renames ``X`` to ``X.1``. The newest backup stays plain
  text (logrotate's ``delaycompress``): it is greppable, and the lines of a writer that does not use
  this protocol (an old process, ``echo >>``) that still appends to the renamed file are compressed
  only at the next rotation, not lost.
- Compression runs inline under the lock (about 50 ms per 10 MiB here): writers of other processes
  wait that long once per rotation. The service logs through a queue, so its requests never wait.
- After ``fork`` a child reopens both descriptors: ``flock`` locks belong to open file descriptions,
  which a forked child would otherwise share with its parent.
"""

from __future__ import annotations

import fcntl
import glob
import gzip
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recsys.paths import ProjectPaths
    from recsys.retention_config import RotationConfig

COMPRESS_LEVEL = 6
AGE_CHECK_INTERVAL_S = 1.0
_COPY_CHUNK = 1 << 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RotationPolicy:
    """How one log rotates: at ``max_bytes``, keeping ``backup_count`` backups, gzipped if ``compress``."""

    max_bytes: int = 10 * 1024 * 1024
    backup_count: int = 5
    compress: bool = True
    max_age_hours: float | None = None
    """Also rotate a non-empty log whose current file is older than this (``None``: size only)."""


# --- one process's writer ------------------------------------------------------------------------

class LogFile:
    """Appends whole lines to a rotating log; safe beside other processes doing the same."""

    def __init__(self, path: str | os.PathLike, policy: RotationPolicy):
        self.path = Path(path)
        self.lock_path = lock_path(self.path)
        self.policy = policy
        self._mutex = threading.Lock()  # one thread at a time per descriptor pair (flock is per description)
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._pid = -1
        self._next_age_check = 0.0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._mutex:
            self._open()

    def write(self, data: bytes) -> None:
        """Append ``data`` (one or more whole lines) with one write; rotate afterwards if it is due."""
        with self._mutex:
            if self._pid != os.getpid():
                self._open()  # forked: do not share the parent's lock description
            fcntl.flock(self._lock_fd, fcntl.LOCK_SH)
            try:
                size = self._current_size()
                _write_all(self._fd, data)
                due = size + len(data) >= self.policy.max_bytes or self._age_due()
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            if due:
                try:
                    self._rotate()
                except OSError:
                    pass  # the line is written; a failed rotation is retried at the next write

    def rotate(self, *, force: bool = False, now: float | None = None) -> bool:
        """Rotate now if due (or, with ``force``, if the file is not empty); True if it rotated."""
        with self._mutex:
            if self._pid != os.getpid():
                self._open()
            return self._rotate(force=force, now=now)

    def close(self) -> None:
        """Close both descriptors (idempotent)."""
        with self._mutex:
            self._close()

    # -- internals (called with self._mutex held) --
    def _open(self) -> None:
        self._close()
        self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        self._open_log()
        self._pid = os.getpid()

    def _open_log(self) -> None:
        # open the new descriptor before closing the old: a failed open leaves no dangling number
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        old, self._fd = self._fd, fd
        stat = os.fstat(fd)
        self._identity = (stat.st_dev, stat.st_ino)
        if old is not None:
            os.close(old)

    def _close(self) -> None:
        # Closing (never unlocking) is also right for descriptors a forked child inherited: closing
        # the child's copy leaves a lock its parent holds in place.
        for name in ("_fd", "_lock_fd"):
            fd = getattr(self, name)
            setattr(self, name, None)
            if fd is not None:
                os.close(fd)

    def _current_size(self) -> int:
        """Size of the file named ``path``, reopening it first if our descriptor is another (rotated) file."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            stat = None
        if stat is None or (stat.st_dev, stat.st_ino) != self._identity:
            self._open_log()
            return os.fstat(self._fd).st_size
        return stat.st_size

    def _age_due(self) -> bool:
        if self.policy.max_age_hours is None:
            return False
        moment = time.monotonic()
        if moment < self._next_age_check:
            return False
        self._next_age_check = moment + AGE_CHECK_INTERVAL_S
        return _age_exceeded(self._lock_fd, self.policy, time.time())

    def _rotate(self, *, force: bool = False, now: float | None = None) -> bool:
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            rotated = _rotate_locked(self.path, self._lock_fd, self.policy, force=force, now=now)
            try:
                stat = os.stat(self.path)
                current = (stat.st_dev, stat.st_ino) == self._identity
            except FileNotFoundError:
                current = False
            if not current:
                self._open_log()
            return rotated
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)


def _write_all(fd: int, data: bytes) -> None:
    # A regular file only takes less than asked when the disk is full or the size limit is hit.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _age_exceeded(lock_fd: int, policy: RotationPolicy, now: float) -> bool:
    """The lock file's mtime marks the last rotation (or the first writer), so age needs no extra state."""
    if policy.max_age_hours is None:
        return False
    return now - os.fstat(lock_fd).st_mtime >= policy.max_age_hours * 3600


# --- rotation ----------------------------------------------------------------------------------------

def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of log ``path`` (``<log>.lock``)."""
    return Path(f"{os.fspath(path)}.lock")


def backups(path: str | os.PathLike) -> list[tuple[int, Path]]:
    """The backups of log ``path`` as ``(index, file)``, newest (``.1``) first."""
    path = Path(path)
    pattern = re.compile(rf"^{re.escape(path.name)}\.(\d+)(\.gz)?$")
    found = []
    if path.parent.is_dir():
        for entry in path.parent.iterdir():
            match = pattern.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry))
    return sorted(found, key=lambda item: (item[0], item[1].name))


def log_files_oldest_first(path: str | os.PathLike) -> list[Path]:
    """Every file holding lines of log ``path``: backups oldest first, then the live file."""
    files = [file for _, file in reversed(backups(path))]
    return files + ([Path(path)] if Path(path).exists() else [])


def read_lines(path: str | os.PathLike) -> list[str]:
    """All lines of log ``path`` across its backups (gunzipped) and the live file, oldest first."""
    lines: list[str] = []
    for file in log_files_oldest_first(path):
        opener = gzip.open if file.name.endswith(".gz") else open
        with opener(file, "rt", encoding="utf-8", errors="replace") as handle:
            lines.extend(handle.read().splitlines())
    return lines


def _rotate_locked(path: Path, lock_fd: int, policy: RotationPolicy, *, force: bool, now: float | None) -> bool:
    """Rotate ``path`` if due; the caller holds the exclusive lock."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return False
    due = size >= policy.max_bytes or (size > 0 and (force or _age_exceeded(
        lock_fd, policy, time.time() if now is None else now)))
    if not due:
        return False
    _shift_backups(path, policy)
    if policy.backup_count > 0:
        os.replace(path, f"{path}.1")
    else:
        os.unlink(path)
    os.utime(lock_fd)  # the new file's age starts now
    return True


def _shift_backups(path: Path, policy: RotationPolicy) -> None:
    """Drop backups that would pass ``backup_count``, move the rest up by one and gzip the plain ones."""
    for leftover in path.parent.glob(f"{glob.escape(path.name)}.*.tmp"):
        leftover.unlink(missing_ok=True)  # an interrupted compression
    for index, file in reversed(backups(path)):
        if index >= policy.backup_count:
            file.unlink()
        else:
            suffix = ".gz" if file.name.endswith(".gz") else ""
            os.replace(file, f"{path}.{index + 1}{suffix}")
    if policy.compress:
        for index, file in backups(path):
            if index >= 2 and not file.name.endswith(".gz"):
                try:
                    compress_file(file, Path(f"{file}.gz"))
                except OSError:
                    # e.g. the disk is full: keep the plain backup (the next rotation retries) and
                    # still rotate, so the live file does not grow without bound
                    Path(f"{file}.gz.tmp").unlink(missing_ok=True)


def compress_file(source: Path, target: Path) -> None:
    """Gzip ``source`` into ``target`` (via a temp file, synced, then renamed) and remove ``source``."""
    temp = Path(f"{target}.tmp")
    with open(source, "rb") as plain, open(temp, "wb") as raw:
        with gzip.GzipFile(filename=source.name, mode="wb", fileobj=raw, compresslevel=COMPRESS_LEVEL) as packed:
            shutil.copyfileobj(plain, packed, _COPY_CHUNK)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(temp, target)
    source.unlink()


def rotate_if_due(path: str | os.PathLike, policy: RotationPolicy, *, force: bool = False,
                  now: float | None = None) -> bool:
    """Rotate log ``path`` now if it is over its size or age (``force``: if it is not empty)."""
    path = Path(path)
    if not path.exists():
        return False
    writer = LogFile(path, policy)
    try:
        return writer.rotate(force=force, now=now)
    finally:
        writer.close()


def drop_excess_backups(path: str | os.PathLike, policy: RotationPolicy) -> list[Path]:
    """Delete the backups of ``path`` numbered above ``backup_count`` (after the count was lowered)."""
    path = Path(path)
    if not any(index > policy.backup_count for index, _ in backups(path)):
        return []
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        dropped = [file for index, file in backups(path) if index > policy.backup_count]
        for file in dropped:
            file.unlink(missing_ok=True)
        return dropped
    finally:
        os.close(fd)


def rotation_due(path: str | os.PathLike, policy: RotationPolicy, *, now: float | None = None) -> bool:
    """Whether ``rotate_if_due`` would rotate ``path`` now (reads only; for dry runs and status)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return False
    if size >= policy.max_bytes:
        return True
    if size == 0 or policy.max_age_hours is None:
        return False
    try:
        started = lock_path(path).stat().st_mtime
    except FileNotFoundError:
        return False
    return (time.time() if now is None else now) - started >= policy.max_age_hours * 3600


# --- wiring: handlers, one-off lines, policy lookup ------------------------------------------------

class RotatingLineHandler(logging.Handler):
    """A logging handler writing each formatted record as one line of a rotating ``LogFile``."""

    def __init__(self, path: str | os.PathLike, policy: RotationPolicy):
        super().__init__()
        self.baseFilename = os.fspath(path)
        self.policy = policy
        self._file = LogFile(path, policy)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            self._file.write(line.encode("utf-8", "backslashreplace"))
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)

    def close(self) -> None:
        self.acquire()
        try:
            self._file.close()
        finally:
            self.release()
        super().close()


def make_file_handler(path: Path, policy: RotationPolicy | None = None) -> logging.Handler:
    """The handler every log file is opened with: rotating per ``config/retention.yaml`` (or ``policy``)."""
    return RotatingLineHandler(path, policy or policy_for(path))


def append_line(path: str | os.PathLike, line: str, policy: RotationPolicy | None = None) -> None:
    """Append one whole ``line`` (newline added if missing) to log ``path`` with one write, rotating if due."""
    if not line.endswith("\n"):
        line += "\n"
    writer = LogFile(path, policy or policy_for(Path(path)))
    try:
        writer.write(line.encode("utf-8"))
    finally:
        writer.close()


def project_root_of(path: Path) -> Path | None:
    """The project root of a log file: the parent of its nearest ``logs`` ancestor (None if there is none)."""
    for parent in Path(os.path.abspath(path)).parents:
        if parent.name == "logs":
            return parent.parent
    return None


def log_key(paths: ProjectPaths, path: Path) -> str:
    """How ``config/retention.yaml`` names a log: its path under ``logs/`` (``service/recommender.log``)."""
    absolute = Path(os.path.abspath(path))
    try:
        return absolute.relative_to(paths.logs_dir).as_posix()
    except ValueError:
        return absolute.name


def policy_for(path: Path) -> RotationPolicy:
    """The rotation policy of log ``path`` from its project's retention config.

    A broken config must not stop logging (or lose a registry audit line): the writer then uses the
    built-in defaults and warns; ``recsys logs status`` and ``prune`` report the error itself.
    """
    from recsys.config_files import config_file
    from recsys.errors import ConfigError
    from recsys.paths import ProjectPaths
    from recsys.retention_config import load_retention_config

    root = project_root_of(path)
    paths = ProjectPaths(root if root is not None else Path(os.path.abspath(path)).parent)
    try:
        rotation: RotationConfig = load_retention_config(config_file(paths, "retention.yaml")).rotation
    except ConfigError as exc:
        log.warning("%s; rotating %s with the built-in defaults", exc, path)
        return RotationPolicy()
    return rotation.policy_for(log_key(paths, path))
