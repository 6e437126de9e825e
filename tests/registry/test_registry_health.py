"""check_registry_health: the spec's four checks, and a broken file reported rather than raised."""

from __future__ import annotations

import shutil

from registry_helpers import make_artifacts, metrics

from recsys.cf.monitoring.registry_monitor import check_registry_health


def test_healthy(registry, add, paths):
    add("als", "v1_20250115_103000", 0.18)
    registry.select_best_model()
    health = check_registry_health(paths=paths)
    assert (health["status"], health["issues"], health["warnings"]) == ("healthy", [], [])


def test_no_current_best(add, paths):
    add("als", "v1_20250115_103000", 0.18)
    health = check_registry_health(paths=paths)
    assert health["status"] == "unhealthy" and health["issues"] == ["No current best model selected"]


def test_missing_file_is_an_empty_registry(paths):
    health = check_registry_health(paths=paths)
    assert health["status"] == "unhealthy" and health["issues"] == ["No current best model selected"]
    assert health["warnings"] == [f"Registry file does not exist yet: {paths.registry_file}"]
    assert not paths.registry_file.exists()


def test_active_model_artifacts_missing(registry, add, paths):
    add("als", "v1_20250115_103000", 0.18)
    registry.select_best_model()
    gone = add("bpr", "v1_20250115_120000", 0.1)
    archived = add("bpr", "v2_20250116_120000", 0.1)
    registry.archive_model(archived)
    directory = paths.cf_artifacts / "bpr"
    shutil.rmtree(directory)  # both bpr directories; only the active one is an issue
    health = check_registry_health(paths=paths)
    assert health["status"] == "unhealthy"
    assert health["issues"] == [f"Model {gone} artifacts missing: {directory / 'v1_20250115_120000'}"]


def test_current_best_not_active(registry, add, paths):
    best = add("als", "v1_20250115_103000", 0.18)
    registry.select_best_model()
    registry.update_model_status(best, "failed")
    health = check_registry_health(paths=paths)
    assert health["issues"] == [f"Current best model {best} is failed, not active"]


def test_too_many_archived_is_a_warning(registry, add, paths):
    add("als", "v0_20250101_000000", 0.5)
    registry.select_best_model()
    for index in range(1, 52):
        registry.archive_model(add("bpr", f"v{index}_20250101_000000", 0.1))
    health = check_registry_health(paths=paths)
    assert health["status"] == "healthy" and health["issues"] == []
    assert health["warnings"] == ["Too many archived models: 51 (more than 50)"]
    assert check_registry_health(paths=paths, max_archived=60)["warnings"] == []


def test_corrupt_file_is_unhealthy_with_the_reason(paths):
    paths.registry_file.parent.mkdir(parents=True)
    paths.registry_file.write_text('{"models": {"als_v1": ')
    health = check_registry_health(paths=paths)
    assert health["status"] == "unhealthy" and len(health["issues"]) == 1
    assert health["issues"][0].startswith("Registry file corruption: ")
    assert "invalid JSON" in health["issues"][0] and str(paths.registry_file) in health["issues"][0]


def test_wrong_shape_is_unhealthy(paths):
    make_artifacts(paths, "als", "v1_20250115_103000")
    paths.registry_file.write_text('{"models": {"a": {"model_id": "a", "status": "lost"}}}')
    health = check_registry_health(paths=paths)
    assert health["status"] == "unhealthy" and "models['a'].model_type" in health["issues"][0]
    assert metrics(0.1)  # helpers importable alongside
