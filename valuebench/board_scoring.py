"""Scoring many submissions against one task at once, with the same numbers ``scoring.score`` gives.

Why a second implementation: the leaderboard scores every (submission, task) pair from scratch, and with
1,000 submissions a per-submission ``score()`` call (1,000 permutations + 1,000 bootstrap resamples each)
takes ~40 ms, i.e. ~40 s per task. The random draws of ``score()`` depend only on the task size and the
seed, never on the similarity matrix, so they are drawn once per task and shared by every submission:

* permutation null: when the multiset of scored similarity values is invariant under relabelling (no NaN
  in the ground truth; all ordered pairs, or a symmetric matrix), each permuted Spearman is a dot product
  of the submission's centred rank matrix with a fixed weight matrix, so the whole null of all submissions
  is one matrix product. Otherwise we fall back to ``scoring.permutation_null`` per submission (exact).
* bootstrap over values: a resample is a multiset of matrix cells; average ranks within a weighted
  multiset come from cumulative sums over each submission's sort order (ties handled by tie groups), and
  Spearman is then a weighted Pearson correlation. Vectorised over submissions in memory-bounded chunks.

Sharing the bootstrap resamples across submissions also makes them *paired*, which the leaderboard uses to
decide which entries are statistically tied with the leader.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import stats

from valuebench.scoring import pair_mask, permutation_null

CHUNK_ELEMENTS = 4_000_000  # bootstrap work arrays per chunk: B * chunk * n^2 floats (~32 MB each)
THREADS = 2


@dataclass
class ManyScores:
    """Per-submission statistics for one task, arrays of length S (``boot`` is [S, n_bootstrap])."""

    spearman: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    boot: np.ndarray


def draws(n: int, n_permutations: int, n_bootstrap: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The permutations and bootstrap indices ``scoring.score`` draws for this seed, in the same order."""
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.tile(np.arange(n), (n_permutations, 1)), axis=1)
    idx = rng.integers(0, n, size=(n_bootstrap, n))
    return perms, idx


