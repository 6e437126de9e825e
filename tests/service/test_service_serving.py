"""ServingModel: CF top-k equals a brute-force ranking; filters and exclusions hold for CF and fallback."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from recsys.cf.artifacts import load_artifacts
from recsys.service.serving import FALLBACK_CATALOG, FALLBACK_POPULARITY, ItemFilter, ServingModel
from recsys.testing.service import USER_BASE, save_tiny_model, write_products

NOW = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)


@pytest.fixture
def model(paths, data):
    products = write_products(paths, data.item_ids)
    artifacts = load_artifacts(save_tiny_model(paths, data))
    return ServingModel.from_artifacts(artifacts, products, model_id="als_v1", version="v1", loaded_at=NOW), products


def brute_force(model: ServingModel, user_id: int, k: int, exclude_seen: bool, allowed=None) -> list[int]:
    artifacts = model.artifacts
    row = artifacts.user_index(user_id)
    scores = artifacts.item_factors @ artifacts.user_factors[row]
    ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    seen = set(artifacts.seen_items(row).tolist()) if exclude_seen else set()
    keep = [i for i in ranked if i not in seen and (allowed is None or allowed(i))]
    return artifacts.item_ids[keep[:k]].tolist()


@pytest.mark.parametrize("user", [0, 7, 39])
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_cf_top_k_matches_brute_force(model, data, user, exclude_seen):
    serving, _ = model
    result = serving.recommend(USER_BASE + user, 10, exclude_seen=exclude_seen)
    assert not result.is_fallback and result.fallback_method is None
    assert result.product_ids.tolist() == brute_force(serving, USER_BASE + user, 10, exclude_seen)
    assert np.all(np.diff(result.scores) <= 0)
    if exclude_seen:
        seen = set(data.item_ids[data.matrix[user].indices].tolist())
        assert not seen & set(result.product_ids.tolist())


def test_filters_apply_to_cf(model):
    serving, products = model
    allowed_ids = set(products.loc[(products.category == "serum") & (products.price <= 200), "product_id"])
    index_of = {pid: i for i, pid in enumerate(serving.item_ids.tolist())}
    allowed = {index_of[pid] for pid in allowed_ids}
    item_filter = ItemFilter(category="  SERUM ", price_max=200)
    result = serving.recommend(USER_BASE + 3, 50, exclude_seen=False, item_filter=item_filter)
    assert set(result.product_ids.tolist()) == allowed_ids  # all of them: short list, not padded
    assert result.product_ids.tolist() == brute_force(serving, USER_BASE + 3, 50, False, allowed.__contains__)


def test_cold_start_gets_popularity_with_filters(model, data):
    serving, products = model
    popularity = np.asarray(data.matrix.sum(axis=0)).ravel()
    result = serving.recommend(99_999, 5)
    assert result.is_fallback and result.fallback_method == FALLBACK_POPULARITY
    expected = sorted(range(len(popularity)), key=lambda i: (-popularity[i], i))[:5]
    assert result.product_ids.tolist() == data.item_ids[expected].tolist()
    rated = serving.recommend(99_999, 100, item_filter=ItemFilter(brand="cosrx", min_rating=4.0))
    chosen = products.set_index("product_id").loc[rated.product_ids]
    assert len(rated.product_ids) > 0 and (chosen.brand == "Cosrx").all() and (chosen.avg_rating >= 4.0).all()
    expected_count = ((products.brand == "Cosrx") & (products.avg_rating >= 4.0)).sum()
    assert len(rated.product_ids) == expected_count


def test_unknown_category_gives_empty_list(model):
    serving, _ = model
    assert serving.recommend(USER_BASE, 10, item_filter=ItemFilter(category="no such")).product_ids.size == 0
    assert serving.recommend(1, 10, item_filter=ItemFilter(price_min=1e9)).product_ids.size == 0


def test_items_missing_from_catalogue_fail_filters(paths, data):
    products = write_products(paths, data.item_ids[:10])
    artifacts = load_artifacts(save_tiny_model(paths, data))
    serving = ServingModel.from_artifacts(artifacts, products, model_id="m", version="v1", loaded_at=NOW)
    result = serving.recommend(USER_BASE, 30, exclude_seen=False, item_filter=ItemFilter(price_min=0))
    assert set(result.product_ids.tolist()) <= set(data.item_ids[:10].tolist())
    assert serving.recommend(USER_BASE, 30, exclude_seen=False).product_ids.size == 30


def test_catalogue_only_model(paths, data):
    products = write_products(paths, data.item_ids)
    serving = ServingModel.from_catalog(products, loaded_at=NOW)
    result = serving.recommend(USER_BASE, 3)
    assert result.is_fallback and result.fallback_method == FALLBACK_CATALOG
    expected = products.sort_values(["num_ratings", "product_id"], ascending=[False, True]).product_id[:3]
    assert result.product_ids.tolist() == expected.tolist()
