"""A generated shop that looks like the real one (DESIGN.md, "What the real data looked like").

Shape: ~95.5% 5★ ratings; most users buy once; ~9% of users have several interactions and carry the
collaborative signal; item popularity follows a power law; ~18 months of timestamps with growing volume.

Latent structure, so collaborative filtering has something to find: products and users each belong to one
taste cluster (a skin type, a price tier, a few brands and categories — see ``catalog``). Each interaction
comes from the user's own cluster with probability ``cluster_affinity`` (popularity-weighted inside it),
otherwise from the whole catalogue by popularity. Popularity alone therefore predicts something, and knowing
a user's cluster from their other purchases predicts much more.

Drift knobs change only the most recent ``drift_weeks``: ratings move from 5★ to lower stars, popularity is
partly re-ranked, and ``new_items`` products exist only in that window.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tqdm.auto import tqdm

from recsys.data import schema as s
from recsys.data.catalog import build_catalog, make_cluster_profiles

PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"n_users": 2_000, "n_products": 200, "n_clusters": 16},
    "small": {"n_users": 20_000, "n_products": 1_200, "n_clusters": 60},
    "large": {"n_users": 300_000, "n_products": 2_200, "n_clusters": 100},
}
# Share of 1★..5★ in the real shop.
RATING_SHARES = np.array([0.007, 0.004, 0.009, 0.026, 0.955])
RATING_SHARES = RATING_SHARES / RATING_SHARES.sum()
CHUNK_USERS = 50_000  # users generated per step (bounds memory, drives the progress bar)
PROGRESS_MIN_USERS = 100_000
MAX_INTERACTIONS_PER_USER = 60
REDRAW_ROUNDS = 4


def today_utc() -> datetime:
    """Today's UTC midnight: the default end of generated data."""
    return datetime.combine(datetime.now(UTC).date(), time(), tzinfo=UTC)


class GenerateConfig(BaseModel):
    """Everything that decides a generated data set; the same config and seed give the same data."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    preset: Literal["tiny", "small", "large"] = "small"
    """Size preset; n_users, n_products and n_clusters default to its values."""
    seed: int = 42
    """Seed of the numpy Generator."""
    n_users: int = Field(ge=1)
    """Number of users (each has at least one interaction)."""
    n_products: int = Field(ge=2)
    """Number of catalogue products, not counting ``new_items``."""
    n_clusters: int = Field(ge=1)
    """Number of latent taste clusters."""
    end: datetime
    """End of the time range (exclusive), UTC; default today's UTC midnight."""
    span_days: int = Field(548, ge=14)
    """Length of the time range in days (~18 months)."""
    drift_weeks: int = Field(0, ge=0)
    """Length of the recent window the drift knobs act on; 0 = no drift."""
    rating_shift: float = Field(0.0, ge=0.0, le=1.0)
    """Share of the 5★ mass moved to 1★–4★ (in their usual proportions) inside the window."""
    popularity_shift: float = Field(0.0, ge=0.0, le=1.0)
    """Inside the window, item popularity is this mix of a random re-ranking and the old ranking."""
    new_items: int = Field(0, ge=0)
    """Products that exist only inside the window (launches)."""
    multi_user_share: float = Field(0.093, ge=0.0, le=1.0)
    """Share of users with two or more interactions."""
    mean_extra: float = Field(1.5, ge=0.0)
    """Mean number of interactions beyond two for a multi-interaction user."""
    cluster_affinity: float = Field(0.9, ge=0.0, le=1.0)
    """Probability that an interaction comes from the user's own taste cluster."""
    popularity_exponent: float = Field(0.9, ge=0.0)
    """Zipf exponent of item popularity (weight of rank r is r^-exponent)."""
    repeat_keep: float = Field(0.1, ge=0.0, le=1.0)
    """Probability that a user's second purchase of one product is kept as a repeat purchase."""
    growth: float = Field(1.0, ge=0.0)
    """Volume grows by e^growth from start to end."""

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: dict) -> dict:
        data = {key: value for key, value in dict(data).items() if value is not None}
        preset = data.get("preset", "small")
        for key, value in PRESETS.get(preset, {}).items():
            data.setdefault(key, value)
        end = data.get("end", today_utc())
        if isinstance(end, str):
            end = datetime.fromisoformat(end)
        if isinstance(end, date) and not isinstance(end, datetime):
            end = datetime.combine(end, time())
        data["end"] = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
        return data

    @model_validator(mode="after")
    def _check_drift(self) -> GenerateConfig:
        if self.drift_weeks == 0:
            for knob in ("rating_shift", "popularity_shift", "new_items"):
                if getattr(self, knob):
                    raise ValueError(f"{knob} needs drift_weeks > 0")
        if self.drift_weeks * 7 >= self.span_days:
            raise ValueError(f"drift_weeks={self.drift_weeks} is not shorter than span_days={self.span_days}")
        if self.n_clusters > self.n_products:
            raise ValueError(f"n_clusters={self.n_clusters} exceeds n_products={self.n_products}")
        return self

    @property
    def start(self) -> datetime:
        """Start of the time range."""
        return self.end - timedelta(days=self.span_days)

    @property
    def window_start(self) -> datetime | None:
        """Start of the drift window, or None without drift."""
        return self.end - timedelta(weeks=self.drift_weeks) if self.drift_weeks else None


