"""The dashboard's queries on hand-made stores, and on stores that do not exist yet."""

from __future__ import annotations

import math
from datetime import timedelta

import pandas as pd
import pytest
from dash_stores import ACTIVE_MODEL, BEST_MODEL, HEALTH_RPM, LATENCIES

from recsys.dashboard.queries import content, data, monitor, registry, service, training
from recsys.dashboard.queries._db import read_frame
from recsys.db import connect

HOUR = timedelta(hours=1)


def test_missing_store_and_table_read_as_empty(paths, now):
    assert read_frame(paths.service_db, "SELECT * FROM requests").empty
    assert service.request_summary(paths.service_db, now, HOUR) is None
    assert service.active_model(paths.service_db) is None
    conn = connect(paths.monitor_db)  # a store that exists but whose tables do not yet
    conn.close()
    assert monitor.firing_alerts(paths.monitor_db).empty
    assert monitor.latest_drift_checks(paths.monitor_db).empty
    assert training.training_runs(paths.training_db).empty
    assert content.embedding_sidecars(paths.embeddings_dir, now).empty


def test_readonly_connection_never_creates_a_store(paths):
    read_frame(paths.service_db, "SELECT 1")
    assert not paths.service_db.exists()


def test_a_broken_query_still_fails(filled):
    with pytest.raises(Exception, match="syntax"):
        read_frame(filled.service_db, "SELEC 1")


def test_request_summary_over_the_last_hour(filled, now):
    summary = service.request_summary(filled.service_db, now, HOUR)
    assert summary["requests"] == 20  # the 3-hour-old request is outside the window
    assert summary["avg_latency_ms"] == pytest.approx(sum(LATENCIES) / 20)
    ranked = sorted(LATENCIES)
    assert summary["p95_latency_ms"] == ranked[math.ceil(0.95 * 20) - 1] == 190.0
    assert summary["fallback_rate"] == pytest.approx(4 / 20)
    assert summary["error_rate"] == pytest.approx(1 / 20)
    assert summary["requests_per_minute"] == pytest.approx(20 / 60)


def test_request_window_is_utc_text_compared_as_text(filled, now):
    # 3 hours back the old 5-second request appears, and only then.
    assert service.request_summary(filled.service_db, now, timedelta(hours=2, minutes=59))["requests"] == 20
    assert service.request_summary(filled.service_db, now, timedelta(hours=3, minutes=1))["requests"] == 21


def test_health_series_and_minutes_from_raw_requests(filled, now):
    health = service.service_health(filled.service_db, now, HOUR)
    assert health["requests_per_minute"].tolist() == HEALTH_RPM
    assert str(health["timestamp"].dt.tz) == "UTC"
    minutes = service.request_minutes(filled.service_db, now, HOUR)
    assert minutes["requests_per_minute"].sum() == 20
    # A minute with two requests (x and x + 10 ms): average x + 5, nearest-rank p95 the larger one.
    two = minutes[minutes["requests_per_minute"] == 2].iloc[0]
    assert two["p95_latency_ms"] == pytest.approx(two["avg_latency_ms"] + 5)
    assert minutes["error_rate"].max() > 0 and minutes["fallback_rate"].max() > 0


def test_fallback_methods_active_model_and_errors(filled, now):
    methods = service.fallback_methods(filled.service_db, now, HOUR)
    assert dict(zip(methods["method"], methods["requests"], strict=True)) == {"popularity": 3, "content": 1}
    assert service.active_model(filled.service_db)["model_id"] == ACTIVE_MODEL
    errors = service.recent_errors(filled.service_db, now, HOUR)
    assert errors["error"].tolist() == ["KeyError"]


def test_training_runs_iterations_and_comparison(filled):
    runs = training.training_runs(filled.training_db)
    assert runs["run_id"].tolist() == ["als_20250116_090000", "bpr_20250115_120000", "als_20250115_103000"]
    assert training.training_runs(filled.training_db, "bpr")["run_id"].tolist() == ["bpr_20250115_120000"]
    steps = training.run_iterations(filled.training_db, ["als_20250115_103000"])
    assert steps["loss"].tolist() == [10.0, 8.0, 6.0, 5.0, 4.5]
    compared = training.compare_runs(runs, "als_20250115_103000", "bpr_20250115_120000").set_index("metric")
    assert compared.loc["ndcg_at_10", "B - A"] == pytest.approx(0.192 - 0.189)
    assert pd.isna(compared.loc["coverage", "B - A"])


def test_run_id_reaches_sql_only_as_a_parameter(filled):
    hostile = "x') OR 1=1 --"
    assert training.run_iterations(filled.training_db, [hostile]).empty


def test_registry_tables_and_fallback_stats(filled):
    versions = registry.model_versions(filled.registry_db)
    stats = registry.stats_from_versions(versions)
    assert stats["total_models"] == 2 and stats["active_models"] == 2
    assert stats["current_best"]["model_id"] == BEST_MODEL
    history = registry.best_model_history(filled.registry_db)
    assert history["metric_value"].tolist() == [0.189, 0.192]
    assert registry.registry_operations(filled.registry_db)["action"].iloc[0] == "ARCHIVE"
    assert registry.latest_loader_stats(filled.service_db)["cache_hit_rate"] == 0.75
    reloads = registry.reload_events(filled.service_db)
    assert reloads["status"].tolist() == ["failed", "ok", "ok"]


