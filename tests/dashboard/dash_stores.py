"""Hand-made stores with known figures, in the schemas the other parts of recsys write (dashboard tests)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from recsys.alerts.store import ALERTS_DDL
from recsys.cf.monitoring.drift_check import DRIFT_DDL
from recsys.cf.monitoring.retrain import RETRAIN_DDL
from recsys.cf.registry._audit import SCHEMA as REGISTRY_SCHEMA
from recsys.cf.training_store import TRAINING_DDL
from recsys.clock import format_ts
from recsys.data.quality import DDL as QUALITY_DDL
from recsys.db import apply_schema, connect
from recsys.monitor.runs import JOB_RUNS_DDL
from recsys.paths import ProjectPaths
from recsys.service.schema import SERVICE_DDL

# The stores' own schemas, so these hand-made stores look exactly like the real ones.
REGISTRY_DDL = REGISTRY_SCHEMA
MONITOR_DDL = "\n".join([DRIFT_DDL, ALERTS_DDL, QUALITY_DDL, JOB_RUNS_DDL, RETRAIN_DDL])

ACTIVE_MODEL = "als_v2_20250116_141500"
BEST_MODEL = "bpr_v1_20250115_120000"
LATENCIES = [10.0 * (i + 1) for i in range(20)]  # 10 … 200 ms: mean 105, nearest-rank p95 190
HEALTH_RPM = [120.0, 90.0, 60.0]


def _ts(now: datetime, **delta) -> str:
    return format_ts(now - timedelta(**delta))


def fill_service(paths: ProjectPaths, now: datetime) -> None:
    """20 requests in the last 10 minutes (4 fallbacks, 1 error), one old slow one, health rows, loader rows."""
    conn = connect(paths.service_db)
    apply_schema(conn, SERVICE_DDL)
    rows = []
    for i, latency in enumerate(LATENCIES):
        fallback = i < 4
        rows.append((_ts(now, seconds=30 * (i + 1)), 1000 + i, 10, latency, 10, fallback,
                     ("content" if i == 3 else "popularity") if fallback else None,
                     "KeyError" if i == 19 else None, ACTIVE_MODEL, "v2", f"req-{i}", i % 2 == 0,
                     0.4 + i / 100, 0.5, 0.6))
    rows.append((_ts(now, hours=3), 1, 10, 5000.0, 10, False, None, None, "als_v1_20250115_103000", "v1", "old",
                 False, None, None, None))
    conn.executemany(
        "INSERT INTO requests (timestamp, user_id, topk, latency_ms, num_recommendations, fallback, fallback_method,"
        " error, model_id, model_version, request_id, rerank_enabled, content_score, semantic_alignment, diversity)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    health = [(_ts(now, minutes=3 - k), rpm, 50.0 + 10 * k, 100.0 + 10 * k, 0.1 * (k + 1), 0.01 * k, ACTIVE_MODEL)
              for k, rpm in enumerate(HEALTH_RPM)]
    health.append((_ts(now, hours=2), 999.0, 1.0, 1.0, 0.0, 0.0, "als_v1_20250115_103000"))
    conn.executemany("INSERT INTO service_health VALUES (?, ?, ?, ?, ?, ?, ?)", health)
    conn.execute(
        "INSERT INTO model_loader_stats (timestamp, model_id, total_loads, cache_hits, cache_misses, cache_hit_rate,"
        " reload_count, last_load_time_ms, last_reload_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (_ts(now, minutes=1), ACTIVE_MODEL, 40, 30, 10, 0.75, 2, 12.5, _ts(now, minutes=30)))
    conn.executemany(
        "INSERT INTO model_reload_events (timestamp, trigger, old_model_id, new_model_id, status, error, load_time_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(_ts(now, hours=2), "startup", None, "als_v1_20250115_103000", "ok", None, 20.0),
         (_ts(now, minutes=30), "watch", "als_v1_20250115_103000", ACTIVE_MODEL, "ok", None, 12.5),
         (_ts(now, minutes=20), "admin", ACTIVE_MODEL, "bpr_broken", "failed", "ArtifactError: missing", None)])
    conn.execute(
        "INSERT INTO reranking_metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (_ts(now, hours=1), 120, 880, 45.0, 40.0, 12.5, 0.42, 0.55, 0.61, 0.48))
    conn.commit()
    conn.close()


def fill_training(paths: ProjectPaths, now: datetime) -> None:
    """Two completed runs with curves (ALS, BPR) and one failed run."""
    conn = connect(paths.training_db)
    apply_schema(conn, TRAINING_DDL)
    runs = [
        ("als_20250115_103000", "als", _ts(now, days=2), "completed", 0.21, 0.189, 5.2, "dv1", "abc1234", None),
        ("bpr_20250115_120000", "bpr", _ts(now, days=1), "completed", 0.22, 0.192, 7.9, "dv1", "abc1234", None),
        ("als_20250116_090000", "als", _ts(now, hours=1), "failed", None, None, None, "dv2", "def5678",
         "TrainingError: NaN factors"),
    ]
    for run_id, kind, started, status, recall, ndcg, gain, version, commit, error in runs:
        conn.execute(
            "INSERT INTO training_runs (run_id, model_type, started_at, completed_at, status, hyperparameters,"
            " recall_at_10, ndcg_at_10, improvement_pct, data_version, git_commit, error, baseline_recall_at_10)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, kind, started, started, status, json.dumps({"factors": 64}), recall, ndcg, gain, version,
             commit, error, 0.2 if recall else None))
    for i, loss in enumerate([10.0, 8.0, 6.0, 5.0, 4.5], start=1):
        conn.execute("INSERT INTO iteration_metrics (run_id, iteration, timestamp, loss, validation_ndcg)"
                     " VALUES (?, ?, ?, ?, ?)", ("als_20250115_103000", i, _ts(now, days=2), loss, 0.1 + i / 100))
    for i, loss in enumerate([0.69, 0.5, 0.4, 0.35], start=1):
        conn.execute("INSERT INTO iteration_metrics (run_id, iteration, timestamp, loss, validation_ndcg)"
                     " VALUES (?, ?, ?, ?, ?)", ("bpr_20250115_120000", i, _ts(now, days=1), loss, 0.15 + i / 100))
    conn.commit()
    conn.close()


def fill_registry(paths: ProjectPaths, now: datetime) -> None:
    """Two registered models, the second one best; five operations."""
    conn = connect(paths.registry_db)
    apply_schema(conn, REGISTRY_DDL)
    ops = [
        (_ts(now, days=2), "REGISTER", "als_v1_20250115_103000", "als", None, None, None, None),
        (_ts(now, days=2, seconds=-5), "SELECT_BEST", "als_v1_20250115_103000", "als", "ndcg@10", 0.189, 5.2, None),
        (_ts(now, days=1), "REGISTER", BEST_MODEL, "bpr", None, None, None, None),
        (_ts(now, days=1, seconds=-5), "SELECT_BEST", BEST_MODEL, "bpr", "ndcg@10", 0.192, 1.6,
         "als_v1_20250115_103000"),
        (_ts(now, hours=5), "ARCHIVE", "als_v0_20250110_090000", "als", None, None, None, None),
    ]
    conn.executemany(
        "INSERT INTO registry_operations (timestamp, action, model_id, model_type, metric, metric_value,"
        " improvement_pct, previous_best_id, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}')", ops)
    conn.executemany(
        "INSERT INTO model_versions (model_id, model_type, version, registered_at, recall_at_10, ndcg_at_10, status,"
        " is_current_best) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [("als_v1_20250115_103000", "als", "v1", _ts(now, days=2), 0.21, 0.189, "active", 0),
         (BEST_MODEL, "bpr", "v1", _ts(now, days=1), 0.22, 0.192, "active", 1)])
    conn.commit()
    conn.close()


def fill_monitor(paths: ProjectPaths, now: datetime) -> None:
    """Drift checks of each type, alerts (one firing with a failed delivery), quality, jobs, a retrain decision."""
    conn = connect(paths.monitor_db)
    apply_schema(conn, MONITOR_DDL)
    rating_details = {"historical_distribution": {"1": 7, "2": 4, "3": 9, "4": 26, "5": 954},
                      "recent_distribution": {"1": 50, "2": 10, "3": 20, "4": 40, "5": 880}}
    movers = {"top_movers": [{"product_id": 42, "historical_rank": 30, "recent_rank": 1, "share_change": 0.05}]}
    semantic = {"mean_similarity": 0.97, "num_drifted": 3, "drifted_products": [7, 8, 9]}
    checks = [
        (_ts(now, days=14), "rating", 0, "ok", 0.01, 0.3, 0.02, "psi", 900, 100, json.dumps(rating_details)),
        (_ts(now, days=7), "rating", 1, "drift", 0.08, 1e-9, 0.31, "psi", 1000, 1000, json.dumps(rating_details)),
        (_ts(now, days=7), "popularity", 0, "ok", 0.91, 0.0, 0.09, "spearman", 1400, 1300, json.dumps(movers)),
        (_ts(now, days=7), "semantic", 0, "ok", 0.97, None, 0.03, "1-mean_cosine", 1400, 1400, json.dumps(semantic)),
    ]
    conn.executemany(
        "INSERT INTO drift_checks (timestamp, check_type, drift_detected, status, statistic, p_value, effect_size,"
        " effect_metric, n_historical, n_recent, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", checks)
    failed_mail = json.dumps([{"channel": "email", "error": "SMTP connection refused", "at": _ts(now, minutes=9)}])
    conn.executemany(
        "INSERT INTO alerts (rule, state, severity, value, threshold, started_at, fired_at, last_notified_at,"
        " resolved_at, notifications_sent, delivery_errors, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("high_latency", "firing", "warning", 250.0, "200", _ts(now, minutes=10), _ts(now, minutes=9),
          _ts(now, minutes=9), None, 1, failed_mail, "avg_latency_ms = 250.000 exceeds threshold 200"),
         ("high_error_rate", "resolved", "critical", 0.08, "0.05", _ts(now, hours=3), _ts(now, hours=3),
          _ts(now, hours=3), _ts(now, hours=2), 2, None, "error_rate = 0.080 exceeds threshold 0.05"),
         ("data_drift", "resolved", "info", 1.0, "true", _ts(now, days=20), _ts(now, days=20), None,
          _ts(now, days=19), 1, None, "old")])
    conn.executemany(
        "INSERT INTO data_quality_checks (timestamp, data_version, check_name, passed, severity, count, examples,"
        " message) VALUES (?, 'dv2', ?, ?, ?, ?, ?, ?)",
        [(_ts(now, hours=6), "ratings_in_range", 1, "hard", 0, "[]", "all ratings in 1-5"),
         (_ts(now, hours=6), "duplicate_pairs", 0, "soft", 3, "[[1, 2]]", "3 duplicate (user, product) pairs")])
    conn.executemany(
        "INSERT INTO job_runs (job, started_at, finished_at, status, error) VALUES (?, ?, ?, ?, ?)",
        [("drift", _ts(now, days=14), _ts(now, days=14), "failed", "boom"),
         ("drift", _ts(now, days=7), _ts(now, days=7), "ok", None),
         ("aggregate", _ts(now, minutes=1), _ts(now, minutes=1), "ok", None)])
    conn.execute(
        "INSERT INTO retrain_decisions (timestamp, should_retrain, reasons, details, action, outcome)"
        " VALUES (?, 1, ?, '{}', 'retrain', 'new best selected')",
        (_ts(now, days=6), json.dumps(["Rating distribution drift (psi=0.31)"])))
    conn.commit()
    conn.close()


def fill_files(paths: ProjectPaths, now: datetime) -> None:
    """An embeddings sidecar 40 days old and a small interactions file (the last week has more 1★ ratings)."""
    paths.embeddings_dir.mkdir(parents=True, exist_ok=True)
    (paths.embeddings_dir / "v1_20250101.json").write_text(json.dumps(
        {"created_at": _ts(now, days=40), "model": "tfidf-svd", "dim": 64, "n": 1400}))
    rng = np.random.default_rng(7)
    n = 2000
    stamps = [now - timedelta(days=float(d)) for d in rng.uniform(0, 30, n)]
    recent = np.array([(now - s).days < 7 for s in stamps])
    ratings = np.where(recent & (rng.random(n) < 0.3), 1, 5)
    products = np.where(recent & (rng.random(n) < 0.5), 42, rng.integers(0, 50, n))
    frame = pd.DataFrame({"user_id": rng.integers(0, 500, n), "product_id": products, "rating": ratings,
                          "timestamp": pd.to_datetime(stamps, utc=True), "is_positive": ratings >= 4,
                          "split": "train"})
    paths.interactions.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(paths.interactions)


def fill_all(paths: ProjectPaths, now: datetime) -> None:
    """Every store and file the dashboards read."""
    fill_service(paths, now)
    fill_training(paths, now)
    fill_registry(paths, now)
    fill_monitor(paths, now)
    fill_files(paths, now)
