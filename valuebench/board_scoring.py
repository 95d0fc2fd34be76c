"""Scoring many submissions against one task at once, with the same numbers ``scoring.score`` gives.

Why a second entry point: the leaderboard scores every (submission, task) pair from scratch, and with 1,000
submissions a per-submission ``score()`` call costs ~40 s per task. The random draws of ``score()`` depend
only on the task size and the seed, never on the similarity matrix, so they are drawn once per task and shared
by every submission:

* similarities go through ``scoring.canonical_similarity`` first (rounded to 1e-9), exactly as ``score()``
  does, so ties are the same on every route;
* permutation null: when the multiset of scored similarity values is invariant under relabelling (no NaN
  in the ground truth; all ordered pairs, or a symmetric matrix), each permuted Spearman is a dot product
  of the submission's centred rank matrix with a fixed weight matrix, so the whole null of all submissions
  is one matrix product. Otherwise we fall back to ``scoring.permutation_null`` per submission (exact).
* the confidence interval is ``scoring.value_jackknife`` (deterministic, vectorized over submissions) and
  ``scoring.jackknife_ci``: literally the same functions ``score()`` calls.

``pack_jackknife`` stores what the leaderboard's tie test needs per (submission, task) in one float row, so
the app can re-decide ties for any task filter without rescoring (``board.tied_with_leader``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

from valuebench.scoring import (
    Jackknife,
    canonical_similarity,
    jackknife_ci,
    jackknife_variance,
    pair_mask,
    permutation_null,
    value_jackknife,
)


@dataclass
class ManyScores:
    """Per-submission statistics for one task, arrays of length S (``jack`` is [S, K], see ``pack_jackknife``)."""

    spearman: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    jack: np.ndarray


def draws(n: int, n_permutations: int, seed: int) -> np.ndarray:
    """The permutations ``scoring.score`` draws for this seed, in the same order."""
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n), (n_permutations, 1)), axis=1)


def observed_spearman(sims: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Spearman rho of every submission's scored cells against the ground truth, [S]."""
    x = stats.rankdata(canonical_similarity(sims)[:, valid], axis=1)
    y = stats.rankdata(truth[valid])
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc @ yc) / np.sqrt((xc**2).sum(axis=1) * (yc**2).sum())


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


def _null(sims, truth, mask, perms, pairs, seed) -> np.ndarray:
    if _fast_null_ok(sims, truth, mask, pairs):
        return _null_fast(sims, truth, mask, perms)
    out = np.empty((len(sims), len(perms)))
    for s, sim in enumerate(sims):
        out[s] = permutation_null(sim, truth, mask, len(perms), np.random.default_rng(seed))
    return out


# --------------------------------------------------------------------------------------------------
# the jackknife row stored per (submission, task): [n_all, n, df, group, rho, loo (n_all), resid (C(n_all, 2))]

HEADER = 5


def group_key(value_ids: list[str]) -> float:
    """Tasks over the same value set share their leave-one-out samples; the tie test must pair them. A 24-bit
    checksum of the value ids, exact in float32, says which tasks those are."""
    return float(zlib.crc32(",".join(value_ids).encode()) & 0xFFFFFF)


def jack_width(n_all: int) -> int:
    return HEADER + n_all + n_all * (n_all - 1) // 2


def pack_jackknife(jk: Jackknife, group: float) -> np.ndarray:
    """One row per submission, float64 (the build stores float32)."""
    S, n_all = jk.loo.shape
    head = np.tile([n_all, jk.n, jk.df, group, 0.0], (S, 1))
    head[:, 4] = jk.rho
    return np.concatenate([head, jk.loo, jk.resid], axis=1)


def unpack_jackknife(row: np.ndarray) -> tuple[int, int, int, float, np.ndarray, np.ndarray, np.ndarray]:
    """(n_all, n, df, group, rho [...], loo [..., n_all], resid [..., P]) from rows [..., K] of one task."""
    row = np.asarray(row, dtype=float)
    head = row[..., :HEADER]
    finite = head[np.isfinite(head[..., 0])]
    if not len(finite):
        return 0, 0, 0, float("nan"), row[..., 4], row[..., HEADER:HEADER], row[..., HEADER:HEADER]
    n_all, n, df, group = (int(finite[0, 0]), int(finite[0, 1]), int(finite[0, 2]), float(finite[0, 3]))
    loo = row[..., HEADER:HEADER + n_all]
    resid = row[..., HEADER + n_all:HEADER + n_all + n_all * (n_all - 1) // 2]
    return n_all, n, df, group, row[..., 4], loo, resid


def score_many(sims: np.ndarray, truth: np.ndarray, *, pairs: str = "off-diagonal", n_permutations: int = 1000,
               n_bootstrap: int = 0, seed: int = 0, ci_level: float = 0.95,
               value_ids: list[str] | None = None) -> ManyScores:
    """Score S similarity matrices [S, n, n] (value-set order) against one ground truth [n, n].
    ``n_bootstrap`` is accepted for old callers and ignored (the CI is the value jackknife)."""
    sims = canonical_similarity(sims)
    truth = np.asarray(truth, dtype=float)
    n = truth.shape[0]
    mask = pair_mask(n, pairs)
    valid = mask & ~np.isnan(truth)
    perms = draws(n, n_permutations, seed)
    rho = observed_spearman(sims, truth, valid) if valid.sum() >= 3 else np.full(len(sims), np.nan)
    null = _null(sims, truth, mask, perms, pairs, seed)
    finite = np.isfinite(null)
    hits = (np.where(finite, null, -np.inf) >= (rho - 1e-12)[:, None]).sum(axis=1)
    p = np.where(np.isfinite(rho), (1 + hits) / (1 + finite.sum(axis=1)), np.nan)
    jk = value_jackknife(sims, truth, pairs)
    var = jackknife_variance(jk.loo, jk.resid, jk.df, jk.n)
    lo, hi = jackknife_ci(rho, var, jk.n, ci_level)
    group = group_key(value_ids) if value_ids is not None else float(n)
    return ManyScores(rho, p, lo, hi, pack_jackknife(jk, group))