class _Sampler:
    """Draws items by weight, either from the whole catalogue or from one cluster (vectorised)."""

    def __init__(self, weights: np.ndarray, clusters: np.ndarray, n_clusters: int):
        self.order = np.argsort(clusters, kind="stable")  # items grouped by cluster
        w, c = weights[self.order], clusters[self.order]
        totals = np.bincount(c, weights=w, minlength=n_clusters)
        before = np.concatenate(([0.0], np.cumsum(totals)[:-1]))
        within = (np.cumsum(w) - before[c]) / np.where(totals[c] > 0, totals[c], 1.0)
        last_of_cluster = np.r_[c[1:] != c[:-1], True]
        within[last_of_cluster] = 1.0  # no float gap at a cluster's upper edge
        # Cluster k owns keys (k, k+1]; zero-weight items own an empty interval and are never drawn.
        self.keys = c + within
        self.cluster_mass = totals / totals.sum()
        cum = np.cumsum(weights) / weights.sum()
        cum[-1] = 1.0
        self.global_cum = cum

    def draw(self, rng: np.random.Generator, clusters: np.ndarray, own: np.ndarray) -> np.ndarray:
        """One item per row: from ``clusters[row]`` where ``own`` is set, else from the whole catalogue."""
        u = 1.0 - rng.random(len(clusters))  # in (0, 1]
        from_cluster = self.order[np.searchsorted(self.keys, clusters + u, side="left")]
        from_all = np.searchsorted(self.global_cum, u, side="left")
        return np.where(own, from_cluster, from_all)


