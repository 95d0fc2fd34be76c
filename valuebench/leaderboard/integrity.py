"""Leakage detected from the numbers: a score above what the task's own noise allows, and private tasks.

A task's ground truth is a noisy measurement. The best any representation can do against it is bounded by
the measurement's reliability: a perfect predictor of the *underlying* matrix correlates with the published
one at about √reliability (``task_bound``). Cosine similarities are symmetric, so against a directed matrix
they reach at most what the matrix's own symmetric part reaches, ρ(½(M + Mᵀ), M) (``symmetric_reach``; 1 for
symmetric tasks). A submission above ``bound × reach + NOISE_MARGIN`` has not predicted the subject model; it
has fitted the published matrix (copied it, or tuned to it). Such entries are flagged "exceeds the noise
ceiling: likely fitted to the published ground truth" and kept out of the ranking by default, whatever their
``derived_from`` says.

Why a constant margin and not the score's CI: the CI resamples *values*, which answers "would another set of
values rank this method the same", not "could an honest predictor reach this on this matrix"; with 9 values
it is ±0.3 wide even for a verbatim copy of a directed matrix, which then would never be flagged. Both
factors of the threshold already err on the generous side (ρ(½(M+Mᵀ), M) includes the noise's own symmetric
part), so ``NOISE_MARGIN`` only has to absorb rounding and small-sample wobble. ρ ≥ ``MAX_THRESHOLD`` is
always flagged: a measured matrix is never reproduced exactly.

Copying is only the crude attack: someone can fit *below* the threshold. Private held-out tasks
(``VALUEBENCH_PRIVATE_TASKS`` or ``leaderboard build --private-tasks``: task folders on the Space that are
never published) are the defence: the board shows public and private means side by side, and fitting the
public matrices does not raise the private score.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from valuebench.tasks import Task, load_task_card

#: how far above ``bound × reach`` a score may be before it is flagged
NOISE_MARGIN = 0.02
#: a score this close to 1 is flagged on any task with a measured ceiling
MAX_THRESHOLD = 0.999
PRIVATE_ENV = "VALUEBENCH_PRIVATE_TASKS"
MESSAGE = "exceeds the noise ceiling: likely fitted to the published ground truth"


def task_bound(task: Task) -> float | None:
    """The highest ρ an honest representation can be expected to reach on ``task``: the card's
    ``ceilings.bound`` when it has one (√ of the Spearman-Brown reliability), else √(noise_ceiling.spearman_brown),
    else the Spearman-Brown of the split-half ceiling (two halves) when only that is given; None if unknown."""
    ceilings = getattr(task.metadata, "ceilings", None)
    bound = getattr(ceilings, "bound", None) if ceilings is not None else None
    if bound is not None and math.isfinite(bound):
        return float(bound)
    nc = task.metadata.noise_ceiling
    reliability = nc.spearman_brown
    if reliability is None and nc.value is not None and nc.value > 0:
        reliability = 2 * nc.value / (1 + nc.value)
    if reliability is None or not math.isfinite(reliability) or reliability <= 0:
        return None
    return math.sqrt(min(reliability, 1.0))


def symmetric_reach(task: Task) -> float:
    """Spearman ρ of the matrix's symmetric part ½(M + Mᵀ) with M over the scored pairs: the most a symmetric
    similarity can reach against this matrix (1 for symmetric tasks and upper-triangle scoring)."""
    import numpy as np
    from scipy import stats

    from valuebench.scoring import pair_mask

    m = task.matrix
    mask = pair_mask(len(m), task.metadata.pairs) & ~np.isnan(m)
    if task.metadata.pairs == "upper-triangle" or mask.sum() < 3:
        return 1.0
    sym = np.where(np.isnan(m.T), m, (m + np.nan_to_num(m.T, nan=0.0)) / np.where(np.isnan(m.T), 1.0, 2.0))
    rho = stats.spearmanr(sym[mask], m[mask]).statistic
    return float(rho) if np.isfinite(rho) else 1.0


def threshold(task: Task) -> float | None:
    """The score above which an entry is flagged on ``task`` (None: the task has no bound)."""
    bound = task_bound(task)
    if bound is None:
        return None
    return min(bound * symmetric_reach(task) + NOISE_MARGIN, MAX_THRESHOLD)


def exceeds(rho: float | None, limit: float | None) -> bool:
    return limit is not None and rho is not None and math.isfinite(rho) and rho > limit


def flag_text(where: str, rho: float, limit: float) -> str:
    return f"{MESSAGE} (ρ = {rho:.3f} on {where}, above {limit:.3f})"


def score_flags(similarities: dict, tasks: list[Task], *, private: bool = False) -> list[str]:
    """Flags for one submission's similarity matrices (value set -> [n, n]) on ``tasks``: what the build
    flags, for the app's Submit tab, which has no build to read scores from."""
    import numpy as np

    from valuebench.scoring import observed_spearman, pair_mask

    out = []
    for i, task in enumerate(tasks):
        sim = similarities.get(task.metadata.value_set)
        limit = threshold(task)
        if sim is None or limit is None:
            continue
        valid = pair_mask(len(task.matrix), task.metadata.pairs) & ~np.isnan(task.matrix)
        rho = float(observed_spearman(np.asarray(sim, dtype=float)[None], task.matrix, valid)[0])
        if exceeds(rho, limit):
            out.append(flag_text(f"private task {i + 1}" if private else task.name, rho, limit))
    return out


def private_task_dirs(raw: str | None = None) -> list[Path]:
    """Folders of private task folders: ``raw`` (a flag) or ``VALUEBENCH_PRIVATE_TASKS``, ``os.pathsep``-separated."""
    raw = os.environ.get(PRIVATE_ENV, "") if raw is None else raw
    return [Path(p) for p in raw.split(os.pathsep) if p.strip()]


def load_private_tasks(dirs: list[Path]) -> tuple[list[Task], list[str]]:
    """Every task card under ``dirs`` (sha256-verified), and one error line per card that failed. Errors
    name the private folder only by its position, so a build log never publishes a private task's name."""
    from valuebench.errors import UserError

    tasks, errors = [], []
    for d, root in enumerate(dirs, start=1):
        if not root.is_dir():
            raise UserError(f"private tasks folder {d} ({PRIVATE_ENV} / --private-tasks) is not a folder")
        for c, card in enumerate(sorted(root.glob("*/README.md")), start=1):
            try:
                task = load_task_card(card)
                task.verify()
                task.matrix  # noqa: B018 - parse now: a broken private task fails here, not mid-build
                tasks.append(task)
            except Exception as exc:  # one bad private card never stops the build
                errors.append(f"private task {d}.{c}: {type(exc).__name__}")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise UserError("two private tasks share a name")
    return tasks, errors
