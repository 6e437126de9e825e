from datetime import UTC, datetime, timedelta, timezone

from recsys.clock import format_ts, parse_ts
from recsys.db import connect
from recsys.logfmt import close_logger, file_logger
from recsys.paths import ProjectPaths


def test_paths_follow_recsys_home(tmp_path, monkeypatch):
    monkeypatch.setenv("RECSYS_HOME", str(tmp_path))
    paths = ProjectPaths.from_env()
    assert paths.training_db == tmp_path / "logs" / "training_metrics.db"
    assert paths.registry_file == tmp_path / "artifacts" / "cf" / "registry.json"


def test_timestamps_are_utc_text_that_sorts():
    local = datetime(2025, 1, 15, 17, 30, tzinfo=timezone(timedelta(hours=7)))
    assert format_ts(local) == "2025-01-15 10:30:00.000000"
    assert parse_ts("2025-01-15 10:30:00") == datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    assert format_ts(local) < format_ts(local + timedelta(microseconds=1))


def test_sqlite_window_compares_in_utc(paths):
    conn = connect(paths.service_db)
    conn.execute("CREATE TABLE t (ts TEXT)")
    now = datetime.now(UTC)
    conn.executemany("INSERT INTO t VALUES (?)", [(format_ts(now),), (format_ts(now - timedelta(hours=5)),)])
    (count,) = conn.execute("SELECT COUNT(*) FROM t WHERE ts > datetime('now', '-1 minute')").fetchone()
    assert count == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_file_logger_twice_writes_once(paths):
    log_path = paths.training_log("als")
    first = file_logger("t.once", log_path)
    second = file_logger("t.once", log_path)
    second.info("Training started | factors=8")
    close_logger(first)
    lines = log_path.read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith(" | INFO | Training started | factors=8")


def test_service_schema_is_idempotent(paths):
    from recsys.service.schema import ensure_service_schema

    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    ensure_service_schema(conn)
    cols = {row[1] for row in conn.execute("PRAGMA table_info(requests)")}
    assert {"model_version", "loader_cache_hit", "reload_triggered", "diversity"} <= cols


def test_new_stores_reclaim_space_incrementally(paths):
    conn = connect(paths.service_db)
    conn.execute("CREATE TABLE t (x)")
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
