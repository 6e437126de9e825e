"""Rotating logs: several processes at once lose no line and corrupt none; backups are bounded and gzipped."""

from __future__ import annotations

import gzip
import multiprocessing
import os
import re
import time
from collections import defaultdict
from pathlib import Path

import pytest
from rotation_workers import LINE, padding, register_and_select, write_lines, write_with_inherited

from recsys.logrotate import (
    LogFile,
    RotatingLineHandler,
    RotationPolicy,
    append_line,
    backups,
    lock_path,
    log_files_oldest_first,
    policy_for,
    read_lines,
    rotate_if_due,
    rotation_due,
)

WORKERS, PER_WORKER = 4, 5_000


def _raw_lines(path: Path) -> list[str]:
    """Every line of a log across its files, oldest first, decompressing ``.gz`` here (not via recsys)."""
    lines = []
    for file in log_files_oldest_first(path):
        data = file.read_bytes()
        if file.name.endswith(".gz"):
            assert data[:2] == b"\x1f\x8b", f"{file} is not gzip"
            data = gzip.decompress(data)
        assert data == b"" or data.endswith(b"\n"), f"{file} ends in a partial line"
        lines.extend(data.decode("utf-8").splitlines())
    return lines


def _check_stress_lines(lines: list[str], workers: int, per_worker: int) -> None:
    """Each (worker, index) exactly once, intact, and each worker's lines in the order written."""
    seen = defaultdict(list)
    for line in lines:
        match = LINE.match(line)
        assert match, f"corrupt or interleaved line: {line[:120]!r}"
        worker, index = int(match.group(1)), int(match.group(2))
        assert match.group(3) == padding(worker, index), f"line of w{worker} #{index} was cut: {line!r}"
        seen[worker].append(index)
    assert sorted(seen) == list(range(workers))
    for worker, indexes in seen.items():
        assert indexes == list(range(per_worker)), f"w{worker}: lines lost, duplicated or out of order"


def test_four_processes_rotating_one_log_lose_and_corrupt_nothing(tmp_path):
    path = tmp_path / "logs" / "service" / "recommender.log"
    policy = RotationPolicy(max_bytes=16 * 1024, backup_count=10_000, compress=True)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WORKERS)
    # three workers keep a handler open; one opens the file per line like the registry audit writer
    processes = [context.Process(target=write_lines, args=(str(path), w, PER_WORKER, policy, start, w == 3))
                 for w in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
        assert process.exitcode == 0

    found = backups(path)
    assert len(found) >= 20, "the test must rotate many times"
    indexes = [index for index, _ in found]
    assert indexes == list(range(1, len(found) + 1)), "backups are numbered without gaps"
    assert not found[0][1].name.endswith(".gz") and all(f.name.endswith(".gz") for _, f in found[1:])
    assert not list(path.parent.glob("*.tmp"))
    lines = _raw_lines(path)
    assert len(lines) == WORKERS * PER_WORKER
    _check_stress_lines(lines, WORKERS, PER_WORKER)
    assert read_lines(path) == lines
    for _, file in found[:-1]:  # every rotated file reached the limit; none is much bigger than it
        size = len(gzip.decompress(file.read_bytes())) if file.name.endswith(".gz") else file.stat().st_size
        assert policy.max_bytes <= size < policy.max_bytes + 4 * 1024


def test_children_forked_with_an_open_log_file_reopen_their_own_lock(tmp_path):
    path = tmp_path / "logs" / "app.log"
    log_file = LogFile(path, RotationPolicy(max_bytes=4096, backup_count=10_000))
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=write_with_inherited, args=(log_file, w, 2_000)) for w in range(2)]
    for process in processes:
        process.start()
    write_with_inherited(log_file, 2, 2_000)
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    log_file.close()
    assert len(backups(path)) > 10
    _check_stress_lines(_raw_lines(path), 3, 2_000)


def _write_numbered(path: Path, policy: RotationPolicy, count: int) -> None:
    log_file = LogFile(path, policy)
    try:
        for index in range(count):
            log_file.write(f"line {index:05d} {'y' * 40}\n".encode())
    finally:
        log_file.close()