def observed_spearman(sims: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Spearman rho of every submission's scored cells against the ground truth, [S]."""
    x = stats.rankdata(sims[:, valid], axis=1)
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


def _bootstrap_weights(truth: np.ndarray, idx: np.ndarray, pairs: str) -> np.ndarray:
    """W[b, cell]: how often each original cell is scored in bootstrap resample b."""
    B, n = idx.shape
    rows, cols = np.nonzero(pair_mask(n, pairs))
    cells = idx[:, rows] * n + idx[:, cols]  # [B, K]
    keep = (idx[:, rows] != idx[:, cols]) & ~np.isnan(truth.ravel()[cells])
    flat = (cells + (np.arange(B) * n * n)[:, None])[keep]
    return np.bincount(flat, minlength=B * n * n).reshape(B, n * n).astype(float)


def _tie_bounds(sorted_vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each sorted position, the first and last position of its tie group (along the last axis)."""
    m = sorted_vals.shape[-1]
    pos = np.broadcast_to(np.arange(m), sorted_vals.shape)
    new = np.concatenate([np.ones(sorted_vals.shape[:-1] + (1,), bool),
                          np.diff(sorted_vals, axis=-1) != 0], axis=-1)
    first = np.maximum.accumulate(np.where(new, pos, 0), axis=-1)
    end = np.concatenate([new[..., 1:], np.ones(sorted_vals.shape[:-1] + (1,), bool)], axis=-1)
    last = np.flip(np.minimum.accumulate(np.flip(np.where(end, pos, m), -1), axis=-1), -1)
    return first, last


def _weighted_ranks_sorted(ws: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Average ranks of cells (in sorted order) within a multiset with multiplicities ``ws``."""
    incl = np.cumsum(ws, axis=-1)
    excl = incl - ws
    lo = np.take_along_axis(excl, np.broadcast_to(first, ws.shape), axis=-1)
    hi = np.take_along_axis(incl, np.broadcast_to(last, ws.shape), axis=-1)
    return lo + (hi - lo + 1) / 2


def _bootstrap(sims: np.ndarray, truth: np.ndarray, idx: np.ndarray, pairs: str) -> np.ndarray:
    """Bootstrap-over-values Spearman [S, B], identical in value to ``scoring.bootstrap_over_values``.

    Symmetric similarity matrices (cosine) have every value twice, at (i, j) and (j, i); folding the two
    cells into one tie group halves the work and lets the tie-free fast path apply.
    """
    S, n = len(sims), truth.shape[0]
    W = _bootstrap_weights(truth, idx, pairs)  # [B, n*n]
    finite = truth[np.isfinite(truth)]
    yvals = np.where(np.isnan(truth), (finite.max() + 1) if finite.size else 0.0, truth).ravel()
    yorder = np.argsort(yvals, kind="stable")
    yfirst, ylast = _tie_bounds(yvals[yorder])
    ry = np.empty_like(W)
    ry[:, yorder] = _weighted_ranks_sorted(W[:, yorder], yfirst, ylast)
    sw = W.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        my = (W * ry).sum(axis=1) / sw
        vy = (W * ry * ry).sum(axis=1) / sw - my**2
    wy = W * ry
    if np.array_equal(sims, sims.transpose(0, 2, 1)):
        rows, cols = np.triu_indices(n, k=1)
        upper, lower = rows * n + cols, cols * n + rows
        Wc, Yc, x = W[:, upper] + W[:, lower], wy[:, upper] + wy[:, lower], sims[:, rows, cols]
    else:
        off = np.flatnonzero(~np.eye(n, dtype=bool))
        Wc, Yc, x = W[:, off], wy[:, off], sims.reshape(S, n * n)[:, off]
    chunk = max(1, CHUNK_ELEMENTS // (len(W) * Wc.shape[1]))
    stats_b = (sw, my, vy)
    with ThreadPoolExecutor(max_workers=THREADS) as pool:  # numpy releases the GIL in these kernels
        parts = pool.map(lambda a: _bootstrap_chunk(x[a:a + chunk], Wc, Yc, stats_b), range(0, S, chunk))
        return np.concatenate(list(parts), axis=0)


def _bootstrap_chunk(part: np.ndarray, Wc: np.ndarray, Yc: np.ndarray, stats_b) -> np.ndarray:
    """Weighted Spearman of a chunk of submissions [C, cells] on every resample: returns [C, B]."""
    sw, my, vy = stats_b
    order = np.argsort(part, axis=1, kind="stable")
    ws = Wc[:, order]  # [B, C, cells]: multiplicities in each submission's sort order
    first, last = _tie_bounds(np.take_along_axis(part, order, axis=1))
    if np.array_equal(first, last):  # no tied similarities: every cell is its own tie group
        rx = np.cumsum(ws, axis=-1)
        rx -= 0.5 * ws
        rx += 0.5
    else:
        rx = _weighted_ranks_sorted(ws, first[None], last[None])
    ws *= rx  # ws now holds w * rank
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = ((sw + 1) / 2)[:, None]  # average ranks of a multiset of size sw always sum to sw(sw+1)/2
        cov = np.einsum("bcm,bcm->bc", rx, Yc[:, order]) / sw[:, None] - mx * my[:, None]
        vx = np.einsum("bcm,bcm->bc", ws, rx) / sw[:, None] - mx**2
        r = cov / np.sqrt(vx * vy[:, None])
    r[sw < 3, :] = np.nan
    r[vx <= 1e-9 * mx**2] = np.nan
    return r.T


def score_many(sims: np.ndarray, truth: np.ndarray, *, pairs: str = "off-diagonal", n_permutations: int = 1000,
               n_bootstrap: int = 1000, seed: int = 0, ci_level: float = 0.95) -> ManyScores:
    """Score S similarity matrices [S, n, n] (value-set order) against one ground truth [n, n]."""
    sims = np.asarray(sims, dtype=float)
    truth = np.asarray(truth, dtype=float)
    n = truth.shape[0]
    mask = pair_mask(n, pairs)
    valid = mask & ~np.isnan(truth)
    perms, idx = draws(n, n_permutations, n_bootstrap, seed)
    rho = observed_spearman(sims, truth, valid) if valid.sum() >= 3 else np.full(len(sims), np.nan)
    null = _null(sims, truth, mask, perms, pairs, seed)
    finite = np.isfinite(null)
    hits = (np.where(finite, null, -np.inf) >= (rho - 1e-12)[:, None]).sum(axis=1)
    p = np.where(np.isfinite(rho), (1 + hits) / (1 + finite.sum(axis=1)), np.nan)
    boot = _bootstrap(sims, truth, idx, pairs)
    alpha = (1 - ci_level) / 2
    lo, hi = np.full(len(sims), np.nan), np.full(len(sims), np.nan)
    ok = np.isfinite(boot).any(axis=1)
    if ok.any():
        lo[ok], hi[ok] = np.nanquantile(boot[ok], [alpha, 1 - alpha], axis=1)
    return ManyScores(rho, p, lo, hi, boot)
