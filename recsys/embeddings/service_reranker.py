"""The service's ``Reranker`` seam, filled with the content embeddings (``rerank=true`` on /recommend)."""

from __future__ import annotations

import numpy as np

from recsys.embeddings.config import RerankConfig, load_rerank_config
from recsys.embeddings.index import EmbeddingIndex, load_latest_index
from recsys.embeddings.rerank import list_metrics, rerank
from recsys.paths import ProjectPaths
from recsys.service.rerank import RerankOutcome


class ContentReranker:
    """Blends CF, content similarity to the user's history and popularity; measures every list."""

    def __init__(self, index: EmbeddingIndex, config: RerankConfig | None = None):
        self.index = index
        self.config = config or RerankConfig()

    def rerank(self, product_ids: np.ndarray, scores: np.ndarray, history_ids: np.ndarray, k: int,
               popularity: np.ndarray) -> RerankOutcome:
        """The top ``k`` of the CF candidates after blending, with the list's content metrics."""
        result = rerank(product_ids, scores, history_ids, self.index, k=k, popularity=popularity,
                        config=self.config)
        metrics = list_metrics(result.product_ids, history_ids, self.index, max_history=self.config.max_history)
        return RerankOutcome(result.product_ids, result.scores, metrics.content_score, metrics.semantic_alignment,
                             metrics.diversity)

    def measure(self, product_ids: np.ndarray, history_ids: np.ndarray
                ) -> tuple[float | None, float | None, float | None]:
        """Content score, alignment and diversity of a CF-only list (so both groups can be compared)."""
        metrics = list_metrics(product_ids, history_ids, self.index, max_history=self.config.max_history)
        return metrics.content_score, metrics.semantic_alignment, metrics.diversity


def content_reranker_for(paths: ProjectPaths) -> ContentReranker | None:
    """A reranker over the project's newest embeddings and ``config/rerank.yaml``; None without embeddings."""
    index = load_latest_index(paths)
    if index is None:
        return None
    from recsys.config_files import config_file

    return ContentReranker(index, load_rerank_config(config_file(paths, "rerank.yaml")))
