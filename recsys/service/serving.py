"""One servable model: CF factors (or none), product attributes aligned on its items, and top-k with filters.

A ``ServingModel`` is immutable once built; the loader swaps whole instances, so a request that
holds one keeps a consistent model even while a reload replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from recsys.cf.artifacts import ModelArtifacts

FALLBACK_POPULARITY = "popularity"
"""Cold-start users get the model's item popularity (positives per item in its training data)."""
FALLBACK_CATALOG = "catalog_popularity"
"""No trained model at all: products ranked by their number of ratings from the catalogue."""


@dataclass(frozen=True)
class ItemFilter:
    """Restrictions on the recommended products; ``None`` fields do not restrict."""

    category: str | None = None
    brand: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    min_rating: float | None = None

    def is_empty(self) -> bool:
        """True if no field restricts anything."""
        return all(value is None for value in (self.category, self.brand, self.price_min, self.price_max,
                                                self.min_rating))


def _fold(text: object) -> str:
    return str(text).strip().casefold()


@dataclass(frozen=True, eq=False)
class Catalog:
    """Product attributes aligned on item indices; an item missing from the catalogue fails every filter."""

    category: np.ndarray
    category_codes: dict[str, int]
    brand: np.ndarray
    brand_codes: dict[str, int]
    price: np.ndarray
    avg_rating: np.ndarray

    @classmethod
    def build(cls, item_ids: np.ndarray, products: pd.DataFrame | None) -> Catalog:
        """Align ``products`` (product_id, category, brand, price, avg_rating) on ``item_ids``."""
        n = len(item_ids)
        if products is None or products.empty:
            empty = np.full(n, -1, dtype=np.int32)
            return cls(empty, {}, empty, {}, np.full(n, np.nan), np.full(n, np.nan))
        table = products.drop_duplicates("product_id", keep="last").set_index("product_id").reindex(item_ids)
        category, category_codes = _codes(table.get("category"), n)
        brand, brand_codes = _codes(table.get("brand"), n)
        return cls(category, category_codes, brand, brand_codes, _floats(table.get("price"), n),
                   _floats(table.get("avg_rating"), n))

    def mask(self, item_filter: ItemFilter | None) -> np.ndarray | None:
        """Boolean mask of items passing ``item_filter`` (``None`` when nothing is filtered)."""
        if item_filter is None or item_filter.is_empty():
            return None
        keep = np.ones(len(self.price), dtype=bool)
        if item_filter.category is not None:
            keep &= self.category == self.category_codes.get(_fold(item_filter.category), -2)
        if item_filter.brand is not None:
            keep &= self.brand == self.brand_codes.get(_fold(item_filter.brand), -2)
        # NaN compares False, so items without a price or rating drop out of a price/rating filter.
        if item_filter.price_min is not None:
            keep &= self.price >= item_filter.price_min
        if item_filter.price_max is not None:
            keep &= self.price <= item_filter.price_max
        if item_filter.min_rating is not None:
            keep &= self.avg_rating >= item_filter.min_rating
        return keep


def _codes(column: pd.Series | None, n: int) -> tuple[np.ndarray, dict[str, int]]:
    if column is None:
        return np.full(n, -1, dtype=np.int32), {}
    folded = column.map(lambda value: None if pd.isna(value) else _fold(value))
    categorical = pd.Categorical(folded)
    codes = {name: i for i, name in enumerate(categorical.categories)}
    return np.asarray(categorical.codes, dtype=np.int32), codes


def _floats(column: pd.Series | None, n: int) -> np.ndarray:
    if column is None:
        return np.full(n, np.nan)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass(frozen=True)
class Recommendation:
    """Top-k for one request: raw product ids and scores, best first, and how they were produced."""

    product_ids: np.ndarray
    scores: np.ndarray
    is_fallback: bool
    fallback_method: str | None
    indices: np.ndarray | None = None  # item indices in the model (for popularity lookups)


