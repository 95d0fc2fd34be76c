"""Silhouette of a method's value vectors against a value-set label, with the nulls that make it readable.

A raw silhouette means little with 9-21 values: even random vectors give a non-zero score, and the
research's claim ("persona vectors beat sentence embeddings, which fall below random") is a claim about
the score *relative to chance*. So every silhouette comes with two references:

- a random-vector null: Gaussian vectors with the same number of values and the same dimension, the same
  labels, ``n_seeds`` draws (mean and 95th percentile) — what "random" means in the research;
- a permutation p-value: the method's own distances with the labels shuffled, i.e. is *this* grouping
  tighter than an arbitrary grouping of the same sizes (one-sided, never 0).

Both nulls are computed in one vectorised pass (silhouettes of many distance matrices x many labelings)
instead of a Python loop over seeds; the observed score equals scikit-learn's ``silhouette_score``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from valuebench.errors import UserError

CHUNK_FLOATS = 4_000_000  # Gaussian draws per chunk (~32 MB), so large dims do not exhaust memory


def cosine_distances(vectors: np.ndarray) -> np.ndarray:
    """Cosine distances of [..., n, d] vectors -> [..., n, n] (zero diagonal)."""
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    d = 1.0 - unit @ np.swapaxes(unit, -1, -2)
    n = d.shape[-1]
    d[..., np.arange(n), np.arange(n)] = 0.0
    return np.clip(d, 0.0, 2.0)


def _one_hot(codes: np.ndarray, k: int) -> np.ndarray:
    """[..., n] integer codes -> [..., n, k] float indicators."""
    return (codes[..., None] == np.arange(k)).astype(float)


def silhouettes(distances: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Mean silhouette for every combination of distance matrices [A, n, n] and labelings [B, n]
    (either A or B may be 1; broadcast) -> [max(A, B)]. Singleton clusters score 0, as in scikit-learn."""
    k = int(codes.max()) + 1
    onehot = _one_hot(codes, k)                          # [B, n, k]
    sizes = onehot.sum(axis=-2, keepdims=True)           # [B, 1, k]
    sums = distances @ onehot                            # [max, n, k]: total distance to each cluster
    own = (onehot > 0)
    own_size = np.broadcast_to(sizes, onehot.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_other = np.where(own | (own_size == 0), np.inf, sums / own_size)
        b = mean_other.min(axis=-1)
        a = np.where(own, sums / np.maximum(own_size - 1, 1), 0.0).sum(axis=-1)
        s = (b - a) / np.maximum(a, b)
    singleton = (np.where(own, own_size, 0).sum(axis=-1) <= 1)
    s = np.where(singleton | ~np.isfinite(s), 0.0, s)
    return s.mean(axis=-1)


def encode_labels(labels: list[str]) -> np.ndarray:
    """Integer codes of the labels; a silhouette needs 2 <= groups <= n - 1."""
    names = sorted(set(labels))
    if not 2 <= len(names) <= len(labels) - 1:
        raise UserError(f"a silhouette needs between 2 and n-1 groups; got {len(names)} group(s) "
                        f"for {len(labels)} values")
    return np.array([names.index(x) for x in labels])


def random_vector_null(n: int, dim: int, codes: np.ndarray, n_seeds: int, seed: int = 0) -> np.ndarray:
    """Silhouettes of ``n_seeds`` draws of n Gaussian vectors in ``dim`` dimensions, same labels."""
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_FLOATS // (n * dim))
    out = []
    for start in range(0, n_seeds, chunk):
        draws = rng.standard_normal((min(chunk, n_seeds - start), n, dim))
        out.append(silhouettes(cosine_distances(draws), codes[None]))
    return np.concatenate(out)


def permutation_null(distances: np.ndarray, codes: np.ndarray, n_permutations: int, seed: int = 0) -> np.ndarray:
    """Silhouettes of the observed distances under ``n_permutations`` shuffles of the labels."""
    rng = np.random.default_rng(seed + 1)
    perms = rng.permuted(np.tile(codes, (n_permutations, 1)), axis=1)
    return silhouettes(distances[None], perms)


@dataclass
class SilhouetteResult:
    silhouette: float
    random_mean: float
    random_p95: float
    p_value: float
    label: str
    n_values: int
    n_seeds: int
    n_permutations: int
    dim: int

    def to_dict(self) -> dict:
        return asdict(self)


def silhouette_analysis(vectors: np.ndarray, labels: list[str], label: str, *, n_seeds: int = 1000,
                        n_permutations: int | None = None, seed: int = 0) -> SilhouetteResult:
    """Cosine silhouette of ``vectors`` [n, d] against ``labels`` with its random-vector and permutation
    nulls. ``p_value`` = (1 + #{permuted >= observed}) / (1 + n_permutations): one-sided, H1 = the label
    groups the values more tightly than chance."""
    x = np.asarray(vectors, dtype=float)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(f"vectors {x.shape} and {len(labels)} labels do not match")
    if n_seeds < 1:
        raise UserError(f"--seeds must be positive, got {n_seeds}")
    n_permutations = n_seeds if n_permutations is None else n_permutations
    codes = encode_labels(labels)
    dist = cosine_distances(x)
    observed = float(silhouettes(dist[None], codes[None])[0])
    null = random_vector_null(len(x), x.shape[1], codes, n_seeds, seed)
    perm = permutation_null(dist, codes, n_permutations, seed)
    p = float((1 + np.sum(perm >= observed - 1e-12)) / (1 + n_permutations))
    return SilhouetteResult(observed, float(null.mean()), float(np.quantile(null, 0.95)), p, label,
                            len(x), n_seeds, n_permutations, x.shape[1])
