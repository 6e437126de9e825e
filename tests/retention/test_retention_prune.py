"""apply_retention on stores with hand-made timestamps and a fake ``now``."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time

import pytest
from retention_stores import (
    HEALTH_AGES,
    NOW,
    REQUEST_AGES,
    ROWS_PER_AGE,
    ago,
    fill_other_stores,
    fill_service_store,
    rows,
)

from recsys.db import connect
from recsys.errors import RetentionError
from recsys.retention import TABLES, apply_retention, prune_table
from recsys.retention_config import RetentionConfig

MONITOR_30_DAYS = {"stores": {"monitor": {"job_runs": 30, "alerts": 30, "drift_checks": 30}}}


def _snapshot(paths) -> dict:
    """Every table's rows and the bytes of every store file (to prove a dry run touched nothing)."""
    state = {}
    for path in (paths.service_db, paths.training_db, paths.registry_db, paths.monitor_db):
        state[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        for (table,) in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
            state[f"{path.name}:{table}"] = rows(path, f"SELECT * FROM {table} ORDER BY rowid")
    return state


def test_old_raw_rows_go_aggregates_stay_longer_and_long_lived_tables_stay(paths):
    fill_service_store(paths)
    fill_other_stores(paths)
    summary = apply_retention(paths, now=NOW)

    young = [ago(age) for age in REQUEST_AGES if age < 30]
    assert sorted({ts for (ts,) in rows(paths.service_db, "SELECT timestamp FROM requests")}) == sorted(young)
    assert len(rows(paths.service_db, "SELECT * FROM requests")) == ROWS_PER_AGE * len(young)
    assert len(rows(paths.service_db, "SELECT * FROM feedback")) == ROWS_PER_AGE * len(young)
    assert sorted(ts for (ts,) in rows(paths.service_db, "SELECT timestamp FROM service_health")) == sorted(
        ago(age) for age in HEALTH_AGES if age < 365)
    # kept forever by default
    assert len(rows(paths.training_db, "SELECT * FROM training_runs")) == 1
    assert len(rows(paths.training_db, "SELECT * FROM iteration_metrics")) == 1
    assert len(rows(paths.registry_db, "SELECT * FROM registry_operations")) == 1
    assert len(rows(paths.monitor_db, "SELECT * FROM job_runs")) == 5

    service = summary["stores"]["service_metrics"]["tables"]
    old = ROWS_PER_AGE * (len(REQUEST_AGES) - len(young))
    assert service["requests"] == {"keep_days": 30, "cutoff": ago(30), "rows": old, "batches": 1}
    assert service["feedback"]["rows"] == old
    assert service["service_health"]["rows"] == 2 and service["service_health"]["keep_days"] == 365
    assert summary["stores"]["training_metrics"]["tables"]["training_runs"] == {
        "keep_days": None, "cutoff": None, "rows": 0}
    assert summary["errors"] == [] and summary["dry_run"] is False
    json.dumps(summary)  # the monitor stores it as JSON


def test_monitor_tables_keep_the_latest_row_per_job_and_open_alerts(paths):
    fill_other_stores(paths)
    config = RetentionConfig.model_validate(MONITOR_30_DAYS)
    apply_retention(paths, now=NOW, config=config)
    assert rows(paths.monitor_db, "SELECT job, started_at FROM job_runs ORDER BY id") == [
        ("aggregate", ago(10)), ("aggregate", ago(1)), ("weekly", ago(100))]  # weekly's latest run stays
    assert rows(paths.monitor_db, "SELECT rule, state FROM alerts ORDER BY id") == [
        ("latency", "resolved"), ("errors", "firing")]  # the old resolved episode went, the open one stays
    assert rows(paths.monitor_db, "SELECT check_type, timestamp FROM drift_checks ORDER BY id") == [
        ("rating", ago(60)), ("semantic", ago(90))]


def test_dry_run_counts_the_same_rows_and_changes_nothing(paths):
    fill_service_store(paths)
    fill_other_stores(paths)
    config = RetentionConfig.model_validate(MONITOR_30_DAYS)
    before = _snapshot(paths)
    dry = apply_retention(paths, now=NOW, config=config, dry_run=True)
    assert _snapshot(paths) == before
    real = apply_retention(paths, now=NOW, config=config)
    for store, info in dry["stores"].items():
        for table, result in info["tables"].items():
            assert result["rows"] == real["stores"][store]["tables"][table]["rows"], (store, table)
    assert dry["stores"]["service_metrics"]["tables"]["requests"]["oldest"] == ago(400)
    assert dry["stores"]["monitor"]["tables"]["job_runs"]["rows"] == 2
    assert dry["dry_run"] is True and "vacuum" not in dry["stores"]["service_metrics"]


def test_rows_are_deleted_in_batches(paths):
    conn = connect(paths.service_db)
    from recsys.service.schema import ensure_service_schema

    ensure_service_schema(conn)
    with conn:
        conn.executemany("INSERT INTO requests (timestamp) VALUES (?)",
                         [(ago(40 + i / 10_000),) for i in range(12_345)] + [(ago(1),)] * 7)
    conn.isolation_level = None
    result = prune_table(conn, "requests", TABLES["service_metrics"]["requests"], ago(30), batch_size=1_000)
    assert result == {"rows": 12_345, "batches": 13}
    assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 7
    conn.close()


OLD_ROWS = 800_000


def _fill_old_requests(paths) -> None:
    from recsys.service.schema import ensure_service_schema

    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    with conn:  # generated inside SQLite: a Python list of 800k rows would cost seconds
        conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                     "INSERT INTO requests (timestamp, user_id, topk, latency_ms, model_id) "
                     "SELECT ?, i, 10, 3.5, 'als_v1_20250115_103000' FROM n", (OLD_ROWS, ago(60)))
    conn.close()


