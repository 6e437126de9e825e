"""A trained model on disk: ``artifacts/cf/<type>/v<n>_<YYYYMMDD_HHMMSS>/``.

Layout: ``model.npz`` (factors, id maps, seen items, item popularity; loaded with
``allow_pickle=False``), ``params.json`` and ``metadata.json`` (data_version, git_commit, metrics,
score range, ...). Loading it back gives exactly the recommendations of the trained model.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recsys.atomicfile import write_atomic, write_text_atomic
from recsys.clock import to_utc
from recsys.errors import ArtifactError

MODEL_FILE = "model.npz"
PARAMS_FILE = "params.json"
METADATA_FILE = "metadata.json"
_VERSION_DIR = re.compile(r"^v(\d+)_\d{8}_\d{6}$")


@dataclass
class ModelArtifacts:
    """Everything needed to serve a model; ids are raw user/product ids, sorted."""

    model_type: str
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    seen: sp.csr_matrix
    item_popularity: np.ndarray
    params: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    def user_index(self, user_id: int) -> int | None:
        """Row of ``user_id`` in the factor matrix, or None for a user the model has not seen."""
        pos = int(np.searchsorted(self.user_ids, user_id))
        return pos if pos < len(self.user_ids) and self.user_ids[pos] == user_id else None

    def scores(self, user_row: int) -> np.ndarray:
        """CF scores of every item for one user row."""
        return self.item_factors @ self.user_factors[user_row]

    def seen_items(self, user_row: int) -> np.ndarray:
        """Item indices the user interacted with in training."""
        return self.seen.indices[self.seen.indptr[user_row] : self.seen.indptr[user_row + 1]]

    def recommend(self, user_row: int, k: int, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (item indices, scores) for one user row, best first."""
        scores = self.scores(user_row)
        if exclude_seen:
            scores[self.seen_items(user_row)] = -np.inf
        k = min(k, len(scores))
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.argsort(-scores[part], kind="stable")]
        keep = np.isfinite(scores[order])
        return order[keep], scores[order][keep]


def allocate_artifacts_dir(cf_root: Path, model_type: str, now: datetime) -> Path:
    """Create and return ``cf_root/<type>/v<n>_<timestamp>`` with the next free version number."""
    base = Path(cf_root) / model_type
    base.mkdir(parents=True, exist_ok=True)
    stamp = to_utc(now).strftime("%Y%m%d_%H%M%S")
    while True:
        taken = [int(m.group(1)) for p in base.iterdir() if (m := _VERSION_DIR.match(p.name))]
        candidate = base / f"v{max(taken, default=0) + 1}_{stamp}"
        try:
            candidate.mkdir()  # atomic: two trainers never get the same directory
            return candidate
        except FileExistsError:
            continue


def _write_json(path: Path, payload: dict) -> None:
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=str))


def save_artifacts(directory: Path, artifacts: ModelArtifacts) -> Path:
    """Write ``artifacts`` into ``directory`` (metadata last, so a complete metadata.json means a complete model)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / MODEL_FILE, lambda handle: np.savez(
        handle,
        user_factors=artifacts.user_factors.astype(np.float32),
        item_factors=artifacts.item_factors.astype(np.float32),
        user_ids=artifacts.user_ids.astype(np.int64),
        item_ids=artifacts.item_ids.astype(np.int64),
        seen_indptr=artifacts.seen.indptr.astype(np.int64),
        seen_indices=artifacts.seen.indices.astype(np.int32),
        item_popularity=artifacts.item_popularity.astype(np.float32),
    ))
    _write_json(directory / PARAMS_FILE, artifacts.params)
    _write_json(directory / METADATA_FILE, {"model_type": artifacts.model_type, **artifacts.metadata})
    return directory


def load_artifacts(directory: str | Path) -> ModelArtifacts:
    """Read a model directory back; any missing or inconsistent piece raises ArtifactError."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ArtifactError(str(directory), "directory does not exist")
    try:
        metadata = json.loads((directory / METADATA_FILE).read_text(encoding="utf-8"))
        params = json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8"))
        with np.load(directory / MODEL_FILE, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, KeyError) as exc:
        raise ArtifactError(str(directory), f"cannot read: {exc}") from exc
    try:
        user_factors, item_factors = arrays["user_factors"], arrays["item_factors"]
        user_ids, item_ids = arrays["user_ids"], arrays["item_ids"]
        seen = sp.csr_matrix(
            (np.ones(len(arrays["seen_indices"]), dtype=np.float32), arrays["seen_indices"], arrays["seen_indptr"]),
            shape=(len(user_ids), len(item_ids)),
        )
        popularity = arrays["item_popularity"]
    except (KeyError, ValueError) as exc:
        raise ArtifactError(str(directory), f"model file incomplete: {exc}") from exc
    if user_factors.shape[0] != len(user_ids) or item_factors.shape[0] != len(item_ids):
        raise ArtifactError(str(directory), "factor shapes do not match the id maps")
    if user_factors.shape[1] != item_factors.shape[1]:
        raise ArtifactError(str(directory), "user and item factors have different widths")
    return ModelArtifacts(
        model_type=metadata.get("model_type", "unknown"), user_factors=user_factors, item_factors=item_factors,
        user_ids=user_ids, item_ids=item_ids, seen=seen, item_popularity=popularity, params=params, metadata=metadata,
    )
