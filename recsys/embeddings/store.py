"""Versioned embedding files under ``artifacts/embeddings/``: ``emb_v<n>_<YYYYMMDD_HHMMSS>.npz`` + ``.json``.

The ``.npz`` holds ``embeddings`` (float32, N×dim) and ``product_ids`` (int64) and is read with
``allow_pickle=False``; the sidecar JSON holds the metadata. A version counts once both files are in
place (each is written to a temp name and renamed). PhoBERT-style ``.pt`` files (a dict with
``embeddings``, ``product_ids``, ``created_at``) are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from recsys.atomicfile import write_atomic
from recsys.clock import format_ts, to_utc, utc_now
from recsys.errors import EmbeddingFileError
from recsys.paths import ProjectPaths

FORMAT_VERSION = 1
_NAME = re.compile(r"^emb_v(\d+)_(\d{8}_\d{6})\.npz$")


@dataclass(frozen=True)
class EmbeddingSet:
    """Embeddings (float32, N×dim), their product ids (int64, N) and the metadata they were saved with."""

    embeddings: np.ndarray
    product_ids: np.ndarray
    metadata: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])


def metadata_path(path: Path) -> Path:
    """The sidecar JSON of an ``.npz`` embeddings file."""
    return Path(path).with_suffix(".json")


def version_of(path: Path) -> int | None:
    """The version number in an ``emb_v<n>_…`` file name, else None."""
    match = _NAME.match(Path(path).name)
    return int(match.group(1)) if match else None


def list_versions(paths: ProjectPaths) -> list[Path]:
    """Complete embedding versions (``.npz`` with its ``.json``), oldest version number first."""
    directory = paths.embeddings_dir
    if not directory.is_dir():
        return []
    found = [(version_of(p), p) for p in directory.iterdir() if _NAME.match(p.name) and metadata_path(p).is_file()]
    return [p for _, p in sorted(found)]


def latest(paths: ProjectPaths) -> Path | None:
    """The newest embedding version, or None when there is none."""
    versions = list_versions(paths)
    return versions[-1] if versions else None


def previous(paths: ProjectPaths) -> Path | None:
    """The version before the newest, or None when there are fewer than two."""
    versions = list_versions(paths)
    return versions[-2] if len(versions) >= 2 else None


def save_embeddings(paths: ProjectPaths, embeddings: np.ndarray, product_ids, *, model: str, backend: str,
                    data_version: str | None = None, params: dict | None = None,
                    now: datetime | None = None) -> Path:
    """Write a new version (number = newest + 1) and return the ``.npz`` path."""
    from filelock import FileLock

    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    product_ids = np.asarray(product_ids, dtype=np.int64)
    _check_arrays(embeddings, product_ids, "embeddings to save")
    created = to_utc(now or utc_now())
    directory = paths.embeddings_dir
    directory.mkdir(parents=True, exist_ok=True)
    # The lock makes "newest + 1" safe when two builds run at once.
    with FileLock(str(directory / ".write.lock")):
        versions = list_versions(paths)
        number = (version_of(versions[-1]) or 0) + 1 if versions else 1
        target = directory / f"emb_v{number}_{created:%Y%m%d_%H%M%S}.npz"
        metadata = {
            "format_version": FORMAT_VERSION,
            "version": number,
            "file": target.name,
            "created_at": format_ts(created),
            "model": model,
            "backend": backend,
            "dim": int(embeddings.shape[1]),
            "n": int(embeddings.shape[0]),
            "product_ids_count": int(len(np.unique(product_ids))),
            "data_version": data_version,
            "params": params or {},
        }
        write_atomic(target, lambda h: np.savez(h, embeddings=embeddings, product_ids=product_ids))
        text = json.dumps(metadata, indent=2, ensure_ascii=False).encode()
        write_atomic(metadata_path(target), lambda h: h.write(text))
    return target


def _check_arrays(embeddings: np.ndarray, product_ids: np.ndarray, where: str) -> None:
    if embeddings.ndim != 2 or embeddings.shape[1] < 1:
        raise EmbeddingFileError(where, f"embeddings must be a 2-D array, got shape {embeddings.shape}")
    if product_ids.ndim != 1 or len(product_ids) != embeddings.shape[0]:
        raise EmbeddingFileError(where, f"{len(product_ids)} product ids for {embeddings.shape[0]} embedding rows")
    if len(np.unique(product_ids)) != len(product_ids):
        raise EmbeddingFileError(where, "duplicate product ids")
    if not np.isfinite(embeddings).all():
        raise EmbeddingFileError(where, "embeddings contain NaN or infinite values")


def read_metadata(path: str | os.PathLike) -> dict:
    """Metadata of an embeddings file without loading the vectors (the sidecar JSON, or the ``.pt`` dict)."""
    path = Path(path)
    if path.suffix == ".pt":
        return load_embeddings(path).metadata
    sidecar = metadata_path(path)
    if not sidecar.is_file():
        raise EmbeddingFileError(str(path), f"metadata file {sidecar.name} is missing")
    try:
        metadata = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbeddingFileError(str(sidecar), f"unreadable metadata: {exc}") from exc
    if not isinstance(metadata, dict):
        raise EmbeddingFileError(str(sidecar), "metadata is not a JSON object")
    return metadata


def load_embeddings(path: str | os.PathLike) -> EmbeddingSet:
    """Read an ``.npz`` version (no pickle) or a PhoBERT-style ``.pt`` file (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise EmbeddingFileError(str(path), "file does not exist")
    if path.suffix == ".pt":
        return _load_pt(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"embeddings", "product_ids"} - set(archive.files)
            if missing:
                raise EmbeddingFileError(str(path), f"missing array(s) {', '.join(sorted(missing))}")
            embeddings = archive["embeddings"]
            product_ids = archive["product_ids"]
    except EmbeddingFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise EmbeddingFileError(str(path), f"not a readable embeddings archive: {exc}") from exc
    if embeddings.dtype != np.float32 or product_ids.dtype != np.int64:
        raise EmbeddingFileError(str(path), f"expected float32 embeddings and int64 ids, got "
                                            f"{embeddings.dtype} and {product_ids.dtype}")
    _check_arrays(embeddings, product_ids, str(path))
    metadata = read_metadata(path)
    if metadata.get("n") not in (None, len(product_ids)) or metadata.get("dim") not in (None, embeddings.shape[1]):
        raise EmbeddingFileError(str(path), f"metadata says n={metadata.get('n')}, dim={metadata.get('dim')} but "
                                            f"the arrays are {embeddings.shape}")
    return EmbeddingSet(embeddings, product_ids, metadata, path)


def _load_pt(path: Path) -> EmbeddingSet:
    try:
        import torch
    except ImportError as exc:
        raise EmbeddingFileError(str(path), "reading .pt files needs torch; pip install 'recsys[bert]'") from exc
    try:
        # weights_only: tensors, lists, dicts and plain values only; never arbitrary pickled objects.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError … for bad files
        raise EmbeddingFileError(str(path), f"not a loadable .pt embeddings file: {exc}") from exc
    if not isinstance(payload, dict) or "embeddings" not in payload or "product_ids" not in payload:
        raise EmbeddingFileError(str(path), "expected a dict with 'embeddings' and 'product_ids'")
    raw = payload["embeddings"]
    embeddings = raw.detach().cpu().numpy() if hasattr(raw, "detach") else np.asarray(raw)
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    raw_ids = payload["product_ids"]
    raw_ids = raw_ids.detach().cpu().numpy() if hasattr(raw_ids, "detach") else raw_ids
    try:
        product_ids = np.asarray([int(x) for x in raw_ids], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise EmbeddingFileError(str(path), f"product_ids must be integers: {exc}") from exc
    _check_arrays(embeddings, product_ids, str(path))
    created = payload.get("created_at")
    if created is not None:
        try:
            # The spec wrote naive local isoformat(); it is read as UTC, the only zone stores use here.
            created = format_ts(to_utc(datetime.fromisoformat(str(created))))
        except ValueError as exc:
            raise EmbeddingFileError(str(path), f"created_at is not an ISO timestamp: {created!r}") from exc
    metadata = {
        "format_version": None,
        "version": None,
        "file": path.name,
        "created_at": created,
        "model": str(payload.get("model_name") or payload.get("model") or "phobert"),
        "backend": "pt",
        "dim": int(embeddings.shape[1]),
        "n": int(embeddings.shape[0]),
        "product_ids_count": int(len(product_ids)),
        "data_version": payload.get("data_version"),
    }
    return EmbeddingSet(embeddings, product_ids, metadata, path)
