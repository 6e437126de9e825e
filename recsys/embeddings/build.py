"""``recsys embeddings build``: catalogue → vectors → a new version on disk → drift check against the previous."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

import pandas as pd

from recsys.embeddings.drift_job import run_semantic_drift_check
from recsys.embeddings.embedder import Embedder, make_embedder
from recsys.embeddings.freshness import Notifier
from recsys.embeddings.store import save_embeddings, version_of
from recsys.embeddings.text import product_texts
from recsys.errors import DataFileError
from recsys.paths import ProjectPaths


def data_version(paths: ProjectPaths) -> str | None:
    """The data version of the catalogue: the manifest's ``data_version``, else a hash of products.parquet."""
    manifest = paths.data_manifest
    if manifest.is_file():
        try:
            version = json.loads(manifest.read_text(encoding="utf-8")).get("data_version")
        except (OSError, ValueError, AttributeError):
            version = None
        if version:
            return str(version)
    if not paths.products.is_file():
        return None
    digest = hashlib.sha256()
    with open(paths.products, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def read_products(paths: ProjectPaths) -> pd.DataFrame:
    """The catalogue, ``data/processed/products.parquet``; a clear error when it is missing or unreadable."""
    if not paths.products.is_file():
        raise DataFileError(str(paths.products), "file does not exist (run `recsys data generate` or `data load`)")
    try:
        return pd.read_parquet(paths.products)
    except Exception as exc:  # pyarrow raises several types for a broken file
        raise DataFileError(str(paths.products), f"unreadable Parquet: {exc}") from exc


def build_embeddings(paths: ProjectPaths, *, embedder: Embedder | None = None, backend: str = "tfidf",
                     model: str | None = None, dim: int = 128, products: pd.DataFrame | None = None,
                     progress: bool = False, notifier: Notifier | None = None, now: datetime | None = None,
                     drift_check: bool = True) -> dict:
    """Embed the catalogue, save a new version and compare it with the previous one; returns a summary."""
    catalogue = products if products is not None else read_products(paths)
    product_ids, texts = product_texts(catalogue, source=str(paths.products))
    embedder = embedder or make_embedder(backend, model=model, dim=dim)
    vectors = embedder.embed(texts, progress=progress)
    path = save_embeddings(paths, vectors, product_ids, model=embedder.name, backend=embedder.backend,
                           data_version=data_version(paths), params=getattr(embedder, "params", {}), now=now)
    summary = {"version": version_of(path), "path": str(path), "dim": int(vectors.shape[1]),
               "n": int(vectors.shape[0]), "model": embedder.name, "backend": embedder.backend}
    if drift_check:
        summary["drift"] = run_semantic_drift_check(paths, notifier=notifier, now=now)
    return summary
