"""Ceilings of a ground-truth matrix and the gate's rule, on numbers only: the statistics a task card's
``ceilings`` and ``validity`` hold, and ``check_card``, which re-derives them from a card's files whenever a
task is resolved. Why each ceiling exists is in ``valuebench.validity``, which measures them (baselines,
work units) and writes verdicts; this module sits below the task registry so that ``Task.verify`` can check a
card without importing what measures it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from valuebench.errors import UserError
from valuebench.scoring import pair_mask

if TYPE_CHECKING:
    from valuebench.tasks import BaselineCheck, Ceilings, Task

#: tasks whose noise ceiling is lower are too unreliable to rank methods: kept, but run only when named
MIN_CEILING = 0.3
SIGNIFICANCE = 0.05
#: a baseline at or above this fraction of the bound fails the gate even when not significant
BASELINE_FRACTION = 0.5
#: card numbers are rounded to 4 decimals; recomputed numbers must agree within this
TOLERANCE = 6e-4


def spearman_brown(r: float | None, k: int) -> float | None:
    """Reliability of the mean of k replicates whose pairwise agreement is r (undefined for r <= 0)."""
    if r is None or not math.isfinite(r) or r <= 0 or k < 1:
        return None
    return k * r / (1 + (k - 1) * r)


def masked_spearman(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    valid = mask & np.isfinite(a) & np.isfinite(b)
    x, y = a[valid], b[valid]
    if valid.sum() < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:  # constant: no ranking to agree on
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def replicate_agreement(replicates: list[np.ndarray], pairs: str) -> float:
    """Mean Spearman over all pairs of replicate matrices (the split-half ceiling of those files)."""
    mask = pair_mask(len(replicates[0]), pairs)
    rhos = [masked_spearman(replicates[a], replicates[b], mask)
            for a in range(len(replicates)) for b in range(a + 1, len(replicates))]
    return float(np.nanmean(rhos)) if np.isfinite(rhos).any() else float("nan")


def symmetric_part(m: np.ndarray) -> np.ndarray:
    """(M + M^T)/2, keeping M where the mirror cell is missing."""
    m = np.asarray(m, dtype=float)
    return np.where(np.isnan(m.T), m, np.where(np.isnan(m), m.T, (m + m.T) / 2))


def symmetric_bound(replicates: list[np.ndarray], pairs: str) -> float:
    """Cross-validated reach of a symmetric predictor: rho((R_a + R_a^T)/2, R_b) averaged over ordered pairs
    of distinct replicates. For symmetric tasks it equals the split-half agreement."""
    mask = pair_mask(len(replicates[0]), pairs)
    rhos = [masked_spearman(symmetric_part(replicates[a]), replicates[b], mask)
            for a in range(len(replicates)) for b in range(len(replicates)) if a != b]
    return float(np.nanmean(rhos)) if np.isfinite(rhos).any() else float("nan")


def antisymmetric_share(m: np.ndarray) -> float | None:
    """Share of the variance of the off-diagonal cells (those whose mirror is measured too) that lies in the
    antisymmetric part (M - M^T)/2: sum A^2 / sum (M - mean)^2. Zero for symmetric matrices."""
    m = np.asarray(m, dtype=float)
    both = ~np.eye(len(m), dtype=bool) & np.isfinite(m) & np.isfinite(m.T)
    if both.sum() < 3:
        return None
    centred = m[both] - m[both].mean()
    total = float((centred**2).sum())
    if total == 0:
        return None
    anti = ((m - m.T) / 2)[both]
    return float((anti**2).sum() / total)


def main_effects_r2(m: np.ndarray) -> float | None:
    """R² of the best additive fit ``M(i, j) ≈ r_i + c_j`` over the scored off-diagonal cells.

    Why it is in every card: a matrix can rank pairs reliably (high ceiling) only because some values are
    easier to move than others (column effects) or some interventions are stronger (row effects). A
    similarity between value vectors cannot express either; the remaining 1 - R² is the pair-specific
    part a representation can hope to predict."""
    m = np.asarray(m, dtype=float)
    n = m.shape[0]
    mask = ~np.eye(n, dtype=bool) & np.isfinite(m)
    rows, cols = np.nonzero(mask)
    y = m[mask]
    if y.size < 3 or np.var(y) == 0:
        return None
    design = np.zeros((y.size, 2 * n))
    design[np.arange(y.size), rows] = 1
    design[np.arange(y.size), n + cols] = 1
    beta = np.linalg.lstsq(design, y, rcond=None)[0]
    return float(1 - np.var(y - design @ beta) / np.var(y))


def r4(x: float | None) -> float | None:
    return round(float(x), 4) if x is not None and math.isfinite(x) else None


def decide(c: Ceilings, baselines: list[BaselineCheck]) -> tuple[bool, list[str], str | None, float | None]:
    """The rule, on numbers only: (passed, reasons, which ceiling was used, its value). ``check_card`` re-runs it
    on a card's stored numbers, so a hand-edited verdict is caught."""
    reasons = []
    ind = c.independent
    if ind.value is not None:
        used, value = "independent", ind.value
    elif ind.reason and "not measured" not in ind.reason:
        used, value = "split_half", c.split_half.value
    else:
        used, value = None, None
    if used is None:
        reasons.append("no independent ceiling: replicates sharing no training data, evaluation scenarios or "
                       "base-rate estimate were not measured")
    elif value is None or value < MIN_CEILING:
        reasons.append(f"{used.replace('_', '-')} ceiling {value} is below {MIN_CEILING}")
    half_bound = None if c.bound is None else BASELINE_FRACTION * c.bound
    for b in baselines:
        if not b.passed:
            why = []
            if b.p_value is not None and b.p_value < SIGNIFICANCE:
                why.append(f"p = {b.p_value:.3f} < {SIGNIFICANCE}")
            if b.spearman is not None and (half_bound is None or b.spearman >= half_bound):
                why.append(f"rho = {b.spearman:.3f} >= bound/2 = {half_bound:.3f}" if half_bound is not None
                           else "the task has no bound")
            reasons.append(f"baseline `{b.method}` {' and '.join(why) if why else 'failed'}")
    return not reasons, reasons, used, value


