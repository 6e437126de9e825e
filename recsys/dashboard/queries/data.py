"""Rating distribution and item popularity, historical against recent: from a drift check, or from the data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

RATINGS = [1, 2, 3, 4, 5]
RECENT_DAYS = 7  # the spec's weekly drift check compares the last week with what came before
MOVER_KEYS = ("top_movers", "movers", "top_items")


def read_interactions(path: str | Path) -> pd.DataFrame:
    """The processed interactions (only the columns the dashboard needs); empty if the file is missing."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=["product_id", "rating", "timestamp"])
    frame = pd.read_parquet(path, columns=["product_id", "rating", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def split_recent(interactions: pd.DataFrame, days: int = RECENT_DAYS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(historical, recent)``: recent is the last ``days`` before the newest interaction, historical the rest."""
    if interactions.empty:
        return interactions, interactions
    cut = interactions["timestamp"].max() - timedelta(days=days)
    recent = interactions["timestamp"] > cut
    return interactions[~recent], interactions[recent]


def _shares(values: Mapping[Any, float] | Sequence[float]) -> dict[int, float]:
    """Rating → share from ``{rating: count-or-share}`` or a 5-long list (index 0 is rating 1)."""
    if isinstance(values, Mapping):
        counts = {int(float(k)): float(v) for k, v in values.items()}
    else:
        counts = {rating: float(v) for rating, v in zip(RATINGS, values, strict=False)}
    total = sum(counts.values())
    return {rating: (counts.get(rating, 0.0) / total if total else 0.0) for rating in RATINGS}


def rating_distribution_from_details(details: Any) -> pd.DataFrame | None:
    """Long frame ``rating, period, share`` from a rating drift check's details, or ``None`` if it has none."""
    if not isinstance(details, Mapping):
        return None
    hist, recent = details.get("historical_distribution"), details.get("recent_distribution")
    if not isinstance(hist, Mapping | list) or not isinstance(recent, Mapping | list):
        return None
    rows = [{"rating": r, "period": period, "share": share}
            for period, values in (("historical", hist), ("recent", recent))
            for r, share in _shares(values).items()]
    return pd.DataFrame(rows)


def rating_distribution(interactions: pd.DataFrame, days: int = RECENT_DAYS) -> pd.DataFrame:
    """Long frame ``rating, period, share`` of historical and recent ratings in the data."""
    historical, recent = split_recent(interactions, days)
    rows = []
    for period, part in (("historical", historical), ("recent", recent)):
        counts = part["rating"].round().astype(int).value_counts().to_dict() if len(part) else {}
        rows += [{"rating": r, "period": period, "share": s} for r, s in _shares(counts).items()]
    return pd.DataFrame(rows)


def movers_from_details(details: Any) -> pd.DataFrame | None:
    """The popularity check's list of top movers as a frame, or ``None`` if its details have none."""
    if not isinstance(details, Mapping):
        return None
    for key in MOVER_KEYS:
        movers = details.get(key)
        if isinstance(movers, list) and movers and all(isinstance(m, Mapping) for m in movers):
            return pd.DataFrame(movers)
    return None


def popularity_shift(interactions: pd.DataFrame, days: int = RECENT_DAYS, top: int = 10) -> pd.DataFrame:
    """The ``top`` items whose share of interactions changed most between historical and recent data.

    Columns: product_id, historical_share, recent_share, change (recent - historical), sorted by |change|.
    """
    historical, recent = split_recent(interactions, days)
    if historical.empty or recent.empty:
        return pd.DataFrame(columns=["product_id", "historical_share", "recent_share", "change"])
    shares = pd.concat(
        {"historical_share": historical["product_id"].value_counts(normalize=True),
         "recent_share": recent["product_id"].value_counts(normalize=True)},
        axis=1,
    ).fillna(0.0)  # an item missing on one side had a share of 0 there, not "unknown"
    shares["change"] = shares["recent_share"] - shares["historical_share"]
    shares = shares.reindex(shares["change"].abs().sort_values(ascending=False, kind="stable").index).head(top)
    return shares.rename_axis("product_id").reset_index()