def test_best_metric_reads_model_info_then_selection_value():
    best = {"model_id": "m", "metric": "ndcg@10", "value": 0.3, "model_info": {"metrics": {"ndcg@10": 0.25}}}
    assert registry.best_metric(best) == 0.25
    assert registry.best_metric({**best, "model_info": {}}) == 0.3
    assert registry.best_metric(None) is None


def test_drift_alerts_quality_jobs_decisions(filled, now):
    latest = monitor.latest_drift_checks(filled.monitor_db).set_index("check_type")
    assert latest.loc["rating", "effect_size"] == 0.31 and bool(latest.loc["rating", "drift_detected"])
    assert latest.loc["semantic", "details"]["num_drifted"] == 3
    assert len(monitor.drift_history(filled.monitor_db, now, timedelta(days=10), "rating")) == 1
    firing = monitor.firing_alerts(filled.monitor_db)
    assert firing["rule"].tolist() == ["high_latency"]
    history = monitor.alert_history(filled.monitor_db, now, timedelta(days=1))
    assert set(history["rule"]) == {"high_latency", "high_error_rate"}  # the 20-day-old one is out of range
    failures = monitor.delivery_failures(history)
    assert failures[["rule", "channel", "error"]].values.tolist() == [
        ["high_latency", "email", "SMTP connection refused"]]
    quality = monitor.latest_quality_checks(filled.monitor_db)
    assert quality["check_name"].tolist()[0] == "duplicate_pairs" and not quality["passed"].iloc[0]
    jobs = monitor.latest_job_runs(filled.monitor_db).set_index("job")
    assert jobs.loc["drift", "status"] == "ok" and pd.notna(jobs.loc["drift", "last_failure"])
    decisions = monitor.retrain_decisions(filled.monitor_db)
    assert decisions["reasons"].iloc[0] == "Rating distribution drift (psi=0.31)"


def test_delivery_errors_in_other_shapes():
    alerts = pd.DataFrame({"rule": ["a", "b", "c"], "severity": ["warning"] * 3, "fired_at": [None] * 3,
                           "delivery_errors": ['{"slack": "HTTP 500"}', "not json", None]})
    failures = monitor.delivery_failures(alerts)
    assert failures.fillna("-")[["rule", "channel", "error"]].values.tolist() == [["a", "slack", "HTTP 500"],
                                                                                 ["b", "-", "not json"]]


def test_rating_distribution_from_details_and_from_data(filled):
    latest = monitor.latest_drift_checks(filled.monitor_db).set_index("check_type")
    shares = data.rating_distribution_from_details(latest.loc["rating", "details"])
    recent = shares[shares["period"] == "recent"].set_index("rating")["share"]
    assert recent[1] == pytest.approx(50 / 1000) and recent.sum() == pytest.approx(1.0)
    assert data.rating_distribution_from_details({"historical_distribution": [1, 1, 1, 1, 1],
                                                  "recent_distribution": [0, 0, 0, 0, 2]}) is not None
    assert data.rating_distribution_from_details({}) is None
    interactions = data.read_interactions(filled.interactions)
    computed = data.rating_distribution(interactions).pivot(index="rating", columns="period", values="share")
    assert computed.loc[1, "recent"] > 0.1 > computed.loc[1, "historical"]  # the injected 1★ shift


def test_popularity_shift_aligns_items_missing_on_one_side():
    now = pd.Timestamp("2025-01-31", tz="UTC")
    frame = pd.DataFrame({
        "product_id": [1, 1, 2, 2, 3, 3],
        "rating": [5] * 6,
        "timestamp": [now - pd.Timedelta(days=d) for d in (20, 20, 20, 20, 1, 0)],
    })
    shift = data.popularity_shift(frame).set_index("product_id")
    assert shift.loc[3, "historical_share"] == 0.0 and shift.loc[3, "recent_share"] == 1.0
    assert shift.loc[1, "change"] == pytest.approx(-0.5)
    assert shift.index[0] == 3  # the largest absolute change first


def test_embedding_sidecars_age_and_bad_files(filled, now):
    (filled.embeddings_dir / "broken.json").write_text("{not json")
    (filled.embeddings_dir / "other.json").write_text('{"unrelated": 1}')
    sidecars = content.embedding_sidecars(filled.embeddings_dir, now)
    good = sidecars[sidecars["problem"].isna()]
    assert good["age_days"].iloc[0] == pytest.approx(40.0, abs=1e-6) and bool(good["stale"].iloc[0])
    assert sidecars["problem"].notna().sum() == 1


def test_reranking_metrics_window(filled, now):
    assert content.reranking_metrics(filled.service_db, now, timedelta(minutes=30)).empty
    rows = content.reranking_metrics(filled.service_db, now, timedelta(hours=2))
    assert rows["latency_overhead_pct"].tolist() == [12.5]