def test_old_backups_beyond_backup_count_are_dropped(tmp_path):
    path = tmp_path / "app.log"
    policy = RotationPolicy(max_bytes=1024, backup_count=3, compress=True)
    _write_numbered(path, policy, 500)
    names = [file.name for _, file in backups(path)]
    assert names == ["app.log.1", "app.log.2.gz", "app.log.3.gz"]
    numbers = [int(line.split()[1]) for line in _raw_lines(path)]
    # what is kept is the newest lines, contiguous up to the last one written
    assert numbers == list(range(500 - len(numbers), 500))
    assert len(numbers) < 500


def test_uncompressed_backups_and_no_backups(tmp_path):
    plain = tmp_path / "plain.log"
    _write_numbered(plain, RotationPolicy(max_bytes=1024, backup_count=4, compress=False), 200)
    assert [file.name for _, file in backups(plain)] == [f"plain.log.{i}" for i in range(1, 5)]

    none = tmp_path / "none.log"
    _write_numbered(none, RotationPolicy(max_bytes=1024, backup_count=0), 210)  # 20 lines of 52 bytes fill it
    assert backups(none) == []
    assert [line[:10] for line in _raw_lines(none)] == [f"line {i:05d}" for i in range(200, 210)]


def test_compressed_backups_are_valid_gzip_of_the_rotated_text(tmp_path):
    path = tmp_path / "app.log"
    policy = RotationPolicy(max_bytes=2048, backup_count=5)
    _write_numbered(path, policy, 150)
    for _, file in backups(path)[1:]:
        with gzip.open(file, "rt") as handle:
            text = handle.read()
        assert text.endswith("\n") and all(re.fullmatch(r"line \d{5} y{40}", line) for line in text.splitlines())


def test_a_writer_whose_file_was_rotated_elsewhere_writes_to_the_new_file(tmp_path):
    path = tmp_path / "app.log"
    policy = RotationPolicy(max_bytes=10 * 1024 * 1024, backup_count=5)
    stale = LogFile(path, policy)  # as if in another process: its own descriptors
    stale.write(b"before\n")
    assert rotate_if_due(path, policy, force=True)
    stale.write(b"after first\n")
    assert rotate_if_due(path, policy, force=True)  # .1 now gzipped into .2.gz
    stale.write(b"after second\n")
    stale.close()
    assert path.read_text() == "after second\n"
    assert _raw_lines(path) == ["before", "after first", "after second"]
    assert not rotate_if_due(path, policy), "not due: small and no age limit"


def test_age_limit_rotates_a_non_empty_log(tmp_path):
    path = tmp_path / "app.log"
    policy = RotationPolicy(max_bytes=10 * 1024 * 1024, backup_count=2, max_age_hours=1)
    append_line(path, "old line", policy)
    assert not rotation_due(path, policy)
    two_hours_ago = time.time() - 7200
    os.utime(lock_path(path), (two_hours_ago, two_hours_ago))
    assert rotation_due(path, policy)
    append_line(path, "newer line", policy)  # the write notices the age and rotates after it
    assert path.read_text() == "" and _raw_lines(path) == ["old line", "newer line"]
    assert not rotation_due(path, policy), "the rotation restarted the age"
    assert not rotate_if_due(path, policy), "an empty log never rotates"


def test_handler_writes_one_line_per_record_and_survives_close(tmp_path):
    import logging

    path = tmp_path / "h.log"
    handler = RotatingLineHandler(path, RotationPolicy(max_bytes=200, backup_count=50))
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.retention.handler")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for index in range(20):
            logger.warning("record %d\nsecond line of record %d", index, index)
    finally:
        logger.removeHandler(handler)
        handler.close()
    lines = _raw_lines(path)
    assert len(lines) == 40 and len(backups(path)) > 1
    assert lines[-2:] == ["record 19", "second line of record 19"]


