#!/usr/bin/env python3
"""Request-log writer ingest rate vs a plain batched ``executemany``, same rows, same table, fresh stores.

- baseline: one connection (WAL), rows already in memory, ``executemany`` of 1000 rows per transaction;
- ours: ``RequestLogWriter`` fed from this thread exactly as the service feeds it (``submit_request``
  of a tuple whose timestamp is a ``time.time()`` float), measured from the first submit to the end
  of ``close()`` (everything written). The queue bound is set to hold all rows, so this measures the
  writer's sustained rate, not its drops.

Both are measured twice: alone, and beside a thread that keeps the GIL busy the way a loaded event
loop does (the service's situation). Runs alternate baseline/ours; medians are compared.

    python bench/bench_request_log.py [--rows 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.clock import format_ts  # noqa: E402
from recsys.db import connect  # noqa: E402
from recsys.service.request_log import _STATEMENTS, REQUESTS, RequestLogWriter  # noqa: E402
from recsys.service.schema import ensure_service_schema  # noqa: E402


def make_rows(n: int, epoch: float) -> list[tuple]:
    return [(epoch + i * 1e-4, 1_000_000 + i, 10, True, '{"category":"serum"}' if i % 5 == 0 else None,
             0.3 + (i % 100) / 100, 10, i % 2 == 0, "popularity" if i % 2 == 0 else None, None,
             "als_v12_20250115_103000", "v12", True, False, f"3fa2c1d0-{i:x}", False, None, None, None)
            for i in range(n)]


def baseline(db: Path, rows: list[tuple]) -> float:
    # The baseline gets text timestamps for free (prepared before the clock starts).
    text_rows = [(format_ts_epoch(row[0]), *row[1:]) for row in rows]
    conn = connect(db)
    ensure_service_schema(conn)
    start = time.perf_counter()
    for i in range(0, len(text_rows), 1000):
        with conn:
            conn.executemany(_STATEMENTS[REQUESTS][1], text_rows[i:i + 1000])
    elapsed = time.perf_counter() - start
    conn.close()
    return len(rows) / elapsed


def ours(db: Path, rows: list[tuple]) -> float:
    writer = RequestLogWriter(db, max_queue=len(rows) + 1).start()
    start = time.perf_counter()
    submit = writer.submit_request
    for row in rows:
        submit(row)
    writer.close()
    elapsed = time.perf_counter() - start
    assert writer.written == len(rows) and writer.dropped == 0
    return len(rows) / elapsed


def format_ts_epoch(epoch: float) -> str:
    from datetime import UTC, datetime

    return format_ts(datetime.fromtimestamp(epoch, UTC))


class BusyThread:
    """A pure-Python loop holding the GIL whenever it can, like a saturated event loop."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._spin, daemon=True)

    def _spin(self) -> None:
        count = 0
        while not self.stop.is_set():
            count += 1

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = make_rows(args.rows, time.time())
    busy_rows = rows[: max(1, args.rows // 20)]  # executemany beside a busy thread is far too slow for all
    rates: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for busy in (False, True):
                sample = busy_rows if busy else rows
                for name, fn in (("baseline", baseline), ("ours", ours)):
                    db = Path(tmp) / f"{name}{repeat}{busy}.db"
                    if busy:
                        with BusyThread():
                            rate = fn(db, sample)
                    else:
                        rate = fn(db, sample)
                    rates.setdefault((name, busy), []).append(rate)
    med = {key: statistics.median(values) for key, values in rates.items()}
    for busy, label in ((False, f"alone, {args.rows} rows"), (True, f"beside a busy thread, {len(busy_rows)} rows")):
        base, our = med[("baseline", busy)], med[("ours", busy)]
        print(f"{label}, {args.repeats} runs each (medians):")
        print(f"  plain executemany, 1000 rows/txn: {base:10,.0f} rows/s  ({1e6 / base:8.2f} us/row)")
        print(f"  RequestLogWriter (submit+drain):  {our:10,.0f} rows/s  ({1e6 / our:8.2f} us/row)")
        print(f"  ratio writer/baseline = {our / base:.3f}   (target >= 0.6)")


if __name__ == "__main__":
    main()
