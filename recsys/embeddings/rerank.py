"""Hybrid reranking and per-list content metrics: pure, vectorised functions the service calls per request.

Definitions (all on unit-length embeddings, so a dot product is a cosine):
- content similarity of an item = its highest cosine with any of the user's history items (the
  nearest thing the user already chose; a mean profile would blur users with several interests);
- ``content_score`` of a list = mean content similarity of its items;
- ``semantic_alignment`` = cosine between the mean embedding of the list and that of the history;
- ``diversity`` = 1 − mean pairwise cosine among the list's items (intra-list diversity).
Items without an embedding are left out of the metrics; a metric that cannot be computed (no
history with embeddings, fewer than two items for diversity) is None, never 0, so averages over
requests are not pulled towards 0 by requests where the metric does not exist.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from recsys.embeddings.config import RerankConfig
from recsys.embeddings.index import EmbeddingIndex

_DEFAULT = RerankConfig()


@dataclass(frozen=True)
class RerankResult:
    """Top-k after reranking, best first, with each item's blended, CF and content scores."""

    product_ids: np.ndarray
    scores: np.ndarray
    cf_scores: np.ndarray
    content_scores: np.ndarray
    """Raw content similarity (cosine, −1..1); NaN where the item or the history has no embedding."""


@dataclass(frozen=True)
class ListMetrics:
    """Content metrics of one recommended list (None where undefined)."""

    content_score: float | None
    semantic_alignment: float | None
    diversity: float | None

    def as_dict(self) -> dict:
        """The metrics as the ``requests`` columns of the same names."""
        return asdict(self)


def _recent(history_ids, max_history: int) -> np.ndarray:
    history = np.asarray(history_ids, dtype=np.int64).ravel()
    return history[-max_history:]


def content_similarity(candidate_ids, history_ids, index: EmbeddingIndex, *, max_history: int = 50) -> np.ndarray:
    """Highest cosine of each candidate with the last ``max_history`` history items; NaN where undefined."""
    candidate_ids = np.asarray(candidate_ids, dtype=np.int64).ravel()
    out = np.full(len(candidate_ids), np.nan)
    history = index.lookup(_recent(history_ids, max_history))
    rows, found = index.rows(candidate_ids)
    if len(history) and found.any():
        out[found] = (index.vectors[rows[found]] @ history.T).max(axis=1)
    return out


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to 0..1 over the finite values; NaN → 0; a constant signal → all 0 (it cannot reorder anything)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    out = np.zeros(len(values))
    if not finite.any():
        return out
    low, high = values[finite].min(), values[finite].max()
    if high - low <= 1e-12:
        return out
    out[finite] = (values[finite] - low) / (high - low)
    return out


def rerank(candidate_ids, cf_scores, history_ids, index: EmbeddingIndex, *, k: int, popularity=None,
           config: RerankConfig = _DEFAULT) -> RerankResult:
    """Blend CF score, content similarity to the history and popularity; return the top ``k`` candidates.

    ``candidate_ids``/``cf_scores`` are the CF candidates (any order); ``popularity`` holds each
    candidate's interaction count (aligned with the candidates; log-scaled here because counts are
    heavy-tailed). Each signal is min-max normalised over the candidates, then weighted by ``config``.
    Ties keep the candidates' order.
    """
    candidate_ids = np.asarray(candidate_ids, dtype=np.int64).ravel()
    cf_scores = np.asarray(cf_scores, dtype=np.float64).ravel()
    if len(cf_scores) != len(candidate_ids):
        raise ValueError(f"{len(cf_scores)} CF scores for {len(candidate_ids)} candidates")
    w_cf, w_content, w_pop = config.weights
    content = content_similarity(candidate_ids, history_ids, index, max_history=config.max_history)
    blended = w_cf * minmax(cf_scores) + w_content * minmax(content)
    if popularity is not None and w_pop > 0:
        counts = np.asarray(popularity, dtype=np.float64).ravel()
        if len(counts) != len(candidate_ids):
            raise ValueError(f"{len(counts)} popularity values for {len(candidate_ids)} candidates")
        blended += w_pop * minmax(np.log1p(np.maximum(counts, 0)))
    order = np.argsort(-blended, kind="stable")[:k]
    return RerankResult(candidate_ids[order], blended[order], cf_scores[order], content[order])


def list_metrics(recommended_ids, history_ids, index: EmbeddingIndex, *, max_history: int = 50) -> ListMetrics:
    """``content_score``, ``semantic_alignment`` and ``diversity`` of a recommended list (module docstring)."""
    items = index.lookup(recommended_ids)
    history = index.lookup(_recent(history_ids, max_history))
    content_score = alignment = diversity = None
    if len(items) and len(history):
        content_score = float((items @ history.T).max(axis=1).mean())
        mean_items, mean_history = items.mean(axis=0), history.mean(axis=0)
        norms = float(np.linalg.norm(mean_items) * np.linalg.norm(mean_history))
        alignment = float(mean_items @ mean_history / norms) if norms > 0 else 0.0
    count = len(items)
    if count >= 2:
        # Sum of all pairwise cosines from the sum vector: |Σx|² = Σ|x|² + 2·Σ_{i<j} x_i·x_j; O(n·dim), no n×n.
        total = items.sum(axis=0, dtype=np.float64)
        squares = float(np.einsum("ij,ij->", items, items, dtype=np.float64))
        mean_pairwise = (float(total @ total) - squares) / (count * (count - 1))
        diversity = 1.0 - mean_pairwise
    return ListMetrics(content_score, alignment, diversity)


def content_fallback(history_ids, index: EmbeddingIndex, k: int, exclude=None, *, allowed_ids=None,
                     max_history: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` products by cosine with the user's profile (normalised mean of the history embeddings).

    For users with too little history for CF. History items and ``exclude`` are never returned;
    ``allowed_ids`` (e.g. the products passing the request's filters) restricts the choice. Returns
    ``(product_ids, scores)``, empty when no history item has an embedding.
    """
    history_ids = _recent(history_ids, max_history)
    history = index.lookup(history_ids)
    empty = np.array([], dtype=np.int64), np.array([], dtype=np.float64)
    if not len(history):
        return empty
    profile = history.mean(axis=0)
    norm = np.linalg.norm(profile)
    if norm == 0:
        return empty
    if allowed_ids is None:
        candidate_rows = np.arange(len(index))
    else:
        rows, found = index.rows(allowed_ids)
        candidate_rows = rows[found]
    scores = (index.vectors[candidate_rows] @ (profile / norm)).astype(np.float64)
    blocked = history_ids if exclude is None else np.concatenate([history_ids, np.asarray(exclude, dtype=np.int64)])
    blocked_rows, found = index.rows(blocked)
    scores[np.isin(candidate_rows, blocked_rows[found])] = -np.inf
    take = min(k, int(np.isfinite(scores).sum()))
    if take <= 0:
        return empty
    top = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")][:take]
    return index.product_ids[candidate_rows[top]], scores[top]