def test_file_logger_takes_the_policy_of_its_log_from_the_project_config(paths):
    from recsys.logfmt import close_logger, file_logger

    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "retention.yaml").write_text(
        "rotation:\n  default: {max_bytes: 1 MiB, backup_count: 3}\n"
        "  logs:\n    'cf/*.log': {max_bytes: 2 KiB}\n    cf/bpr.log: {backup_count: 9}\n")
    assert policy_for(paths.training_log("als")) == RotationPolicy(2048, 3, True, None)
    assert policy_for(paths.training_log("bpr")) == RotationPolicy(1024 * 1024, 9, True, None)
    assert policy_for(paths.monitor_log) == RotationPolicy(1024 * 1024, 3, True, None)

    logger = file_logger("test.retention.cf", paths.training_log("als"))
    try:
        for index in range(100):
            logger.info(f"Iteration {index} | loss=0.5")
    finally:
        close_logger(logger)
    assert backups(paths.training_log("als"))
    assert len(read_lines(paths.training_log("als"))) == 100


def test_a_broken_config_never_stops_a_line_from_being_written(paths, caplog):
    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "retention.yaml").write_text("rotation:\n  default: {max_bytes: lots}\n")
    with caplog.at_level("WARNING", logger="recsys.logrotate"):
        append_line(paths.registry_audit_log, "2025-01-15 10:32:15 | REGISTER | m | x")
    assert paths.registry_audit_log.read_text() == "2025-01-15 10:32:15 | REGISTER | m | x\n"
    assert "retention.yaml" in caplog.text and "max_bytes" in caplog.text


AUDIT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| (REGISTER|SELECT_BEST) \| (als|bpr)_v\d+_20250115_103000"
                        r" \| .+$")


@pytest.mark.parametrize("workers", [3])
def test_registry_audit_log_rotates_and_every_line_is_recoverable(paths, workers):
    import sqlite3

    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "retention.yaml").write_text(
        "rotation:\n  logs:\n    registry_audit.log: {max_bytes: 300, backup_count: 1000}\n")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers)
    processes = [context.Process(target=register_and_select, args=(str(paths.root), w, 12, start))
                 for w in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0

    assert len(backups(paths.registry_audit_log)) >= 3
    lines = _raw_lines(paths.registry_audit_log)
    assert all(AUDIT_LINE.match(line) for line in lines), [line for line in lines if not AUDIT_LINE.match(line)]
    conn = sqlite3.connect(paths.registry_db)
    try:
        rows = conn.execute("SELECT action, model_id FROM registry_operations ORDER BY id").fetchall()
    finally:
        conn.close()
    # the audit writer holds the registry lock: lines are in the same order as the rows
    assert [(line.split(" | ")[1], line.split(" | ")[2]) for line in lines] == [tuple(row) for row in rows]
    assert sum(action == "REGISTER" for action, _ in rows) == workers * 12


def test_a_failed_compression_keeps_the_plain_backup_and_still_rotates(tmp_path, monkeypatch):
    import recsys.logrotate as logrotate

    path = tmp_path / "app.log"
    policy = RotationPolicy(max_bytes=10 * 1024 * 1024, backup_count=5)
    real_compress = logrotate.compress_file

    def disk_full(source, target):
        Path(f"{target}.tmp").write_bytes(b"\x1f\x8b partial")
        raise OSError(28, "No space left on device")

    for index in range(2):
        append_line(path, f"line {index}", policy)
        rotate_if_due(path, policy, force=True)
    monkeypatch.setattr(logrotate, "compress_file", disk_full)
    append_line(path, "line 2", policy)
    assert rotate_if_due(path, policy, force=True)
    assert [f.name for _, f in backups(path)] == ["app.log.1", "app.log.2", "app.log.3.gz"]
    assert not list(tmp_path.glob("*.tmp"))
    monkeypatch.setattr(logrotate, "compress_file", real_compress)
    append_line(path, "line 3", policy)
    assert rotate_if_due(path, policy, force=True)
    assert [f.name for _, f in backups(path)] == ["app.log.1", "app.log.2.gz", "app.log.3.gz", "app.log.4.gz"]
    assert _raw_lines(path) == ["line 0", "line 1", "line 2", "line 3"]
