"""Counts-based two-sample KS vs ``scipy.stats.ks_2samp`` on 10M vs 10M ratings, in one run.

    PYTHONPATH=. python bench/bench_ks.py [--n 10000000] [--runs 7] [--scipy-runs 5] [--fresh-runs 5]

Both sides start from the raw int64 rating arrays (the counts side includes counting them). The
recent sample moves half a percentage point of 5-star ratings to 4 stars (DESIGN.md's shop
distribution otherwise). Two settings, both measured here:

- fresh: one call in a new process that has just loaded the arrays, as the weekly drift job runs
  (code paths warmed on tiny arrays first, so imports and dispatch setup are not counted);
- repeated: many calls in one process, interleaved so that both sides see the same machine load;
  scipy's repeated calls get faster because the allocator keeps the big buffers mapped.

Prints both statistics (they must be equal), both p-values, medians and ratios.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats
from tqdm import tqdm

from recsys.cf.monitoring.drift import count_on_common_support, detect_rating_distribution_drift, ks_from_counts

SHOP = np.array([0.007, 0.004, 0.009, 0.026, 0.954])
SHOP = SHOP / SHOP.sum()


def counts_ks(historical: np.ndarray, recent: np.ndarray):
    """Our path: count both samples on their common support, then KS on the cumulative counts."""
    _, hist_counts, recent_counts = count_on_common_support(historical, recent)
    return ks_from_counts(hist_counts, recent_counts)


def scipy_ks(historical: np.ndarray, recent: np.ndarray):
    """The baseline: scipy's two-sample KS with the same (asymptotic) p-value."""
    return stats.ks_2samp(historical, recent, method="asymp")


METHODS = {"counts": counts_ks, "scipy": scipy_ks}


def child(method: str, folder: str) -> None:
    """Run in a fresh process: load the samples, warm the code path on tiny arrays, time one call."""
    historical = np.load(Path(folder) / "historical.npy")
    recent = np.load(Path(folder) / "recent.npy")
    function = METHODS[method]
    function(historical[:1000], recent[:1000])
    start = time.perf_counter()
    function(historical, recent)
    print(time.perf_counter() - start)


def fresh_times(method: str, folder: str, runs: int) -> list[float]:
    """Seconds of one call in each of ``runs`` fresh processes."""
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--child", method, folder], check=True,
                             capture_output=True, text=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def repeated_times(historical, recent, runs: int, baseline_runs: int):
    """In-process wall times, the two methods interleaved; returns both lists and the last results."""
    ours_times, base_times, ours, base = [], [], None, None
    for i in tqdm(range(max(runs, baseline_runs)), desc="repeated runs", leave=False):
        if i < runs:
            start = time.perf_counter()
            ours = counts_ks(historical, recent)
            ours_times.append(time.perf_counter() - start)
        if i < baseline_runs:
            start = time.perf_counter()
            base = scipy_ks(historical, recent)
            base_times.append(time.perf_counter() - start)
    return ours_times, base_times, ours, base


def ms(times: list[float]) -> str:
    return "[" + ", ".join(f"{t * 1e3:.0f}" for t in times) + "]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="ratings per sample")
    parser.add_argument("--runs", type=int, default=7, help="repeated runs of the counts-based KS")
    parser.add_argument("--scipy-runs", type=int, default=5, help="repeated runs of scipy.ks_2samp")
    parser.add_argument("--fresh-runs", type=int, default=5, help="fresh-process runs of each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    rng = np.random.default_rng(args.seed)
    shifted = SHOP.copy()
    shifted[4] -= 0.005
    shifted[3] += 0.005
    support = np.arange(1, 6)
    historical = rng.choice(support, size=args.n, p=SHOP)
    recent = rng.choice(support, size=args.n, p=shifted)

    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "historical.npy", historical)
        np.save(Path(folder) / "recent.npy", recent)
        fresh = {}
        for method in tqdm(["counts", "scipy"] * 1, desc="fresh processes", leave=False):
            fresh[method] = fresh_times(method, folder, args.fresh_runs)

    ours_times, scipy_times, ours, reference = repeated_times(historical, recent, args.runs, args.scipy_runs)
    full_times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        verdict = detect_rating_distribution_drift(historical, recent)
        full_times.append(time.perf_counter() - start)

    fresh_ours, fresh_scipy = statistics.median(fresh["counts"]), statistics.median(fresh["scipy"])
    rep_ours, rep_scipy = statistics.median(ours_times), statistics.median(scipy_times)
    print(f"samples: {args.n:,} vs {args.n:,} int64 ratings; 0.5 pp moved from 5 to 4 stars")
    print(f"statistic  counts: {ours.statistic:.12f}  scipy: {float(reference.statistic):.12f}  "
          f"equal: {ours.statistic == float(reference.statistic)}")
    print(f"p-value    counts: {ours.p_value:.6g}  scipy: {float(reference.pvalue):.6g}")
    print(f"fresh process (one call, median of {args.fresh_runs}): counts {fresh_ours * 1e3:.1f} ms  "
          f"scipy {fresh_scipy * 1e3:.1f} ms  ->  {fresh_scipy / fresh_ours:.1f}x   (target >= 20x)")
    print(f"    runs ms: counts {ms(fresh['counts'])}  scipy {ms(fresh['scipy'])}")
    print(f"repeated in one process (median of {args.runs} / {args.scipy_runs}): counts {rep_ours * 1e3:.1f} ms  "
          f"scipy {rep_scipy * 1e3:.1f} ms  ->  {rep_scipy / rep_ours:.1f}x")
    print(f"    runs ms: counts {ms(ours_times)}  scipy {ms(scipy_times)}")
    print(f"full verdict (KS + PSI + JS + distributions), median: {statistics.median(full_times) * 1e3:.1f} ms "
          f"-> drift_detected={verdict['drift_detected']} (p={verdict['p_value']:.3g}, PSI={verdict['psi']:.4f})")


if __name__ == "__main__":
    main()
