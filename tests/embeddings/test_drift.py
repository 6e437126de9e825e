"""Semantic drift: pairing by id, exact drifted products, zero vectors, O(N) memory, and the stored job."""

from __future__ import annotations

import json
import sqlite3
import time
import tracemalloc
from datetime import UTC, datetime

import numpy as np
import pytest

from recsys.embeddings.drift import detect_semantic_drift, row_cosine
from recsys.embeddings.drift_job import run_semantic_drift_check
from recsys.embeddings.store import save_embeddings
from recsys.errors import EmbeddingError

SPEC_KEYS = {"drift_detected", "mean_similarity", "std_similarity", "min_similarity", "num_drifted",
             "drifted_products", "recommendation"}


def _unit_rows(n, dim, seed=0):
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_identical_embeddings_show_no_drift():
    vectors = _unit_rows(200, 32)
    result = detect_semantic_drift(vectors, vectors.copy(), list(range(200)))
    assert SPEC_KEYS <= result.keys()
    assert result["drift_detected"] is False and result["num_drifted"] == 0 and result["drifted_products"] == []
    assert result["mean_similarity"] == pytest.approx(1.0, abs=1e-6)
    assert result["std_similarity"] == pytest.approx(0.0, abs=1e-6)
    assert result["recommendation"] == "No action"
    json.dumps(result)  # plain Python values, storable as JSON


def test_perturbed_subset_is_reported_exactly():
    rng = np.random.default_rng(1)
    old = _unit_rows(300, 48)
    new = old * 3.0  # scaling changes nothing for cosine
    ids = np.arange(5000, 5300)
    moved = np.array([4, 17, 150, 299])
    new[moved] = rng.normal(size=(len(moved), 48))
    small = np.array([60, 61])  # a tiny nudge stays above the threshold
    new[small] += 0.01 * rng.normal(size=(2, 48))
    result = detect_semantic_drift(old, new, ids, threshold=0.95)
    assert result["num_drifted"] == len(moved)
    assert sorted(result["drifted_products"]) == sorted(ids[moved].tolist())
    # Lowest first, and the similarities match a direct computation.
    direct = {int(ids[i]): float(old[i] @ new[i] / np.linalg.norm(new[i])) for i in moved}
    assert result["lowest_similarities"] == sorted(result["lowest_similarities"])
    for product, sim in zip(result["drifted_products"], result["lowest_similarities"], strict=True):
        assert sim == pytest.approx(direct[product], abs=1e-5)
    assert result["drift_detected"] is False  # 4 of 300 do not move the mean below 0.95


def test_only_ten_lowest_are_listed_and_mean_decides():
    old = _unit_rows(100, 16)
    new = _unit_rows(100, 16, seed=9)  # unrelated vectors: everything drifted
    result = detect_semantic_drift(old, new, np.arange(100))
    sims = row_cosine(old, new)
    assert result["drift_detected"] is True and result["recommendation"] == "Regenerate embeddings"
    assert result["num_drifted"] == int((sims < 0.95).sum())
    assert result["drifted_products"] == np.argsort(sims)[:10].tolist()


def test_misaligned_ids_are_paired_by_product():
    old = _unit_rows(6, 8)
    old_ids = np.array([1, 2, 3, 4, 5, 6])
    # New version: reordered, product 1 and 2 removed, 7 and 8 added, product 5 changed.
    new_ids = np.array([8, 6, 5, 4, 3, 7])
    new = np.stack([_unit_rows(1, 8, 20)[0], old[5], -old[4], old[3], old[2], _unit_rows(1, 8, 21)[0]])
    result = detect_semantic_drift(old, new, None, old_ids=old_ids, new_ids=new_ids)
    assert result["n_compared"] == 4
    assert result["added_products"] == {"count": 2, "examples": [7, 8]}
    assert result["removed_products"] == {"count": 2, "examples": [1, 2]}
    assert result["drifted_products"] == [5] and result["min_similarity"] == pytest.approx(-1.0, abs=1e-6)
    # Without ids the row counts match but rows are other products: misreported drift, which is why ids matter.
    assert detect_semantic_drift(old, new, old_ids)["num_drifted"] > 1


def test_no_common_products_is_not_a_crash():
    result = detect_semantic_drift(_unit_rows(3, 4), _unit_rows(2, 4), old_ids=[1, 2, 3], new_ids=[7, 8])
    assert result["n_compared"] == 0 and result["drift_detected"] is False and result["mean_similarity"] is None


def test_zero_vectors():
    old = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 0], [0, 2, 0]], dtype=np.float32)
    new = np.array([[0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 1, 0]], dtype=np.float32)
    sims = row_cosine(old, new)
    np.testing.assert_allclose(sims, [1.0, 0.0, 0.0, 1.0])
    result = detect_semantic_drift(old, new, [10, 11, 12, 13])
    assert sorted(result["drifted_products"]) == [11, 12]
    assert not np.isnan(result["mean_similarity"])


