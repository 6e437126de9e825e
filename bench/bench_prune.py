"""How long a concurrent writer waits while old ``requests`` rows are pruned: batched vs one transaction.

    PYTHONPATH=. python bench/bench_prune.py [--rows 800000] [--runs 3]

Each run fills a fresh ``service_metrics.db`` with ``--rows`` requests 60 days old, starts a thread
inserting one row every 2 ms (its own connection, busy timeout 10 s like every store), and deletes
the old rows either with ``apply_retention`` (5,000-row batches, a pause as long as each batch, then
reclaiming space) or with one ``DELETE`` transaction. Prints medians over the runs of the prune's
duration and of the writer's longest and 99th-percentile wait, and the ratio one-transaction/batched.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recsys.clock import format_ts
from recsys.db import connect
from recsys.paths import ProjectPaths
from recsys.retention import TABLES, apply_retention, prune_table
from recsys.service.schema import ensure_service_schema

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _fill(paths: ProjectPaths, rows: int) -> None:
    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    with conn:
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                     "INSERT INTO requests (timestamp, user_id, topk, latency_ms, model_id) "
                     "SELECT ?, i, 10, 3.5, 'als_v1_20250115_103000' FROM n",
                     (rows, format_ts(NOW - timedelta(days=60))))
    conn.close()


def _measure(paths: ProjectPaths, prune) -> tuple[float, float, float]:
    """(prune seconds, longest writer wait, p99 writer wait) with a writer inserting beside ``prune``."""
    stop, waits = threading.Event(), []

    def writer() -> None:
        db = sqlite3.connect(paths.service_db, timeout=10)
        while not stop.is_set():
            started = time.perf_counter()
            with db:
                db.execute("INSERT INTO requests (timestamp, user_id) VALUES (?, -1)", (format_ts(NOW),))
            waits.append(time.perf_counter() - started)
            time.sleep(0.002)
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.05)
    started = time.perf_counter()
    prune()
    elapsed = time.perf_counter() - started
    stop.set()
    thread.join()
    waits.sort()
    return elapsed, waits[-1], waits[int(len(waits) * 0.99)]


def _one_transaction(paths: ProjectPaths) -> None:
    conn = connect(paths.service_db)
    conn.isolation_level = None
    cutoff = format_ts(NOW - timedelta(days=30))
    prune_table(conn, "requests", TABLES["service_metrics"]["requests"], cutoff, batch_size=10**12)
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=800_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[tuple[float, float, float]]] = {"batched (apply_retention)": [], "one transaction": []}
    for _ in range(args.runs):  # interleaved so that both see the same machine load
        for name in results:
            with tempfile.TemporaryDirectory() as directory:
                paths = ProjectPaths(Path(directory))
                _fill(paths, args.rows)
                prune = (lambda p=paths: apply_retention(p, now=NOW)) if name.startswith("batched") else (
                    lambda p=paths: _one_transaction(p))
                results[name].append(_measure(paths, prune))
    print(f"{args.rows:,} old rows, {args.runs} runs, medians")
    medians = {name: [statistics.median(r[i] for r in runs) for i in range(3)] for name, runs in results.items()}
    for name, (elapsed, longest, p99) in medians.items():
        print(f"  {name:<26} prune {elapsed:6.2f} s   writer longest wait {longest * 1000:7.1f} ms   "
              f"p99 {p99 * 1000:6.1f} ms")
    batched, single = medians["batched (apply_retention)"], medians["one transaction"]
    print(f"  longest wait, one transaction / batched: {single[1] / batched[1]:.1f}x")


if __name__ == "__main__":
    main()
