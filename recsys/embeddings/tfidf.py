"""Light default embedder: TF-IDF on character n-grams, reduced by truncated SVD (latent semantic analysis).

Character n-grams within words (``char_wb`` 2–4) suit Vietnamese, whose words are syllables that
share stems and whose diacritics a tokenizer may split; no model is downloaded. The embedder is
fitted on the catalogue it embeds, so its SVD basis is particular to one build: vectors of two
builds are compared only after aligning the bases (see ``drift.detect_semantic_drift(align=...)``).
"""

from __future__ import annotations

import numpy as np

from recsys.embeddings.embedder import l2_normalise
from recsys.errors import EmbeddingError


class TfidfSvdEmbedder:
    """TF-IDF (char_wb 2–4, sublinear tf) + TruncatedSVD to ``dim`` (capped by the data), seeded."""

    backend = "tfidf"

    def __init__(self, dim: int = 128, *, seed: int = 0, ngram_range: tuple[int, int] = (2, 4), min_df: int = 1):
        if dim < 1:
            raise EmbeddingError(f"embedding dim must be at least 1, got {dim}")
        self.requested_dim = dim
        self.dim = dim
        self.seed = seed
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.name = f"tfidf-char{ngram_range[0]}-{ngram_range[1]}-svd"

    @property
    def params(self) -> dict:
        """Settings recorded in the embeddings metadata."""
        return {"requested_dim": self.requested_dim, "seed": self.seed,
                "ngram_range": list(self.ngram_range), "min_df": self.min_df}

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Fit on ``texts`` and return their L2-normalised float32 vectors; ``dim`` becomes the fitted size."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from tqdm import tqdm

        if len(texts) < 2:
            raise EmbeddingError(f"the tfidf embedder needs at least 2 products to fit, got {len(texts)}")
        with tqdm(total=2, desc="tfidf+svd", disable=not progress, unit="step") as bar:
            vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=self.ngram_range, min_df=self.min_df,
                                         sublinear_tf=True, lowercase=True, dtype=np.float32)
            try:
                matrix = vectorizer.fit_transform(texts)
            except ValueError as exc:  # every text empty: sklearn says "empty vocabulary"
                raise EmbeddingError(f"cannot embed the catalogue: {exc}") from exc
            bar.update(1)
            # TruncatedSVD needs n_components < n_features, and more than n_samples - 1 adds nothing.
            components = min(self.requested_dim, matrix.shape[1] - 1, matrix.shape[0] - 1)
            if components < 1:
                raise EmbeddingError("the catalogue text is too small to embed (fewer than 2 distinct n-grams)")
            svd = TruncatedSVD(n_components=components, random_state=self.seed, n_iter=7)
            reduced = svd.fit_transform(matrix)
            bar.update(1)
        self.dim = components
        return l2_normalise(reduced)
