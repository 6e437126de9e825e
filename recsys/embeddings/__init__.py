"""Content embeddings: build, store, freshness, semantic drift, and the hybrid reranking math."""

from recsys.embeddings.aggregate import aggregate_reranking_metrics
from recsys.embeddings.config import RerankConfig, load_rerank_config
from recsys.embeddings.drift import detect_semantic_drift
from recsys.embeddings.drift_job import run_semantic_drift_check
from recsys.embeddings.embedder import Embedder, make_embedder
from recsys.embeddings.freshness import check_embedding_freshness, check_latest_freshness, freshness
from recsys.embeddings.index import EmbeddingIndex, load_latest_index
from recsys.embeddings.rerank import ListMetrics, RerankResult, content_fallback, list_metrics, rerank
from recsys.embeddings.store import EmbeddingSet, latest, list_versions, load_embeddings, previous, save_embeddings

__all__ = [
    "Embedder", "EmbeddingIndex", "EmbeddingSet", "ListMetrics", "RerankConfig", "RerankResult",
    "aggregate_reranking_metrics", "check_embedding_freshness", "check_latest_freshness", "content_fallback",
    "detect_semantic_drift", "freshness", "latest", "list_metrics", "list_versions", "load_embeddings",
    "load_latest_index", "load_rerank_config", "make_embedder", "previous", "rerank", "run_semantic_drift_check",
    "save_embeddings",
]
