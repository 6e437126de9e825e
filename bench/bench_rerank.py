"""Reranking latency per request vs CF-only top-k selection, measured in the same run.

    PYTHONPATH=. python bench/bench_rerank.py [--items 2200 50000] [--factors 64] [--dim 128]
                                              [--topk 10] [--requests 2000] [--runs 5]

CF-only = score every item with the user's factors and take the top k (argpartition + sort).
Rerank  = the same scoring, top ``topk × candidate_multiplier`` candidates, then ``rerank`` with content
similarity to a 20-item history and popularity. Both paths also compute ``list_metrics`` (the service
records content score, alignment and diversity for every request), shown separately too.
Figures are medians over runs of the per-request median.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from recsys.embeddings.config import RerankConfig
from recsys.embeddings.index import EmbeddingIndex
from recsys.embeddings.rerank import list_metrics, rerank


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def per_request(func, requests) -> float:
    """Median seconds per call of ``func(request)``."""
    timings = []
    for request in requests:
        started = time.perf_counter()
        func(request)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def bench(items: int, factors: int, dim: int, topk: int, n_requests: int, runs: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    item_factors = rng.standard_normal((items, factors), dtype=np.float32)
    user_factors = rng.standard_normal((n_requests, factors), dtype=np.float32)
    product_ids = np.arange(100_000, 100_000 + items, dtype=np.int64)
    index = EmbeddingIndex(rng.standard_normal((items, dim), dtype=np.float32), product_ids)
    popularity = rng.zipf(1.5, size=items).astype(np.float64)
    histories = [product_ids[rng.choice(items, 20, replace=False)] for _ in range(n_requests)]
    config = RerankConfig()
    n_candidates = config.candidates_for(topk)
    requests = list(range(n_requests))

    def cf_only(i):
        rows = top_k(item_factors @ user_factors[i], topk)
        return product_ids[rows]

    def cf_only_with_metrics(i):
        return list_metrics(cf_only(i), histories[i], index)

    def reranked(i):
        scores = item_factors @ user_factors[i]
        rows = top_k(scores, n_candidates)
        result = rerank(product_ids[rows], scores[rows], histories[i], index, k=topk, popularity=popularity[rows],
                        config=config)
        return result

    def reranked_with_metrics(i):
        return list_metrics(reranked(i).product_ids, histories[i], index)

    cand_rows = [top_k(item_factors @ user_factors[i], n_candidates) for i in requests]

    def rerank_step(i):
        rows = cand_rows[i]
        return rerank(product_ids[rows], (item_factors[rows] @ user_factors[i]), histories[i], index, k=topk,
                      popularity=popularity[rows], config=config)

    out = {name: [] for name in ("cf", "cf_m", "rr", "rr_m", "step")}
    for _ in range(runs):
        out["cf"].append(per_request(cf_only, requests))
        out["rr"].append(per_request(reranked, requests))
        out["cf_m"].append(per_request(cf_only_with_metrics, requests))
        out["rr_m"].append(per_request(reranked_with_metrics, requests))
        out["step"].append(per_request(rerank_step, requests))
    return {name: statistics.median(values) for name, values in out.items()} | {"candidates": n_candidates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[2200, 50000])
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--topk", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"factors={args.factors}, embedding dim={args.dim}, topk={args.topk}, history=20, "
          f"{args.requests} requests × {args.runs} runs (median of per-request medians)")
    for items in args.items:
        r = bench(items, args.factors, args.dim, args.topk, args.requests, args.runs)
        us = {k: v * 1e6 for k, v in r.items() if k != "candidates"}
        print(f"\nitems={items}, candidates={r['candidates']}")
        print(f"  CF-only top-k                 {us['cf']:8.1f} µs")
        print(f"  CF + rerank                   {us['rr']:8.1f} µs   ratio {r['rr'] / r['cf']:.2f}× "
              f"(overhead {us['rr'] - us['cf']:.1f} µs)")
        print(f"  rerank step alone ({r['candidates']} cand.)   {us['step']:8.1f} µs")
        print(f"  CF-only + list metrics        {us['cf_m']:8.1f} µs")
        print(f"  CF + rerank + list metrics    {us['rr_m']:8.1f} µs   ratio {r['rr_m'] / r['cf_m']:.2f}× "
              f"vs CF-only + metrics")


if __name__ == "__main__":
    main()
