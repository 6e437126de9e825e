"""Semantic drift between two embedding versions: row-wise cosine similarity of each product with itself.

The spec computes ``np.diag(old @ new.T)``: an N×N matrix (40 GB at 100k products) to read its N
diagonal numbers. Here each product's cosine is a row-wise dot product, computed in chunks, so memory
is O(N) for the result plus O(chunk × dim) of scratch.

Zero vectors (a product with no text) have no direction. Decision: two zero vectors count as
identical (similarity 1, nothing changed); a zero vector against a non-zero one counts as
similarity 0 (the product gained or lost all content).
"""

from __future__ import annotations

import numpy as np

from recsys.errors import EmbeddingError

DEFAULT_THRESHOLD = 0.95
TOP_DRIFTED = 10
EXAMPLES = 10
CHUNK_ROWS = 4096


def _rows(array: np.ndarray, index: np.ndarray | None, start: int, stop: int) -> np.ndarray:
    block = array[start:stop] if index is None else array[index[start:stop]]
    return np.asarray(block, dtype=np.float32)


def _unit(block: np.ndarray) -> np.ndarray:
    norms = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64)).astype(np.float32)
    return block / np.where(norms > 0, norms, 1)[:, None]


def procrustes_rotation(old: np.ndarray, new: np.ndarray, *, old_index: np.ndarray | None = None,
                        new_index: np.ndarray | None = None, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """The orthogonal ``R`` (dim×dim) minimising ``‖unit(old) R − unit(new)‖`` over the paired rows.

    A model fitted per build (TF-IDF + SVD) has an arbitrary basis; a rotation keeps every cosine
    between products of one version, so aligning with it removes only the basis, not real change.
    """
    count = len(old_index) if old_index is not None else old.shape[0]
    dim = old.shape[1]
    cross = np.zeros((dim, dim), dtype=np.float64)
    for start in range(0, count, chunk_rows):
        stop = min(start + chunk_rows, count)
        cross += _unit(_rows(old, old_index, start, stop)).T.astype(np.float64) @ \
            _unit(_rows(new, new_index, start, stop)).astype(np.float64)
    left, _, right = np.linalg.svd(cross)
    return (left @ right).astype(np.float32)


def row_cosine(old: np.ndarray, new: np.ndarray, *, old_index: np.ndarray | None = None,
               new_index: np.ndarray | None = None, rotation: np.ndarray | None = None,
               chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """Cosine of ``old[old_index[i]]`` (rotated by ``rotation`` if given) with ``new[new_index[i]]``, chunked."""
    count = len(old_index) if old_index is not None else old.shape[0]
    out = np.empty(count, dtype=np.float64)
    for start in range(0, count, chunk_rows):
        stop = min(start + chunk_rows, count)
        a = _rows(old, old_index, start, stop)
        b = _rows(new, new_index, start, stop)
        if rotation is not None:
            a = a @ rotation
        if not (np.isfinite(a).all() and np.isfinite(b).all()):
            raise EmbeddingError(f"embeddings contain NaN or infinite values (rows {start}–{stop - 1} compared)")
        dots = np.einsum("ij,ij->i", a, b, dtype=np.float64)
        norm_a = np.sqrt(np.einsum("ij,ij->i", a, a, dtype=np.float64))
        norm_b = np.sqrt(np.einsum("ij,ij->i", b, b, dtype=np.float64))
        both = (norm_a > 0) & (norm_b > 0)
        sims = np.where(both, dots / np.where(both, norm_a * norm_b, 1.0), 0.0)
        sims[(norm_a == 0) & (norm_b == 0)] = 1.0
        out[start:stop] = np.clip(sims, -1.0, 1.0)
    return out


def _ids(ids, rows: int, name: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) != rows:
        raise EmbeddingError(f"{name} has {ids.size} ids for {rows} embedding rows")
    if len(np.unique(ids)) != len(ids):
        raise EmbeddingError(f"{name} contains duplicate product ids")
    return ids


def _listing(ids: np.ndarray) -> dict:
    return {"count": int(len(ids)), "examples": [_plain(x) for x in ids[:EXAMPLES]]}


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def detect_semantic_drift(old_embeddings: np.ndarray, new_embeddings: np.ndarray, product_ids=None,
                          threshold: float = DEFAULT_THRESHOLD, *, old_ids=None, new_ids=None,
                          align: str | None = None, chunk_rows: int = CHUNK_ROWS) -> dict:
    """The spec's drift result (``drift_detected``, ``mean_similarity``, ``std_similarity``, ``min_similarity``,
    ``num_drifted``, ``drifted_products``, ``recommendation``) plus ``n_compared``, ``added_products`` and
    ``removed_products``.

    Without ``old_ids``/``new_ids`` row i of both arrays is product ``product_ids[i]``. With them, rows
    are paired by product id; products in only one version are counted and listed, not compared.
    ``drifted_products`` are the (up to 10) products with the lowest similarity below ``threshold``.
    ``align="procrustes"`` first rotates the old vectors onto the new basis (for per-build bases).
    """
    if old_embeddings.ndim != 2 or new_embeddings.ndim != 2:
        raise EmbeddingError(f"embeddings must be 2-D, got shapes {old_embeddings.shape} and {new_embeddings.shape}")
    if old_embeddings.shape[1] != new_embeddings.shape[1]:
        raise EmbeddingError(f"cannot compare embeddings of different dimensions: old {old_embeddings.shape[1]}, "
                             f"new {new_embeddings.shape[1]} (a different model; similarities are not comparable)")
    if align not in (None, "procrustes"):
        raise EmbeddingError(f"unknown alignment '{align}'; use None or 'procrustes'")
    added = removed = np.array([], dtype=np.int64)
    if old_ids is not None or new_ids is not None:
        old_ids = _ids(old_ids if old_ids is not None else product_ids, old_embeddings.shape[0], "old_ids")
        new_ids = _ids(new_ids if new_ids is not None else product_ids, new_embeddings.shape[0], "new_ids")
        ids, old_index, new_index = np.intersect1d(old_ids, new_ids, assume_unique=True, return_indices=True)
        added = np.setdiff1d(new_ids, old_ids)
        removed = np.setdiff1d(old_ids, new_ids)
    else:
        if old_embeddings.shape[0] != new_embeddings.shape[0]:
            raise EmbeddingError(f"old has {old_embeddings.shape[0]} rows and new {new_embeddings.shape[0]}; pass "
                                 "old_ids and new_ids to pair rows by product id")
        count = old_embeddings.shape[0]
        ids = _ids(product_ids, count, "product_ids") if product_ids is not None else np.arange(count)
        old_index = new_index = None
    rotation = None
    if align == "procrustes" and len(ids):
        rotation = procrustes_rotation(old_embeddings, new_embeddings, old_index=old_index, new_index=new_index,
                                       chunk_rows=chunk_rows)
    sims = row_cosine(old_embeddings, new_embeddings, old_index=old_index, new_index=new_index,
                      rotation=rotation, chunk_rows=chunk_rows)
    result = {"threshold": threshold, "n_compared": int(len(sims)), "aligned": align if rotation is not None else None,
              "added_products": _listing(added), "removed_products": _listing(removed)}
    if not len(sims):
        return {"drift_detected": False, "mean_similarity": None, "std_similarity": None, "min_similarity": None,
                "num_drifted": 0, "drifted_products": [], "lowest_similarities": [],
                "recommendation": "No products in common; nothing to compare", **result}
    drifted = np.flatnonzero(sims < threshold)
    if len(drifted) > TOP_DRIFTED:
        drifted = drifted[np.argpartition(sims[drifted], TOP_DRIFTED)[:TOP_DRIFTED]]
    drifted = drifted[np.argsort(sims[drifted], kind="stable")]
    mean_sim = float(sims.mean())
    drift_detected = mean_sim < threshold
    return {
        "drift_detected": bool(drift_detected),
        "mean_similarity": mean_sim,
        "std_similarity": float(sims.std()),
        "min_similarity": float(sims.min()),
        "num_drifted": int((sims < threshold).sum()),
        "drifted_products": [_plain(x) for x in ids[drifted]],
        "lowest_similarities": [float(x) for x in sims[drifted]],
        "recommendation": "Regenerate embeddings" if drift_detected else "No action",
        **result,
    }
