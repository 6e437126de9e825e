"""The seam for content reranking: the service calls a ``Reranker`` if one is given, else serves CF order.

The embeddings package provides the math (``recsys.embeddings.rerank`` / ``list_metrics`` over an
``EmbeddingIndex``); an adapter with these two methods plugs it in through
``create_app(..., reranker=...)``. The service neither imports nor depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class RerankOutcome:
    """The reranked list (best first) and its per-request quality figures stored in ``requests``."""

    product_ids: np.ndarray
    scores: np.ndarray
    content_score: float | None = None
    semantic_alignment: float | None = None
    diversity: float | None = None


@runtime_checkable
class Reranker(Protocol):
    """Reorders CF candidates by content and measures a recommended list."""

    def rerank(self, product_ids: np.ndarray, scores: np.ndarray, history_ids: np.ndarray, k: int,
               popularity: np.ndarray) -> RerankOutcome:
        """Choose and order ``k`` candidates (``product_ids`` best first by CF ``scores``; ``popularity``
        aligned with them) for a user who interacted with ``history_ids``."""
        ...

    def measure(self, product_ids: np.ndarray, history_ids: np.ndarray
                ) -> tuple[float | None, float | None, float | None]:
        """(content_score, semantic_alignment, diversity) of a list served without reranking."""
        ...
