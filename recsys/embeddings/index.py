"""Product id → row of unit-length embeddings, built once and looked up vectorised on the request path."""

from __future__ import annotations

import numpy as np

from recsys.embeddings.embedder import l2_normalise
from recsys.embeddings.store import EmbeddingSet, latest, load_embeddings
from recsys.errors import EmbeddingError
from recsys.paths import ProjectPaths


class EmbeddingIndex:
    """Unit-length embeddings (float32) with an id lookup by binary search over the sorted ids."""

    def __init__(self, embeddings: np.ndarray, product_ids, *, metadata: dict | None = None):
        product_ids = np.asarray(product_ids, dtype=np.int64)
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or len(product_ids) != embeddings.shape[0]:
            raise EmbeddingError(f"{len(product_ids)} product ids for embeddings of shape {embeddings.shape}")
        order = np.argsort(product_ids, kind="stable")
        self._sorted_ids = product_ids[order]
        if len(self._sorted_ids) > 1 and (np.diff(self._sorted_ids) == 0).any():
            raise EmbeddingError("duplicate product ids in the embedding index")
        self._row_of_sorted = order
        self.vectors = l2_normalise(embeddings)
        self.product_ids = product_ids
        self.metadata = metadata or {}

    @classmethod
    def from_set(cls, embedding_set: EmbeddingSet) -> EmbeddingIndex:
        """The index of a loaded embeddings version."""
        return cls(embedding_set.embeddings, embedding_set.product_ids, metadata=embedding_set.metadata)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def rows(self, product_ids) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, found)``: the row of each id and whether the index has it (rows of missing ids are 0)."""
        ids = np.asarray(product_ids, dtype=np.int64).ravel()
        if not len(self._sorted_ids) or not len(ids):
            return np.zeros(len(ids), dtype=np.intp), np.zeros(len(ids), dtype=bool)
        pos = np.searchsorted(self._sorted_ids, ids)
        pos = np.minimum(pos, len(self._sorted_ids) - 1)
        found = self._sorted_ids[pos] == ids
        return np.where(found, self._row_of_sorted[pos], 0), found

    def lookup(self, product_ids) -> np.ndarray:
        """Unit vectors of the ids the index has (missing ids are skipped), in the given order."""
        rows, found = self.rows(product_ids)
        return self.vectors[rows[found]]


def load_latest_index(paths: ProjectPaths) -> EmbeddingIndex | None:
    """The index of the newest embeddings version, or None when none has been built."""
    newest = latest(paths)
    return EmbeddingIndex.from_set(load_embeddings(newest)) if newest is not None else None
