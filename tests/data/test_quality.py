"""Quality checks catch each injected defect; the store keeps the results; bad data is never written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from recsys.data import schema as s
from recsys.data.dataset import load_processed, read_manifest
from recsys.data.ingest import PreviousData, check_processed, ingest, load_checked
from recsys.data.quality import HARD, SOFT, QualityStore, ensure_quality, run_quality_checks
from recsys.db import connect
from recsys.errors import DataQualityError

from .conftest import NOW


def _check(report, name):
    (result,) = [c for c in report.checks if c.name == name]
    return result


def _run(interactions, products, **kwargs):
    return run_quality_checks(interactions, products, now=NOW, **kwargs)


def test_clean_generated_data_passes_every_check(tiny_prepared):
    report = _run(*tiny_prepared)
    assert report.passed and not report.warnings
    assert {c.name for c in report.checks} >= {
        "schema", "nulls", "duplicate_rows", "repeated_pairs", "rating_range", "future_timestamps",
        "timestamps_before_shop_start", "unknown_products", "volume_change"}
    ensure_quality(report)  # does not raise


def test_duplicate_rows_are_a_hard_failure(tiny_prepared):
    interactions, products = tiny_prepared
    doubled = pd.concat([interactions, interactions.iloc[[3, 8]]], ignore_index=True)
    result = _check(_run(doubled, products), "duplicate_rows")
    assert (result.passed, result.severity, result.count) == (False, HARD, 2)
    assert f"user {interactions.iloc[3][s.USER_ID]}," in result.examples[0]


def test_repeat_purchases_are_counted_and_only_warned_about_when_many(tiny_prepared):
    interactions, products = tiny_prepared
    normal = _check(_run(interactions, products), "repeated_pairs")
    assert normal.passed and normal.severity == SOFT
    expected = int(interactions.duplicated([s.USER_ID, s.PRODUCT_ID]).sum())
    assert normal.count == expected and "repeat purchase" in normal.message
    again = interactions.sample(frac=0.2, random_state=1).assign(
        timestamp=lambda f: f[s.TIMESTAMP] + pd.Timedelta(days=1))
    many = _check(_run(pd.concat([interactions, again], ignore_index=True), products), "repeated_pairs")
    assert not many.passed and many.count > expected
    assert _run(pd.concat([interactions, again], ignore_index=True), products).passed  # soft only


def test_ratings_outside_one_to_five(tiny_prepared):
    interactions, products = tiny_prepared
    bad = interactions.copy()
    bad.loc[bad.index[[0, 1, 2]], s.RATING] = [0, 6, 9]
    result = _check(_run(bad, products), "rating_range")
    assert (result.passed, result.count) == (False, 3)
    assert any("rating 9" in e for e in result.examples)


def test_future_and_prehistoric_timestamps(tiny_prepared):
    interactions, products = tiny_prepared
    bad = interactions.copy()
    bad.loc[bad.index[0], s.TIMESTAMP] = pd.Timestamp(NOW + timedelta(days=3))
    bad.loc[bad.index[[1, 2]], s.TIMESTAMP] = pd.Timestamp("2001-05-05", tz="UTC")
    report = _run(bad, products)
    assert _check(report, "future_timestamps").count == 1
    assert _check(report, "timestamps_before_shop_start").count == 2
    # an older shop: the same rows are fine
    older = _run(bad, products, shop_start=datetime(1999, 1, 1, tzinfo=UTC))
    assert _check(older, "timestamps_before_shop_start").passed


def test_products_missing_from_the_catalogue(tiny_prepared):
    interactions, products = tiny_prepared
    used = interactions[s.PRODUCT_ID].unique()[:3]
    result = _check(_run(interactions, products[~products[s.PRODUCT_ID].isin(used)]), "unknown_products")
    assert (result.passed, result.count) == (False, 3)
    assert sorted(result.examples) == sorted(int(i) for i in used)


def test_nulls_and_wrong_dtypes(tiny_prepared):
    interactions, products = tiny_prepared
    bad = interactions.copy()
    bad[s.RATING] = bad[s.RATING].astype(float)
    bad.loc[bad.index[4], s.RATING] = np.nan
    report = _run(bad, products)
    assert _check(report, "nulls").count == 1
    schema = _check(report, "schema")
    assert not schema.passed and any("interactions.rating" in e for e in schema.examples)
    assert not _check(report, "rating_range").passed  # not run on an unusable column: not a pass


def test_missing_column_is_a_schema_failure(tiny_prepared):
    interactions, products = tiny_prepared
    report = _run(interactions.drop(columns=[s.TIMESTAMP]), products)
    assert "interactions.timestamp: missing" in _check(report, "schema").examples
    assert "not run" in _check(report, "future_timestamps").message


def test_volume_change_against_the_previous_data_set(tiny_prepared):
    interactions, products = tiny_prepared
    steady = _run(interactions, products, previous_manifest=PreviousData("abc", int(len(interactions) * 0.8)))
    assert _check(steady, "volume_change").passed
    jump = _run(interactions, products, previous_manifest=PreviousData("abc", len(interactions) // 3))
    result = _check(jump, "volume_change")
    assert not result.passed and result.severity == SOFT and "abc" in result.message
    assert jump.passed  # a warning does not block


def test_ensure_quality_lists_the_failed_hard_checks(tiny_prepared):
    interactions, products = tiny_prepared
    bad = interactions.copy()
    bad.loc[bad.index[0], s.RATING] = 8
    bad.loc[bad.index[1], s.TIMESTAMP] = pd.Timestamp(NOW + timedelta(days=1))
    with pytest.raises(DataQualityError) as caught:
        ensure_quality(_run(bad, products))
    names = [failure.split(":")[0] for failure in caught.value.failures]
    assert names == ["rating_range", "future_timestamps"]


def test_store_keeps_one_row_per_check(paths, tiny_prepared):
    report = _run(*tiny_prepared)
    clock_times = iter([datetime(2025, 6, 2, 8, tzinfo=UTC), datetime(2025, 6, 2, 9, tzinfo=UTC)])
    with QualityStore(paths, clock=lambda: next(clock_times)) as store:
        store.record(report, "v1")
        store.record(report, "v2")
        latest = store.latest()
    assert [row["check_name"] for row in latest] == [c.name for c in report.checks]
    assert {row["data_version"] for row in latest} == {"v2"}
    assert latest[0]["timestamp"] == "2025-06-02 09:00:00.000000"
    conn = connect(paths.monitor_db, readonly=True)
    (count,) = conn.execute("SELECT COUNT(*) FROM data_quality_checks").fetchone()
    assert count == 2 * len(report.checks)


def test_ingest_refuses_bad_data_and_keeps_the_old_files(paths, tiny_raw):
    interactions, products = tiny_raw
    good = ingest(paths, interactions, products, {"kind": "test"}, clock=lambda: NOW)
    assert good.written and good.manifest.data_version == load_processed(paths).data_version
    before = paths.interactions.read_bytes()
    bad = interactions.copy()
    bad.loc[bad.index[0], s.PRODUCT_ID] = 999_999
    refused = ingest(paths, bad, products, {"kind": "test"}, clock=lambda: NOW)
    assert not refused.written and not refused.report.passed
    assert [c.name for c in refused.report.hard_failures] == ["unknown_products"]
    assert paths.interactions.read_bytes() == before
    assert read_manifest(paths).data_version == good.data_version
    conn = connect(paths.monitor_db, readonly=True)
    rows = conn.execute("SELECT data_version, passed FROM data_quality_checks WHERE check_name = ?",
                        ("unknown_products",)).fetchall()
    assert [(r["data_version"], r["passed"]) for r in rows] == [(good.data_version, 1),
                                                                (refused.data_version, 0)]


def test_ingest_of_frames_too_broken_to_prepare_reports_instead_of_crashing(paths, tiny_raw):
    interactions, products = tiny_raw
    broken = interactions.drop(columns=[s.RATING])
    result = ingest(paths, broken, products, {}, clock=lambda: NOW)
    assert not result.written and result.data_version is None
    assert "interactions.rating: missing" in _check(result.report, "schema").examples
    assert not paths.data_manifest.exists()


def test_check_processed_reruns_and_records(paths, tiny_raw):
    ingest(paths, *tiny_raw, {"kind": "test"}, clock=lambda: NOW)
    later = datetime(2025, 6, 3, tzinfo=UTC)
    report = check_processed(paths, clock=lambda: later)
    assert report.passed
    with QualityStore(paths) as store:
        assert store.latest()[0]["timestamp"].startswith("2025-06-03")
    # checked against an earlier "now", the same files have future timestamps
    assert not check_processed(paths, clock=lambda: datetime(2025, 1, 1, tzinfo=UTC), record=False).passed


def test_written_source_remembers_the_shop_start(paths):
    frame = pd.DataFrame({s.USER_ID: [1, 1], s.PRODUCT_ID: [1, 2], s.RATING: [5, 4],
                          s.TIMESTAMP: pd.to_datetime(["1997-09-20", "1997-10-01"], utc=True)})
    refused = ingest(paths, frame, None, {}, clock=lambda: NOW)
    assert [c.name for c in refused.report.hard_failures] == ["timestamps_before_shop_start"]
    start = datetime(1995, 1, 1, tzinfo=UTC)
    written = ingest(paths, frame, None, {}, shop_start=start, clock=lambda: NOW)
    assert written.manifest.source["shop_start"] == "1995-01-01"
    assert check_processed(paths, clock=lambda: NOW).passed


def test_load_checked_refuses_data_that_fails_a_hard_check(paths, tiny_raw):
    ingest(paths, *tiny_raw, {"kind": "test"}, clock=lambda: NOW)
    assert load_checked(paths, clock=lambda: NOW).data_version == read_manifest(paths).data_version
    with pytest.raises(DataQualityError, match="future_timestamps"):
        load_checked(paths, clock=lambda: datetime(2024, 1, 1, tzinfo=UTC))


def test_fractional_ratings_are_not_truncated_into_valid_ones(paths):
    frame = pd.DataFrame({s.USER_ID: [1, 1], s.PRODUCT_ID: [1, 2], s.RATING: [4.5, 5.0],
                          s.TIMESTAMP: pd.to_datetime(["2024-09-20", "2024-10-01"], utc=True)})
    result = ingest(paths, frame, None, {}, clock=lambda: NOW)
    assert not result.written
    assert "interactions.rating: expected int64, found float64" in _check(result.report, "schema").examples
