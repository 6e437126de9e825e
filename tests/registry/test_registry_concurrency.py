"""Several processes registering and selecting at once: no lost model, no broken file, one line per change."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3

from registry_helpers import register_and_select_worker

from recsys.cf.registry import ModelRegistry

WORKERS, PER_WORKER = 4, 50


def test_four_processes_register_and_select_at_once(paths):
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(WORKERS + 1), context.Queue()
    processes = [context.Process(target=register_and_select_worker,
                                 args=(str(paths.root), worker, PER_WORKER, start, results))
                 for worker in range(WORKERS)]
    for process in processes:
        process.start()
    start.wait(timeout=60)
    reader = ModelRegistry(paths=paths)
    reads = 0
    while any(process.is_alive() for process in processes):
        reader.list_models()  # a reader must never see a half-written file (would raise RegistryCorruptError)
        reads += 1
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    changes = sum(results.get(timeout=5)[1] for _ in processes)

    document = json.loads(paths.registry_file.read_text())
    assert len(document["models"]) == WORKERS * PER_WORKER
    best_id = max(document["models"], key=lambda mid: document["models"][mid]["metrics"]["ndcg@10"])
    assert document["current_best"]["model_id"] == best_id  # the last selection saw every model
    assert len(document["best_history"]) == changes

    operations = WORKERS * PER_WORKER + changes  # registers + selections that changed the best
    lines = paths.registry_audit_log.read_text().splitlines()
    assert len(lines) == operations
    assert sum(" | REGISTER | " in line for line in lines) == WORKERS * PER_WORKER
    assert [line[:19] for line in lines] == sorted(line[:19] for line in lines)  # written in lock order
    conn = sqlite3.connect(paths.registry_db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM registry_operations").fetchone()[0] == operations
        assert conn.execute("SELECT COUNT(*) FROM model_versions").fetchone()[0] == WORKERS * PER_WORKER
        assert conn.execute("SELECT model_id FROM model_versions WHERE is_current_best = 1").fetchall() == [
            (best_id,)]
    finally:
        conn.close()
    assert reads > 0


def test_threads_sharing_one_registry(paths, registry):
    from concurrent.futures import ThreadPoolExecutor

    from registry_helpers import make_artifacts, metrics

    def work(index: int) -> None:
        directory = make_artifacts(paths, "als", f"v{index}_20250115_103000")
        registry.register_model(directory, "als", {}, metrics(index / 100))
        registry.select_best_model()

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(work, range(40)))
    assert len(registry.list_models()) == 40
    assert registry.get_current_best()["model_id"] == "als_v39_20250115_103000"
    assert sum(" | REGISTER | " in line for line in paths.registry_audit_log.read_text().splitlines()) == 40
