"""should_retrain on hand-made stores: each reason alone, none, and the trigger with a runner and a lock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from drift_data import NOW, SHIFTED_RATINGS, make_interactions
from filelock import FileLock

from recsys.alerts import sources
from recsys.cf.monitoring.drift_check import DriftStore
from recsys.cf.monitoring.retrain import (
    RetrainDecisionStore,
    check_retrain_trigger,
    retrain_lock_path,
    should_retrain,
)
from recsys.clock import format_ts
from recsys.db import connect
from recsys.service.schema import ensure_service_schema

LIVE_SINCE = NOW - timedelta(days=40)


@pytest.fixture
def best(monkeypatch):
    """The registry's current best, as the registry would return it (monkeypatched: built by another issue)."""
    holder = {"value": {"model_id": "als_v1_20250115_103000", "selected_at": format_ts(LIVE_SINCE)}}
    monkeypatch.setattr(sources, "read_current_best", lambda paths: holder["value"])
    return holder


def write_data(paths, rng, **kwargs) -> None:
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    make_interactions(rng, n_history=5_000, n_recent=600, **kwargs).to_parquet(paths.interactions, index=False)


def write_feedback(paths, start, days, impressions, clicks) -> None:
    conn = connect(paths.service_db)
    ensure_service_schema(conn)
    span = timedelta(days=days)
    rows = [(format_ts(start + span * (i + 0.5) / impressions), "impression") for i in range(impressions)]
    rows += [(format_ts(start + span * (i + 0.5) / clicks), "click") for i in range(clicks)]
    with conn:
        conn.executemany("INSERT INTO feedback (timestamp, user_id, product_id, event) VALUES (?, 1, 2, ?)", rows)
    conn.close()


def healthy_stores(paths, rng, recent_clicks=100):
    write_data(paths, rng)
    write_feedback(paths, LIVE_SINCE, 7, 1000, 100)  # baseline CTR 10%
    write_feedback(paths, NOW - timedelta(days=7), 7, 1000, recent_clicks)


def test_no_reason_no_retrain(paths, rng, best):
    healthy_stores(paths, rng, recent_clicks=95)  # a 5% dip is within the 10% tolerance
    decision = should_retrain(paths, now=NOW)
    assert decision["should_retrain"] is False and decision["reasons"] == []
    details = decision["details"]
    assert details["ctr"]["baseline_ctr"] == pytest.approx(0.10)
    assert details["ctr"]["recent_ctr"] == pytest.approx(0.095)
    assert details["drift"]["source"] == "computed" and details["drift"]["drift_detected"] is False
    assert details["data_age"]["days"] < 1


def test_stored_rating_drift_alone(paths, rng, best):
    healthy_stores(paths, rng)
    store = DriftStore(paths)
    store.record("rating", drift_detected=True, p_value=1e-9, effect_size=0.21, effect_metric="psi",
                 details={"psi": 0.21}, timestamp=NOW - timedelta(days=1))
    store.close()
    decision = should_retrain(paths, now=NOW)
    assert decision["reasons"] == ["Rating distribution drift (p=1e-09, PSI=0.210)"]
    assert decision["details"]["drift"]["source"] == "drift_checks"


def test_computed_rating_drift_when_no_recent_check(paths, rng, best):
    write_data(paths, rng, recent_ratings=SHIFTED_RATINGS)
    store = DriftStore(paths)
    store.record("rating", drift_detected=False, timestamp=NOW - timedelta(days=30))  # too old to reuse
    store.close()
    decision = should_retrain(paths, now=NOW)
    assert len(decision["reasons"]) == 1 and decision["reasons"][0].startswith("Rating distribution drift")
    assert decision["details"]["drift"]["source"] == "computed"


def test_ctr_drop_alone(paths, rng, best):
    healthy_stores(paths, rng, recent_clicks=80)
    decision = should_retrain(paths, now=NOW)
    assert len(decision["reasons"]) == 1
    assert decision["reasons"][0].startswith("CTR degraded 20.0%")
    assert should_retrain(paths, now=NOW, config={"ctr_drop": 0.3})["should_retrain"] is False


