"""Multidimensional scaling of value similarities into a 2-D map, with Kruskal's stress-1 beside it.

A map is only as honest as its stress: with 9-21 values and high-dimensional vectors, 2-D cannot keep
every distance, so the stress is always reported. Metric MDS (SMACOF, scikit-learn) is run from the
classical-MDS solution plus several seeded random starts and the lowest-stress run is kept, so the
map is reproducible and not a local optimum of one unlucky start. The result is rotated to its
principal axes with fixed signs so the same data always draws the same picture.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats
from sklearn.manifold import MDS

N_RANDOM_INITS = 8


def cosine_dissimilarity(similarity: np.ndarray) -> np.ndarray:
    """Cosine distance ``1 - s``, symmetrised, zero diagonal, never negative (rounding)."""
    s = np.asarray(similarity, dtype=float)
    if s.ndim != 2 or s.shape[0] != s.shape[1]:
        raise ValueError(f"similarity must be a square matrix, got shape {s.shape}")
    d = 1.0 - (s + s.T) / 2.0
    np.fill_diagonal(d, 0.0)
    return np.clip(d, 0.0, None)


def task_dissimilarity(matrix: np.ndarray, how: str = "rank") -> np.ndarray:
    """Dissimilarity from a task's ground-truth matrix M (how much training on i moves j).

    M is not symmetric, so it is first symmetrised as (M + M^T) / 2: a map has one distance per pair.
    Then, because M is a transfer strength (higher = closer) on an arbitrary scale that may be negative:
    ``rank`` maps the pairs' ranks to [0, 1] (most transfer -> 0), which keeps only the order the
    benchmark scores by; ``max-minus`` uses ``max(S) - S`` and keeps the matrix's own spacing.
    Missing cells (NaN) take the median dissimilarity, a neutral guess that does not pull points together.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"task matrix must be square, got shape {m.shape}")
    n = len(m)
    both = np.stack([m, m.T])
    count = (~np.isnan(both)).sum(axis=0)
    sym = np.where(count > 0, np.nansum(both, axis=0) / np.maximum(count, 1), np.nan)  # one side missing: use the other
    iu = np.triu_indices(n, k=1)
    upper = sym[iu]
    if how == "rank":
        ranks = stats.rankdata(-upper, nan_policy="omit")
        spread = np.nanmax(ranks) - np.nanmin(ranks) if np.isfinite(ranks).any() else 0.0
        values = (ranks - np.nanmin(ranks)) / spread if spread > 0 else np.zeros_like(upper)
    elif how == "max-minus":
        values = np.nanmax(upper) - upper
    else:
        raise ValueError(f"how must be 'rank' or 'max-minus', got {how!r}")
    values = np.where(np.isnan(values), np.nanmedian(values) if np.isfinite(values).any() else 0.0, values)
    d = np.zeros((n, n))
    d[iu] = values
    return d + d.T


def classical_mds(dissimilarity: np.ndarray, n_components: int = 2) -> np.ndarray:
    """Torgerson's classical MDS: eigenvectors of the double-centred squared distances (exact when the
    distances are Euclidean, and the best start for SMACOF otherwise)."""
    d2 = np.asarray(dissimilarity, dtype=float) ** 2
    n = len(d2)
    j = np.eye(n) - np.ones((n, n)) / n
    b = -0.5 * j @ d2 @ j
    vals, vecs = np.linalg.eigh((b + b.T) / 2)
    order = np.argsort(vals)[::-1][:n_components]
    return vecs[:, order] * np.sqrt(np.clip(vals[order], 0.0, None))


def stress1(dissimilarity: np.ndarray, coords: np.ndarray) -> float:
    """Kruskal's stress-1: sqrt(sum (d_ij - ||x_i - x_j||)^2 / sum ||x_i - x_j||^2) over pairs i < j.
    0 is a perfect map; ~0.05 good, ~0.1 fair, ~0.2 poor (Kruskal 1964)."""
    d = np.asarray(dissimilarity, dtype=float)
    iu = np.triu_indices(len(d), k=1)
    emb = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)[iu]
    denom = float(np.sum(emb**2))
    return float(np.sqrt(np.sum((d[iu] - emb) ** 2) / denom)) if denom > 0 else 0.0


def _smacof(dissimilarity: np.ndarray, init: np.ndarray | None, seed: int) -> np.ndarray:
    """One SMACOF run; the scikit-learn parameter names changed in 1.8, so both spellings are handled."""
    common = dict(n_components=2, n_init=1, max_iter=1000, eps=1e-9, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            model = MDS(metric_mds=True, metric="precomputed", init="random", **common)
        except TypeError:  # scikit-learn < 1.8
            model = MDS(metric=True, dissimilarity="precomputed", **common)
        return model.fit_transform(dissimilarity, init=init)


def canonical_orientation(coords: np.ndarray) -> np.ndarray:
    """Centre, rotate to principal axes and fix signs (largest |coordinate| positive): MDS is only
    defined up to rotation and reflection, and a stable orientation makes maps comparable run to run."""
    x = coords - coords.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    x = x @ vt.T
    for k in range(x.shape[1]):
        if x[np.argmax(np.abs(x[:, k])), k] < 0:
            x[:, k] = -x[:, k]
    return x


def mds_from_dissimilarity(dissimilarity: np.ndarray, seed: int = 0,
                           n_random_inits: int = N_RANDOM_INITS) -> tuple[np.ndarray, float]:
    """Best-of-several metric MDS of a precomputed dissimilarity; returns (coords [n, 2], stress-1)."""
    d = np.asarray(dissimilarity, dtype=float)
    if len(d) < 3:
        raise ValueError("a map needs at least 3 values")
    start = classical_mds(d)
    candidates = [start, _smacof(d, start, seed)]
    rng = np.random.default_rng(seed)
    for _ in range(n_random_inits):
        candidates.append(_smacof(d, rng.normal(size=(len(d), 2)) * d.mean(), int(rng.integers(2**31))))
    stresses = [stress1(d, c) for c in candidates]
    best = int(np.argmin(stresses))
    return canonical_orientation(candidates[best]), stresses[best]


def mds_coordinates(similarity: np.ndarray, seed: int = 0) -> tuple[np.ndarray, float]:
    """2-D map of an [n, n] cosine-similarity matrix: (coords [n, 2], Kruskal stress-1)."""
    return mds_from_dissimilarity(cosine_dissimilarity(similarity), seed=seed)
