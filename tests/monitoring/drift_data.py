"""Hand-made interaction data for the drift and retrain tests (imported by them and by conftest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

SHOP_RATINGS = np.array([0.007, 0.004, 0.009, 0.026, 0.954])
"""Share of 1..5 stars in the real shop (DESIGN.md), normalised below."""
SHOP_RATINGS = SHOP_RATINGS / SHOP_RATINGS.sum()

SHIFTED_RATINGS = np.array([0.08, 0.01, 0.02, 0.04, 0.85])
"""A real shift: many more 1-star ratings."""

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def make_interactions(
    rng: np.random.Generator,
    *,
    n_history: int = 20_000,
    n_recent: int = 1_500,
    now: datetime = NOW,
    history_days: int = 180,
    recent_days: int = 7,
    recent_ratings: np.ndarray = SHOP_RATINGS,
    n_items: int = 300,
    recent_popularity: str = "same",
) -> pd.DataFrame:
    """Interactions: a history before the last ``recent_days`` and a recent window, in the processed layout."""
    weights = 1.0 / np.arange(1, n_items + 1) ** 1.1  # power-law popularity
    weights /= weights.sum()
    items = np.arange(1000, 1000 + n_items)

    def block(n: int, start: datetime, days: float, ratings: np.ndarray, popularity: np.ndarray) -> pd.DataFrame:
        offsets = rng.uniform(0, days * 86400, size=n)
        frame = pd.DataFrame({
            "user_id": rng.integers(1, 50_000, size=n).astype(np.int64),
            "product_id": rng.choice(items, size=n, p=popularity).astype(np.int64),
            "rating": rng.choice(np.arange(1, 6), size=n, p=ratings).astype(np.int64),
            "timestamp": pd.to_datetime(start, utc=True) + pd.to_timedelta(offsets, unit="s"),
        })
        return frame

    window_start = now - timedelta(days=recent_days)
    history = block(n_history, window_start - timedelta(days=history_days), history_days, SHOP_RATINGS, weights)
    recent_weights = weights if recent_popularity == "same" else weights[::-1].copy()
    recent = block(n_recent, window_start + timedelta(seconds=1), recent_days - 1e-3, recent_ratings, recent_weights)
    frame = pd.concat([history, recent], ignore_index=True).sort_values("timestamp", ignore_index=True)
    frame["is_positive"] = frame["rating"] >= 4
    frame["split"] = "train"
    return frame
