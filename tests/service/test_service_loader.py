"""ModelLoader: loads the current best, hot-reloads on registry changes, survives broken models."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest

from recsys.cf.artifacts import MODEL_FILE
from recsys.cf.registry import ModelLoader, ModelRegistry, log_loader_stats
from recsys.testing.service import USER_BASE, register, save_tiny_model


class Lines(logging.Handler):
    """Collects formatted log messages."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level: int | None = None) -> list[str]:
        return [r.getMessage() for r in self.records if level is None or r.levelno == level]


@pytest.fixture
def lines():
    return Lines()


def make_loader(paths, lines, **kwargs) -> ModelLoader:
    logger = logging.getLogger(f"test.loader.{id(lines)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(lines)
    return ModelLoader(paths=paths, watch_interval=0, logger=logger, **kwargs)


def events(paths) -> list[tuple]:
    conn = sqlite3.connect(paths.service_db)
    try:
        return conn.execute("SELECT trigger, old_model_id, new_model_id, status, error FROM model_reload_events "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def test_start_loads_current_best_and_reports(project, lines):
    paths, model_id = project
    loader = make_loader(paths, lines).start()
    model, cache_hit, triggered = loader.acquire()
    assert model.model_id == model_id and cache_hit and not triggered
    info = loader.get_model_info()
    assert {"model_id", "version", "type", "metrics", "loaded_at"} <= info.keys()
    assert info["model_id"] == model_id and info["version"] == "v1" and info["type"] == "als"
    assert info["metrics"]["ndcg@10"] == 0.2
    stats = loader.get_stats()
    for key in ("total_loads", "cache_hits", "cache_misses", "cache_hit_rate", "reload_count", "last_load_time_ms",
                "last_reload_at"):
        assert key in stats
    assert stats["total_loads"] == 1 and stats["reload_count"] == 0 and stats["last_load_time_ms"] > 0
    assert events(paths) == [("startup", None, model_id, "ok", None)]
    assert any(m.startswith("Model loaded | model_id=" + model_id) for m in lines.messages(logging.INFO))


def test_registry_change_swaps_model_and_keeps_old_reference_valid(project, data, lines):
    paths, first = project
    loader = make_loader(paths, lines).start()
    held = loader.get_model()
    assert loader.check_for_update() is None  # nothing changed
    second = register(paths, save_tiny_model(paths, data, seed=7), 0.5)
    event = loader.check_for_update()
    assert event.status == "ok" and event.changed and (event.old_model_id, event.new_model_id) == (first, second)
    model, _, triggered = loader.acquire()
    assert model.model_id == second and triggered
    assert loader.acquire()[2] is False  # only the first request after the swap is marked
    # A request that held the old model still computes on it.
    assert held.model_id == first and held.recommend(USER_BASE, 5).product_ids.size == 5
    assert loader.get_stats()["reload_count"] == 1 and loader.get_stats()["last_reload_at"] is not None
    assert f"Model reloaded | old={first}, new={second}" in " ".join(lines.messages())


def test_registering_without_selecting_does_not_reload(project, data, lines):
    paths, first = project
    loader = make_loader(paths, lines).start()
    register(paths, save_tiny_model(paths, data, seed=3), 0.9, select=False)
    event = loader.check_for_update()
    assert event.status == "unchanged" and loader.current.model_id == first
    assert len(events(paths)) == 1  # an unchanged look is not an event


def test_broken_new_model_keeps_old_and_records_error(project, data, lines):
    paths, first = project
    loader = make_loader(paths, lines).start()
    directory = save_tiny_model(paths, data, seed=9)
    (directory / MODEL_FILE).write_bytes(b"not a zip file")
    broken = register(paths, directory, 0.9)
    event = loader.check_for_update()
    assert event.status == "failed" and event.new_model_id == broken and "ArtifactError" in event.error
    assert loader.current.model_id == first and loader.acquire()[0].recommend(USER_BASE, 3).product_ids.size == 3
    assert events(paths)[-1][:4] == ("watch", first, broken, "failed")
    assert loader.get_stats()["reload_failures"] == 1
    assert any("Model reload failed" in m and broken in m for m in lines.messages(logging.ERROR))
    # Not retried every poll; retried once the registry changes again, and fixed artifacts then load.
    assert loader.check_for_update() is None
    fixed = save_tiny_model(paths, data, seed=9)
    (directory / MODEL_FILE).write_bytes((fixed / MODEL_FILE).read_bytes())
    ModelRegistry(paths=paths).record_operation("TOUCH", None)  # registry.json unchanged: no reload yet
    assert loader.check_for_update() is None
    loader.retry_failed_after = 0.0
    event = loader.check_for_update()
    assert event.trigger == "retry" and event.status == "ok" and loader.current.model_id == broken


def test_corrupt_registry_keeps_serving(project, lines):
    paths, first = project
    loader = make_loader(paths, lines).start()
    paths.registry_file.write_text("{ not json", encoding="utf-8")
    event = loader.check_for_update()
    assert event.status == "failed" and "RegistryCorruptError" in event.error
    assert loader.current.model_id == first
    assert events(paths)[-1][3] == "failed"


def test_registry_losing_its_best_keeps_trained_model(project, lines):
    paths, first = project
    loader = make_loader(paths, lines).start()
    document = json.loads(paths.registry_file.read_text())
    document["current_best"] = None
    paths.registry_file.write_text(json.dumps(document))
    assert loader.check_for_update().status == "failed"
    assert loader.current.model_id == first


def test_no_model_serves_catalogue_then_picks_up_first_model(paths, data, lines):
    from recsys.testing.service import write_products

    write_products(paths, data.item_ids)
    loader = make_loader(paths, lines).start()
    assert loader.current.artifacts is None and loader.current.model_id is None
    first = register(paths, save_tiny_model(paths, data), 0.2)
    assert loader.check_for_update().status == "ok" and loader.current.model_id == first


def test_nothing_at_all_is_a_recorded_failure(paths, lines):
    loader = make_loader(paths, lines).start()
    assert loader.current is None and loader.acquire() == (None, False, False)
    assert events(paths)[-1][3] == "failed"


def test_rollback_is_a_cache_hit(project, data, lines):
    paths, first = project
    loader = make_loader(paths, lines).start()
    register(paths, save_tiny_model(paths, data, seed=5), 0.6)
    loader.check_for_update()
    loads = loader.get_stats()["total_loads"]
    ModelRegistry(paths=paths).rollback()
    event = loader.reload("rollback")
    assert event.status == "ok" and event.cache_hit and loader.current.model_id == first
    assert loader.get_stats()["total_loads"] == loads


def test_watcher_thread_reloads_in_background(project, data, lines):
    import time

    paths, first = project
    loader = make_loader(paths, lines)
    loader.watch_interval = 0.05
    loader.start()
    try:
        second = register(paths, save_tiny_model(paths, data, seed=4), 0.7)
        deadline = time.monotonic() + 10
        while loader.current.model_id != second and time.monotonic() < deadline:
            time.sleep(0.02)
        assert loader.current.model_id == second
        assert loader.get_stats()["watching"]
    finally:
        loader.stop()
    assert not loader.get_stats()["watching"]


def test_log_loader_stats_writes_spec_row(project, lines):
    from datetime import UTC, datetime

    paths, model_id = project
    loader = make_loader(paths, lines).start()
    loader.acquire()
    row = log_loader_stats(loader, now=datetime(2025, 1, 15, 10, 30, tzinfo=UTC))
    conn = sqlite3.connect(paths.service_db)
    stored = conn.execute("SELECT timestamp, model_id, total_loads, cache_hits, cache_misses, cache_hit_rate, "
                          "reload_count FROM model_loader_stats").fetchall()
    conn.close()
    assert stored == [("2025-01-15 10:30:00.000000", model_id, 1, row["cache_hits"], row["cache_misses"],
                       row["cache_hit_rate"], 0)]
    assert row["cache_hits"] == 1 and row["cache_misses"] == 1 and row["cache_hit_rate"] == 0.5
