"""The weekly drift check on real files: time windows, the drift_checks store, alerts through a notifier."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from drift_data import NOW, SHIFTED_RATINGS, make_interactions

from recsys.cf.monitoring.drift_check import (
    DriftConfig,
    DriftStore,
    load_recent_interactions,
    load_recent_interactions_from,
    weekly_drift_check,
)
from recsys.db import connect
from recsys.errors import DataFileError


def write_data(paths, frame: pd.DataFrame, version: str = "abc123") -> None:
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(paths.interactions, index=False)
    paths.data_manifest.write_text(json.dumps({"data_version": version}))


class Recorder:
    """A notifier that keeps what it was asked to send."""

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []

    def __call__(self, subject, message, severity="info"):
        self.sent.append((subject, message, severity))
        return "sent"


def test_window_split_uses_real_timestamps():
    now = datetime(2025, 3, 3, 12, tzinfo=UTC)
    stamps = pd.to_datetime([
        "2025-02-20 00:00:00", "2025-02-24 11:59:59", "2025-02-24 12:00:00", "2025-03-03 11:00:00",
        "2025-03-04 00:00:00",
    ], utc=True)
    frame = pd.DataFrame({"rating": [1, 2, 3, 4, 5], "timestamp": stamps})
    historical, recent = load_recent_interactions(frame, days=7, now=now)
    assert historical["rating"].tolist() == [1, 2]
    assert recent["rating"].tolist() == [3, 4]  # the future row belongs to neither side


def test_naive_timestamps_are_taken_as_utc():
    frame = pd.DataFrame({"rating": [1, 2], "timestamp": pd.to_datetime(["2025-02-01", "2025-03-02"])})
    historical, recent = load_recent_interactions(frame, days=7, now=datetime(2025, 3, 3, tzinfo=UTC))
    assert historical["rating"].tolist() == [1] and recent["rating"].tolist() == [2]


def test_reading_from_paths_and_missing_file(paths, rng):
    with pytest.raises(DataFileError, match="interactions.parquet"):
        load_recent_interactions_from(paths)
    write_data(paths, make_interactions(rng, n_history=500, n_recent=50))
    historical, recent = load_recent_interactions_from(paths, days=7, now=NOW)
    assert len(historical) == 500 and len(recent) == 50


def test_drift_store_round_trip(paths):
    store = DriftStore(paths)
    when = datetime(2025, 3, 3, 9, tzinfo=UTC)
    row_id = store.record("rating", drift_detected=True, statistic=0.08, p_value=float("nan"), effect_size=0.2,
                          effect_metric="psi", n_historical=10, n_recent=5, details={"x": np.int64(3)},
                          data_version="v1", timestamp=when)
    latest = store.latest("rating")
    assert latest["id"] == row_id and latest["drift_detected"] is True
    assert latest["p_value"] is None  # NaN is stored as NULL, not as a number
    assert latest["details"] == {"x": 3} and latest["timestamp"] == "2025-03-03 09:00:00.000000"
    assert store.latest("rating", since=when + timedelta(seconds=1)) is None
    with pytest.raises(ValueError):
        store.record("weird", drift_detected=False)
    store.close()


def test_weekly_check_flags_injected_shift_stores_rows_and_alerts(paths, rng):
    write_data(paths, make_interactions(rng, recent_ratings=SHIFTED_RATINGS, recent_popularity="reversed"))
    notifier = Recorder()
    results = weekly_drift_check(paths, now=NOW, notifier=notifier)
    assert results["rating"]["drift_detected"] and results["popularity"]["shift_detected"]
    subjects = [subject for subject, _, _ in notifier.sent]
    assert subjects == ["Data Drift Detected", "Popularity Shift Detected"]
    assert "PSI=" in notifier.sent[0][1] and notifier.sent[0][2] == "info"

    conn = connect(paths.monitor_db, readonly=True)
    rows = {r["check_type"]: dict(r) for r in conn.execute("SELECT * FROM drift_checks")}
    conn.close()
    assert set(rows) == {"rating", "popularity", "volume"}
    rating = rows["rating"]
    assert rating["drift_detected"] == 1 and rating["effect_metric"] == "psi" and rating["data_version"] == "abc123"
    assert rating["n_historical"] == 20_000 and rating["n_recent"] == 1_500
    assert rating["effect_size"] == pytest.approx(results["rating"]["psi"])
    assert json.loads(rating["details"])["window"]["end"] == "2025-03-03 09:00:00.000000"
    assert rows["popularity"]["statistic"] == pytest.approx(results["popularity"]["correlation"])


def test_weekly_check_without_shift_sends_nothing(paths, rng):
    write_data(paths, make_interactions(rng))
    notifier = Recorder()
    results = weekly_drift_check(paths, now=NOW, notifier=notifier)
    assert not results["rating"]["drift_detected"] and not results["popularity"]["shift_detected"]
    assert notifier.sent == []
    assert len(DriftStore(paths).history()) == 3


def test_empty_window_is_insufficient_data_not_drift(paths, rng):
    write_data(paths, make_interactions(rng, n_history=2000, n_recent=10))
    notifier = Recorder()
    results = weekly_drift_check(paths, now=NOW + timedelta(days=30), notifier=notifier)
    assert results["rating"]["status"] == "insufficient_data" and not results["rating"]["drift_detected"]
    assert notifier.sent == []


def test_data_end_anchor_uses_the_newest_interaction(paths, rng):
    write_data(paths, make_interactions(rng, recent_ratings=SHIFTED_RATINGS))
    notifier = Recorder()
    results = weekly_drift_check(paths, now=NOW + timedelta(days=90), notifier=notifier,
                                 config=DriftConfig(anchor="data_end"))
    assert results["rating"]["drift_detected"]
    assert results["rating"]["n_recent"] >= 1_400
