"""The confidence interval over values.

A **confidence interval over values** (``value_jackknife`` + ``jackknife_ci``): the question a CI answers
here is "how different would ρ be on another sample of values?". The old percentile bootstrap over values
covered 99% at nominal 95% (width 1.03 at n = 9): resampling values with replacement, like the plain
jackknife, roughly doubles the *pair-specific* (second-order, "degenerate") part of the variance, and for
cosines of near-isotropic vectors that part dominates. We use the leave-one-value-out jackknife for the
first-order part and subtract its known excess on the second-order part, estimated from the residuals of
the statistic's influence kernel after removing value main effects (derivation in ``jackknife_variance``),
then build the interval on Fisher's z with a t(n-1) quantile. ``tests/test_scoring.py`` simulates vectors
with a known population ρ at n = 9 and n = 21 and checks 93-97% coverage.

``valuebench.scoring`` builds every score's CI from these functions; the leaderboard's tie test applies
``jackknife_variance`` to paired differences.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats


def _standardized_ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks along the last axis, centred and scaled to unit (population) variance."""
    r = stats.rankdata(x, axis=-1)
    r = r - r.mean(axis=-1, keepdims=True)
    sd = r.std(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return r / sd


def _standardized_ranks_nan(x: np.ndarray) -> np.ndarray:
    """``_standardized_ranks`` ignoring NaN cells (which stay NaN): one call for all left-out samples."""
    r = stats.rankdata(x, axis=-1, nan_policy="omit")
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        r = r - np.nanmean(r, axis=-1, keepdims=True)
        return r / np.nanstd(r, axis=-1, keepdims=True)


LOO_CHUNK = 4_000_000  # elements per leave-one-out work array (~32 MB)


def _loo_standardized_ranks(x: np.ndarray, drop: np.ndarray) -> np.ndarray:
    """``_standardized_ranks_nan(np.where(drop, nan, x[:, None, :]))`` without ranking each left-out sample again:
    x [S, K] (finite), drop [m, K] -> [S, m, K]. With R the average ranks of the full sample, an element's average
    rank once some cells are dropped is R - (#dropped strictly below it) - (#dropped tied with it) / 2; the counts
    come from a cumulative count over the (doubled, so integer) full ranks of the dropped cells."""
    S, K = x.shape
    m = len(drop)
    r2 = np.rint(2 * stats.rankdata(x, axis=-1)).astype(np.int64)  # [S, K] in 2..2K
    width = 2 * K + 2
    i_idx, k_idx = np.nonzero(drop)  # dropped cells per (sample, left-out value, doubled rank), counted at once
    flat = ((np.arange(S)[:, None] * m + i_idx[None, :]) * width + r2[:, k_idx]).ravel()
    marks = np.bincount(flat, minlength=S * m * width).reshape(S, m, width)
    upto = np.cumsum(marks, axis=-1, dtype=np.int32)  # upto[..., v]: dropped cells with doubled rank <= v
    q = np.broadcast_to(r2[:, None, :], (S, m, K))
    at = np.take_along_axis(upto, q, axis=-1)
    below = np.take_along_axis(upto, q - 1, axis=-1)
    kept = (K - drop.sum(axis=1))[None, :, None]  # average ranks of k cells have mean (k + 1) / 2 exactly
    centred = (r2[:, None, :] / 2.0 - (at + below) / 2.0 - (kept + 1) / 2.0) * ~drop[None]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = centred / np.sqrt((centred * centred).sum(axis=-1, keepdims=True) / kept)
    out[np.broadcast_to(drop[None], out.shape)] = np.nan
    return out


@dataclass
class Jackknife:
    """What the CI and the leaderboard's tie test need, for S similarity matrices against one task.

    ``loo[s, i]``: rho with value i left out (NaN for values the task does not cover); ``resid[s, p]``: the
    residual of the statistic's influence kernel on unordered pair p (``np.triu_indices(n_all, 1)`` order;
    0 where the pair is not scored) after removing value main effects; ``df``: its degrees of freedom;
    ``n``: the number of values the task covers."""

    rho: np.ndarray
    loo: np.ndarray
    resid: np.ndarray
    n: int
    df: int


def value_jackknife(sims: np.ndarray, truth: np.ndarray, scored: np.ndarray | None = None) -> Jackknife:
    """Leave-one-value-out rhos and influence-kernel residuals of S similarity matrices [S, n, n] (canonical,
    value-set order) against one ground truth [n, n], over the ``scored`` cells (default: every ordered pair
    i != j; ``scoring.pair_mask`` makes the others); NaN cells of ``truth`` are never scored. Deterministic:
    no random draws."""
    sims = np.asarray(sims, dtype=float)
    n_all = truth.shape[0]
    scored = ~np.eye(n_all, dtype=bool) if scored is None else scored
    valid = scored & ~np.isnan(truth)
    rows, cols = np.nonzero(valid)
    x, y = sims[:, rows, cols], truth[rows, cols]
    present = np.zeros(n_all, dtype=bool)
    present[rows] = present[cols] = True
    a, b = _standardized_ranks(x), _standardized_ranks(y)
    rho = (a * b).mean(axis=1) if len(y) >= 3 else np.full(len(sims), np.nan)
    loo = np.full((len(sims), n_all), np.nan)
    left_out = np.flatnonzero(present)
    drop = (rows[None, :] == left_out[:, None]) | (cols[None, :] == left_out[:, None])  # [m, K]
    ay_loo = _standardized_ranks_nan(np.where(drop, np.nan, y[None, :]))
    chunk = max(1, LOO_CHUNK // max(drop.size, 1))
    for start in range(0, len(sims), chunk):
        ax_loo = _loo_standardized_ranks(x[start:start + chunk], drop)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a left-out sample with < 3 pairs: NaN
            loo[start:start + chunk, left_out] = np.nanmean(ax_loo * ay_loo[None], axis=-1)
    loo[:, left_out[(~drop).sum(axis=1) < 3]] = np.nan
    # influence kernel of Spearman's rho (Pearson of standardized ranks): a*b - rho*(a^2 + b^2)/2; averaged
    # over the two cells of an unordered pair, rho-hat is (up to the rank estimation) its mean over pairs
    kernel = a * b - rho[:, None] * (a * a + b * b) / 2
    iu, ju = np.triu_indices(n_all, 1)
    pair_of = np.full((n_all, n_all), -1)
    pair_of[iu, ju] = pair_of[ju, iu] = np.arange(len(iu))
    pid = pair_of[rows, cols]
    counts = np.bincount(pid, minlength=len(iu))
    onehot = np.zeros((len(pid), len(iu)))
    onehot[np.arange(len(pid)), pid] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        h = (kernel @ onehot) / counts
    scored = counts > 0
    design = np.zeros((scored.sum(), n_all))
    design[np.arange(scored.sum()), iu[scored]] = 1.0
    design[np.arange(scored.sum()), ju[scored]] = 1.0
    design = design[:, present]
    hat = design @ np.linalg.pinv(design)
    resid = np.zeros((len(sims), len(iu)))
    resid[:, scored] = h[:, scored] - h[:, scored] @ hat.T
    df = int(scored.sum() - np.linalg.matrix_rank(design)) if scored.any() else 0
    return Jackknife(rho, loo, resid, int(present.sum()), df)


def jackknife_variance(loo: np.ndarray, resid: np.ndarray, df: int, n: int) -> np.ndarray:
    """Variance of rho over samples of n values, from ``value_jackknife`` output (rows = matrices).

    Why the correction: write rho-hat as a U-statistic over values with kernel h(i, j) = theta + g_i + g_j +
    r_ij (Hoeffding). Its variance is 4 Var(g)/n + Var(r)/C(n, 2). The leave-one-out jackknife estimates the
    first term without bias but the second with expectation 4/(n(n-2)) Var(r) instead of 2/(n(n-1)) Var(r):
    an excess of 2/((n-1)(n-2)) Var(r), which for cosines of near-isotropic vectors (g ~ 0) doubles the
    variance. Var(r) is estimated from the influence-kernel residuals after an additive fit of value main
    effects (``resid``, ``df`` degrees of freedom). The result is floored at (n-2)/(2(n-1)) of the plain
    jackknife, the ratio when everything is pair-specific, so it never goes negative.
    """
    loo = np.atleast_2d(loo)
    resid = np.atleast_2d(resid)
    if n < 4 or df <= 0:
        return np.full(len(loo), np.nan)
    with np.errstate(invalid="ignore"):
        dev = loo - np.nanmean(loo, axis=1, keepdims=True)
        var_j = (n - 1) / n * np.nansum(dev**2, axis=1)
        sigma2 = (resid**2).sum(axis=1) / df
        return np.maximum(var_j - 2 * sigma2 / ((n - 1) * (n - 2)), var_j * (n - 2) / (2 * (n - 1)))


def jackknife_ci(rho, var, n: int, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Interval on Fisher's z (keeps it inside [-1, 1], and rho's sampling distribution is skewed near the
    ends) with a t(n-1) quantile (the variance is estimated from n values)."""
    rho = np.asarray(rho, dtype=float)
    if n < 4:
        nan = np.full(rho.shape, np.nan)
        return nan, nan.copy()
    q = stats.t.ppf(1 - (1 - level) / 2, n - 1)
    r = np.clip(rho, -1 + 1e-9, 1 - 1e-9)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(var) / (1 - r**2)
        z = np.arctanh(r)
        return np.tanh(z - q * se), np.tanh(z + q * se)
