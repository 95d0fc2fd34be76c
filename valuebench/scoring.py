"""Scoring: how well a method's similarity matrix ranks a task's ground-truth pairs.

With 9 or 21 values there are only 36-420 pairs, and pairs share values, so naive statistics overstate
certainty. Hence:

* **one canonical similarity** (``canonical_similarity``): similarities are rounded to
  ``SIMILARITY_DECIMALS`` (9) decimals before anything is ranked. Cosines that are equal in exact arithmetic
  (two orthogonal TF-IDF vectors, S[i, j] and S[j, i]) differ in the last float bits depending on the route
  (BLAS order, float32 storage, a results file), and Spearman ranks those ties differently: before this rule
  tfidf scored 0.0724 by name and 0.0657 from its own vectors file on the same task. Rounding to 1e-9 makes
  the ties exact on every route while keeping every real difference (float32 storage moves a cosine by
  ~1e-8 at most, far below any pair gap that ranks would resolve differently). ``score`` and ``score_many``
  both go through it, so evaluating by name, from a vectors file, from a
  results file and on the leaderboard gives the same score to the last bit.
* a **Mantel permutation test** (value labels permuted jointly on rows and columns, which keeps the
  dependence between pairs that share a value);
* a **confidence interval over values** (``valuebench.value_ci``, which says why): the leave-one-value-out
  jackknife minus its known excess on the pair-specific part of the variance, on Fisher's z with a t(n-1)
  quantile.

**One scorer.** ``score`` is ``score_many`` applied to one matrix, and ``draws`` is the only function that
draws random numbers: the statistics of one submission and of a thousand on the leaderboard cannot drift
apart. The random draws depend only on the task size and the seed, never on a similarity matrix, so they are
drawn once per task and shared by every matrix; the jackknife CI is deterministic. Everything is vectorized
over permutations and over matrices (the leaderboard scores thousands at once); when the multiset of scored
similarities is invariant under relabelling (no NaN in the ground truth; all ordered pairs, or a symmetric
matrix), each permuted Spearman is a dot product of the matrix's centred ranks with a fixed weight matrix, so
the whole null of all matrices is one matrix product (``_null_fast``), else ``permutation_null`` per matrix
(exact). ``make bench`` compares it against a plain per-permutation loop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from valuebench.value_ci import Jackknife, jackknife_ci, jackknife_variance, value_jackknife

PAIRS = ("off-diagonal", "upper-triangle")


def pair_mask(n: int, pairs: str = "off-diagonal") -> np.ndarray:
    """Which cells are scored: all ordered pairs i != j, or each unordered pair once (symmetric tasks)."""
    if pairs == "off-diagonal":
        return ~np.eye(n, dtype=bool)
    if pairs == "upper-triangle":
        return np.triu(np.ones((n, n), dtype=bool), k=1)
    raise ValueError(f"pairs must be one of {PAIRS}, got {pairs!r}")


def _row_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation per row of ``x`` and ``y`` [B, k], ignoring NaN cells (same pattern in both)."""
    valid = ~(np.isnan(x) | np.isnan(y))
    count = valid.sum(axis=1)
    x = np.where(valid, x, 0.0)
    y = np.where(valid, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = np.where(valid, x - x.sum(axis=1, keepdims=True) / count[:, None], 0.0)
        yc = np.where(valid, y - y.sum(axis=1, keepdims=True) / count[:, None], 0.0)
        r = (xc * yc).sum(axis=1) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    r[count < 3] = np.nan
    return r


def _row_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    both = np.isnan(x) | np.isnan(y)
    x = np.where(both, np.nan, x)
    y = np.where(both, np.nan, y)
    return _row_pearson(stats.rankdata(x, axis=1, nan_policy="omit"), stats.rankdata(y, axis=1, nan_policy="omit"))


@dataclass
class Score:
    spearman: float
    kendall: float
    p_value: float
    ci: tuple[float, float]
    n_pairs: int
    #: rho / bound: the share of what a perfect predictor of the true matrix could reach against the published
    #: one (``bound`` = sqrt(reliability of the published matrix)); above 1 only by noise
    normalized: float | None
    #: the task's split-half noise ceiling (replicate-to-replicate rho), shown for reference
    ceiling: float | None
    n_permutations: int
    n_bootstrap: int  # kept for old results files; the CI no longer resamples (always 0)
    seed: int
    bound: float | None = None
    ci_method: str = "value-jackknife"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ci"] = list(self.ci)
        return out


#: similarities are rounded to this many decimals before ranking, on every route (see the module docstring)
SIMILARITY_DECIMALS = 9
CI_METHOD = ("value-jackknife: leave-one-value-out variance minus its second-order excess, Fisher z, "
             "t(n-1) quantile")


def canonical_similarity(similarity) -> np.ndarray:
    """The similarity matrix (or stack [S, n, n]) every scorer ranks: float64, rounded to
    ``SIMILARITY_DECIMALS`` decimals, -0.0 folded into 0.0. NaN or inf off the diagonal is the user's
    error (a similarity that does not exist cannot be ranked); the diagonal is never scored."""
    from valuebench.errors import UserError

    s = np.asarray(similarity, dtype=float)
    if s.ndim < 2 or s.shape[-1] != s.shape[-2]:
        raise UserError(f"a similarity matrix must be square, got shape {s.shape}")
    off = ~np.eye(s.shape[-1], dtype=bool)
    bad = ~np.isfinite(s[..., off])
    if bad.any():
        where = np.argwhere(bad.reshape(-1, off.sum()))[0][-1]
        i, j = np.argwhere(off)[where]
        raise UserError(f"similarity matrix has NaN or inf off the diagonal (first at row {i}, column {j}); "
                        "every pair needs a finite similarity")
    return np.round(s, SIMILARITY_DECIMALS) + 0.0


def draws(n: int, n_permutations: int, seed: int) -> np.ndarray:
    """The permutations [P, n] of the Mantel test for this seed: the only random draws ``score_many`` (and so
    ``score``) makes. They depend on the task size and the seed, never on a similarity matrix."""
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n), (n_permutations, 1)), axis=1)


