"""The drift statistics: KS from counts against scipy, false alarms, real shifts, PSI/JS, popularity alignment."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from drift_data import NOW, SHIFTED_RATINGS, SHOP_RATINGS, make_interactions
from scipy import stats
from scipy.spatial.distance import jensenshannon

from recsys.cf.monitoring.drift import (
    compute_item_popularity,
    count_on_common_support,
    detect_popularity_shift,
    detect_rating_distribution_drift,
    jensen_shannon_distance,
    ks_from_counts,
    population_stability_index,
    rating_drift_from_counts,
    window_summary,
)

SUPPORT = np.arange(1, 6)


# --- KS statistic against scipy ------------------------------------------------------------------


@pytest.mark.parametrize("case", range(12))
def test_ks_statistic_and_pvalue_equal_scipy_on_discrete_samples(case):
    rng = np.random.default_rng(case)
    kinds = [
        lambda n: rng.choice(SUPPORT, size=n, p=SHOP_RATINGS),
        lambda n: rng.integers(-3, 4, size=n),                   # negative support
        lambda n: rng.choice([0.5, 1.0, 2.5, 4.0], size=n),      # half stars: sorted-support path
        lambda n: rng.poisson(3.0, size=n),                      # a value may be missing on one side
    ]
    make = kinds[case % len(kinds)]
    a, b = make(int(rng.integers(20, 5000))), make(int(rng.integers(20, 5000)))
    if case % 3 == 0:
        b = b + 1 if np.issubdtype(b.dtype, np.integer) else b * 1.1  # a real difference
    _, ca, cb = count_on_common_support(a, b)
    ours = ks_from_counts(ca, cb)
    reference = stats.ks_2samp(a, b, method="asymp")
    assert ours.statistic == pytest.approx(float(reference.statistic), abs=1e-15)
    assert ours.p_value == pytest.approx(float(reference.pvalue), rel=1e-9, abs=1e-300)


def test_count_on_common_support_counts_every_value():
    support, ca, cb = count_on_common_support(np.array([1, 1, 5]), np.array([2, 5, 5, 5]))
    assert support.tolist() == [1, 2, 5]
    assert ca.tolist() == [2, 0, 1] and cb.tolist() == [0, 1, 3]


@pytest.mark.parametrize("seed", range(6))
def test_counting_paths_agree_with_naive_counts(seed):
    rng = np.random.default_rng(seed)
    low, span = int(rng.integers(-20, 20)), [0, 4, 16, 17, 40, 500][seed]
    a = rng.integers(low, low + span + 1, size=200_000)
    b = rng.integers(low, low + span + 1, size=70_001)
    if seed == 2:
        a[150_000] = low + 1000  # a late block is too wide for the comparison path: falls back
    support, ca, cb = count_on_common_support(a, b)
    expected = np.union1d(a, b)
    assert support.tolist() == expected.tolist()
    assert ca.tolist() == [int(np.sum(a == v)) for v in expected]
    assert cb.tolist() == [int(np.sum(b == v)) for v in expected]


def test_wide_or_negative_integer_supports_count_correctly():
    a, b = np.array([1, 10**9, 10**9, 3]), np.array([3, 3, 10**9])  # too wide for one bincount: sorted path
    support, ca, cb = count_on_common_support(a, b)
    assert support.tolist() == [1, 3, 10**9] and ca.tolist() == [1, 1, 2] and cb.tolist() == [0, 2, 1]
    support, ca, cb = count_on_common_support(np.array([-2, 0, 0]), np.array([5]))
    assert support.tolist() == [-2, 0, 5] and ca.tolist() == [1, 2, 0] and cb.tolist() == [0, 0, 1]
    assert ks_from_counts(ca, cb).statistic == stats.ks_2samp([-2, 0, 0], [5]).statistic


def test_ks_from_counts_rejects_empty_side():
    with pytest.raises(ValueError):
        ks_from_counts([0, 0, 0], [1, 2, 3])


# --- false alarms and real shifts ----------------------------------------------------------------


@pytest.mark.parametrize("n", [1_000, 100_000, 10_000_000])
def test_false_alarm_rate_on_one_distribution_is_at_most_5pct(n):
    rng = np.random.default_rng(n)
    draws = 200
    p_hits = verdicts = 0
    for _ in range(draws):
        hist = rng.multinomial(n, SHOP_RATINGS)
        recent = rng.multinomial(n, SHOP_RATINGS)
        result = rating_drift_from_counts(SUPPORT, hist, recent)
        p_hits += result["p_value"] < 0.05
        verdicts += result["drift_detected"]
    assert p_hits / draws <= 0.05  # the KS test alone, at its nominal level
    assert verdicts / draws <= 0.05  # the verdict (p AND PSI)


def test_same_distribution_on_raw_frames_is_not_drift(rng):
    hist = pd.DataFrame({"rating": rng.choice(SUPPORT, size=50_000, p=SHOP_RATINGS)})
    recent = pd.DataFrame({"rating": rng.choice(SUPPORT, size=2_000, p=SHOP_RATINGS)})
    result = detect_rating_distribution_drift(hist, recent)
    assert result["drift_detected"] is False and result["status"] == "ok"
    assert result["recommendation"] == "No action needed"


def test_real_shift_is_drift(rng):
    hist = rng.choice(SUPPORT, size=100_000, p=SHOP_RATINGS)
    recent = rng.choice(SUPPORT, size=2_000, p=SHIFTED_RATINGS)
    result = detect_rating_distribution_drift(hist, recent)
    assert result["drift_detected"] is True
    assert result["p_value"] < 0.05 and result["psi"] >= 0.1
    assert result["recommendation"] == "Retrain model"
    assert result["recent_distribution"]["1"] > 0.05 > result["historical_distribution"]["1"]
    assert "p_value < 0.05 AND psi >= 0.1" in result["method"]
    assert result["n_historical"] == 100_000 and result["n_recent"] == 2_000


def test_tiny_shift_at_10m_is_significant_but_not_drift():
    rng = np.random.default_rng(7)
    moved = SHOP_RATINGS.copy()
    moved[4] -= 0.005  # half a percentage point from 5 stars to 4 stars
    moved[3] += 0.005
    hist = rng.multinomial(10_000_000, SHOP_RATINGS)
    recent = rng.multinomial(10_000_000, moved)
    result = rating_drift_from_counts(SUPPORT, hist, recent)
    assert result["p_value"] < 1e-6  # statistically real ...
    assert result["psi"] < 0.01  # ... practically nothing
    assert result["drift_detected"] is False


def test_insufficient_data_gives_no_verdict(rng):
    result = detect_rating_distribution_drift(
        rng.choice(SUPPORT, size=10_000, p=SHOP_RATINGS), rng.choice(SUPPORT, size=40, p=SHIFTED_RATINGS)
    )
    assert result["drift_detected"] is False and result["status"] == "insufficient_data"
    assert result["p_value"] is None
    assert "Insufficient data" in result["recommendation"] and "40 recent" in result["recommendation"]


def test_dataframe_without_rating_column_is_refused():
    with pytest.raises(ValueError, match="rating"):
        detect_rating_distribution_drift(pd.DataFrame({"stars": [1, 2]}), pd.DataFrame({"rating": [1]}))


# --- PSI and Jensen-Shannon on hand-computed cases -----------------------------------------------


def test_psi_hand_computed():
    # shares 0.5/0.5 → 0.25/0.75: (0.25-0.5)ln(0.5) + (0.75-0.5)ln(1.5)
    expected = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert population_stability_index([1, 1], [1, 3]) == pytest.approx(expected, rel=1e-12)
    assert population_stability_index([3, 7], [30, 70]) == pytest.approx(0.0, abs=1e-15)


def test_psi_empty_bin_uses_the_floor():
    eps = 1e-4
    expected = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - eps) * math.log(0.5 / eps)
    assert population_stability_index([1, 0], [1, 1], eps=eps) == pytest.approx(expected, rel=1e-12)


def test_js_distance_hand_computed_and_bounds():
    # p=(.5,.5), q=(1,0), m=(.75,.25): KL(p||m)=.5log2(2/3)+.5log2(2), KL(q||m)=log2(4/3)
    js = 0.5 * (0.5 * math.log2(2 / 3) + 0.5 + math.log2(4 / 3))
    assert jensen_shannon_distance([1, 1], [1, 0]) == pytest.approx(math.sqrt(js), rel=1e-12)
    assert jensen_shannon_distance([1, 1], [1, 0]) == pytest.approx(jensenshannon([0.5, 0.5], [1, 0], base=2))
    assert jensen_shannon_distance([1, 0], [0, 1]) == pytest.approx(1.0)
    assert jensen_shannon_distance([2, 5, 3], [2, 5, 3]) == pytest.approx(0.0, abs=1e-7)
    assert jensen_shannon_distance([1, 2, 7], [5, 3, 2]) == pytest.approx(jensen_shannon_distance([5, 3, 2], [1, 2, 7]))


# --- popularity ----------------------------------------------------------------------------------


def test_popularity_is_aligned_on_product_ids_not_positions():
    old = pd.Series({10: 100, 20: 80, 30: 60, 40: 40, 50: 20})
    new = pd.Series({50: 2, 40: 4, 30: 6, 20: 8, 10: 10})  # same ranking, stored in reverse order
    naive, _ = stats.spearmanr(old.to_numpy(), new.to_numpy())  # the spec's positional comparison
    assert naive == pytest.approx(-1.0)
    result = detect_popularity_shift(old, new, min_support=0)
    assert result["correlation"] == pytest.approx(1.0)
    assert result["shift_detected"] is False and result["n_items"] == 5


def test_items_missing_on_one_side_count_as_zero():
    old = pd.Series({1: 50, 2: 40, 3: 30, 4: 20})
    new = pd.Series({2: 9, 3: 8, 4: 7, 5: 30})  # item 1 vanished, item 5 is new and on top
    result = detect_popularity_shift(old, new, min_support=0)
    expected, _ = stats.spearmanr([50, 40, 30, 20, 0], [0, 9, 8, 7, 30])
    assert result["n_items"] == 5
    assert result["correlation"] == pytest.approx(expected)
    assert result["shift_detected"] is True
    movers = {m["product_id"]: m for m in result["top_movers"]}
    assert movers[5]["old_count"] == 0 and movers[5]["new_rank"] == 1
    assert movers[1]["new_count"] == 0
    assert result["top_movers"][0]["product_id"] in (1, 5)  # the largest rank changes come first


def test_min_support_drops_rare_items():
    old = pd.Series({1: 50, 2: 40, 3: 30, 4: 1})
    new = pd.Series({1: 5, 2: 4, 3: 3, 5: 1})
    result = detect_popularity_shift(old, new, min_support=5)
    assert result["n_items"] == 3 and result["correlation"] == pytest.approx(1.0)


def test_plain_arrays_are_taken_as_aligned_and_must_match():
    old = np.rint(1000 / np.arange(1, 21))
    result = detect_popularity_shift(old, old[::-1].copy())
    assert result["correlation"] == pytest.approx(-1.0) and result["shift_detected"] is True
    assert result["top_movers"][0]["product_id"] in (0, 19)  # positions are the ids
    with pytest.raises(ValueError, match="unaligned"):
        detect_popularity_shift(np.array([1, 2, 3]), np.array([1, 2]))


def test_popularity_false_alarm_rate_in_small_windows_is_at_most_5pct():
    # a week of 1.5k interactions over 300 power-law items: noise alone puts Spearman near 0.7 < 0.8
    rng = np.random.default_rng(11)
    shares = 1.0 / np.arange(1, 301) ** 1.1
    shares /= shares.sum()
    ids = np.arange(300) + 1000
    draws, alarms, below_threshold = 100, 0, 0
    for seed in range(draws):
        old = pd.Series(rng.multinomial(20_000, shares), index=ids)
        new = pd.Series(rng.multinomial(1_500, shares), index=ids)
        result = detect_popularity_shift(old, new, seed=seed)
        alarms += result["shift_detected"]
        below_threshold += result["correlation"] < 0.8
    assert below_threshold / draws > 0.9  # the spec's rule alone would cry wolf nearly every week
    assert alarms / draws <= 0.05


def test_moderate_popularity_shift_is_detected():
    rng = np.random.default_rng(12)
    shares = 1.0 / np.arange(1, 301) ** 1.1
    shares /= shares.sum()
    moved = shares.copy()
    moved[:60] = moved[:60][::-1]  # the top 60 items swap places
    ids = np.arange(300) + 1000
    old = pd.Series(rng.multinomial(20_000, shares), index=ids)
    new = pd.Series(rng.multinomial(5_000, moved), index=ids)
    result = detect_popularity_shift(old, new)
    assert result["shift_detected"] is True and result["null_p_value"] < 0.05
    assert result["correlation"] < result["null_correlation_median"]


def test_popularity_with_too_few_items_is_insufficient():
    result = detect_popularity_shift(pd.Series({1: 10, 2: 9}), pd.Series({1: 10, 2: 9}))
    assert result["status"] == "insufficient_data" and result["shift_detected"] is False


def test_compute_item_popularity_counts_all_or_positives():
    frame = pd.DataFrame({"product_id": [7, 7, 8, 9, 9, 9], "rating": [5, 1, 4, 2, 2, 5],
                          "is_positive": [True, False, True, False, False, True]})
    assert compute_item_popularity(frame).to_dict() == {7: 2, 8: 1, 9: 3}
    assert compute_item_popularity(frame, positives_only=True).to_dict() == {7: 1, 8: 1, 9: 1}


# --- window summary ------------------------------------------------------------------------------


def test_window_summary_volume_and_newcomers():
    def rows(users, items, start, days):
        n = len(users)
        stamps = pd.Timestamp(start) + pd.to_timedelta(np.linspace(0, days * 86400 - 1, n), unit="s")
        return pd.DataFrame({"user_id": users, "product_id": items, "rating": 5, "timestamp": stamps})

    window_start = pd.Timestamp(NOW - timedelta(days=7))
    older = rows([1] * 50, [100] * 50, window_start - timedelta(days=30), 23)
    previous_week = rows([2] * 100, [100] * 50 + [200] * 50, window_start - timedelta(days=7), 7)
    historical = pd.concat([older, previous_week], ignore_index=True)
    recent = rows([2] * 90 + [3] * 60, [100] * 120 + [300] * 30, window_start, 7)
    summary = window_summary(historical, recent, days=7, window_start=window_start)
    assert summary["previous_window_count"] == 100
    assert window_summary(historical, recent, days=7)["previous_window_count"] == 100
    assert summary["volume_change_pct"] == pytest.approx(50.0)
    assert summary["new_users"] == 1 and summary["new_user_share"] == pytest.approx(0.5)
    assert summary["new_user_interaction_share"] == pytest.approx(60 / 150)
    assert summary["new_items"] == 1 and summary["new_item_interaction_share"] == pytest.approx(30 / 150)


def test_generated_frames_with_shift_flag_rating_and_popularity(rng):
    frame = make_interactions(rng, recent_ratings=SHIFTED_RATINGS, recent_popularity="reversed")
    from recsys.cf.monitoring.drift_check import load_recent_interactions

    historical, recent = load_recent_interactions(frame, days=7, now=NOW)
    assert detect_rating_distribution_drift(historical, recent)["drift_detected"]
    shift = detect_popularity_shift(compute_item_popularity(historical), compute_item_popularity(recent))
    assert shift["shift_detected"] and shift["correlation"] < 0
