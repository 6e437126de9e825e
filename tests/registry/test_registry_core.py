"""ModelRegistry semantics: register, read, select, archive, status, delete, rollback, corrupt files."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from registry_helpers import make_artifacts, metrics

from recsys.cf.registry import ModelRegistry
from recsys.errors import ArtifactError, ModelNotFoundError, RegistryCorruptError, RegistryError
from recsys.paths import ProjectPaths

ALS1, ALS2, BPR1 = "v1_20250115_103000", "v2_20250116_090000", "v1_20250115_120000"


def test_register_builds_the_entry(paths, registry):
    directory = make_artifacts(paths, "als", ALS1, data_version="d41d8c", git_commit="abc1234")
    model_id = registry.register_model(directory, "als", {"factors": np.int64(64), "reg": np.float32(0.01)},
                                       metrics(0.189), training_info={"run_id": "r1"},
                                       baseline_comparison={"improvement_pct": 40.0})
    assert model_id == "als_v1_20250115_103000"
    model = registry.get_model(model_id)
    assert model["version"] == "v1"
    assert model["created_at"] == "2025-01-15 10:30:00.000000"
    assert model["registered_at"] == "2025-01-15 10:32:16.000000"
    assert model["status"] == "active"
    assert model["path"] == str(directory)
    assert model["metrics"]["ndcg@10"] == 0.189
    assert model["hyperparameters"] == {"factors": 64, "reg": pytest.approx(0.01)}
    assert (model["data_version"], model["git_commit"]) == ("d41d8c", "abc1234")  # from metadata.json
    assert model["training_info"] == {"run_id": "r1"}
    stored = json.loads(paths.registry_file.read_text())
    assert stored["models"][model_id]["path"] == "artifacts/cf/als/v1_20250115_103000"  # relative to root
    assert stored["schema_version"] == 1 and stored["current_best"] is None


def test_explicit_lineage_wins_over_metadata(paths, registry):
    directory = make_artifacts(paths, "bpr", BPR1, data_version="old", git_commit="old")
    model_id = registry.register_model(directory, "bpr", {}, metrics(0.1), data_version="new", git_commit="new")
    assert registry.get_model(model_id)["data_version"] == "new"
    assert registry.get_model(model_id)["git_commit"] == "new"


def test_register_refusals(paths, registry, add):
    add("als", ALS1, 0.18)
    with pytest.raises(RegistryError, match="already registered"):
        registry.register_model(paths.cf_artifacts / "als" / ALS1, "als", {}, metrics(0.2))
    with pytest.raises(ArtifactError, match="not found"):
        registry.register_model(paths.cf_artifacts / "als" / "v9_20250101_000000", "als", {}, metrics(0.2))
    directory = make_artifacts(paths, "als", ALS2)
    with pytest.raises(RegistryError, match="model_type"):
        registry.register_model(directory, "svd", {}, metrics(0.2))
    with pytest.raises(RegistryError, match=r"metrics\['ndcg@10'\] must be a finite number"):
        registry.register_model(directory, "als", {}, {**metrics(0.2), "ndcg@10": float("nan")})
    with pytest.raises(RegistryError, match=r"metrics\['ndcg@10'\] is missing"):
        registry.register_model(directory, "als", {}, {"recall@10": 0.1})
    with pytest.raises(RegistryError, match="JSON"):
        registry.register_model(directory, "als", {"callback": object()}, metrics(0.2))
    assert [m["model_id"] for m in registry.list_models()] == ["als_v1_20250115_103000"]


def test_created_at_falls_back_to_registration_time(paths, registry):
    model_id = registry.register_model(make_artifacts(paths, "als", "v3_20251399_000000"), "als", {}, metrics(0.1))
    model = registry.get_model(model_id)
    assert model["version"] == "v3" and model["created_at"] == model["registered_at"]
    stamped = make_artifacts(paths, "bpr", "v4_20250101_000000", created_at="2025-01-01T07:00:00+07:00")
    assert registry.get_model(registry.register_model(stamped, "bpr", {}, metrics(0.1)))["created_at"] == (
        "2025-01-01 00:00:00.000000")  # metadata's own time, in UTC


def test_unknown_model(registry):
    with pytest.raises(ModelNotFoundError) as caught:
        registry.get_model("als_nope")
    assert caught.value.model_id == "als_nope"


def test_missing_file_reads_as_empty_and_is_created_on_first_write(paths, registry, add):
    assert registry.list_models() == [] and registry.get_current_best() is None
    assert registry.get_registry_stats()["total_models"] == 0
    assert not paths.registry_file.exists()
    add("als", ALS1, 0.18)
    assert paths.registry_file.exists()
    assert [p.name for p in paths.registry_file.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_constructor_defaults_follow_recsys_home(paths, add):
    add("als", ALS1, 0.18)
    assert ModelRegistry().registry_path == paths.registry_file  # RECSYS_HOME set by the fixture
    assert ModelRegistry("artifacts/cf/registry.json").list_models()[0]["model_id"] == "als_" + ALS1


def test_list_filters(registry, add):
    add("als", ALS1, 0.18)
    add("bpr", BPR1, 0.19)
    add("als", ALS2, 0.2)
    registry.update_model_status("als_" + ALS2, "failed")
    assert [m["model_id"] for m in registry.list_models(model_type="als")] == ["als_" + ALS1, "als_" + ALS2]
    assert [m["model_id"] for m in registry.list_models(status="failed")] == ["als_" + ALS2]
    assert [m["model_id"] for m in registry.list_models("als", "active")] == ["als_" + ALS1]
    with pytest.raises(RegistryError, match="status"):
        registry.list_models(status="gone")


def test_select_best_first_then_better_then_worse(registry, add):
    first = add("als", ALS1, 0.18)
    result = registry.select_best_model()
    assert result["changed"] and result["model_id"] == first and result["previous_best_id"] is None
    assert result["improvement_pct"] is None and result["value"] == 0.18
    better = add("bpr", BPR1, 0.189)
    result = registry.select_best_model()
    assert result["changed"] and result["model_id"] == better and result["previous_best_id"] == first
    assert result["improvement_pct"] == pytest.approx(5.0)
    worse = add("als", ALS2, 0.17)
    result = registry.select_best_model()
    assert not result["changed"] and result["model_id"] == better and result["candidate_id"] == better
    best = registry.get_current_best()
    assert set(best) == {"model_id", "metric", "value", "selected_at", "model_info"}
    assert best["model_id"] == better and best["metric"] == "ndcg@10" and best["value"] == 0.189
    assert best["model_info"]["model_id"] == better and best["model_info"]["path"].startswith("/")
    assert worse != better


def test_select_best_min_improvement_is_relative(registry, add):
    add("als", ALS1, 0.200)
    registry.select_best_model()
    candidate = add("bpr", BPR1, 0.204)  # +2 %
    kept = registry.select_best_model(min_improvement=0.05)
    assert not kept["changed"] and kept["model_id"] == "als_" + ALS1 and kept["candidate_id"] == candidate
    assert kept["improvement_pct"] == pytest.approx(2.0)
    changed = registry.select_best_model(min_improvement=0.01)
    assert changed["changed"] and changed["model_id"] == candidate


def test_select_best_by_type_and_other_metric(registry, add):
    add("als", ALS1, 0.20)
    add("bpr", BPR1, 0.15)
    assert registry.select_best_model(model_type="bpr")["model_id"] == "bpr_" + BPR1
    # the als model beats the current (bpr) best, but the filter keeps it out
    assert not registry.select_best_model(model_type="bpr")["changed"]
    assert registry.select_best_model(metric="recall@10")["model_id"] == "als_" + ALS1
    assert registry.get_current_best()["metric"] == "recall@10"
    assert registry.select_best_model(metric="map@10") is None


def test_select_best_replaces_an_inactive_best_and_ignores_inactive_candidates(registry, add):
    high = add("als", ALS1, 0.30)
    registry.select_best_model()
    low = add("bpr", BPR1, 0.10)
    registry.update_model_status(high, "failed")
    result = registry.select_best_model()
    assert result["changed"] and result["model_id"] == low and result["previous_best_id"] == high
    registry.update_model_status(low, "failed")
    assert registry.select_best_model() is None
    assert registry.get_current_best()["model_id"] == low  # no active model: the best stays as it was


def test_select_best_argument_errors(registry):
    with pytest.raises(RegistryError, match="min_improvement"):
        registry.select_best_model(min_improvement=-0.1)
    with pytest.raises(RegistryError, match="model_type"):
        registry.select_best_model(model_type="svd")


def test_archive_refuses_current_best(registry, add):
    best = add("als", ALS1, 0.2)
    other = add("bpr", BPR1, 0.1)
    registry.select_best_model()
    with pytest.raises(RegistryError, match="current best"):
        registry.archive_model(best)
    with pytest.raises(RegistryError, match="current best"):
        registry.update_model_status(best, "archived")
    entry = registry.archive_model(other, reason="superseded")
    assert entry["status"] == "archived" and entry["archive_reason"] == "superseded"
    assert registry.get_model(other)["status"] == "archived"
    assert registry.get_model(best)["status"] == "active"


def test_update_status(registry, add):
    model_id = add("als", ALS1, 0.2)
    registry.select_best_model()
    assert registry.update_model_status(model_id, "failed")["status"] == "failed"  # allowed on the best
    with pytest.raises(RegistryError, match="status must be one of"):
        registry.update_model_status(model_id, "broken")
    with pytest.raises(ModelNotFoundError):
        registry.update_model_status("als_nope", "failed")


def test_delete_refuses_current_and_previous_best(paths, registry, add):
    first = add("als", ALS1, 0.1)
    registry.select_best_model()
    second = add("bpr", BPR1, 0.2)
    registry.select_best_model()
    spare = add("als", ALS2, 0.05)
    assert registry.previous_best_id() == first
    with pytest.raises(RegistryError, match="current best"):
        registry.delete_model(second)
    with pytest.raises(RegistryError, match="previous best"):
        registry.delete_model(first)
    old = registry.delete_model(spare, remove_artifacts=True)
    assert not (paths.cf_artifacts / "als" / ALS2).exists() and old["model_id"] == spare
    with pytest.raises(ModelNotFoundError):
        registry.get_model(spare)
    registry.update_model_status(first, "failed")  # no longer a rollback target: may go now
    registry.delete_model(first)
    assert (paths.cf_artifacts / "als" / ALS1).is_dir()  # artifacts kept unless asked


def test_delete_never_removes_outside_artifacts(tmp_path, paths, registry):
    outside = tmp_path.parent / (tmp_path.name + "_elsewhere") / ALS1
    outside.mkdir(parents=True)
    model_id = registry.register_model(outside, "als", {}, metrics(0.1))
    assert registry.get_model(model_id)["path"] == str(outside)  # outside the root: stored absolute
    with pytest.raises(ArtifactError, match="outside"):
        registry.delete_model(model_id, remove_artifacts=True)
    assert outside.is_dir() and registry.get_model(model_id)
    shutil.rmtree(outside.parent)


def test_rollback_goes_back_one_step_at_a_time(registry, add):
    a = add("als", ALS1, 0.10)
    registry.select_best_model()
    b = add("bpr", BPR1, 0.20)
    registry.select_best_model()
    c = add("als", ALS2, 0.30)
    registry.select_best_model()
    result = registry.rollback()
    assert result == {"model_id": b, "metric": "ndcg@10", "value": 0.20, "previous_best_id": c,
                      "improvement_pct": pytest.approx(-100 / 3), "changed": True}
    assert registry.get_current_best()["model_id"] == b
    assert registry.rollback()["model_id"] == a  # not back to c: c was rolled back from
    with pytest.raises(RegistryError, match="no earlier best"):
        registry.rollback()
    history = registry._load_registry()["best_history"]
    assert [(h["model_id"], h["reason"]) for h in history] == [
        (a, "select_best"), (b, "select_best"), (c, "select_best"), (b, "rollback"), (a, "rollback")]


def test_rollback_skips_unusable_models(paths, registry, add):
    a = add("als", ALS1, 0.10)
    registry.select_best_model()
    b = add("bpr", BPR1, 0.20)
    registry.select_best_model()
    c = add("als", ALS2, 0.30)
    registry.select_best_model()
    shutil.rmtree(paths.cf_artifacts / "bpr" / BPR1)  # b's artifacts gone
    assert registry.rollback()["model_id"] == a
    registry.select_best_model()  # c again
    assert registry.get_current_best()["model_id"] == c
    registry.update_model_status(a, "failed")
    with pytest.raises(RegistryError, match="cannot roll back"):
        registry.rollback()
    assert b  # still registered, just unusable


def test_rollback_without_best(registry, add):
    add("als", ALS1, 0.1)
    with pytest.raises(RegistryError, match="no current best"):
        registry.rollback()


def test_stats(registry, add):
    a = add("als", ALS1, 0.1)
    add("als", ALS2, 0.3)
    b = add("bpr", BPR1, 0.2)
    registry.select_best_model()
    registry.archive_model(a)
    registry.update_model_status(b, "failed")
    stats = registry.get_registry_stats()
    assert stats == {"total_models": 3, "active_models": 1, "archived_models": 1, "failed_models": 1,
                     "by_type": {"als": 2, "bpr": 1}, "last_updated": stats["last_updated"],
                     "current_best": "als_" + ALS2}
    assert stats["last_updated"] == registry._load_registry()["updated_at"] is not None


def test_moved_root_keeps_working(tmp_path, paths, clock):
    registry = ModelRegistry(paths=paths, clock=clock)
    directory = make_artifacts(paths, "als", ALS1)
    model_id = registry.register_model(directory, "als", {}, metrics(0.1))
    moved_root = tmp_path.parent / (tmp_path.name + "_moved")
    shutil.copytree(tmp_path, moved_root)
    moved = ModelRegistry(paths=ProjectPaths.from_env(moved_root))
    assert moved.get_model(model_id)["path"] == str(moved_root / "artifacts/cf/als" / ALS1)
    assert moved.artifacts_present(model_id)
    assert moved._registry["models"][model_id]["path"].startswith(str(moved_root))
    shutil.rmtree(moved_root)


@pytest.mark.parametrize("text, reason", [
    ("{not json", "invalid JSON"),
    ("[]", "top level is a list"),
    ('{"models": []}', "'models' is missing or not an object"),
    ('{"models": {"x": {"model_id": "x"}}}', "models['x'].model_type"),
    ('{"models": {}, "current_best": {"model_id": "ghost"}}', "not in 'models'"),
    ('{"models": {}, "schema_version": 99}', "schema_version 99"),
    ('{"models": {}, "updated_at": NaN}', "invalid JSON"),
])
def test_corrupt_file_is_a_named_error(paths, registry, text, reason):
    paths.registry_file.parent.mkdir(parents=True)
    paths.registry_file.write_text(text)
    with pytest.raises(RegistryCorruptError) as caught:
        registry.list_models()
    assert reason in caught.value.reason and caught.value.path == str(paths.registry_file)
    directory = make_artifacts(paths, "als", ALS1)
    with pytest.raises(RegistryCorruptError):
        registry.register_model(directory, "als", {}, metrics(0.1))
    assert paths.registry_file.read_text() == text  # a refused write leaves the file as it was
