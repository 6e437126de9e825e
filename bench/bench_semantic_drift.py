"""Semantic drift: the spec's ``np.diag(old @ new.T)`` vs row-wise chunked cosine, time and peak memory.

    PYTHONPATH=. python bench/bench_semantic_drift.py [--dim 768] [--spec-sizes 2000 5000 10000]
                                                       [--our-sizes 2000 5000 10000 50000 100000] [--repeats 3]

Peak memory is what tracemalloc sees numpy allocate during the call (inputs excluded). The spec's
formula holds an N×N float32 matrix, so it is run only at sizes where that fits; the script prints
how both grow and what the spec would need at the largest size.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

import numpy as np

from recsys.embeddings.drift import detect_semantic_drift


def spec_similarities(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The spec's computation, verbatim: normalise, full matrix product, take the diagonal."""
    old_norm = old / np.linalg.norm(old, axis=1, keepdims=True)
    new_norm = new / np.linalg.norm(new, axis=1, keepdims=True)
    return np.diag(old_norm @ new_norm.T)


def spec_drift(old: np.ndarray, new: np.ndarray, ids: np.ndarray) -> float:
    similarities = spec_similarities(old, new)
    return float(similarities.mean())


def our_drift(old: np.ndarray, new: np.ndarray, ids: np.ndarray) -> float:
    return detect_semantic_drift(old, new, ids)["mean_similarity"]


def our_drift_by_id(old: np.ndarray, new: np.ndarray, ids: np.ndarray) -> float:
    """As the drift job runs it: rows paired by product id (the new version in reverse order)."""
    return detect_semantic_drift(old, new[::-1], old_ids=ids, new_ids=ids[::-1])["mean_similarity"]


def measure(func, old, new, ids, repeats: int) -> tuple[float, float, float]:
    """(median seconds, peak MB above the inputs, result) over ``repeats`` runs."""
    times, peaks, value = [], [], None
    for _ in range(repeats):
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        value = func(old, new, ids)
        times.append(time.perf_counter() - started)
        peaks.append(tracemalloc.get_traced_memory()[1] / 1e6)
        tracemalloc.stop()
    return statistics.median(times), max(peaks), value


def make_pair(n: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    old = rng.standard_normal((n, dim), dtype=np.float32)
    new = old + 0.1 * rng.standard_normal((n, dim), dtype=np.float32)
    return old, new, np.arange(n, dtype=np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--spec-sizes", type=int, nargs="+", default=[2000, 5000, 10000])
    parser.add_argument("--our-sizes", type=int, nargs="+", default=[2000, 5000, 10000, 50000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"semantic drift, dim={args.dim}, float32, median of {args.repeats} runs; "
          "peak = tracemalloc, inputs excluded")
    print(f"{'N':>7} | {'spec s':>7} {'spec MB':>8} | {'ours s':>7} {'ours MB':>7} | {'by-id s':>7} {'by-id MB':>8} | "
          f"{'time ×':>7} {'mem ×':>7} | {'max |Δmean|':>11}")
    warm = make_pair(100, args.dim)
    for func in (spec_drift, our_drift, our_drift_by_id):  # first calls pay for imports and BLAS setup
        func(*warm)
    rows = []
    for n in sorted(set(args.spec_sizes) | set(args.our_sizes)):
        old, new, ids = make_pair(n, args.dim)
        ours_t, ours_mb, ours_v = measure(our_drift, old, new, ids, args.repeats)
        byid_t, byid_mb, byid_v = measure(our_drift_by_id, old, new, ids, args.repeats)
        assert abs(byid_v - ours_v) < 1e-6
        line = f"{n:>7} | "
        spec_t = spec_mb = None
        if n in args.spec_sizes:
            spec_t, spec_mb, spec_v = measure(spec_drift, old, new, ids, args.repeats)
            line += f"{spec_t:>7.3f} {spec_mb:>8.1f} | "
        else:
            line += f"{'—':>7} {'—':>8} | "
        line += f"{ours_t:>7.3f} {ours_mb:>7.1f} | {byid_t:>7.3f} {byid_mb:>8.1f} |"
        if spec_t is not None:
            line += f" {spec_t / ours_t:>6.1f}× {spec_mb / ours_mb:>6.1f}× | {abs(spec_v - ours_v):>11.2e}"
        print(line)
        rows.append((n, spec_t, spec_mb, ours_t, ours_mb, byid_t, byid_mb))
        del old, new
        gc.collect()

    def growth(label, first, last, t_col, m_col):
        scale = np.log(last[0] / first[0])
        print(f"{label} {first[0]}→{last[0]}: time ∝ N^{np.log(last[t_col] / first[t_col]) / scale:.2f}, "
              f"peak memory ∝ N^{np.log(last[m_col] / first[m_col]) / scale:.2f}")

    print()
    spec_rows = [r for r in rows if r[1] is not None]
    if len(spec_rows) >= 2:
        growth("spec ", spec_rows[0], spec_rows[-1], 1, 2)
    growth("ours ", rows[0], rows[-1], 3, 4)
    growth("by-id", rows[0], rows[-1], 5, 6)
    largest = rows[-1]
    print(f"at N={largest[0]}: the spec's N×N float32 matrix alone = {largest[0] ** 2 * 4 / 1e9:.1f} GB; "
          f"ours peaked at {largest[4]:.1f} MB (by id: {largest[6]:.1f} MB)")


if __name__ == "__main__":
    main()
