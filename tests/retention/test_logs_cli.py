"""``recsys logs status|prune|rotate|vacuum``."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner
from retention_stores import fill_other_stores, fill_service_store, rows

from recsys.cli import cli
from recsys.clock import utc_now
from recsys.logrotate import append_line, backups


def _run(paths, *args: str):
    return CliRunner().invoke(cli, ["--home", str(paths.root), "logs", *args], catch_exceptions=False)


def _row(output: str, *cells: str) -> str:
    """The output line holding ``cells`` in order (separated by spaces)."""
    pattern = re.compile(r"\s+".join(re.escape(cell) for cell in cells))
    found = [line for line in output.splitlines() if pattern.search(line)]
    assert found, f"no line with {cells} in:\n{output}"
    return found[0]


def test_prune_dry_run_prints_what_it_would_delete_and_deletes_nothing(paths):
    now = utc_now()  # the CLI prunes against the real clock
    fill_service_store(paths, now)
    fill_other_stores(paths, now)
    result = _run(paths, "prune", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: nothing changed" in result.output
    assert "rows would delete" in result.output
    assert _row(result.output, "service_metrics", "requests", "30 d").split()[-1] == "30"
    assert _row(result.output, "service_metrics", "service_health", "365 d").split()[-1] == "2"
    assert _row(result.output, "training_metrics", "training_runs", "forever").split()[-1] == "0"
    assert "auto_vacuum=none" in result.output
    assert "artifacts would remove: 0" in result.output
    assert len(rows(paths.service_db, "SELECT * FROM requests")) == 50

    result = _run(paths, "prune")
    assert result.exit_code == 0, result.output
    assert _row(result.output, "service_metrics", "requests", "30 d").split()[-1] == "30"
    assert "rows deleted" in result.output and "reclaimed (vacuum: converted to incremental" in result.output
    assert len(rows(paths.service_db, "SELECT * FROM requests")) == 20


def test_prune_json(paths):
    fill_service_store(paths, utc_now())
    result = _run(paths, "prune", "--dry-run", "--json")
    summary = json.loads(result.output)
    assert summary["dry_run"] and summary["stores"]["service_metrics"]["tables"]["requests"]["rows"] == 30


def test_status_lists_logs_with_backups_and_stores(paths):
    fill_service_store(paths, utc_now())
    for index in range(200):
        append_line(paths.monitor_log, f"2025-01-15 10:30:00 | INFO | line {index}")
    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "retention.yaml").write_text(
        "rotation:\n  logs:\n    monitor/monitor.log: {max_bytes: 1 KiB, backup_count: 3}\n")
    append_line(paths.monitor_log, "2025-01-15 10:30:00 | INFO | one more")
    result = _run(paths, "status")
    assert result.exit_code == 0, result.output
    line = _row(result.output, "monitor/monitor.log")
    assert line.split()[3] == "1", line  # one backup after the first write under the 1 KiB limit
    assert _row(result.output, "requests", "50")
    assert "training_metrics" in _row(result.output, "training_metrics", "-", "(missing)")

    status = json.loads(_run(paths, "status", "--json").output)
    assert status["logs"][0]["log"] == "monitor/monitor.log" and status["logs"][0]["backups"] == 1


def test_rotate_force_rotates_every_non_empty_log(paths):
    append_line(paths.monitor_log, "2025-01-15 10:30:00 | INFO | a")
    append_line(paths.training_log("als"), "2025-01-15 10:30:00 | INFO | b")
    paths.service_log.parent.mkdir(parents=True)
    paths.service_log.write_text("")
    result = _run(paths, "rotate")
    assert "3 logs checked; rotated: none" in result.output
    result = _run(paths, "rotate", "--force")
    assert result.exit_code == 0
    assert "rotated: cf/als.log, monitor/monitor.log;" in result.output
    assert [f.name for _, f in backups(paths.monitor_log)] == ["monitor.log.1"]
    assert paths.monitor_log.read_text() == ""


def test_rotate_drops_backups_beyond_a_lowered_count(paths):
    paths.config_dir.mkdir(parents=True)
    config = paths.config_dir / "retention.yaml"
    config.write_text("rotation:\n  default: {max_bytes: 100, backup_count: 6}\n")
    for index in range(20):
        append_line(paths.monitor_log, f"2025-01-15 10:30:00 | INFO | line {index:03d} of the monitor log")
    assert len(backups(paths.monitor_log)) == 6
    config.write_text("rotation:\n  default: {max_bytes: 100, backup_count: 2}\n")
    result = _run(paths, "rotate")
    assert "old backups dropped: 4" in result.output
    assert [f.name for _, f in backups(paths.monitor_log)] == ["monitor.log.1", "monitor.log.2.gz"]


def test_vacuum_converts_stores(paths):
    fill_service_store(paths, utc_now())
    assert rows(paths.service_db, "PRAGMA auto_vacuum") == [(0,)]
    result = _run(paths, "vacuum", "service_metrics")
    assert result.exit_code == 0 and result.output.startswith("service_metrics: ")
    assert rows(paths.service_db, "PRAGMA auto_vacuum") == [(2,)]
    assert _run(paths, "vacuum", "nope").exit_code == 2


def test_a_bad_config_is_a_one_line_error(paths):
    paths.config_dir.mkdir(parents=True)
    (paths.config_dir / "retention.yaml").write_text("stores:\n  service_metrics:\n    requests: 0\n")
    result = _run(paths, "prune", "--dry-run")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: {paths.config_dir / 'retention.yaml'}, entry 'stores.service_metrics', field 'requests': "
        "Input should be greater than 0"]
