"""Scoring: how well a method's similarity matrix ranks a task's ground-truth pairs.

With 9 or 21 values there are only 36-420 pairs, and pairs share values, so naive statistics overstate
certainty. Hence: a Mantel permutation test (value labels permuted jointly on rows and columns, which
keeps the dependence between pairs that share a value), a bootstrap over *values* rather than pairs,
and the task's noise ceiling beside every score. Everything is vectorized over permutations and
bootstrap samples; ``make bench`` compares it against a plain per-permutation loop.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

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
    normalized: float | None
    ceiling: float | None
    n_permutations: int
    n_bootstrap: int
    seed: int

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ci"] = list(self.ci)
        return out


def permutation_null(similarity: np.ndarray, truth: np.ndarray, mask: np.ndarray,
                     n_permutations: int, rng: np.random.Generator) -> np.ndarray:
    """Spearman rho under random relabelling of values (Mantel): one value per permutation."""
    n = len(similarity)
    perms = rng.permuted(np.tile(np.arange(n), (n_permutations, 1)), axis=1)
    permuted = similarity[perms[:, :, None], perms[:, None, :]]
    valid = mask & ~np.isnan(truth)
    x = permuted[:, valid]
    y = np.broadcast_to(truth[valid], x.shape)
    return _row_spearman(x, y)


def bootstrap_over_values(similarity: np.ndarray, truth: np.ndarray, pairs: str,
                          n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Spearman rho on value sets resampled with replacement; pairs of a value with its own copy are dropped."""
    n = len(similarity)
    idx = rng.integers(0, n, size=(n_bootstrap, n))
    s = similarity[idx[:, :, None], idx[:, None, :]]
    m = truth[idx[:, :, None], idx[:, None, :]]
    keep = pair_mask(n, pairs)[None] & (idx[:, :, None] != idx[:, None, :]) & ~np.isnan(m)
    x = np.where(keep, s, np.nan).reshape(n_bootstrap, -1)
    y = np.where(keep, m, np.nan).reshape(n_bootstrap, -1)
    return _row_spearman(x, y)


def score(similarity: np.ndarray, truth: np.ndarray, *, pairs: str = "off-diagonal",
          ceiling: float | None = None, n_permutations: int = 1000, n_bootstrap: int = 1000,
          seed: int = 0, ci_level: float = 0.95) -> Score:
    """Score an [n, n] similarity matrix against an [n, n] ground truth, both in the same value order.

    ``p_value`` is one-sided (H1: rho > 0, a useful representation predicts generalization), computed
    as (1 + #{null >= observed}) / (1 + n_permutations) so it is never 0.
    """
    similarity = np.asarray(similarity, dtype=float)
    truth = np.asarray(truth, dtype=float)
    if similarity.shape != truth.shape or similarity.ndim != 2 or similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"similarity {similarity.shape} and truth {truth.shape} must be the same square shape")
    mask = pair_mask(len(truth), pairs)
    valid = mask & ~np.isnan(truth)
    x, y = similarity[valid], truth[valid]
    rho = float(stats.spearmanr(x, y).statistic) if len(x) >= 3 else float("nan")
    tau = float(stats.kendalltau(x, y).statistic) if len(x) >= 3 else float("nan")
    rng = np.random.default_rng(seed)
    null = permutation_null(similarity, truth, mask, n_permutations, rng)
    null = null[~np.isnan(null)]
    p = float((1 + np.sum(null >= rho - 1e-12)) / (1 + len(null))) if np.isfinite(rho) else float("nan")
    boot = bootstrap_over_values(similarity, truth, pairs, n_bootstrap, rng)
    alpha = (1 - ci_level) / 2
    lo, hi = (np.nanquantile(boot, [alpha, 1 - alpha]) if np.isfinite(boot).any() else (np.nan, np.nan))
    normalized = rho / ceiling if ceiling and ceiling > 0 and np.isfinite(rho) else None
    return Score(rho, tau, p, (float(lo), float(hi)), int(valid.sum()), normalized, ceiling,
                 n_permutations, n_bootstrap, seed)


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
