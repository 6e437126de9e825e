"""Archived models beyond the count lose their artifacts through the registry; the best two never."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from recsys.cf.registry import ModelRegistry
from recsys.retention import apply_retention, prune_archived_models
from recsys.retention_config import RetentionConfig


class StepClock:
    """One second later on every call (registration, archive and delete times are distinct)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 15, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _metrics(ndcg: float) -> dict[str, float]:
    return {"recall@10": ndcg, "recall@20": ndcg, "ndcg@10": ndcg, "ndcg@20": ndcg, "coverage": 0.3}


@pytest.fixture
def models(paths):
    """m0..m6 registered (m6 current best, m5 previous best); m0..m4 archived in that order."""
    registry = ModelRegistry(paths=paths, clock=StepClock())
    ids = []
    for index in range(7):
        directory = paths.cf_artifacts / "als" / f"v{index + 1}_20250115_10000{index}"
        directory.mkdir(parents=True)
        (directory / "metadata.json").write_text(json.dumps({"model_type": "als"}))
        (directory / "factors.npy").write_bytes(b"\0" * 1000)
        ids.append(registry.register_model(directory, "als", {"factors": 64}, _metrics(0.1 + index / 100)))
        if index >= 5:
            registry.select_best_model()
    for model_id in ids[:5]:
        registry.archive_model(model_id, reason="superseded")
    return registry, ids


def _audit_deletes(paths) -> list[str]:
    return [line for line in paths.registry_audit_log.read_text().splitlines() if " | DELETE | " in line]


def test_the_oldest_archived_models_beyond_the_count_are_deleted_with_their_artifacts(paths, models):
    registry, ids = models
    dry = prune_archived_models(paths, 2, dry_run=True)
    assert [m["model_id"] for m in dry["removed"]] == ids[2::-1]  # newest archived first: m2, m1, m0
    assert all(m["bytes"] > 1000 for m in dry["removed"])
    assert len(registry.list_models()) == 7 and _audit_deletes(paths) == []

    result = prune_archived_models(paths, 2)
    assert sorted(m["model_id"] for m in result["removed"]) == sorted(ids[:3])
    assert result["archived"] == 5 and result["skipped"] == []
    assert [m["model_id"] for m in registry.list_models()] == ids[3:]
    for model in result["removed"]:
        assert not (paths.root / model["path"]).exists()
    for model_id in ids[3:]:
        assert registry.artifacts_present(model_id)
    deletes = _audit_deletes(paths)
    assert sorted(line.split(" | ")[2] for line in deletes) == sorted(ids[:3])
    assert all(line.endswith("artifacts=removed") for line in deletes)
    conn = sqlite3.connect(paths.registry_db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM registry_operations WHERE action = 'DELETE'").fetchone()[0] == 3
    finally:
        conn.close()
    assert registry.get_current_best()["model_id"] == ids[6] and registry.previous_best_id() == ids[5]


def test_keep_zero_removes_every_archived_model_but_never_the_best_two(paths, models):
    registry, ids = models
    summary = apply_retention(paths, config=RetentionConfig.model_validate({"artifacts": {"keep_archived": 0}}))
    assert len(summary["artifacts"]["removed"]) == 5
    assert [m["model_id"] for m in registry.list_models()] == ids[5:]
    assert registry.get_current_best()["model_id"] == ids[6] and registry.previous_best_id() == ids[5]


def test_null_keeps_every_archived_model(paths, models):
    registry, _ = models
    result = prune_archived_models(paths, None)
    assert result["removed"] == [] and len(registry.list_models()) == 7


def test_no_registry_no_work(paths):
    assert prune_archived_models(paths, 0) == {"keep_archived": 0, "archived": 0, "removed": [], "skipped": []}
