"""The one small interface every embedding backend implements, and the factory that picks one."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from recsys.errors import EmbeddingError

BACKENDS = ("tfidf", "sentence-transformer")


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    name: str
    """Model name recorded in the embeddings metadata."""
    backend: str
    """Backend identifier (one of ``BACKENDS``)."""
    dim: int
    """Vector dimension (known after the first ``embed`` for backends fitted on their input)."""

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """``(len(texts), dim)`` float32, rows of unit length (an empty text may give a zero row)."""
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length as float32; all-zero rows stay zero instead of becoming NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64))
    safe = np.where(norms > 0, norms, 1.0)
    return (vectors / safe[:, None].astype(np.float32)).astype(np.float32, copy=False)


def make_embedder(backend: str = "tfidf", *, model: str | None = None, dim: int = 128, seed: int = 0) -> Embedder:
    """The embedder for ``backend``: ``tfidf`` (light, default) or ``sentence-transformer`` (``recsys[bert]``)."""
    if backend == "tfidf":
        from recsys.embeddings.tfidf import TfidfSvdEmbedder

        return TfidfSvdEmbedder(dim=dim, seed=seed)
    if backend == "sentence-transformer":
        from recsys.embeddings.transformer import DEFAULT_MODEL, SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(model or DEFAULT_MODEL)
    raise EmbeddingError(f"unknown embedding backend '{backend}'; choose one of {', '.join(BACKENDS)}")
