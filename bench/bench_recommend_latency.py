#!/usr/bin/env python3
"""Latency of ``/recommend`` at 50k items × 64 factors: in-process top-k and end to end over HTTP.

1. In process, per call: ``ServingModel.recommend`` for known users (CF scores + exclusions + top-10),
   for known users with a category filter, and for cold-start users (popularity fallback), against a
   plain numpy baseline (``item_factors @ user_vector`` + ``argpartition`` top-10).
2. Over HTTP: the shipped app (full monitoring, uvloop + httptools, one worker) under ``wrk -c1``
   (one request at a time: latency without queueing) and ``wrk -c16`` (loaded), 50% known users.

    python bench/bench_recommend_latency.py [--calls 3000] [--duration 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_service_throughput import N_USERS, WRK_SCRIPT, build_project, free_port, wait_up  # noqa: E402

from recsys.cf.artifacts import load_artifacts  # noqa: E402
from recsys.paths import ProjectPaths  # noqa: E402
from recsys.service.serving import ItemFilter, ServingModel  # noqa: E402


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def time_calls(fn, args_list) -> list[float]:
    out = []
    for args in args_list:
        start = time.perf_counter()
        fn(*args)
        out.append((time.perf_counter() - start) * 1e6)
    return out


def in_process(root: Path, calls: int) -> None:
    import pandas as pd

    paths = ProjectPaths.from_env(root)
    artifacts = load_artifacts(next(paths.cf_artifacts.glob("als/v*")))
    model = ServingModel.from_artifacts(artifacts, pd.read_parquet(paths.products), model_id="bench", version="v1",
                                        loaded_at=datetime.now(UTC))
    rng = np.random.default_rng(1)
    users = rng.integers(0, N_USERS, calls).tolist()
    item_factors, user_factors = artifacts.item_factors, artifacts.user_factors

    def plain(user: int) -> np.ndarray:
        scores = item_factors @ user_factors[user]
        top = np.argpartition(-scores, 9)[:10]
        return top[np.argsort(-scores[top])]

    serum = ItemFilter(category="cat3")
    cases = {
        "numpy baseline (scores + argpartition)": time_calls(plain, [(u,) for u in users]),
        "ServingModel, known user": time_calls(lambda u: model.recommend(u, 10), [(u,) for u in users]),
        "ServingModel, known user + category": time_calls(lambda u: model.recommend(u, 10, item_filter=serum),
                                                          [(u,) for u in users]),
        "ServingModel, cold-start user": time_calls(lambda u: model.recommend(10**9 + u, 10), [(u,) for u in users]),
        "ServingModel, cold-start + category": time_calls(
            lambda u: model.recommend(10**9 + u, 10, item_filter=serum), [(u,) for u in users]),
    }
    base_p50 = percentiles(cases["numpy baseline (scores + argpartition)"])[0]
    print(f"in process, top-10 of {artifacts.item_factors.shape[0]} items x {artifacts.item_factors.shape[1]} "
          f"factors, {calls} calls each:")
    for name, samples in cases.items():
        p50, p99 = percentiles(samples)
        print(f"  {name:40s} p50 {p50:7.0f} us  p99 {p99:7.0f} us  (p50 ratio to baseline {p50 / base_p50:.2f})")


def over_http(root: Path, duration: int, runs: int) -> None:
    import os
    import re

    from bench_service_throughput import parse_latency

    script = root / "recommend.lua"
    script.write_text(WRK_SCRIPT.format(known=0.5, users=N_USERS))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OPENBLAS_NUM_THREADS": "1"}
    server = Path(__file__).resolve().parent / "bench_service_throughput.py"
    process = subprocess.Popen([sys.executable, str(server), "--serve", "full", "--root", str(root), "--port",
                                str(port)], env=env)
    try:
        wait_up(url, process)
        print(f"over HTTP, full monitoring, 50% known users, medians of {runs} wrk runs of {duration}s:")
        for connections in (1, 16):
            samples = []
            for _ in range(runs):
                out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s",
                                      str(script), url], check=True, capture_output=True, text=True).stdout
                rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
                samples.append((parse_latency(out, "50"), parse_latency(out, "99"), rps))
            p50, p99, rps = (statistics.median(column) for column in zip(*samples, strict=True))
            p99s = ", ".join(f"{sample[1]:.1f}" for sample in samples)
            print(f"  wrk -c{connections:<3d} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({rps:.0f} req/s; "
                  f"p99 per run: {p99s})")
    finally:
        process.terminate()
        process.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=5, help="wrk runs per concurrency")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_project(root)
        in_process(root, args.calls)
        over_http(root, args.duration, args.runs)


if __name__ == "__main__":
    main()
