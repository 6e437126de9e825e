"""The seam for content reranking: the service calls a ``Reranker`` if one is given, else serves CF order.

The embeddings package provides the implementation (PhoBERT vectors of the products); the
service only needs these two calls, so it neither imports nor depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class RerankOutcome:
    """The reranked list (best first) and the per-request quality figures stored in ``requests``."""

    product_ids: np.ndarray
    scores: np.ndarray
    content_score: float | None = None
    semantic_alignment: float | None = None
    diversity: float | None = None


@runtime_checkable
class Reranker(Protocol):
    """Reorders CF candidates by content and measures the diversity of a list."""

    def rerank(self, user_id: int, product_ids: np.ndarray, scores: np.ndarray, k: int) -> RerankOutcome:
        """Choose and order ``k`` of the candidates (``product_ids`` best first by CF ``scores``)."""
        ...

    def diversity(self, product_ids: np.ndarray) -> float | None:
        """Diversity of a list (e.g. 1 - mean pairwise cosine similarity), None if it cannot be computed."""
        ...
