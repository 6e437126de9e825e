"""Store checks and fault injection for the reliability suite."""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from recsys.paths import ProjectPaths


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Rows of ``sql`` on a plain connection (no WAL pragmas, no schema: what an outside reader sees)."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def integrity(paths: ProjectPaths) -> dict[str, str]:
    """``PRAGMA integrity_check`` of every SQLite store under ``logs/`` (file name → result text)."""
    results = {}
    for db in sorted(paths.logs_dir.rglob("*.db")):
        results[db.name] = "; ".join(row[0] for row in query(db, "PRAGMA integrity_check"))
    return results


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0-100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    """p50 / p99 / max of client-side latencies, rounded for the report."""
    return {"p50_ms": round(statistics.median(latencies_ms), 2), "p99_ms": round(percentile(latencies_ms, 99), 2),
            "max_ms": round(max(latencies_ms), 2)}


@contextmanager
def small_tmpfs(directory: Path, size: str = "2m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``directory`` (root only); skips the test with the reason when not allowed."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)],
                                 capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        pytest.skip("disk-full test needs the `mount` command")
    if mounted.returncode != 0:
        pytest.skip(f"disk-full test needs to mount a tmpfs (root or CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], capture_output=True, timeout=30)


def fill_disk(directory: Path) -> Path:
    """Write a file in ``directory`` until the filesystem is full; returns it (delete it to free the space)."""
    filler = directory / "filler.bin"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(chunk)
        except OSError:
            pass
        try:  # the last partial block
            while True:
                handle.write(b"\0" * 512)
        except OSError:
            pass
    return filler