def test_bad_inputs_are_named():
    with pytest.raises(EmbeddingError, match="different dimensions: old 4, new 5"):
        detect_semantic_drift(np.ones((2, 4)), np.ones((2, 5)), [1, 2])
    with pytest.raises(EmbeddingError, match="pass old_ids and new_ids"):
        detect_semantic_drift(np.ones((2, 4)), np.ones((3, 4)), [1, 2])
    with pytest.raises(EmbeddingError, match="duplicate"):
        detect_semantic_drift(np.ones((2, 4)), np.ones((2, 4)), old_ids=[1, 1], new_ids=[1, 2])
    with pytest.raises(EmbeddingError, match="NaN"):
        detect_semantic_drift(np.full((2, 4), np.nan), np.ones((2, 4)), [1, 2])


def test_large_input_never_builds_the_n_by_n_matrix():
    n, dim = 50_000, 64
    old = _unit_rows(n, dim)
    new = old.copy()
    new[::1000] = _unit_rows(n // 1000, dim, seed=5)
    tracemalloc.start()
    started = time.perf_counter()
    result = detect_semantic_drift(old, new, np.arange(n))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result["num_drifted"] == n // 1000
    # N×N float32 would be 10 GB; row-wise chunks stay within a few input sizes (12.8 MB each).
    assert peak < 40e6, f"peak {peak / 1e6:.1f} MB"
    assert elapsed < 5.0


def test_procrustes_alignment_ignores_a_rotated_basis_but_not_real_change():
    rng = np.random.default_rng(3)
    old = _unit_rows(400, 16)
    rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    new = (old @ rotation).astype(np.float32)
    new[[5, 6]] = _unit_rows(2, 16, seed=11)
    raw = detect_semantic_drift(old, new, np.arange(400))
    aligned = detect_semantic_drift(old, new, np.arange(400), align="procrustes")
    assert raw["drift_detected"] is True
    assert aligned["drift_detected"] is False and sorted(aligned["drifted_products"]) == [5, 6]
    assert aligned["aligned"] == "procrustes"


class Recorder:
    def __init__(self):
        self.sent = []

    def __call__(self, subject, message, severity):
        self.sent.append((subject, message, severity))


def _rows(paths):
    conn = sqlite3.connect(paths.monitor_db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM drift_checks ORDER BY id")]
    finally:
        conn.close()


def test_job_compares_newest_with_previous_stores_and_alerts(paths):
    now = datetime(2025, 2, 1, 3, 0, tzinfo=UTC)
    notifier = Recorder()
    assert run_semantic_drift_check(paths, notifier=notifier)["status"] == "skipped"
    old = _unit_rows(50, 8)
    save_embeddings(paths, old, np.arange(50), model="phobert", backend="sentence-transformer", data_version="d1")
    save_embeddings(paths, old, np.arange(50), model="phobert", backend="sentence-transformer", data_version="d2")
    ok = run_semantic_drift_check(paths, notifier=notifier, now=now)
    assert ok["status"] == "ok" and notifier.sent == []
    changed = old.copy()
    changed[:30] = _unit_rows(30, 8, seed=4)
    save_embeddings(paths, changed, np.arange(5, 55), model="phobert", backend="sentence-transformer",
                    data_version="d3")
    drift = run_semantic_drift_check(paths, notifier=notifier, now=now)
    assert drift["status"] == "drift" and drift["added_products"]["count"] == 5
    [(subject, message, severity)] = notifier.sent
    assert severity == "warning" and "Drift" in subject and "emb_v2" in message and "emb_v3" in message
    rows = _rows(paths)
    assert [r["status"] for r in rows] == ["ok", "drift"]
    last = rows[-1]
    assert last["check_type"] == "semantic" and last["drift_detected"] == 1 and last["data_version"] == "d3"
    assert last["timestamp"] == "2025-02-01 03:00:00.000000"
    assert last["statistic"] == pytest.approx(drift["mean_similarity"])
    assert last["effect_size"] == pytest.approx(drift["num_drifted"] / 45)
    assert (last["n_historical"], last["n_recent"]) == (50, 50)
    assert json.loads(last["details"])["removed_products"]["count"] == 5


def test_job_reports_a_model_change_of_dimension(paths):
    save_embeddings(paths, _unit_rows(10, 8), np.arange(10), model="a", backend="tfidf")
    save_embeddings(paths, _unit_rows(10, 4), np.arange(10), model="a", backend="tfidf")
    notifier = Recorder()
    result = run_semantic_drift_check(paths, notifier=notifier)
    assert result["status"] == "incomparable" and "dim 8 → 4" in result["recommendation"]
    assert len(notifier.sent) == 1 and _rows(paths)[0]["status"] == "incomparable"
