"""The spec's training-logging functions: one log line in ``logs/cf/<type>.log`` and one store write each.

Line formats (spec, Component 1)::

    2025-01-15 10:30:00 | INFO | Training started | factors=64, reg=0.01, alpha=40
    2025-01-15 10:30:15 | INFO | Iteration 1/15 | loss=125.3400, time=1.2s
    2025-01-15 12:00:30 | INFO | Epoch 1/50 | avg_loss=0.5230, samples=1600000, time=28.5s
    2025-01-15 12:02:30 | INFO | Validation | recall@10=0.198, ndcg@10=0.153
    2025-01-15 12:30:00 | INFO | Early stopping | best_epoch=35, best_ndcg@10=0.192
    2025-01-15 10:32:00 | INFO | Training completed | total_time=45.2s
    2025-01-15 10:32:05 | INFO | Evaluation | recall@10=0.234, ndcg@10=0.189
    2025-01-15 10:32:10 | INFO | Artifacts saved | path=artifacts/cf/als/v1_20250115_103000
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from recsys.cf import training_store as store
from recsys.logfmt import file_logger
from recsys.paths import ProjectPaths

# Short names the spec's log lines use for some hyperparameters.
_SHORT_NAMES = {"regularization": "reg", "learning_rate": "lr"}
_NOT_HYPERPARAMETERS = {"model_type", "data_version", "git_commit"}
REGISTRY_METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20", "coverage")


def format_params(params: dict) -> str:
    """Hyperparameters as ``factors=64, reg=0.01, alpha=40`` (lineage fields left out)."""
    return ", ".join(
        f"{_SHORT_NAMES.get(key, key)}={value}" for key, value in params.items() if key not in _NOT_HYPERPARAMETERS
    )


def relative_to_root(paths: ProjectPaths, path: str | Path) -> str:
    """``path`` relative to the project root when inside it (as the spec's lines show it), else as given."""
    try:
        return str(Path(path).resolve().relative_to(paths.root))
    except ValueError:
        return str(path)


def setup_training_logger(model_type: str, run_id: str, *, paths: ProjectPaths | None = None,
                          console: bool = False) -> logging.Logger:
    """Logger for one run writing to ``logs/cf/<model_type>.log``; calling it twice adds no handler."""
    paths = paths or ProjectPaths.from_env()
    return file_logger(f"cf.{model_type}.{run_id}", paths.training_log(model_type), console=console)


def log_training_start(logger: logging.Logger, params: dict, db_conn: sqlite3.Connection, run_id: str) -> None:
    """``Training started | …`` and a 'running' row in ``training_runs``."""
    logger.info(f"Training started | {format_params(params)}")
    hyper = {k: v for k, v in params.items() if k not in _NOT_HYPERPARAMETERS}
    store.insert_run(db_conn, run_id, params["model_type"], hyper, params.get("data_version"),
                     params.get("git_commit"))


def log_iteration(logger: logging.Logger, iteration: int, loss: float | None, time: float,
                  db_conn: sqlite3.Connection, run_id: str, *, total: int | None = None, epoch: bool = False,
                  samples: int | None = None, validation_recall: float | None = None,
                  validation_ndcg: float | None = None) -> None:
    """``Iteration i/n | loss=…, time=…s`` (ALS) or ``Epoch i/n | avg_loss=…, samples=…, time=…s`` (BPR)."""
    counter = f"{iteration}/{total}" if total else str(iteration)
    loss_text = "n/a" if loss is None else f"{loss:.4f}"
    if epoch:
        logger.info(f"Epoch {counter} | avg_loss={loss_text}, samples={samples}, time={time:.1f}s")
    else:
        logger.info(f"Iteration {counter} | loss={loss_text}, time={time:.1f}s")
    if validation_ndcg is not None:
        logger.info(f"Validation | recall@10={validation_recall:.3f}, ndcg@10={validation_ndcg:.3f}")
    store.insert_iteration(db_conn, run_id, iteration, loss, time, samples=samples,
                           validation_recall=validation_recall, validation_ndcg=validation_ndcg)


def log_early_stopping(logger: logging.Logger, best_epoch: int, best_ndcg: float) -> None:
    """``Early stopping | best_epoch=…, best_ndcg@10=…``."""
    logger.info(f"Early stopping | best_epoch={best_epoch}, best_ndcg@10={best_ndcg:.3f}")


def log_training_failed(logger: logging.Logger, db_conn: sqlite3.Connection, run_id: str, error: BaseException) -> None:
    """``ERROR | Training failed | error=…`` and the run marked 'failed' with its error."""
    text = f"{type(error).__name__}: {error}"
    logger.error(f"Training failed | error={text}")
    store.fail_run(db_conn, run_id, text)


def log_training_complete(logger: logging.Logger, metrics: dict, artifacts_path: str, db_conn: sqlite3.Connection,
                          run_id: str, model_type: str, *, registry=None, auto_select: bool = True,
                          paths: ProjectPaths | None = None) -> dict:
    """Log completion, update the run, register the model and (``auto_select``) select the best.

    Returns ``{"model_id", "best"}`` where ``best`` is the registry's selection result (or None).
    A registration failure marks the run's ``registry_status`` 'failed' and re-raises.
    """
    from recsys.cf.registry import ModelRegistry

    paths = paths or ProjectPaths.from_env()
    shown = relative_to_root(paths, artifacts_path)
    logger.info(f"Training completed | total_time={metrics['training_time']:.1f}s")
    logger.info(f"Evaluation | recall@10={metrics['recall@10']:.3f}, ndcg@10={metrics['ndcg@10']:.3f}")
    logger.info(f"Artifacts saved | path={shown}")
    store.complete_run(db_conn, run_id, metrics, shown)

    registry = registry or ModelRegistry(paths=paths)
    try:
        model_id = registry.register_model(
            artifacts_path=artifacts_path,
            model_type=model_type,
            hyperparameters=metrics.get("hyperparameters", {}),
            metrics={key: metrics.get(key, 0.0) for key in REGISTRY_METRICS},
            training_info={"training_time_seconds": metrics["training_time"], "run_id": run_id},
            data_version=metrics.get("data_version"),
            baseline_comparison=metrics.get("baseline_comparison"),
            git_commit=metrics.get("git_commit"),
        )
    except Exception:
        store.record_registration(db_conn, run_id, None, "failed")
        raise
    logger.info(f"Model registered: {model_id}")
    store.record_registration(db_conn, run_id, model_id, "active")

    best = None
    if auto_select:
        best = registry.select_best_model(metric="ndcg@10")
        if best and best["model_id"] == model_id and best.get("changed", True):
            logger.info(f"New best model selected: {model_id} (ndcg@10={best['value']:.4f})")
    return {"model_id": model_id, "best": best}
