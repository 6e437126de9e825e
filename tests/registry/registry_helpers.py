"""Helpers for registry tests (importable by spawned worker processes too)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recsys.paths import ProjectPaths


class FakeClock:
    """A clock that advances one second per call, from 2025-01-15 10:32:15 UTC."""

    def __init__(self, start: datetime = datetime(2025, 1, 15, 10, 32, 15, tzinfo=UTC)):
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def make_artifacts(paths: ProjectPaths, model_type: str, name: str, **metadata) -> Path:
    """An artifacts directory like the trainer's, holding only a metadata.json."""
    directory = paths.cf_artifacts / model_type / name
    directory.mkdir(parents=True)
    (directory / "metadata.json").write_text(json.dumps({"model_type": model_type, **metadata}))
    return directory


def metrics(ndcg: float, **extra: float) -> dict[str, float]:
    """The five metrics the trainer reports, with ``ndcg@10 = ndcg``."""
    return {"recall@10": ndcg * 1.5, "recall@20": ndcg * 2, "ndcg@10": ndcg, "ndcg@20": ndcg * 1.2,
            "coverage": 0.3, **extra}


def register_and_select_worker(root: str, worker: int, count: int, start, results) -> None:
    """Spawned worker: ``count`` times register a new model and select the best; report what changed."""
    import random

    from recsys.cf.registry import ModelRegistry

    paths = ProjectPaths.from_env(root)
    registry = ModelRegistry(paths=paths)
    rng = random.Random(worker)
    changed = 0
    start.wait()
    for index in range(count):
        model_type = ("als", "bpr")[index % 2]
        directory = make_artifacts(paths, model_type, f"v{worker * 1000 + index}_20250115_103000")
        registry.register_model(directory, model_type, {"worker": worker}, metrics(round(rng.random(), 6)))
        changed += registry.select_best_model()["changed"]
    results.put((worker, changed))
