#!/usr/bin/env python3
"""Monitoring overhead of training: our monitored fit vs the bare ``implicit`` fit, same data and params.

Monitored = per-iteration callback that writes the spec's log line and an ``iteration_metrics`` row
(and a progress bar's update). The loss computation (ALS's calculate_training_loss, our BPR loss) and
validation are switched off on both sides: they are a choice, not monitoring cost. Runs alternate
bare/monitored, and the medians are compared.

    python bench/bench_training_overhead.py [--preset large] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.cf import logging_utils as tlog  # noqa: E402
from recsys.cf.matrix import build_training_data  # noqa: E402
from recsys.cf.trainers import AlsParams, BprParams, fit_als, fit_bpr  # noqa: E402
from recsys.cf.training_store import open_training_db  # noqa: E402
from recsys.data.dataset import prepare  # noqa: E402
from recsys.data.generate import GenerateConfig, generate  # noqa: E402
from recsys.logfmt import close_logger  # noqa: E402
from recsys.paths import ProjectPaths  # noqa: E402


def bare_fit(model_type: str, data, params) -> float:
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    t0 = time.perf_counter()  # both sides: construct + fit under the BLAS limit, as the trainers do
    with threadpool_limits(1, "blas"):
        if model_type == "als":
            model = AlternatingLeastSquares(factors=params.factors, regularization=params.regularization,
                                            alpha=params.alpha, iterations=params.iterations,
                                            random_state=params.seed)
        else:
            model = BayesianPersonalizedRanking(factors=params.factors, learning_rate=params.learning_rate,
                                                regularization=params.regularization, iterations=params.epochs,
                                                random_state=params.seed)
        model.fit(data.fit, show_progress=False)
    return time.perf_counter() - t0


def monitored_fit(model_type: str, data, params, paths: ProjectPaths, n: int) -> float:
    from tqdm import tqdm

    run_id = f"bench_{model_type}_{n}"
    logger = tlog.setup_training_logger(model_type, run_id, paths=paths)
    conn = open_training_db(paths.training_db)
    tlog.log_training_start(logger, {"model_type": model_type, "factors": params.factors}, conn, run_id)
    total = params.iterations if model_type == "als" else params.epochs
    bar = tqdm(total=total, disable=True)

    def on_iteration(report) -> None:
        tlog.log_iteration(logger, report.iteration, report.loss, report.wall_time_seconds, conn, run_id,
                           total=report.total, epoch=model_type == "bpr", samples=report.samples)
        bar.update(1)

    t0 = time.perf_counter()
    (fit_als if model_type == "als" else fit_bpr)(data, params, on_iteration)
    elapsed = time.perf_counter() - t0
    conn.close()
    close_logger(logger)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large", choices=["tiny", "small", "large"])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    interactions, products = generate(GenerateConfig(preset=args.preset), progress=False)
    interactions, products = prepare(interactions, products)
    data = build_training_data(interactions)
    print(f"data: {data.n_users} users x {data.n_items} items, {data.fit.nnz} training positives")
    cases = {
        "als": AlsParams(calculate_loss=False, validate_every=0),
        "bpr": BprParams(loss_samples=0, validate_every=0, patience=10**6),
    }
    with tempfile.TemporaryDirectory() as tmp:
        paths = ProjectPaths.from_env(tmp)
        for model_type, params in cases.items():
            bare, monitored = [], []
            bare_fit(model_type, data, params)  # warm-up (imports, page cache)
            for n in range(args.repeats):
                bare.append(bare_fit(model_type, data, params))
                monitored.append(monitored_fit(model_type, data, params, paths, n))
            b, m = statistics.median(bare), statistics.median(monitored)
            print(f"{model_type}: bare median {b:.3f}s, monitored median {m:.3f}s, "
                  f"ratio {m / b:.3f} (overhead {100 * (m / b - 1):+.1f}%), runs={args.repeats}")


if __name__ == "__main__":
    main()