def test_ctr_is_not_compared_too_early_or_on_thin_data(paths, rng, best):
    healthy_stores(paths, rng, recent_clicks=10)
    best["value"] = {"model_id": "bpr_v2", "selected_at": format_ts(NOW - timedelta(days=10))}
    decision = should_retrain(paths, now=NOW)
    assert decision["should_retrain"] is False and "less than two windows" in decision["details"]["ctr"]["status"]
    best["value"] = {"model_id": "bpr_v2", "selected_at": format_ts(LIVE_SINCE)}
    decision = should_retrain(paths, now=NOW, config={"min_impressions": 5000})
    assert decision["should_retrain"] is False and "impressions" in decision["details"]["ctr"]["status"]


def test_old_training_data_alone(paths, rng, best):
    write_data(paths, rng, now=NOW - timedelta(days=45))
    decision = should_retrain(paths, now=NOW)
    assert len(decision["reasons"]) == 1 and decision["reasons"][0].startswith("Training data is 45 days old")
    assert should_retrain(paths, now=NOW, config={"max_data_age_days": 60})["should_retrain"] is False


def test_no_current_best_alone(paths, rng, best):
    write_data(paths, rng)
    best["value"] = None
    decision = should_retrain(paths, now=NOW)
    assert decision["reasons"] == ["No current best model"]


def test_an_unreadable_registry_is_not_mistaken_for_no_model(paths, rng, monkeypatch):
    write_data(paths, rng)

    def broken(paths):
        raise RuntimeError("registry.json is corrupt")

    monkeypatch.setattr(sources, "read_current_best", broken)
    decision = should_retrain(paths, now=NOW)
    assert decision["should_retrain"] is False
    assert "corrupt" in decision["details"]["current_best"]["error"]


class Notifier:
    def __init__(self):
        self.sent = []

    def __call__(self, subject, message, severity="info"):
        self.sent.append((subject, message, severity))


def test_trigger_runs_the_runner_once_and_records_the_decision(paths, rng, best):
    write_data(paths, rng)
    best["value"] = None
    calls, notifier = [], Notifier()
    outcome = check_retrain_trigger(paths, lambda p: calls.append(p) or {"new_best": "als_v2"}, now=NOW,
                                    notifier=notifier)
    assert calls == [paths] and outcome["action"] == "retrain"
    assert outcome["outcome"] == 'ok: {"new_best": "als_v2"}'
    assert notifier.sent[0][0] == "Model Retrain Triggered" and "No current best model" in notifier.sent[0][1]
    [row] = RetrainDecisionStore(paths).recent()
    assert row["should_retrain"] is True and row["reasons"] == ["No current best model"]
    assert row["action"] == "retrain" and row["outcome"].startswith("ok")


def test_trigger_without_reason_does_not_run(paths, rng, best):
    healthy_stores(paths, rng)
    calls = []
    outcome = check_retrain_trigger(paths, calls.append, now=NOW, notifier=Notifier())
    assert calls == [] and outcome["action"] == "none"
    assert RetrainDecisionStore(paths).recent()[0]["outcome"] == "not needed"


def test_a_failing_runner_is_recorded_and_alerted_not_raised(paths, rng, best):
    write_data(paths, rng)
    best["value"] = None
    notifier = Notifier()

    def runner(paths):
        raise RuntimeError("implicit exploded")

    outcome = check_retrain_trigger(paths, runner, now=NOW, notifier=notifier)
    assert outcome["outcome"] == "failed: RuntimeError: implicit exploded"
    assert [s for s, _, _ in notifier.sent] == ["Model Retrain Triggered", "Model Retrain Failed"]
    assert RetrainDecisionStore(paths).recent()[0]["outcome"].startswith("failed")


def test_only_one_retrain_at_a_time(paths, rng, best):
    write_data(paths, rng)
    best["value"] = None
    lock_file = retrain_lock_path(paths)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    calls = []
    with FileLock(str(lock_file)):  # another retrain holds the lock
        result = check_retrain_trigger(paths, calls.append, now=NOW, notifier=Notifier())
    assert calls == [] and result["action"] == "skipped"
    assert RetrainDecisionStore(paths).recent()[0]["outcome"] == "skipped: another retrain is running"
    assert check_retrain_trigger(paths, calls.append, now=NOW, notifier=Notifier())["action"] == "retrain"
    assert calls == [paths]
