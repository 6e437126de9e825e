"""Aggregation: per-minute service_health against a hand-computed table, UTC windows, several writers."""

from __future__ import annotations

import logging
import math
import multiprocessing
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from recsys.clock import format_ts, utc_now
from recsys.db import connect
from recsys.service.aggregate import (
    aggregate_metrics,
    percentile_nearest_rank,
    summarize_requests,
)
from recsys.service.jobs import AggregationJobs
from recsys.service.request_log import RequestLogWriter
from recsys.service.schema import ensure_service_schema
from recsys.testing.service import request_row, writer_process

NOW = datetime(2025, 1, 15, 10, 31, tzinfo=UTC)
# 20 requests in [10:30:00, 10:31:00): latency, fallback, error
TABLE = [
    (3, False, None), (1, True, None), (4, False, None), (1, False, None), (5, False, None),
    (100, False, "KeyError"), (2, True, None), (6, False, None), (5, False, None), (3, True, None),
    (5, False, None), (8, False, None), (9, True, None), (7, False, None), (9, False, "TimeoutError"),
    (3, False, None), (2, True, None), (3, False, None), (8, False, None), (4, False, None),
]
# By hand: sum 188 → avg 9.4; sorted 1 1 2 2 3 3 3 3 4 4 5 5 5 6 7 8 8 9 9 100, rank ceil(0.95*20)=19 → 9;
# fallback 5/20; errors 2/20.
EXPECTED = {"requests_per_minute": 20.0, "avg_latency_ms": 9.4, "p95_latency_ms": 9.0, "fallback_rate": 0.25,
            "error_rate": 0.1}


def insert(paths, rows) -> None:
    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    from recsys.service.request_log import REQUEST_COLUMNS

    conn.executemany(f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)}) VALUES "
                     f"({', '.join('?' * len(REQUEST_COLUMNS))})", rows)
    conn.commit()
    conn.close()


def test_percentile_nearest_rank():
    assert percentile_nearest_rank([], 0.95) is None
    assert percentile_nearest_rank([7], 0.95) == 7
    assert percentile_nearest_rank(list(range(1, 101)), 0.95) == 95
    assert percentile_nearest_rank(list(range(1, 21)), 0.95) == 19
    assert percentile_nearest_rank([5, 1, 4, 2, 3], 0.5) == 3
    with pytest.raises(ValueError):
        percentile_nearest_rank([1], 0)


def test_minute_aggregate_matches_hand_computed_table(paths):
    start = NOW - timedelta(minutes=1)
    rows = [request_row(format_ts(start + timedelta(seconds=3 * i)), lat, fallback=fb, error=err, user_id=i)
            for i, (lat, fb, err) in enumerate(TABLE)]
    rows += [
        request_row(format_ts(NOW), 1000, model_id="later"),                          # end is exclusive
        request_row(format_ts(start - timedelta(microseconds=1)), 1000),              # just before the window
        request_row(format_ts(NOW - timedelta(hours=5)), 1000, error="old"),          # 5 hours ago
    ]
    insert(paths, rows)
    result = aggregate_metrics(paths, now=NOW)
    assert result["requests"] == 20
    for key, value in EXPECTED.items():
        assert result[key] == pytest.approx(value), key
    assert result["active_model_id"] == "als_v1"
    conn = sqlite3.connect(paths.service_db)
    stored = conn.execute("SELECT timestamp, requests_per_minute, avg_latency_ms, p95_latency_ms, fallback_rate, "
                          "error_rate, active_model_id FROM service_health").fetchall()
    conn.close()
    assert stored == [("2025-01-15 10:31:00.000000", 20.0, pytest.approx(9.4), 9.0, 0.25, 0.1, "als_v1")]
    # Re-running the same minute replaces its row instead of failing on the primary key.
    aggregate_metrics(paths, now=NOW)
    conn = sqlite3.connect(paths.service_db)
    assert conn.execute("SELECT COUNT(*) FROM service_health").fetchone()[0] == 1
    conn.close()


def test_row_from_five_hours_ago_is_not_in_the_last_minute(paths):
    now = utc_now()
    insert(paths, [request_row(format_ts(now - timedelta(hours=5)), 50.0),
                   request_row(format_ts(now - timedelta(hours=5, seconds=-30)), 60.0),
                   request_row(format_ts(now - timedelta(seconds=10)), 7.0)])
    result = aggregate_metrics(paths)  # the real clock, as the scheduler calls it
    assert result["requests"] == 1 and result["avg_latency_ms"] == 7.0
    # A naive local-time stamp (the spec's datetime.now()) five hours off would not sneak in either.
    assert format_ts(now - timedelta(hours=5)) < result["window_start"]


