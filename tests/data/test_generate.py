"""The generator: reproducible, shaped like the real shop, with latent structure and drift knobs that work."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy.stats import spearmanr

from recsys.data import schema as s
from recsys.data.catalog import CATEGORIES
from recsys.data.dataset import prepare
from recsys.data.generate import RATING_SHARES, GenerateConfig, generate

from .conftest import END


def _gen(**kwargs):
    return generate(GenerateConfig(**{"preset": "tiny", "end": END, **kwargs}), progress=False)


def test_same_seed_same_data_other_seed_other_data():
    first, products_first = _gen(seed=11)
    again, products_again = _gen(seed=11)
    other, products_other = _gen(seed=12)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(products_first, products_again)
    assert not first.equals(other)
    assert not products_first.equals(products_other)


def test_rating_distribution_matches_the_real_shop(small_prepared):
    interactions, _ = small_prepared
    shares = interactions[s.RATING].value_counts(normalize=True).reindex(range(1, 6), fill_value=0).to_numpy()
    assert abs(shares[4] - 0.955) < 0.01
    assert np.all(np.abs(shares - RATING_SHARES) < 0.01)
    assert (interactions[s.IS_POSITIVE] == (interactions[s.RATING] >= 4)).all()


def test_most_users_buy_once_and_about_nine_percent_are_trainable(small_prepared):
    interactions, _ = small_prepared
    per_user = interactions.groupby(s.USER_ID).size()
    assert (per_user == 1).mean() > 0.85
    test_users = interactions.loc[interactions[s.SPLIT] == s.SPLIT_TEST, s.USER_ID].nunique()
    assert 0.075 < test_users / len(per_user) < 0.11
    assert 1.1 < len(interactions) / len(per_user) < 1.4  # real shop: 369k rows / 305k users


def test_item_popularity_is_heavy_tailed(small_prepared):
    interactions, products = small_prepared
    counts = np.sort(products[s.NUM_RATINGS].to_numpy())[::-1]
    top_decile_share = counts[: len(counts) // 10].sum() / counts.sum()
    assert top_decile_share > 0.4
    assert counts[0] > 20 * np.median(counts)


def test_catalogue_looks_like_a_vietnamese_cosmetics_shop(small_prepared):
    _, products = small_prepared
    assert set(products[s.CATEGORY]) <= {c.name for c in CATEGORIES}
    assert {"Sữa rửa mặt", "Kem chống nắng", "Serum", "Son môi"} <= set(products[s.CATEGORY])
    assert products[s.NAME].is_unique
    assert (products[s.PRICE] >= 1000).all() and (products[s.PRICE] % 1000 == 0).all()
    assert products[s.BRAND].nunique() > 20 and products[s.SKIN_TYPE].nunique() >= 5
    assert products[s.DESCRIPTION].str.contains("phù hợp với").all()


def test_descriptions_of_one_category_or_brand_are_more_alike(small_prepared):
    _, products = small_prepared
    words = products[s.DESCRIPTION].str.lower().str.split().map(set).to_list()

    def jaccard(i: int, j: int) -> float:
        return len(words[i] & words[j]) / len(words[i] | words[j])

    rng = np.random.default_rng(0)
    pairs = rng.integers(len(products), size=(3000, 2))
    same_cat = products[s.CATEGORY].to_numpy()[pairs[:, 0]] == products[s.CATEGORY].to_numpy()[pairs[:, 1]]
    same_brand = products[s.BRAND].to_numpy()[pairs[:, 0]] == products[s.BRAND].to_numpy()[pairs[:, 1]]
    sims = np.array([jaccard(i, j) for i, j in pairs])
    distinct = pairs[:, 0] != pairs[:, 1]
    unrelated = sims[distinct & ~same_cat & ~same_brand].mean()
    assert sims[distinct & same_cat & ~same_brand].mean() > unrelated + 0.1
    assert sims[distinct & same_brand & ~same_cat].mean() > unrelated + 0.05


def test_timestamps_cover_about_eighteen_months_before_end(small_prepared):
    interactions, _ = small_prepared
    stamps = interactions[s.TIMESTAMP]
    assert stamps.max() < pd.Timestamp(END)
    assert stamps.min() >= pd.Timestamp(END - timedelta(days=548))
    assert (stamps.max() - stamps.min()).days > 500


@pytest.mark.filterwarnings("ignore:Method expects CSR input")
def test_collaborative_filtering_beats_popularity_on_the_test_split(small_prepared):
    """The latent structure is real: item-item similarity and ALS clearly beat most-popular on recall@10."""
    import scipy.sparse as sparse
    from implicit.als import AlternatingLeastSquares
    from implicit.nearest_neighbours import CosineRecommender
    from threadpoolctl import threadpool_limits

    interactions, _ = small_prepared
    train = interactions[(interactions[s.SPLIT] == s.SPLIT_TRAIN) & interactions[s.IS_POSITIVE]]
    test = interactions[interactions[s.SPLIT] == s.SPLIT_TEST]
    users, items = np.unique(interactions[s.USER_ID]), np.unique(interactions[s.PRODUCT_ID])
    rows, cols = np.searchsorted(users, train[s.USER_ID]), np.searchsorted(items, train[s.PRODUCT_ID])
    matrix = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), len(items)))
    matrix.data[:] = 1.0
    test_rows = np.searchsorted(users, test[s.USER_ID].to_numpy())
    truth = np.searchsorted(items, test[s.PRODUCT_ID].to_numpy())

    def recall(recommended: np.ndarray) -> float:
        return float((recommended == truth[:, None]).any(axis=1).mean())

    scores = np.tile(np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel(), (len(test_rows), 1))
    scores[matrix[test_rows].nonzero()] = -np.inf  # already bought
    popularity = recall(np.argsort(-scores, axis=1, kind="stable")[:, :10])
    assert popularity > 0.05  # a real baseline, far above random (10 / 1200)

    cosine = CosineRecommender(K=50)
    cosine.fit(matrix, show_progress=False)
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(factors=64, regularization=0.01, alpha=40, iterations=15, random_state=0)
        als.fit(matrix, show_progress=False)
    for model in (cosine, als):
        recommended, _ = model.recommend(test_rows, matrix[test_rows], N=10, filter_already_liked_items=True)
        assert recall(recommended) >= 1.5 * popularity, type(model).__name__


def test_rating_shift_lowers_five_star_share_only_in_the_window():
    interactions, _ = _gen(preset="small", drift_weeks=4, rating_shift=0.3)
    window = interactions[s.TIMESTAMP] >= pd.Timestamp(END - timedelta(weeks=4))
    five = interactions[s.RATING] == 5
    assert abs(five[~window].mean() - 0.955) < 0.01
    assert abs(five[window].mean() - 0.955 * 0.7) < 0.03
    baseline, _ = _gen(preset="small", drift_weeks=4)
    assert abs((baseline[s.RATING] == 5)[baseline[s.TIMESTAMP] >= pd.Timestamp(END - timedelta(weeks=4))].mean()
               - 0.955) < 0.015


def _window_popularity_correlation(interactions: pd.DataFrame, weeks: int) -> float:
    window = interactions[s.TIMESTAMP] >= pd.Timestamp(END - timedelta(weeks=weeks))
    before = interactions.loc[~window, s.PRODUCT_ID].value_counts()
    recent = interactions.loc[window, s.PRODUCT_ID].value_counts()
    ids = before.index.union(recent.index)
    return spearmanr(before.reindex(ids, fill_value=0), recent.reindex(ids, fill_value=0)).statistic


def test_popularity_shift_reranks_items_in_the_window():
    steady, _ = _gen(preset="small", seed=2, drift_weeks=8)
    shifted, _ = _gen(preset="small", seed=2, drift_weeks=8, popularity_shift=0.9)
    assert _window_popularity_correlation(steady, 8) > 0.5
    assert _window_popularity_correlation(shifted, 8) < _window_popularity_correlation(steady, 8) - 0.25


def test_new_items_exist_only_in_the_window():
    interactions, products = _gen(drift_weeks=3, new_items=15)
    assert len(products) == 200 + 15
    new_ids = set(range(201, 216))
    is_new = interactions[s.PRODUCT_ID].isin(new_ids)
    assert is_new.sum() > 0
    assert (interactions.loc[is_new, s.TIMESTAMP] >= pd.Timestamp(END - timedelta(weeks=3))).all()
    # prepared data keeps them as catalogue products with their own statistics
    _, prepared_products = prepare(interactions, products)
    assert prepared_products.loc[prepared_products[s.PRODUCT_ID].isin(new_ids), s.NUM_RATINGS].sum() == is_new.sum()


def test_drift_knobs_without_a_window_are_refused():
    with pytest.raises(ValidationError, match="needs drift_weeks"):
        GenerateConfig(preset="tiny", rating_shift=0.2)
    with pytest.raises(ValidationError, match="not shorter"):
        GenerateConfig(preset="tiny", drift_weeks=80)


def test_config_defaults_follow_the_preset_and_end_is_utc_midnight():
    config = GenerateConfig(preset="large")
    assert (config.n_users, config.n_products) == (300_000, 2_200)
    assert config.end.tzinfo is not None and config.end.hour == 0
    assert GenerateConfig(preset="tiny", n_users=500).n_users == 500


@pytest.mark.slow
def test_large_preset_is_shop_sized_and_fast():
    started = time.perf_counter()
    interactions, products = generate(GenerateConfig(preset="large", end=END), progress=False)
    prepared, _ = prepare(interactions, products)
    elapsed = time.perf_counter() - started
    assert elapsed < 20
    assert 280_000 < prepared[s.USER_ID].nunique() <= 300_000
    assert len(products) == 2_200 and len(prepared) > 350_000
