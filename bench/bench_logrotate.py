"""Cost of a log line through the rotating handler vs ``logging.FileHandler``, measured in the same run.

    PYTHONPATH=. python bench/bench_logrotate.py [--records 20000] [--runs 7]

Both write the spec's line format through a logger. ``FileHandler`` buffers and flushes each record
(one ``write``); ``RotatingLineHandler`` takes the shared lock, checks the file's inode, writes the
line with one ``write`` and releases the lock. Three settings of the rotating handler:

- no rotation (limit far above what is written): the per-line protocol alone;
- rotating at 1 MiB with gzip: includes compressing each rotated file, amortised over its lines;
- ``append_line`` (the registry audit path): opens both files per line.

Prints medians of ``--runs`` runs (µs per record) and each as a ratio to ``FileHandler``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from recsys.logfmt import UTCFormatter
from recsys.logrotate import RotatingLineHandler, RotationPolicy, append_line

MESSAGE = ("Recommendation | user_id=%d, topk=10, latency_ms=4.21, model_id=als_v3_20250115_103000, "
           "fallback=False, cache_hit=True")


def _time_handler(handler: logging.Handler, records: int) -> float:
    handler.setFormatter(UTCFormatter())
    logger = logging.getLogger(f"bench.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        started = time.perf_counter()
        for index in range(records):
            logger.info(MESSAGE, index)
        return (time.perf_counter() - started) / records * 1e6
    finally:
        logger.removeHandler(handler)
        handler.close()


def _time_append_line(path: Path, records: int, policy: RotationPolicy) -> float:
    formatter = UTCFormatter()
    started = time.perf_counter()
    for index in range(records):
        record = logging.LogRecord("bench", logging.INFO, __file__, 0, MESSAGE, (index,), None)
        append_line(path, formatter.format(record), policy)
    return (time.perf_counter() - started) / records * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    never = RotationPolicy(max_bytes=1 << 40, backup_count=5)
    small = RotationPolicy(max_bytes=1 << 20, backup_count=5, compress=True)
    results: dict[str, list[float]] = {"FileHandler": [], "rotating, no rotation": [],
                                       "rotating at 1 MiB + gzip": [], "append_line": []}
    for _ in range(args.runs):  # interleaved so that every variant sees the same machine load
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            results["FileHandler"].append(
                _time_handler(logging.FileHandler(root / "plain.log", encoding="utf-8"), args.records))
            results["rotating, no rotation"].append(
                _time_handler(RotatingLineHandler(root / "never.log", never), args.records))
            results["rotating at 1 MiB + gzip"].append(
                _time_handler(RotatingLineHandler(root / "small.log", small), args.records))
            results["append_line"].append(_time_append_line(root / "audit.log", args.records // 4, never))
    baseline = statistics.median(results["FileHandler"])
    print(f"{args.records} records x {args.runs} runs, median µs per record (ratio to FileHandler)")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"  {name:<26} {median:7.2f} µs  {median / baseline:5.2f}x")


if __name__ == "__main__":
    main()