@dataclass(frozen=True, eq=False)
class ServingModel:
    """A loaded model ready to answer requests (``artifacts`` is None for the catalogue-only fallback).

    ``info`` holds descriptive extras (path, data_version, load_time_ms, ...) and is filled before
    the model is published, never after.
    """

    model_id: str | None
    version: str | None
    model_type: str | None
    artifacts: ModelArtifacts | None
    item_ids: np.ndarray
    popularity: np.ndarray
    catalog: Catalog
    loaded_at: datetime
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    popularity_order: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        # Ties broken by item index, so the fallback list is deterministic.
        order = np.lexsort((np.arange(len(self.popularity)), -np.asarray(self.popularity, dtype=np.float64)))
        object.__setattr__(self, "popularity_order", order)

    @classmethod
    def from_artifacts(cls, artifacts: ModelArtifacts, products: pd.DataFrame | None, *, model_id: str,
                       version: str | None, loaded_at: datetime,
                       metrics: dict | None = None, info: dict | None = None) -> ServingModel:
        """A CF model with its item catalogue."""
        return cls(model_id=model_id, version=version, model_type=artifacts.model_type, artifacts=artifacts,
                   item_ids=artifacts.item_ids, popularity=np.asarray(artifacts.item_popularity, dtype=np.float64),
                   catalog=Catalog.build(artifacts.item_ids, products), loaded_at=loaded_at,
                   metrics=dict(metrics or artifacts.metadata.get("metrics") or {}),
                   info=dict(info or {}))

    @classmethod
    def from_catalog(cls, products: pd.DataFrame, *, loaded_at: datetime) -> ServingModel:
        """No trained model: every request gets the catalogue's most-rated products."""
        products = products.drop_duplicates("product_id", keep="last").sort_values("product_id")
        item_ids = products["product_id"].to_numpy(dtype=np.int64)
        popularity = pd.to_numeric(products.get("num_ratings", pd.Series(0, index=products.index)),
                                   errors="coerce").fillna(0).to_numpy(dtype=np.float64)
        return cls(model_id=None, version=None, model_type=None, artifacts=None, item_ids=item_ids,
                   popularity=popularity, catalog=Catalog.build(item_ids, products), loaded_at=loaded_at,
                   info={"source": "catalog"})

    @property
    def n_items(self) -> int:
        """Number of items this model can recommend."""
        return len(self.item_ids)

    def knows(self, user_id: int) -> bool:
        """True if the CF model has factors for ``user_id``."""
        return self.artifacts is not None and self.artifacts.user_index(user_id) is not None

    def recommend(self, user_id: int, k: int, *, exclude_seen: bool = True,
                  item_filter: ItemFilter | None = None) -> Recommendation:
        """Top-``k`` for ``user_id``: CF scores for a known user, else the popularity fallback; filters apply to both.

        Fewer than ``k`` items survive a narrow filter: the list is then short, not padded.
        """
        mask = self.catalog.mask(item_filter)
        row = self.artifacts.user_index(user_id) if self.artifacts is not None else None
        if row is None:
            return self._popular(k, mask)
        scores = self.artifacts.scores(row)  # a fresh array, safe to overwrite
        if exclude_seen:
            scores[self.artifacts.seen_items(row)] = -np.inf
        if mask is None:
            top = _top_k(scores, k)
        else:
            # Select among the allowed items only: argpartition over tens of thousands of -inf ties is ~50x slower.
            allowed = np.flatnonzero(mask)
            top = allowed[_top_k(scores[allowed], k)]
        return Recommendation(self.item_ids[top], scores[top].astype(np.float64), False, None, top)

    def history(self, user_id: int) -> np.ndarray:
        """Raw product ids the user interacted with in the model's training data (empty if unknown)."""
        row = self.artifacts.user_index(user_id) if self.artifacts is not None else None
        if row is None:
            return np.empty(0, dtype=np.int64)
        return self.item_ids[self.artifacts.seen_items(row)]

    def _popular(self, k: int, mask: np.ndarray | None) -> Recommendation:
        order = self.popularity_order
        top = order[:k] if mask is None else order[mask[order]][:k]
        method = FALLBACK_POPULARITY if self.artifacts is not None else FALLBACK_CATALOG
        return Recommendation(self.item_ids[top], self.popularity[top], True, method, top)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` highest finite scores, best first (ties by index)."""
    n = len(scores)
    k = min(k, n)
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(scores, n - k)[n - k:]
    order = part[np.lexsort((part, -scores[part]))]
    return order[np.isfinite(scores[order])]
