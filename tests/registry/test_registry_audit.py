"""The audit trail: log lines in the spec's format, registry_operations rows, the model_versions mirror."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from registry_helpers import make_artifacts, metrics

from recsys.cf.monitoring.registry_monitor import RegistryMonitor, read_operations, setup_registry_monitoring
from recsys.clock import parse_ts
from recsys.errors import RegistryError

LINE = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) \| ([A-Z_]+) \| ([^|]+) \| ([^|]+)$")
DETAILS = {
    "REGISTER": re.compile(r"^ndcg@10=\d\.\d{4}$"),
    "SELECT_BEST": re.compile(r"^ndcg@10=\d\.\d{4} improvement=([+-]\d+\.\d%|n/a)$"),
    "ARCHIVE": re.compile(r"^reason=\S+$"),
    "UPDATE_STATUS": re.compile(r"^status=(active|archived|failed)$"),
    "DELETE": re.compile(r"^artifacts=(kept|removed)$"),
    "ROLLBACK": re.compile(r"^ndcg@10=\d\.\d{4} from=\S+$"),
}


def audit_lines(paths) -> list[tuple[str, str, str, str]]:
    lines = paths.registry_audit_log.read_text().splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    return [m.groups() for m in parsed]


def operations(paths) -> list[dict]:
    conn = sqlite3.connect(paths.registry_db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM registry_operations ORDER BY id")]
    finally:
        conn.close()


def versions(paths) -> dict[str, dict]:
    conn = sqlite3.connect(paths.registry_db)
    conn.row_factory = sqlite3.Row
    try:
        return {row["model_id"]: dict(row) for row in conn.execute("SELECT * FROM model_versions")}
    finally:
        conn.close()


def test_every_change_is_one_line_and_one_row(paths, registry, add):
    a = add("als", "v1_20250115_103000", 0.1799)
    registry.select_best_model()
    b = add("bpr", "v1_20250115_120000", 0.1892)
    registry.select_best_model()
    registry.select_best_model()                       # keeps the best: not a change
    c = add("als", "v2_20250116_090000", 0.15)
    registry.archive_model(c)
    registry.archive_model(c)                          # already archived: not a change
    registry.update_model_status(c, "failed")
    registry.rollback()
    registry.update_model_status(b, "failed")
    registry.delete_model(c)
    expected = ["REGISTER", "SELECT_BEST", "REGISTER", "SELECT_BEST", "REGISTER", "ARCHIVE", "UPDATE_STATUS",
                "ROLLBACK", "UPDATE_STATUS", "DELETE"]
    lines = audit_lines(paths)
    assert [action for _, action, _, _ in lines] == expected
    for stamp, action, _, details in lines:
        assert DETAILS[action].match(details), (action, details)
        assert parse_ts(stamp)  # UTC wall time without fraction
    assert lines[0][0] == "2025-01-15 10:32:16"  # the fake clock's first tick, not local time
    assert lines[1][2:] == (a, "ndcg@10=0.1799 improvement=n/a")
    assert lines[3][2:] == (b, "ndcg@10=0.1892 improvement=+5.2%")
    assert lines[5][3] == "reason=manual" and lines[8][3] == "status=failed"
    assert lines[7][2:] == (a, f"ndcg@10=0.1799 from={b}")
    rows = operations(paths)
    assert [row["action"] for row in rows] == expected
    assert [row["model_id"] for row in rows] == [line[2] for line in lines]


def test_select_best_and_register_rows_fill_their_columns(paths, registry):
    directory = make_artifacts(paths, "als", "v1_20250115_103000", data_version="dv1", git_commit="c0ffee")
    a = registry.register_model(directory, "als", {}, metrics(0.18))
    registry.select_best_model()
    b = registry.register_model(make_artifacts(paths, "bpr", "v1_20250115_120000"), "bpr", {}, metrics(0.2),
                                data_version="dv2", git_commit="beef")
    registry.select_best_model()
    register, first, _, second = operations(paths)
    assert register["action"] == "REGISTER" and register["model_type"] == "als"
    assert (register["artifacts_path"], register["data_version"], register["git_commit"]) == (
        str(directory), "dv1", "c0ffee")
    assert json.loads(register["details"])["metrics"]["ndcg@10"] == 0.18
    assert register["timestamp"] == "2025-01-15 10:32:16.000000"
    assert first["metric"] == "ndcg@10" and first["metric_value"] == 0.18
    assert first["improvement_pct"] is None and first["previous_best_id"] is None
    assert (second["model_id"], second["model_type"], second["metric"]) == (b, "bpr", "ndcg@10")
    assert second["metric_value"] == 0.2 and second["previous_best_id"] == a
    assert second["improvement_pct"] == pytest.approx(100 * 0.02 / 0.18)


def test_model_versions_mirror_the_registry(paths, registry, add):
    a = add("als", "v1_20250115_103000", 0.18, data_version="dv", git_commit="g1")
    registry.select_best_model()
    b = add("bpr", "v1_20250115_120000", 0.2)
    registry.select_best_model()
    rows = versions(paths)
    assert rows[b]["is_current_best"] == 1 and rows[a]["is_current_best"] == 0
    assert rows[b]["selected_at"] == registry.get_current_best()["selected_at"] and rows[a]["selected_at"] is None
    assert rows[a] == {
        "model_id": a, "model_type": "als", "version": "v1", "created_at": "2025-01-15 10:30:00.000000",
        "registered_at": registry.get_model(a)["registered_at"], "recall_at_10": pytest.approx(0.27),
        "ndcg_at_10": 0.18, "coverage": 0.3, "status": "active", "is_current_best": 0, "selected_at": None,
        "data_version": "dv", "git_commit": "g1", "artifacts_path": registry.get_model(a)["path"]}
    registry.rollback()
    assert versions(paths)[a]["is_current_best"] == 1 and versions(paths)[b]["is_current_best"] == 0
    registry.update_model_status(b, "failed")
    assert versions(paths)[b]["status"] == "failed"
    registry.delete_model(b)
    assert set(versions(paths)) == {a}


@pytest.mark.parametrize("name", [
    "v1_x'); DROP TABLE model_versions;--",
    "v1_' OR '1'='1",
    'v1_"; DELETE FROM registry_operations; --',
])
def test_injection_looking_ids_are_stored_verbatim(paths, registry, name):
    directory = make_artifacts(paths, "als", name)
    model_id = registry.register_model(directory, "als", {}, metrics(0.1))
    assert model_id == "als_" + name
    registry.select_best_model()
    registry.record_operation("RELOAD", model_id, {"note": "x' OR 1=1 --"})
    assert list(versions(paths)) == [model_id]
    assert [row["model_id"] for row in operations(paths)] == [model_id] * 3
    assert registry.get_model(model_id)["model_id"] == model_id
    assert audit_lines(paths)[0][2] == model_id


@pytest.mark.parametrize("name", ["v1_bad|pipe", "v1_new\nline"])
def test_ids_that_would_break_the_log_line_are_refused(paths, registry, name):
    directory = make_artifacts(paths, "als", name)
    with pytest.raises(RegistryError, match="control character"):
        registry.register_model(directory, "als", {}, metrics(0.1))
    assert not paths.registry_audit_log.exists()


def test_monitor_log_operation_sync_and_health(paths, registry, add, clock):
    a = add("als", "v1_20250115_103000", 0.18)
    registry.select_best_model()
    monitor = setup_registry_monitoring(paths=paths)
    assert isinstance(monitor, RegistryMonitor) and monitor.registry_path == paths.registry_file
    monitor.log_operation("RELOAD", a, {"load_ms": 12.5, "reason": "new best | forced\nnow"})
    monitor.log_operation("RELOAD", "als_unknown")
    last = paths.registry_audit_log.read_text().splitlines()[-2:]
    assert re.match(rf"^\S+ \S+ \| RELOAD \| {a} \| load_ms=12.5 reason=new best   forced now$", last[0])
    assert last[1].endswith("| RELOAD | als_unknown")
    rows = operations(paths)[-2:]
    assert rows[0]["model_type"] == "als" and json.loads(rows[0]["details"])["load_ms"] == 12.5
    assert rows[1]["model_type"] is None and rows[1]["details"] is None
    with pytest.raises(RegistryError, match="upper-case"):
        monitor.log_operation("drop table", a)
    conn = sqlite3.connect(paths.registry_db)
    conn.execute("DELETE FROM model_versions")
    conn.commit()
    conn.close()
    assert monitor.sync_model_versions() == 1 and versions(paths)[a]["is_current_best"] == 1
    assert monitor.get_registry_health() == {
        "total_models": 1, "active_models": 1, "archived_models": 0, "current_best": a,
        "current_best_ndcg": 0.18, "by_type": {"als": 1, "bpr": 0},
        "last_updated": registry.get_registry_stats()["last_updated"]}
    recent = monitor.recent_operations(limit=2)
    assert [r["action"] for r in recent] == ["RELOAD", "RELOAD"] and recent[0]["model_id"] == "als_unknown"
    assert [r["action"] for r in monitor.recent_operations(action="SELECT_BEST")] == ["SELECT_BEST"]


def test_read_operations_never_creates_the_store(paths):
    assert read_operations(paths.registry_db) == []
    assert not paths.registry_db.exists()


def test_unwritable_audit_store_is_a_named_error_after_the_change(paths, registry):
    paths.registry_db.mkdir(parents=True)  # a directory where the database should be
    directory = make_artifacts(paths, "als", "v1_20250115_103000")
    with pytest.raises(RegistryError, match="is done and in .*, but .*registry_operations.db could not be written"):
        registry.register_model(directory, "als", {}, metrics(0.1))
    assert registry.get_model("als_v1_20250115_103000")  # the registry file is the source of truth
    assert " | REGISTER | als_v1_20250115_103000 | " in paths.registry_audit_log.read_text()