def generate(config: GenerateConfig, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generated (interactions, products): raw columns only; ``dataset.prepare`` adds split and statistics."""
    rng = np.random.default_rng(config.seed)
    n_old, n_new, n_clusters = config.n_products, config.new_items, config.n_clusters
    profiles = make_cluster_profiles(rng, n_clusters)
    item_cluster = np.concatenate((rng.permutation(np.arange(n_old) % n_clusters),
                                   rng.integers(n_clusters, size=n_new)))
    base_weights = np.zeros(n_old + n_new)
    base_weights[:n_old] = (rng.permutation(n_old) + 1.0) ** -config.popularity_exponent
    products = build_catalog(rng, item_cluster, profiles)

    base = _Sampler(base_weights, item_cluster, n_clusters)
    window = base
    if config.drift_weeks:
        shifted = base_weights.copy()
        old = base_weights[:n_old]
        shifted[:n_old] = (1 - config.popularity_shift) * old + config.popularity_shift * rng.permutation(old)
        # launches are noticed: each gets the popularity of a random rank in the top 30%
        top_ranks = rng.integers(max(1, int(0.3 * n_old)), size=n_new)
        shifted[n_old:] = (top_ranks + 1.0) ** -config.popularity_exponent
        window = _Sampler(shifted, item_cluster, n_clusters)

    n_users = config.n_users
    user_cluster = rng.choice(n_clusters, size=n_users, p=base.cluster_mass)
    multi = rng.random(n_users) < config.multi_user_share
    extra = rng.geometric(1.0 / (1.0 + config.mean_extra), size=n_users) - 1
    counts = np.where(multi, np.minimum(2 + extra, MAX_INTERACTIONS_PER_USER), 1)

    parts = []
    with tqdm(total=n_users, unit="user", desc="generating interactions",
              disable=not progress or n_users < PROGRESS_MIN_USERS) as bar:
        for lo in range(0, n_users, CHUNK_USERS):
            hi = min(lo + CHUNK_USERS, n_users)
            parts.append(_chunk(rng, config, np.arange(lo, hi), counts[lo:hi], user_cluster[lo:hi],
                                base, window, n_old + n_new))
            bar.update(hi - lo)
    users, items, seconds, ratings = (np.concatenate(column) for column in zip(*parts, strict=True))

    start_us = int(config.start.timestamp()) * 1_000_000
    stamps = pd.DatetimeIndex((start_us + seconds * 1_000_000).astype("datetime64[us]")).tz_localize("UTC")
    interactions = pd.DataFrame({
        s.USER_ID: users.astype(np.int64) + 1,
        s.PRODUCT_ID: items.astype(np.int64) + 1,
        s.RATING: ratings.astype(np.int64),
        s.TIMESTAMP: stamps,
    })
    interactions = interactions.drop_duplicates([s.USER_ID, s.PRODUCT_ID, s.TIMESTAMP])
    interactions = interactions.sort_values([s.TIMESTAMP, s.USER_ID], kind="stable").reset_index(drop=True)
    return interactions, products


def _chunk(rng: np.random.Generator, config: GenerateConfig, users: np.ndarray, counts: np.ndarray,
           clusters: np.ndarray, base: _Sampler, window: _Sampler, n_items: int) -> tuple[np.ndarray, ...]:
    """Interactions of one block of users: (user index, item index, seconds since start, rating)."""
    row_user = np.repeat(users, counts)
    row_cluster = np.repeat(clusters, counts)
    n = len(row_user)
    span = config.span_days * 86_400
    g = config.growth
    u = rng.random(n)
    fraction = np.log1p(u * np.expm1(g)) / g if g > 0 else u  # inverse CDF of volume ∝ e^(g·x)
    seconds = np.minimum((fraction * span).astype(np.int64), span - 1)
    in_window = np.zeros(n, dtype=bool)
    if config.drift_weeks:
        in_window = seconds >= span - config.drift_weeks * 7 * 86_400

    own = rng.random(n) < config.cluster_affinity
    items = _draw(rng, base, window, row_cluster, own, in_window)
    # A second purchase of the same product is usually a different product; some repeats stay.
    for _ in range(REDRAW_ROUNDS):
        key = row_user.astype(np.int64) * n_items + items
        first = np.zeros(n, dtype=bool)
        first[np.unique(key, return_index=True)[1]] = True
        redraw = ~first & (rng.random(n) >= config.repeat_keep)
        if not redraw.any():
            break
        items[redraw] = _draw(rng, base, window, row_cluster[redraw], own[redraw], in_window[redraw])

    ratings = _ratings(rng, n)
    if config.rating_shift and in_window.any():
        shares = RATING_SHARES.copy()
        moved = shares[4] * config.rating_shift
        shares[:4] += moved * shares[:4] / shares[:4].sum()
        shares[4] -= moved
        ratings[in_window] = _ratings(rng, int(in_window.sum()), shares)
    return row_user, items, seconds, ratings


def _draw(rng: np.random.Generator, base: _Sampler, window: _Sampler, clusters: np.ndarray, own: np.ndarray,
          in_window: np.ndarray) -> np.ndarray:
    items = base.draw(rng, clusters, own)
    if window is not base and in_window.any():
        items[in_window] = window.draw(rng, clusters[in_window], own[in_window])
    return items


def _ratings(rng: np.random.Generator, n: int, shares: np.ndarray = RATING_SHARES) -> np.ndarray:
    cum = np.cumsum(shares)
    cum[-1] = 1.0
    return np.searchsorted(cum, 1.0 - rng.random(n), side="left") + 1
