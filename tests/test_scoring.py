"""The scorer against scipy, its invariances, the calibration of its p-value, and aggregation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from valuebench.scoring import aggregate, pair_mask, score, split_half_ceiling


def _random_case(n: int, seed: int):
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(n, 16))
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    sim = unit @ unit.T
    truth = rng.normal(size=(n, n)) + 0.5 * sim
    np.fill_diagonal(truth, np.nan)
    return sim, truth


@pytest.mark.parametrize("n,seed", [(9, 0), (21, 1), (5, 2)])
def test_spearman_and_kendall_equal_scipy(n, seed):
    sim, truth = _random_case(n, seed)
    truth[0, 2] = np.nan  # a missing cell is skipped, not treated as a value
    s = score(sim, truth, n_permutations=50, n_bootstrap=50)
    mask = pair_mask(n) & ~np.isnan(truth)
    assert s.n_pairs == n * (n - 1) - 1
    assert s.spearman == pytest.approx(stats.spearmanr(sim[mask], truth[mask]).statistic, abs=1e-12)
    assert s.kendall == pytest.approx(stats.kendalltau(sim[mask], truth[mask]).statistic, abs=1e-12)


def test_upper_triangle_pairs_for_symmetric_tasks():
    sim, truth = _random_case(9, 3)
    truth = np.where(np.isnan(truth), np.nan, (truth + truth.T) / 2)
    s = score(sim, truth, pairs="upper-triangle", n_permutations=50, n_bootstrap=50)
    iu = np.triu_indices(9, 1)
    assert s.n_pairs == 36
    assert s.spearman == pytest.approx(stats.spearmanr(sim[iu], truth[iu]).statistic)


def test_scores_invariant_to_value_order():
    sim, truth = _random_case(12, 4)
    perm = np.random.default_rng(0).permutation(12)
    a = score(sim, truth, n_permutations=200, n_bootstrap=200, seed=5)
    b = score(sim[np.ix_(perm, perm)], truth[np.ix_(perm, perm)], n_permutations=200, n_bootstrap=200, seed=5)
    assert a.spearman == pytest.approx(b.spearman)
    assert a.kendall == pytest.approx(b.kendall)
    # the null and bootstrap are random, but their distributions are order-free: close, not identical
    assert abs(a.p_value - b.p_value) < 0.05
    assert abs(a.ci[0] - b.ci[0]) < 0.1 and abs(a.ci[1] - b.ci[1]) < 0.1


def test_seeded_and_deterministic():
    sim, truth = _random_case(9, 6)
    assert score(sim, truth, seed=3) == score(sim, truth, seed=3)


def test_permutation_p_value_is_calibrated_under_the_null():
    """Random vectors against an unrelated truth: p-values should be roughly uniform."""
    rng = np.random.default_rng(2026)
    pvals = []
    for _ in range(300):
        vecs = rng.normal(size=(9, 8))
        unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
        truth = rng.normal(size=(9, 9))
        pvals.append(score(unit @ unit.T, truth, n_permutations=199, n_bootstrap=2,
                           seed=int(rng.integers(1 << 30))).p_value)
    pvals = np.array(pvals)
    assert 0.02 <= np.mean(pvals < 0.05) <= 0.09
    assert 0.4 <= np.mean(pvals) <= 0.6
    assert stats.kstest(pvals, "uniform").pvalue > 0.001


def test_strong_signal_is_detected_and_ci_covers_it():
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(15, 4))
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    sim = unit @ unit.T
    truth = sim + rng.normal(0, 0.05, sim.shape)
    s = score(sim, truth)
    assert s.spearman > 0.9
    assert s.p_value < 0.01
    assert s.ci[0] <= s.spearman <= s.ci[1]


def test_normalized_by_ceiling():
    sim, truth = _random_case(9, 8)
    s = score(sim, truth, ceiling=0.5, n_permutations=10, n_bootstrap=10)
    assert s.normalized == pytest.approx(s.spearman / 0.5)
    assert score(sim, truth, n_permutations=10, n_bootstrap=10).normalized is None


def test_split_half_ceiling_of_identical_replicates_is_one():
    sim, truth = _random_case(9, 9)
    raw, corrected = split_half_ceiling([truth, truth.copy()])
    assert raw == pytest.approx(1.0) and corrected == pytest.approx(1.0)
    raw, corrected = split_half_ceiling([truth, truth + np.random.default_rng(1).normal(0, 1, truth.shape)])
    assert corrected == pytest.approx(2 * raw / (1 + raw))


def test_aggregate_mean_type_mean_and_borda_by_hand():
    table = pd.DataFrame({"t1": [0.5, 0.3, 0.1], "t2": [0.2, 0.4, np.nan], "t3": [0.6, 0.0, 0.3]},
                         index=["a", "b", "c"])
    types = {"t1": "dpo", "t2": "dpo", "t3": "judge"}
    agg = aggregate(table, types)
    assert agg.loc["a", "mean"] == pytest.approx((0.5 + 0.2 + 0.6) / 3)
    assert np.isnan(agg.loc["c", "mean"])  # incomplete: no mean, as MTEB
    assert agg.loc["a", "mean_by_type"] == pytest.approx(((0.5 + 0.2) / 2 + 0.6) / 2)
    # Borda: t1 ranks a,b,c -> points 2,1,0; t2 ranks b,a (c missing -> 0) -> b 2, a 1; t3 a,c,b -> 2,1,0
    assert agg["borda_points"].to_dict() == {"a": 5.0, "b": 3.0, "c": 1.0}
    assert agg["borda_rank"].to_dict() == {"a": 1, "b": 2, "c": 3}


def test_borda_ties_share_points():
    table = pd.DataFrame({"t1": [0.5, 0.5, 0.1]}, index=["a", "b", "c"])
    agg = aggregate(table, {"t1": "x"})
    assert agg.loc["a", "borda_points"] == agg.loc["b", "borda_points"] == 1.5
    assert agg.loc["a", "borda_rank"] == agg.loc["b", "borda_rank"] == 1
