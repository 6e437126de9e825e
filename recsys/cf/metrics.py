"""Ranking metrics for top-k recommendation, as pure vectorised functions.

Definitions (Järvelin & Kekäläinen for nDCG, binary relevance; the usual recall):
- recall@k = |top-k ∩ relevant| / |relevant|
- nDCG@k   = DCG@k / IDCG@k, DCG@k = Σ_{hits at rank r (1-based)} 1 / log2(r + 1),
             IDCG@k = Σ_{r=1}^{min(k, |relevant|)} 1 / log2(r + 1)
- coverage = distinct items in all users' top-k / number of items in the catalogue
Each metric is the mean over the evaluated users (users with at least one relevant item).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

DEFAULT_KS = (10, 20)


def top_k_from_scores(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the ``k`` highest scores per row, best first; ``exclude`` (same shape) masks items out."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    if exclude is not None and exclude.nnz:
        rows = np.repeat(np.arange(exclude.shape[0]), np.diff(exclude.indptr))
        scores[rows, exclude.indices] = -np.inf
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def hits_matrix(top_items: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """Boolean (users × k): whether each recommended item is relevant for that user."""
    rel = relevant.tocsr()
    rows = np.repeat(np.arange(top_items.shape[0]), top_items.shape[1])
    flags = np.asarray(rel[rows, top_items.ravel()]).ravel() > 0
    return flags.reshape(top_items.shape)


def ranking_metrics(
    top_items: np.ndarray, relevant: sp.csr_matrix, n_items: int, ks: tuple[int, ...] = DEFAULT_KS
) -> dict[str, float]:
    """recall@k, ndcg@k for each k, and coverage@max(k), over users that have a relevant item."""
    n_relevant = np.diff(relevant.tocsr().indptr)
    users = np.flatnonzero(n_relevant > 0)
    result: dict[str, float] = {}
    if len(users) == 0:
        for k in ks:
            result[f"recall@{k}"] = 0.0
            result[f"ndcg@{k}"] = 0.0
        result["coverage"] = 0.0
        return result
    top = top_items[users]
    hits = hits_matrix(top, relevant[users])
    n_rel = n_relevant[users]
    discounts = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    ideal_cumulative = np.cumsum(discounts)
    for k in ks:
        kk = min(k, top.shape[1])
        hit_k = hits[:, :kk]
        result[f"recall@{k}"] = float(np.mean(hit_k.sum(axis=1) / n_rel))
        dcg = hit_k @ discounts[:kk]
        idcg = ideal_cumulative[np.minimum(n_rel, kk) - 1]
        result[f"ndcg@{k}"] = float(np.mean(dcg / idcg))
    result["coverage"] = float(len(np.unique(top[:, : max(ks)])) / n_items) if n_items else 0.0
    return result