def permutation_null(similarity: np.ndarray, truth: np.ndarray, mask: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """Spearman rho under random relabelling of values (Mantel): one value per permutation of ``perms``."""
    permuted = similarity[perms[:, :, None], perms[:, None, :]]
    valid = mask & ~np.isnan(truth)
    x = permuted[:, valid]
    y = np.broadcast_to(truth[valid], x.shape)
    return _row_spearman(x, y)


def bootstrap_over_values(similarity: np.ndarray, truth: np.ndarray, pairs: str,
                          n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Spearman rho on value sets resampled with replacement; pairs of a value with its own copy are dropped.

    No longer used for the reported CI (it covers ~99% at nominal 95%, see the module docstring); kept for
    the calibration comparison in ``tests/test_scoring.py`` and the README's before/after figures."""
    n = len(similarity)
    idx = rng.integers(0, n, size=(n_bootstrap, n))
    s = similarity[idx[:, :, None], idx[:, None, :]]
    m = truth[idx[:, :, None], idx[:, None, :]]
    keep = pair_mask(n, pairs)[None] & (idx[:, :, None] != idx[:, None, :]) & ~np.isnan(m)
    x = np.where(keep, s, np.nan).reshape(n_bootstrap, -1)
    y = np.where(keep, m, np.nan).reshape(n_bootstrap, -1)
    return _row_spearman(x, y)


# --------------------------------------------------------------------------------------------------
# scoring: one implementation for one matrix and for many


@dataclass
class ManyScores:
    """Per-matrix statistics against one task, arrays of length S; ``jackknife`` feeds the CI (and the
    leaderboard's tie test)."""

    spearman: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    jackknife: Jackknife


def _spearman_rows(sims: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    x = stats.rankdata(sims[:, valid], axis=1)
    y = stats.rankdata(truth[valid])
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc @ yc) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum())


def observed_spearman(sims: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Spearman rho of every matrix's scored cells [S, n, n] against the ground truth, [S]."""
    return _spearman_rows(canonical_similarity(sims), truth, valid)


def _fast_null_ok(sims: np.ndarray, truth: np.ndarray, mask: np.ndarray, pairs: str) -> bool:
    if np.isnan(truth[mask]).any():
        return False
    return pairs == "off-diagonal" or bool(np.array_equal(sims, sims.transpose(0, 2, 1)))


def _null_fast(sims: np.ndarray, truth: np.ndarray, mask: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """Permutation null [S, P] as one matrix product (valid only when ``_fast_null_ok``)."""
    n = truth.shape[0]
    S, P = len(sims), len(perms)
    y = stats.rankdata(truth[mask])
    yc = y - y.mean()
    rows, cols = np.nonzero(mask)
    src = perms[:, rows] * n + perms[:, cols]  # [P, K]: original cell landing on each scored position
    weights = np.bincount((src * P + np.arange(P)[:, None]).ravel(), weights=np.tile(yc, P),
                          minlength=n * n * P).reshape(n * n, P)
    ranks = np.zeros((S, n, n))
    ranks[:, mask] = stats.rankdata(sims[:, mask], axis=1)
    if not mask[1, 0]:  # upper triangle of symmetric matrices: permuted positions read the mirror cells
        ranks = ranks + ranks.transpose(0, 2, 1)
    off = ~np.eye(n, dtype=bool)
    centred = np.where(off, ranks - (mask.sum() + 1) / 2, 0.0).reshape(S, n * n)
    norm_x = np.sqrt((centred[:, mask.ravel()] ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (centred @ weights) / (norm_x[:, None] * np.sqrt((yc**2).sum()))


def _null(sims: np.ndarray, truth: np.ndarray, mask: np.ndarray, perms: np.ndarray, pairs: str) -> np.ndarray:
    if _fast_null_ok(sims, truth, mask, pairs):
        return _null_fast(sims, truth, mask, perms)
    return np.stack([permutation_null(sim, truth, mask, perms) for sim in sims]) if len(sims) else \
        np.empty((0, len(perms)))


def _score_canonical(sims: np.ndarray, truth: np.ndarray, pairs: str, n_permutations: int, seed: int,
                     ci_level: float) -> ManyScores:
    n = truth.shape[0]
    mask = pair_mask(n, pairs)
    valid = mask & ~np.isnan(truth)
    rho = _spearman_rows(sims, truth, valid) if valid.sum() >= 3 else np.full(len(sims), np.nan)
    null = _null(sims, truth, mask, draws(n, n_permutations, seed), pairs)
    finite = np.isfinite(null)
    hits = (np.where(finite, null, -np.inf) >= (rho - 1e-12)[:, None]).sum(axis=1)
    p = np.where(np.isfinite(rho), (1 + hits) / (1 + finite.sum(axis=1)), np.nan)
    jk = value_jackknife(sims, truth, mask)
    var = jackknife_variance(jk.loo, jk.resid, jk.df, jk.n)
    lo, hi = jackknife_ci(rho, var, jk.n, ci_level)
    return ManyScores(rho, p, lo, hi, jk)


def score_many(sims: np.ndarray, truth: np.ndarray, *, pairs: str = "off-diagonal", n_permutations: int = 1000,
               n_bootstrap: int = 0, seed: int = 0, ci_level: float = 0.95) -> ManyScores:
    """Score S similarity matrices [S, n, n] (value-set order) against one ground truth [n, n].

    ``p_value`` is one-sided (H1: rho > 0, a useful representation predicts generalization), computed
    as (1 + #{null >= observed}) / (1 + n_permutations) so it is never 0. ``n_bootstrap`` is accepted for old
    callers and ignored: the CI is the deterministic value jackknife."""
    return _score_canonical(canonical_similarity(sims), np.asarray(truth, dtype=float), pairs, n_permutations,
                            seed, ci_level)


def score(similarity: np.ndarray, truth: np.ndarray, *, pairs: str = "off-diagonal",
          ceiling: float | None = None, bound: float | None = None, n_permutations: int = 1000,
          n_bootstrap: int = 0, seed: int = 0, ci_level: float = 0.95) -> Score:
    """Score an [n, n] similarity matrix against an [n, n] ground truth, both in the same value order:
    ``score_many`` on one matrix, plus Kendall's tau. ``normalized`` = rho / ``bound``."""
    truth = np.asarray(truth, dtype=float)
    similarity = canonical_similarity(similarity)
    if similarity.shape != truth.shape or similarity.ndim != 2:
        raise ValueError(f"similarity {similarity.shape} and truth {truth.shape} must be the same square shape")
    many = _score_canonical(similarity[None], truth, pairs, n_permutations, seed, ci_level)
    valid = pair_mask(len(truth), pairs) & ~np.isnan(truth)
    x, y = similarity[valid], truth[valid]
    rho = float(many.spearman[0])
    tau = float(stats.kendalltau(x, y).statistic) if len(x) >= 3 else float("nan")
    normalized = rho / bound if bound and bound > 0 and np.isfinite(rho) else None
    return Score(rho, tau, float(many.p_value[0]), (float(many.ci_low[0]), float(many.ci_high[0])),
                 int(valid.sum()), normalized, ceiling, n_permutations, 0, seed, bound, CI_METHOD)


def split_half_ceiling(replicates: list[np.ndarray], pairs: str = "off-diagonal") -> tuple[float, float]:
    """Noise ceiling from replicate matrices: mean pairwise Spearman between replicates (raw), and its
    Spearman-Brown correction to the reliability of their average (what the shipped matrix is)."""
    if len(replicates) < 2:
        raise ValueError("a noise ceiling needs at least two replicate matrices")
    mask = pair_mask(len(replicates[0]), pairs)
    rhos = []
    for a in range(len(replicates)):
        for b in range(a + 1, len(replicates)):
            ra, rb = replicates[a], replicates[b]
            valid = mask & ~np.isnan(ra) & ~np.isnan(rb)
            rhos.append(stats.spearmanr(ra[valid], rb[valid]).statistic)
    raw = float(np.mean(rhos))
    k = len(replicates)
    corrected = k * raw / (1 + (k - 1) * raw) if raw > 0 else float("nan")  # undefined for r <= 0
    return raw, float(corrected)


# --------------------------------------------------------------------------------------------------
# aggregation over tasks (as MTEB does it, with the same all-or-nothing rule for means)


def aggregate(scores: pd.DataFrame, task_types: dict[str, str]) -> pd.DataFrame:
    """Aggregate a [method x task] table of main scores.

    ``mean``: mean over tasks, NaN if the method misses any task (an incomplete method is not ranked on
    means). ``mean_by_type``: mean of per-type means, so a type with many tasks does not dominate.
    ``borda``: per task, methods ranked (ties averaged) get ``n_methods - rank`` points; a missing task
    gives 0 points; ``borda_rank`` is 1 for the most points.
    """
    out = pd.DataFrame(index=scores.index)
    out["mean"] = scores.mean(axis=1, skipna=False)
    by_type = {}
    for typ in sorted(set(task_types[t] for t in scores.columns)):
        cols = [t for t in scores.columns if task_types[t] == typ]
        by_type[typ] = scores[cols].mean(axis=1, skipna=False)
    type_frame = pd.DataFrame(by_type, index=scores.index)
    out["mean_by_type"] = type_frame.mean(axis=1, skipna=False)
    for typ in type_frame.columns:
        out[f"mean[{typ}]"] = type_frame[typ]
    n = len(scores)
    ranks = scores.rank(axis=0, ascending=False, method="average")
    points = (n - ranks).fillna(0.0)
    out["borda_points"] = points.sum(axis=1)
    out["borda_rank"] = out["borda_points"].rank(ascending=False, method="min").astype(int)
    return out
