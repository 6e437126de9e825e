"""A little realistic traffic for a running service (``make run``): known and cold-start users, filters, feedback."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
from tqdm import tqdm

from recsys.paths import ProjectPaths


@dataclass
class TrafficPlan:
    """Who asks and what they may filter on."""

    known_users: Sequence[int]
    categories: Sequence[str] = ()
    brands: Sequence[str] = ()
    cold_share: float = 0.5       # the real shop: most users have too little history for CF
    filter_share: float = 0.2
    rerank_share: float = 0.25    # requests asking for content reranking (compared with CF-only ones)
    click_rate: float = 0.1
    purchase_rate: float = 0.02


@dataclass
class TrafficSummary:
    """What the traffic run got back."""

    statuses: Counter = field(default_factory=Counter)
    fallbacks: int = 0
    feedback_events: Counter = field(default_factory=Counter)


def plan_from_project(paths: ProjectPaths) -> TrafficPlan:
    """Known users from the registry's current best model, filter values from the product catalogue."""
    import pandas as pd

    from recsys.cf.artifacts import load_artifacts
    from recsys.cf.registry import ModelRegistry

    best = ModelRegistry(paths=paths).get_current_best() if paths.registry_file.exists() else None
    users = load_artifacts(best["model_info"]["path"]).user_ids.tolist() if best else []
    categories: list[str] = []
    brands: list[str] = []
    if paths.products.exists():
        products = pd.read_parquet(paths.products, columns=["category", "brand"])
        categories = sorted(products["category"].dropna().astype(str).unique())
        brands = sorted(products["brand"].dropna().astype(str).unique())
    return TrafficPlan(known_users=users, categories=categories, brands=brands)


def drive_traffic(base_url: str, plan: TrafficPlan, *, requests: int = 200, seed: int = 0,
                  progress: bool = True, timeout: float = 10.0) -> TrafficSummary:
    """Send ``requests`` recommendation requests (and the feedback they lead to) to ``base_url``."""
    rng = random.Random(seed)
    summary = TrafficSummary()
    cold_start = 10**9  # ids far above any generated user id
    with httpx.Client(base_url=base_url, timeout=timeout) as client:
        for _ in tqdm(range(requests), desc="traffic", unit="req", disable=not progress):
            known = plan.known_users and rng.random() >= plan.cold_share
            body: dict = {"user_id": int(rng.choice(plan.known_users)) if known else cold_start + rng.randrange(10**6),
                          "topk": rng.choice((5, 10, 10, 20))}
            if rng.random() < plan.filter_share and (plan.categories or plan.brands):
                key, values = rng.choice([(k, v) for k, v in (("category", plan.categories),
                                                              ("brand", plan.brands)) if v])
                body["filter_params"] = {key: rng.choice(values)}
            if rng.random() < plan.rerank_share:
                body["rerank"] = True
            response = client.post("/recommend", json=body)
            summary.statuses[response.status_code] += 1
            if response.status_code != 200:
                continue
            answer = response.json()
            summary.fallbacks += answer["is_fallback"]
            for item in answer["recommendations"]:
                events = ["impression"]
                if rng.random() < plan.click_rate:
                    events.append("click")
                    if rng.random() < plan.purchase_rate / plan.click_rate:
                        events.append("purchase")
                for event in events:
                    sent = client.post("/feedback", json={"request_id": answer["request_id"],
                                                          "user_id": body["user_id"],
                                                          "product_id": item["product_id"], "event": event})
                    if sent.status_code == 202:
                        summary.feedback_events[event] += 1
    return summary