def test_empty_minute_has_zero_requests_and_no_rates(paths):
    result = aggregate_metrics(paths, now=NOW, active_model_id="als_v9")
    assert result["requests"] == 0 and result["requests_per_minute"] == 0
    assert result["avg_latency_ms"] is None and result["p95_latency_ms"] is None and result["error_rate"] is None
    assert result["active_model_id"] == "als_v9"


def test_summary_over_longer_window_scales_rate():
    summary = summarize_requests([(1.0, False, None)] * 30, timedelta(minutes=5))
    assert summary["requests_per_minute"] == 6.0


def test_several_writer_processes_aggregate_correctly(paths):
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    base = "2025-01-15 10:30:30"
    RequestLogWriter(paths.service_db).start().close()  # schema first
    workers = [ctx.Process(target=writer_process, args=(str(paths.service_db), w, 400, base, start))
               for w in (1, 2)]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    latencies = [w * 1000 + i for w in (1, 2) for i in range(400)]
    result = aggregate_metrics(paths, now=NOW)
    assert result["requests"] == 800
    assert result["avg_latency_ms"] == pytest.approx(sum(latencies) / 800)
    assert result["p95_latency_ms"] == sorted(latencies)[math.ceil(0.95 * 800) - 1]
    assert result["fallback_rate"] == pytest.approx(sum(1 for i in range(400) if i % 4 == 0) * 2 / 800)
    assert result["error_rate"] == pytest.approx(0.1)


def test_in_process_jobs_aggregate_each_whole_minute_once(paths):
    insert(paths, [request_row("2025-01-15 10:30:10.000000", 5.0), request_row("2025-01-15 10:59:30.000000", 9.0,
                                                                               rerank=True)])
    jobs = AggregationJobs(paths, lag=2.0)
    hourly: list[datetime] = []
    jobs.hourly = lambda paths, now: hourly.append(now)
    last = jobs.run_due(None, datetime(2025, 1, 15, 10, 31, 2, 500_000, tzinfo=UTC))
    assert last == NOW
    assert jobs.run_due(last, datetime(2025, 1, 15, 10, 31, 40, tzinfo=UTC)) == NOW  # nothing new due
    last = jobs.run_due(last, datetime(2025, 1, 15, 11, 0, 3, tzinfo=UTC))
    conn = sqlite3.connect(paths.service_db)
    health = conn.execute("SELECT timestamp, requests_per_minute FROM service_health ORDER BY timestamp").fetchall()
    conn.close()
    assert len(health) == 30  # 10:31 and the 29 minutes caught up to 11:00
    assert health[0] == ("2025-01-15 10:31:00.000000", 1.0) and health[-1] == ("2025-01-15 11:00:00.000000", 1.0)
    assert sum(rate for _, rate in health) == 2.0
    assert hourly == [datetime(2025, 1, 15, 11, 0, tzinfo=UTC)]


def test_writer_drops_and_counts_when_full_then_drains_on_close(paths, caplog):
    logger = logging.getLogger("test.writer")
    dropped: list[int] = []
    writer = RequestLogWriter(paths.service_db, max_queue=5, logger=logger, on_drop=dropped.append,
                              drop_warning_interval=60)
    with caplog.at_level(logging.WARNING, logger="test.writer"):
        accepted = [writer.submit_request(request_row(format_ts(NOW), 1.0, user_id=i)) for i in range(8)]
    assert accepted == [True] * 5 + [False] * 3 and sum(dropped) == 3 and writer.dropped == 3
    warnings = [r for r in caplog.records if "Request log full" in r.getMessage()]
    assert len(warnings) == 1  # at most one line per interval
    writer.start()
    writer.close()
    conn = sqlite3.connect(paths.service_db)
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 5
    conn.close()


def test_writer_close_loses_nothing(paths):
    writer = RequestLogWriter(paths.service_db, flush_interval=1.0).start()
    for i in range(20_000):
        writer.submit_request(request_row(format_ts(NOW), 1.0, user_id=i))
    writer.submit_feedback((format_ts(NOW), None, 1, 2, "click"))
    writer.close()
    assert writer.written == 20_001 and writer.depth == 0
    conn = sqlite3.connect(paths.service_db)
    assert conn.execute("SELECT COUNT(DISTINCT user_id) FROM requests").fetchone()[0] == 20_000
    assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 1
    conn.close()


def test_epoch_text_matches_format_ts():
    import random

    from recsys.service.request_log import EpochText

    text = EpochText()
    rng = random.Random(1)
    for epoch in [0.0, 1736937000.0, 1736937000.9999996, 1736937059.999999] + [rng.uniform(1.6e9, 1.9e9)
                                                                                for _ in range(2000)]:
        assert text(epoch) == format_ts(datetime.fromtimestamp(epoch, UTC)), epoch