def baseline_passed(rho: float | None, p: float | None, bound: float | None) -> bool:
    if rho is None or p is None or not math.isfinite(rho):
        return True  # an undefined score (constant similarity) predicts nothing
    return p >= SIGNIFICANCE and bound is not None and rho < BASELINE_FRACTION * bound


def agree(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= TOLERANCE


def check_card(task: Task) -> None:
    """Refuse a card whose ceilings are missing or disagree with its files, or whose verdict disagrees with
    its own numbers. Cheap (no baselines are re-run); ``valuebench task gate NAME`` re-runs everything."""
    meta = task.metadata
    fix = f"run `valuebench task gate {task.name} --write` to recompute them"
    c = meta.ceilings
    if c is None:
        if meta.replicates or meta.validity is not None:
            raise UserError(f"task {task.name}: card has {'replicate files' if meta.replicates else 'a verdict'} "
                            f"but no `ceilings`; {fix}")
        return
    problems = []
    reps = task.replicate_matrices()
    if c.n_replicates != len(reps):
        problems.append(f"n_replicates {c.n_replicates} but {len(reps)} replicate files")
    if not agree(c.split_half.value, meta.noise_ceiling.value):
        problems.append(f"split_half {c.split_half.value} != noise_ceiling {meta.noise_ceiling.value}")
    if len(reps) >= 2 and c.split_half.n_splits is None:
        actual = r4(replicate_agreement(reps, meta.pairs))
        if not agree(c.split_half.value, actual):
            problems.append(f"split_half {c.split_half.value} but the replicate files agree at {actual}")
    if len(reps) >= 2 and c.symmetric_bound.n_splits is None:
        actual = r4(symmetric_bound(reps, meta.pairs))
        if not agree(c.symmetric_bound.value, actual):
            problems.append(f"symmetric_bound {c.symmetric_bound.value} but the replicate files give {actual}")
    rel = r4(spearman_brown(c.split_half.value, c.n_replicates))
    if not agree(c.reliability, rel):
        problems.append(f"reliability {c.reliability} != "
                        f"Spearman-Brown({c.split_half.value}, {c.n_replicates}) = {rel}")
    if not agree(c.bound, r4(math.sqrt(min(c.reliability, 1.0))) if c.reliability else None):
        problems.append(f"bound {c.bound} != sqrt(reliability {c.reliability})")
    for key, fn in (("main_effects_r2", main_effects_r2), ("antisymmetric_share", antisymmetric_share)):
        actual = r4(fn(task.matrix))
        if not agree(getattr(c, key), actual):
            problems.append(f"{key} {getattr(c, key)} but the matrix gives {actual}")
    v = meta.validity
    if v is None:
        if meta.replicates:
            problems.append("no validity verdict")
    else:
        passed, _, used, value = decide(c, v.baselines)
        if passed != (v.verdict == "pass") or v.default != passed or used != v.ceiling_used or not agree(
                value, v.ceiling_value):
            problems.append(f"verdict {v.verdict!r} (default {v.default}) does not follow from the card's own "
                            "ceilings and baseline numbers")
        for b in v.baselines:
            if b.passed != baseline_passed(b.spearman, b.p_value, c.bound):
                problems.append(f"baseline {b.method} marked passed={b.passed} against its numbers")
    if problems:
        raise UserError(f"task {task.name}: ceilings inconsistent with its files: {'; '.join(problems)}; {fix}")


def estimate(value: float | None, how: str, *, sd: float | None = None, n_splits: int | None = None,
             reason: str | None = None) -> dict:
    return {"value": r4(value), "sd": r4(sd), "n_splits": n_splits, "how": how, "reason": reason}
