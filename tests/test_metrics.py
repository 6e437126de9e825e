"""The metric math against hand-computed cases from the published definitions."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.cf.metrics import ranking_metrics, top_k_from_scores


def _relevant(rows, n_items):
    data, r, c = [], [], []
    for u, items in enumerate(rows):
        for i in items:
            r.append(u), c.append(i), data.append(1)
    return sp.csr_matrix((data, (r, c)), shape=(len(rows), n_items))


def test_hand_computed_recall_and_ndcg():
    # user 0: relevant {2}, hit at rank 2; user 1: relevant {0, 4}, hits at ranks 1 and 3
    top = np.array([[1, 2, 3], [0, 1, 4]])
    rel = _relevant([[2], [0, 4]], n_items=6)
    m = ranking_metrics(top, rel, n_items=6, ks=(1, 3))
    assert m["recall@1"] == pytest.approx((0 + 0.5) / 2)
    assert m["recall@3"] == pytest.approx((1 + 1) / 2)
    ndcg0 = (1 / math.log2(3)) / 1.0
    ndcg1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m["ndcg@3"] == pytest.approx((ndcg0 + ndcg1) / 2)
    assert m["ndcg@1"] == pytest.approx((0 + 1) / 2)
    assert m["coverage"] == pytest.approx(len({1, 2, 3, 0, 4}) / 6)


def test_users_without_relevant_items_are_not_averaged_in():
    top = np.array([[0, 1], [0, 1]])
    rel = _relevant([[0], []], n_items=3)
    assert ranking_metrics(top, rel, n_items=3, ks=(2,))["recall@2"] == 1.0


def test_top_k_excludes_seen_and_orders_best_first():
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    seen = sp.csr_matrix(np.array([[0, 1, 0, 0]]))
    assert top_k_from_scores(scores, 2, exclude=seen).tolist() == [[3, 2]]
