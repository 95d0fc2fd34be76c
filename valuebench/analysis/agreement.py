"""Task-by-task agreement: do two ground-truth matrices rank the same value pairs the same way?

This is the research's cross-model / cross-pipeline figure: if DPO on one model and prompt steering on
another agree at rho ~ 0.6, a method scoring 0.3 on either is meaningful. Matrices are aligned by value
id (never by position) over the values both tasks share, and only cells both tasks score are compared:
NaN cells are dropped, and a symmetric (upper-triangle) task compares each unordered pair once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from valuebench.scoring import pair_mask
from valuebench.tasks import Task


def _filled_symmetric(matrix: np.ndarray) -> np.ndarray:
    """A symmetric task may store only one triangle: fill each missing cell from its mirror."""
    return np.where(np.isnan(matrix), matrix.T, matrix)


def matrix_agreement(a: np.ndarray, ids_a: list[str], b: np.ndarray, ids_b: list[str],
                     pairs_a: str = "off-diagonal", pairs_b: str = "off-diagonal") -> tuple[float, int]:
    """Spearman rho between two matrices over their shared value ids and jointly scored cells.

    If either task scores unordered pairs (``upper-triangle``), both are compared on unordered pairs,
    the symmetric one filled from its mirror; otherwise every ordered pair i != j is used.
    Returns (rho, n_pairs); rho is NaN with fewer than 3 shared pairs or a constant side.
    """
    shared = [v for v in ids_a if v in set(ids_b)]
    ia = [ids_a.index(v) for v in shared]
    ib = [ids_b.index(v) for v in shared]
    ma = np.asarray(a, dtype=float)[np.ix_(ia, ia)]
    mb = np.asarray(b, dtype=float)[np.ix_(ib, ib)]
    upper = "upper-triangle" in (pairs_a, pairs_b)
    if pairs_a == "upper-triangle":
        ma = _filled_symmetric(ma)
    if pairs_b == "upper-triangle":
        mb = _filled_symmetric(mb)
    valid = pair_mask(len(shared), "upper-triangle" if upper else "off-diagonal") & ~np.isnan(ma) & ~np.isnan(mb)
    n = int(valid.sum())
    x, y = ma[valid], mb[valid]
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), n
    return float(stats.spearmanr(x, y).statistic), n


def task_agreement(tasks: list[Task]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """[task x task] Spearman rho and number of compared pairs, for every pair of tasks (symmetric;
    the diagonal is a task against itself, 1 by construction, kept as a sanity check)."""
    names = [t.name for t in tasks]
    rho = pd.DataFrame(np.nan, index=names, columns=names)
    n_pairs = pd.DataFrame(0, index=names, columns=names, dtype=int)
    for i, ta in enumerate(tasks):
        for tb in tasks[i:]:
            r, n = matrix_agreement(ta.matrix, ta.value_set.ids, tb.matrix, tb.value_set.ids,
                                    ta.metadata.pairs, tb.metadata.pairs)
            rho.loc[ta.name, tb.name] = rho.loc[tb.name, ta.name] = r
            n_pairs.loc[ta.name, tb.name] = n_pairs.loc[tb.name, ta.name] = n
    return rho, n_pairs


def agreement_rows(rho: pd.DataFrame, n_pairs: pd.DataFrame) -> list[dict]:
    """Long-form rows (one per unordered task pair, a != b) for tables and JSON."""
    names = list(rho.index)
    return [{"task_a": a, "task_b": b, "spearman": float(rho.loc[a, b]), "n_pairs": int(n_pairs.loc[a, b])}
            for i, a in enumerate(names) for b in names[i + 1:]]