def _prune_beside_a_writer(paths, prune) -> tuple[list[str], list[float], int]:
    """Run ``prune()`` while a thread inserts a row every ~2 ms with a 0.25 s busy timeout."""
    stop, waits, errors, written = threading.Event(), [], [], []

    def writer() -> None:
        db = sqlite3.connect(paths.service_db, timeout=0.25)
        while not stop.is_set():
            started = time.perf_counter()
            try:
                with db:
                    db.execute("INSERT INTO requests (timestamp, user_id) VALUES (?, -1)", (ago(0),))
                written.append(1)
            except sqlite3.OperationalError as exc:
                errors.append(str(exc))
            waits.append(time.perf_counter() - started)
            time.sleep(0.002)
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.05)
        prune()
    finally:
        stop.set()
        thread.join()
    return errors, waits, len(written)


def test_a_writer_inserting_during_a_big_prune_never_sees_database_is_locked(paths):
    # control: the same rows deleted in one transaction lock this writer out
    _fill_old_requests(paths)
    conn = connect(paths.service_db)
    conn.isolation_level = None
    spec = TABLES["service_metrics"]["requests"]
    errors, _, _ = _prune_beside_a_writer(
        paths, lambda: prune_table(conn, "requests", spec, ago(30), batch_size=10 * OLD_ROWS))
    conn.close()
    assert any("locked" in error for error in errors), "the control must show what an unbatched prune does"

    paths.service_db.unlink()
    for suffix in ("-wal", "-shm"):
        paths.service_db.with_name(paths.service_db.name + suffix).unlink(missing_ok=True)
    _fill_old_requests(paths)
    summaries = []
    errors, waits, written = _prune_beside_a_writer(paths, lambda: summaries.append(apply_retention(paths, now=NOW)))
    assert errors == []
    requests = summaries[0]["stores"]["service_metrics"]["tables"]["requests"]
    assert requests["rows"] == OLD_ROWS and requests["batches"] == OLD_ROWS // 5_000 + 1
    assert written > 20 and max(waits) < 0.25
    assert rows(paths.service_db, "SELECT COUNT(*) FROM requests") == [(written,)]


def test_space_is_reclaimed_small_stores_converted_big_ones_left_alone(paths):
    fill_service_store(paths)
    conn = connect(paths.service_db)
    with conn:
        conn.executemany("INSERT INTO requests (timestamp, filter_params) VALUES (?, ?)",
                         [(ago(100), "x" * 500)] * 5_000)
    conn.close()
    assert rows(paths.service_db, "PRAGMA auto_vacuum") == [(0,)]
    big = RetentionConfig.model_validate({"prune": {"convert_max_bytes": 1024}})
    summary = apply_retention(paths, now=NOW, config=big)["stores"]["service_metrics"]
    assert summary["vacuum"].startswith("none: auto_vacuum=NONE") and summary["bytes_reclaimed"] == 0
    assert rows(paths.service_db, "PRAGMA auto_vacuum") == [(0,)]

    conn = connect(paths.service_db)
    with conn:
        conn.executemany("INSERT INTO requests (timestamp, filter_params) VALUES (?, ?)",
                         [(ago(100), "x" * 500)] * 5_000)
    conn.close()
    summary = apply_retention(paths, now=NOW)["stores"]["service_metrics"]
    assert summary["vacuum"] == "converted to incremental (full VACUUM)"
    assert summary["bytes_reclaimed"] > 2_000_000
    assert rows(paths.service_db, "PRAGMA auto_vacuum") == [(2,)]

    conn = connect(paths.service_db)
    with conn:
        conn.executemany("INSERT INTO requests (timestamp, filter_params) VALUES (?, ?)",
                         [(ago(100), "x" * 500)] * 5_000)
    conn.close()
    size = paths.service_db.stat().st_size
    summary = apply_retention(paths, now=NOW)["stores"]["service_metrics"]
    assert summary["vacuum"] == "incremental" and summary["bytes_reclaimed"] > 2_000_000
    assert rows(paths.service_db, "PRAGMA freelist_count") == [(0,)]
    assert paths.service_db.stat().st_size < size - 2_000_000


def test_a_broken_store_is_reported_after_the_others_were_pruned(paths):
    fill_other_stores(paths)
    paths.service_db.write_bytes(b"this is not a database" * 100)
    config = RetentionConfig.model_validate(MONITOR_30_DAYS)
    with pytest.raises(RetentionError) as caught:
        apply_retention(paths, now=NOW, config=config)
    assert str(paths.service_db) in str(caught.value)
    assert caught.value.summary["stores"]["monitor"]["tables"]["job_runs"]["rows"] == 2
    assert len(rows(paths.monitor_db, "SELECT * FROM job_runs")) == 3


def test_missing_stores_are_skipped(paths):
    summary = apply_retention(paths, now=NOW)
    assert all(info == {"path": info["path"], "tables": {}, "missing": True} for info in summary["stores"].values())
    assert not paths.service_db.exists()


def test_the_monitor_retention_job_records_a_json_summary(paths):
    from recsys.monitor.config import MonitorConfig
    from recsys.monitor.jobs import JOBS
    from recsys.monitor.scheduler import Monitor

    fill_service_store(paths)
    monitor = Monitor.create(paths, MonitorConfig(), {"retention": JOBS["retention"]}, clock=lambda: NOW)
    summary = monitor.run("retention")
    assert summary["stores"]["service_metrics"]["tables"]["requests"]["rows"] == 30
    (status, stored), = rows(paths.monitor_db, "SELECT status, summary FROM job_runs WHERE job = 'retention'")
    assert status == "ok" and json.loads(stored)["stores"]["service_metrics"]["tables"]["requests"]["rows"] == 30
