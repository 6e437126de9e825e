"""Scoring users against items in batches, the metrics of a factor model, and the popularity baseline."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.cf.metrics import DEFAULT_KS, ranking_metrics, top_k_from_scores

BATCH_USERS = 4096


def top_k_for_users(
    user_factors: np.ndarray, item_factors: np.ndarray, users: np.ndarray, k: int, exclude: sp.csr_matrix | None
) -> np.ndarray:
    """Top-``k`` item indices for ``users`` (rows of ``user_factors``), excluding ``exclude``'s items."""
    out = np.empty((len(users), min(k, item_factors.shape[0])), dtype=np.int64)
    for start in range(0, len(users), BATCH_USERS):
        batch = users[start : start + BATCH_USERS]
        scores = user_factors[batch] @ item_factors.T
        out[start : start + len(batch)] = top_k_from_scores(scores, k, exclude[batch] if exclude is not None else None)
    return out


def evaluate_factors(
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    relevant: sp.csr_matrix,
    exclude: sp.csr_matrix | None,
    ks: tuple[int, ...] = DEFAULT_KS,
) -> dict[str, float]:
    """Ranking metrics of a factor model on ``relevant`` (users × items), evaluating only users that have any."""
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    top = top_k_for_users(user_factors, item_factors, users, max(ks), exclude)
    return ranking_metrics(top, relevant[users], n_items=item_factors.shape[0], ks=ks)


def popularity_scores(fit: sp.csr_matrix) -> np.ndarray:
    """Item popularity (number of users with a positive) as a score vector."""
    return np.asarray(fit.sum(axis=0)).ravel().astype(np.float32)


def evaluate_popularity(
    fit: sp.csr_matrix, relevant: sp.csr_matrix, exclude: sp.csr_matrix | None, ks: tuple[int, ...] = DEFAULT_KS
) -> dict[str, float]:
    """The same metrics for "recommend the most popular unseen items" — the baseline every model must beat."""
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    popularity = popularity_scores(fit)
    top = np.empty((len(users), min(max(ks), len(popularity))), dtype=np.int64)
    for start in range(0, len(users), BATCH_USERS):
        batch = users[start : start + BATCH_USERS]
        scores = np.broadcast_to(popularity, (len(batch), len(popularity)))
        top[start : start + len(batch)] = top_k_from_scores(
            scores, max(ks), exclude[batch] if exclude is not None else None
        )
    return ranking_metrics(top, relevant[users], n_items=len(popularity), ks=ks)


def improvement_pct(value: float, baseline: float) -> float | None:
    """Relative improvement of ``value`` over ``baseline`` in percent (None when the baseline is 0)."""
    if not baseline:
        return None
    return (value / baseline - 1.0) * 100.0
