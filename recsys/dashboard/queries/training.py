"""Training runs and their per-iteration curves from ``logs/training_metrics.db``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from recsys.dashboard.queries._db import parse_times, read_frame

RUN_COLUMNS = ["run_id", "model_type", "status", "started_at", "completed_at", "recall_at_10", "recall_at_20",
               "ndcg_at_10", "ndcg_at_20", "coverage", "baseline_recall_at_10", "improvement_pct",
               "training_time_seconds", "data_version", "git_commit", "model_id", "registry_status", "error",
               "hyperparameters"]

# Figures compared side by side for two runs, in display order.
COMPARED_METRICS = ["recall_at_10", "recall_at_20", "ndcg_at_10", "ndcg_at_20", "coverage",
                    "baseline_recall_at_10", "improvement_pct", "training_time_seconds"]


def training_runs(db: str | Path, model_type: str | None = None, limit: int = 500) -> pd.DataFrame:
    """Most recent runs first, optionally of one model type."""
    frame = read_frame(
        db,
        f"SELECT {', '.join(RUN_COLUMNS)} FROM training_runs"  # fixed column list, no user input
        " WHERE (? IS NULL OR model_type = ?) ORDER BY started_at DESC LIMIT ?",
        (model_type, model_type, limit),
    )
    return parse_times(frame, ["started_at", "completed_at"])


def run_iterations(db: str | Path, run_ids: Sequence[str]) -> pd.DataFrame:
    """The iterations of the given runs, in run and iteration order (loss and validation figures)."""
    if not run_ids:
        return pd.DataFrame()
    marks = ", ".join("?" for _ in run_ids)
    frame = read_frame(
        db,
        "SELECT run_id, iteration, timestamp, loss, validation_recall, validation_ndcg, wall_time_seconds, samples"
        f" FROM iteration_metrics WHERE run_id IN ({marks}) ORDER BY run_id, iteration",  # only placeholders
        list(run_ids),
    )
    return parse_times(frame, ["timestamp"])


def compare_runs(runs: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
    """Metric by metric, the two runs' values (columns ``A: <id>``, ``B: <id>``) and ``B - A``."""
    by_id = runs.set_index("run_id")
    a, b = by_id.loc[first], by_id.loc[second]
    rows = []
    for metric in COMPARED_METRICS:
        va, vb = a.get(metric), b.get(metric)
        both = va is not None and vb is not None and not pd.isna(va) and not pd.isna(vb)
        rows.append({"metric": metric, f"A: {first}": va, f"B: {second}": vb,
                     "B - A": float(vb - va) if both else None})
    return pd.DataFrame(rows)
