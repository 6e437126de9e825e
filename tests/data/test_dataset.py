"""Processed layout: split rule, content version, atomic write, and loading back (or refusing)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

from recsys.data import dataset as dataset_module
from recsys.data import schema as s
from recsys.data.dataset import (
    Manifest,
    assign_split,
    content_version,
    load_processed,
    prepare,
    write_processed,
)
from recsys.errors import DataFileError


def _frame(rows: list[tuple[int, int, int, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[s.USER_ID, s.PRODUCT_ID, s.RATING, s.TIMESTAMP])
    frame[s.TIMESTAMP] = pd.to_datetime(frame[s.TIMESTAMP], utc=True)
    return frame


def test_split_holds_out_each_trainable_users_latest_positive():
    frame = _frame([
        (1, 10, 5, "2024-01-01"), (1, 11, 4, "2024-03-01"), (1, 12, 2, "2024-05-01"),  # latest positive: 11
        (2, 10, 5, "2024-02-01"),                                                      # one interaction
        (3, 10, 1, "2024-01-01"), (3, 11, 2, "2024-02-01"),                            # no positive
        (4, 13, 5, "2024-04-01"), (4, 12, 5, "2024-04-01"), (4, 11, 5, "2024-01-01"),  # tie → product 13
    ])
    split = assign_split(frame)
    tests = frame[split == s.SPLIT_TEST]
    assert sorted(zip(tests[s.USER_ID], tests[s.PRODUCT_ID], strict=True)) == [(1, 11), (4, 13)]
    # the rule does not depend on row order
    shuffled = frame.sample(frac=1.0, random_state=1)
    assert (assign_split(shuffled)[frame.index] == split).all()


def test_generated_split_rule_holds_for_every_user(small_prepared):
    interactions, _ = small_prepared
    per_user = interactions.assign(is_test=interactions[s.SPLIT] == s.SPLIT_TEST).groupby(s.USER_ID).agg(
        n=(s.RATING, "size"), best=(s.RATING, "max"), tests=("is_test", "sum"))
    trainable = (per_user["n"] >= 2) & (per_user["best"] >= s.POSITIVE_THRESHOLD)
    assert (per_user.loc[trainable, "tests"] == 1).all()
    assert (per_user.loc[~trainable, "tests"] == 0).all()
    positives = interactions[interactions[s.IS_POSITIVE] & interactions[s.USER_ID].isin(per_user.index[trainable])]
    latest = positives.sort_values([s.USER_ID, s.TIMESTAMP, s.PRODUCT_ID]).groupby(s.USER_ID).tail(1)
    assert (latest[s.SPLIT] == s.SPLIT_TEST).all()


def test_prepare_gives_the_documented_dtypes_and_is_idempotent(tiny_raw):
    interactions, products = prepare(*tiny_raw)
    assert {c: str(t) for c, t in interactions.dtypes.items()} == {
        s.USER_ID: "int64", s.PRODUCT_ID: "int64", s.RATING: "int64", s.TIMESTAMP: s.TIMESTAMP_DTYPE,
        s.IS_POSITIVE: "bool", s.SPLIT: "str"}
    assert list(products.columns) == list(s.PRODUCT_COLUMNS)
    for column, dtype in s.PRODUCT_DTYPES.items():
        assert s.dtype_matches(products[column], dtype), column
    again_i, again_p = prepare(interactions, products)
    pd.testing.assert_frame_equal(again_i, interactions)
    pd.testing.assert_frame_equal(again_p, products)
    counts = interactions.groupby(s.PRODUCT_ID)[s.RATING].agg(["size", "mean"])
    stats = products.set_index(s.PRODUCT_ID).loc[counts.index]
    assert (stats[s.NUM_RATINGS] == counts["size"]).all()
    assert np.allclose(stats[s.AVG_RATING], counts["mean"])


def test_without_a_catalogue_minimal_products_are_made():
    interactions, products = prepare(_frame([(1, 7, 5, "2024-01-01"), (2, 3, 4, "2024-01-02")]), None)
    assert products[s.PRODUCT_ID].tolist() == [3, 7]
    assert products[s.NAME].tolist() == ["Item 3", "Item 7"]
    assert (products[s.BRAND] == "unknown").all() and (products[s.CATEGORY] == "unknown").all()
    assert (products[s.PRICE] == 0.0).all() and (products[s.DESCRIPTION] == "").all()


def test_data_version_changes_if_and_only_if_content_changes(tiny_prepared):
    interactions, products = tiny_prepared
    version = content_version(interactions, products)
    assert len(version) == 12 and int(version, 16) >= 0
    shuffled = interactions.sample(frac=1.0, random_state=3)
    assert content_version(shuffled, products.iloc[::-1]) == version
    changed = interactions.copy()
    changed.loc[changed.index[5], s.RATING] = 1 if changed.loc[changed.index[5], s.RATING] != 1 else 2
    assert content_version(changed, products) != version
    renamed = products.copy()
    renamed.loc[0, s.NAME] = renamed.loc[0, s.NAME] + "!"
    assert content_version(interactions, renamed) != version
    later = interactions.copy()
    later.loc[later.index[0], s.TIMESTAMP] += pd.Timedelta(microseconds=1)
    assert content_version(later, products) != version


def test_write_then_load_round_trips(paths, tiny_raw):
    manifest = write_processed(paths, *tiny_raw, source={"kind": "generated", "seed": 3})
    dataset = load_processed(paths)
    interactions, products = prepare(*tiny_raw)
    pd.testing.assert_frame_equal(dataset.interactions, interactions)
    pd.testing.assert_frame_equal(dataset.products, products)
    assert dataset.data_version == manifest.data_version == content_version(interactions, products)
    on_disk = json.loads(paths.data_manifest.read_text())
    assert Manifest.from_dict(on_disk) == manifest
    assert on_disk["n_users"] == interactions[s.USER_ID].nunique()
    assert on_disk["n_interactions"] == len(interactions) == sum(on_disk["rating_distribution"].values())
    assert on_disk["n_trainable_users"] == (interactions[s.SPLIT] == s.SPLIT_TEST).sum()
    assert on_disk["source"] == {"kind": "generated", "seed": 3}
    assert len(dataset.test) == manifest.n_test and len(dataset.train) + len(dataset.test) == len(interactions)
    assert not [p for p in paths.data_dir.iterdir() if p.name.startswith(".")]  # no temp files left


def test_a_second_write_remembers_the_data_it_replaced(paths, tiny_raw):
    first = write_processed(paths, *tiny_raw, source={})
    interactions, products = tiny_raw
    second = write_processed(paths, interactions.iloc[:-10], products, source={})
    assert second.previous == {"data_version": first.data_version, "n_interactions": first.n_interactions}


def test_missing_processed_data_names_the_file(paths):
    with pytest.raises(DataFileError) as caught:
        load_processed(paths)
    assert caught.value.path == str(paths.data_manifest)
    assert "recsys data generate" in str(caught.value)


@pytest.mark.parametrize("target", ["interactions", "products"])
def test_corrupt_or_missing_parquet_names_the_file(paths, tiny_raw, target):
    write_processed(paths, *tiny_raw, source={})
    path = getattr(paths, target)
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataFileError, match="not a readable parquet file") as caught:
        load_processed(paths)
    assert caught.value.path == str(path)
    path.unlink()
    with pytest.raises(DataFileError, match="missing") as caught:
        load_processed(paths)
    assert caught.value.path == str(path)


def test_corrupt_manifest_names_the_file(paths, tiny_raw):
    write_processed(paths, *tiny_raw, source={})
    paths.data_manifest.write_text("{not json")
    with pytest.raises(DataFileError, match="manifest is not valid") as caught:
        load_processed(paths)
    assert caught.value.path == str(paths.data_manifest)


def test_files_from_different_writes_are_refused(paths, tiny_raw, monkeypatch):
    monkeypatch.setattr(dataset_module, "READ_RETRY_S", 0.0)
    write_processed(paths, *tiny_raw, source={})
    kept = paths.interactions.read_bytes()
    interactions, products = tiny_raw
    write_processed(paths, interactions.iloc[:-5], products, source={})
    paths.interactions.write_bytes(kept)  # an interactions file from the earlier write
    with pytest.raises(DataFileError, match="does not match the manifest") as caught:
        load_processed(paths)
    assert caught.value.path == str(paths.interactions)


def test_concurrent_writers_and_a_reader_never_see_a_mixed_data_set(paths, tiny_raw):
    interactions, products = tiny_raw
    variants = [interactions.iloc[: len(interactions) - k] for k in range(1, 7)]
    write_processed(paths, interactions, products, source={})
    errors: list[BaseException] = []
    done = threading.Event()

    def write(frames) -> None:
        try:
            for frame in frames:
                write_processed(paths, frame, products, source={})
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def read() -> None:
        while not done.is_set():
            dataset = load_processed(paths)
            assert content_version(dataset.interactions, dataset.products) == dataset.data_version

    writers = [threading.Thread(target=write, args=(variants[i::2],)) for i in range(2)]
    reader_errors: list[BaseException] = []
    reader = threading.Thread(target=lambda: _capture(read, reader_errors))
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()
    assert not errors and not reader_errors
    assert len(load_processed(paths).interactions) in {len(v) for v in variants}


def _capture(function, errors: list) -> None:
    try:
        function()
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        errors.append(exc)
