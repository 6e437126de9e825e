"""One monitored training run: data → fit (logged per iteration) → evaluate vs baseline → artifacts → registry."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from recsys.cf import logging_utils as tlog
from recsys.cf.artifacts import ModelArtifacts, allocate_artifacts_dir, save_artifacts
from recsys.cf.evaluation import evaluate_factors, evaluate_popularity, improvement_pct, popularity_scores
from recsys.cf.matrix import build_training_data
from recsys.cf.trainers import AlsParams, BprParams, FittedModel, IterationReport, fit_als, fit_bpr
from recsys.cf.training_store import open_training_db
from recsys.clock import Clock, format_ts, utc_now
from recsys.errors import TrainingError
from recsys.gitinfo import git_commit
from recsys.logfmt import close_logger
from recsys.paths import ProjectPaths

MODEL_TYPES = ("als", "bpr")


@dataclass
class TrainResult:
    """What a finished run produced."""

    run_id: str
    model_type: str
    model_id: str
    metrics: dict
    baseline: dict
    artifacts_path: str
    best: dict | None


def default_params(model_type: str) -> AlsParams | BprParams:
    """The default hyperparameters of ``model_type``."""
    if model_type == "als":
        return AlsParams()
    if model_type == "bpr":
        return BprParams()
    raise TrainingError(f"unknown model type '{model_type}' (choose from {', '.join(MODEL_TYPES)})")


def new_run_id(model_type: str, now) -> str:
    """``als_20250115_103000_1a2b`` — sortable, unique across concurrent runs."""
    return f"{model_type}_{now.strftime('%Y%m%d_%H%M%S')}_{secrets.token_hex(2)}"


def _score_range(fitted: FittedModel, sample: int = 256) -> dict:
    users = np.arange(min(sample, fitted.user_factors.shape[0]))
    scores = fitted.user_factors[users] @ fitted.item_factors.T
    return {"min": float(scores.min()), "max": float(scores.max()), "mean": float(scores.mean())}


def train_model(
    paths: ProjectPaths,
    model_type: str,
    *,
    params: AlsParams | BprParams | None = None,
    auto_select: bool = False,
    progress: bool = True,
    clock: Clock = utc_now,
    registry=None,
) -> TrainResult:
    """Train, evaluate, save and register one model, logging every step; a crash is recorded as 'failed'."""
    from recsys.data.ingest import load_checked

    params = params or default_params(model_type)
    dataset = load_checked(paths, clock=clock)  # refuses data that fails a hard quality check

    started = clock()
    run_id = new_run_id(model_type, started)
    commit = git_commit(paths.root)
    logger = tlog.setup_training_logger(model_type, run_id, paths=paths)
    conn = open_training_db(paths.training_db)
    tlog.log_training_start(
        logger, {"model_type": model_type, **asdict(params), "data_version": dataset.data_version,
                 "git_commit": commit}, conn, run_id,
    )
    try:
        data = build_training_data(dataset.interactions)
        total = params.iterations if model_type == "als" else params.epochs
        bar = tqdm(total=total, desc=f"train {model_type}", unit="it" if model_type == "als" else "epoch",
                   disable=not progress, leave=False)

        def on_iteration(report: IterationReport) -> None:
            tlog.log_iteration(
                logger, report.iteration, report.loss, report.wall_time_seconds, conn, run_id, total=report.total,
                epoch=model_type == "bpr", samples=report.samples,
                validation_recall=report.validation_recall, validation_ndcg=report.validation_ndcg,
            )
            bar.update(1)
            if report.loss is not None:
                bar.set_postfix(loss=f"{report.loss:.4f}")

        t0 = time.perf_counter()
        fitted = fit_als(data, params, on_iteration) if model_type == "als" else fit_bpr(data, params, on_iteration)
        training_time = time.perf_counter() - t0
        bar.close()
        if fitted.stopped_early and fitted.best_iteration:
            tlog.log_early_stopping(logger, fitted.best_iteration, fitted.best_validation_ndcg)

        metrics = evaluate_factors(fitted.user_factors, fitted.item_factors, data.test, exclude=data.seen)
        baseline = evaluate_popularity(data.seen, data.test, exclude=data.seen)
        # improvement_pct sits beside baseline_recall_at_10 in the spec's schema: it is recall@10's gain.
        gain = improvement_pct(metrics["recall@10"], baseline["recall@10"])
        artifacts_dir = allocate_artifacts_dir(paths.cf_artifacts, model_type, started)
        metadata = {
            "run_id": run_id, "created_at": format_ts(clock()), "data_version": dataset.data_version,
            "git_commit": commit, "metrics": metrics, "baseline_metrics": baseline,
            "score_range": _score_range(fitted), "n_users": data.n_users, "n_items": data.n_items,
            "iterations_run": fitted.iterations_run, "best_iteration": fitted.best_iteration,
            "stopped_early": fitted.stopped_early, "training_time_seconds": training_time,
        }
        save_artifacts(artifacts_dir, ModelArtifacts(
            model_type, fitted.user_factors, fitted.item_factors, data.user_ids, data.item_ids, data.seen,
            popularity_scores(data.seen), params=fitted.params, metadata=metadata,
        ))
        full_metrics = {
            **metrics,
            "training_time": training_time,
            "baseline_recall@10": baseline["recall@10"],
            "improvement_pct": gain,
            "hyperparameters": fitted.params,
            "data_version": dataset.data_version,
            "git_commit": commit,
            "baseline_comparison": {
                "baseline": "popularity", **{f"baseline_{k}": v for k, v in baseline.items()},
                "recall@10_improvement_pct": gain,
                "ndcg@10_improvement_pct": improvement_pct(metrics["ndcg@10"], baseline["ndcg@10"]),
            },
        }
        outcome = tlog.log_training_complete(
            logger, full_metrics, str(artifacts_dir), conn, run_id, model_type,
            registry=registry, auto_select=auto_select, paths=paths,
        )
    except BaseException as exc:
        tlog.log_training_failed(logger, conn, run_id, exc)
        raise
    finally:
        conn.close()
        close_logger(logger)
    return TrainResult(run_id, model_type, outcome["model_id"], metrics, baseline, str(artifacts_dir),
                       outcome["best"])

