"""Versioned embedding files: round trip without pickle, version order, broken files, PhoBERT-style .pt."""

from __future__ import annotations

import importlib.util
import json
from datetime import UTC, datetime

import numpy as np
import pytest

from recsys.embeddings.store import (
    latest,
    list_versions,
    load_embeddings,
    metadata_path,
    previous,
    read_metadata,
    save_embeddings,
    version_of,
)
from recsys.errors import EmbeddingFileError

NOW = datetime(2025, 1, 15, 10, 30, 0, tzinfo=UTC)


def _vectors(n=5, dim=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_round_trip_without_pickle(paths):
    vectors = _vectors()
    ids = np.array([10, 11, 12, 13, 14])
    path = save_embeddings(paths, vectors, ids, model="m", backend="tfidf", data_version="abc",
                           params={"seed": 1}, now=NOW)
    assert path.parent == paths.embeddings_dir and path.name == "emb_v1_20250115_103000.npz"
    # Our own format loads with pickle disabled, straight from numpy.
    with np.load(path, allow_pickle=False) as raw:
        assert raw["embeddings"].dtype == np.float32 and raw["product_ids"].dtype == np.int64
    loaded = load_embeddings(path)
    np.testing.assert_array_equal(loaded.embeddings, vectors)
    np.testing.assert_array_equal(loaded.product_ids, ids)
    meta = loaded.metadata
    assert meta["created_at"] == "2025-01-15 10:30:00.000000"
    assert (meta["model"], meta["backend"], meta["dim"], meta["n"]) == ("m", "tfidf", 4, 5)
    assert meta["product_ids_count"] == 5
    assert meta["data_version"] == "abc" and meta["version"] == 1 and meta["params"] == {"seed": 1}
    assert json.loads(metadata_path(path).read_text())["file"] == path.name


def test_versions_latest_previous(paths):
    assert list_versions(paths) == [] and latest(paths) is None and previous(paths) is None
    first = save_embeddings(paths, _vectors(), range(5), model="m", backend="tfidf", now=NOW)
    assert latest(paths) == first and previous(paths) is None
    # Same second: the version number still orders them; file names stay distinct.
    second = save_embeddings(paths, _vectors(seed=1), range(5), model="m", backend="tfidf", now=NOW)
    third = save_embeddings(paths, _vectors(seed=2), range(5), model="m", backend="tfidf", now=NOW)
    assert [version_of(p) for p in list_versions(paths)] == [1, 2, 3]
    assert latest(paths) == third and previous(paths) == second
    # An .npz without its metadata (a build that died half-way) is not a version.
    metadata_path(third).unlink()
    assert latest(paths) == second


def test_ten_versions_sort_numerically(paths):
    for _ in range(11):
        save_embeddings(paths, _vectors(), range(5), model="m", backend="tfidf", now=NOW)
    assert version_of(latest(paths)) == 11 and version_of(previous(paths)) == 10


def test_save_refuses_inconsistent_arrays(paths):
    with pytest.raises(EmbeddingFileError, match="4 product ids for 5"):
        save_embeddings(paths, _vectors(), [1, 2, 3, 4], model="m", backend="tfidf")
    with pytest.raises(EmbeddingFileError, match="duplicate"):
        save_embeddings(paths, _vectors(), [1, 1, 2, 3, 4], model="m", backend="tfidf")
    bad = _vectors()
    bad[2, 1] = np.nan
    with pytest.raises(EmbeddingFileError, match="NaN"):
        save_embeddings(paths, bad, range(5), model="m", backend="tfidf")
    assert list_versions(paths) == []


def test_broken_files_give_named_errors(paths, tmp_path):
    path = save_embeddings(paths, _vectors(), range(5), model="m", backend="tfidf", now=NOW)
    path.write_bytes(b"not a zip")
    with pytest.raises(EmbeddingFileError) as info:
        load_embeddings(path)
    assert str(path) in str(info.value)
    with pytest.raises(EmbeddingFileError, match="does not exist"):
        load_embeddings(tmp_path / "missing.npz")
    # An object array needs pickle to load: refused, not executed.
    sneaky = tmp_path / "emb_v9_20250101_000000.npz"
    np.savez(sneaky, embeddings=np.array([object()], dtype=object), product_ids=np.array([1]))
    metadata_path(sneaky).write_text("{}")
    with pytest.raises(EmbeddingFileError, match="not a readable embeddings archive"):
        load_embeddings(sneaky)
    metadata_path(sneaky).write_text("[1, 2]")
    with pytest.raises(EmbeddingFileError, match="not a JSON object"):
        read_metadata(sneaky)


HAVE_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed (extra recsys[bert])")
def test_reads_phobert_style_pt_with_weights_only(tmp_path):
    import torch

    path = tmp_path / "phobert_embeddings.pt"
    torch.save({"embeddings": torch.randn(3, 768), "product_ids": [7, 8, 9],
                "created_at": "2025-01-01T08:00:00"}, path)
    loaded = load_embeddings(path)
    assert loaded.embeddings.shape == (3, 768) and loaded.embeddings.dtype == np.float32
    assert loaded.product_ids.tolist() == [7, 8, 9]
    assert loaded.metadata["created_at"] == "2025-01-01 08:00:00.000000" and loaded.metadata["backend"] == "pt"
    assert read_metadata(path)["dim"] == 768


class _Payload:
    """A class torch's weights-only unpickler must refuse to construct."""


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed (extra recsys[bert])")
def test_pt_with_arbitrary_objects_is_refused(tmp_path):
    import torch

    path = tmp_path / "evil.pt"
    torch.save({"embeddings": torch.zeros(1, 2), "product_ids": [1], "extra": _Payload()}, path)
    with pytest.raises(EmbeddingFileError, match="not a loadable .pt"):
        load_embeddings(path)


def test_pt_without_torch_is_a_named_error(monkeypatch, tmp_path):
    import sys

    path = tmp_path / "phobert.pt"
    path.write_bytes(b"\x80\x02}q\x00.")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(EmbeddingFileError, match="needs torch"):
        load_embeddings(path)
