"""Evaluate a method on tasks: represent once per value set, then score every task over it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from valuebench.methods.base import Method
from valuebench.methods.cache import represent_cached
from valuebench.results import Result, make_result, write_result
from valuebench.scoring import Score, aggregate, canonical_similarity, score
from valuebench.tasks import Task
from valuebench.vectors import cosine_similarity, validate


@dataclass
class TaskScore:
    task: Task
    score: Score
    result: Result


def score_similarity(similarity: np.ndarray, task: Task, *, n_permutations: int = 1000,
                     n_bootstrap: int = 0, seed: int = 0) -> Score:
    """Score a similarity matrix already in the task's value-set order (``normalized`` = rho / the task's
    bound, sqrt of the published matrix's reliability)."""
    return score(similarity, task.matrix, pairs=task.metadata.pairs, ceiling=task.ceiling, bound=task.bound,
                 n_permutations=n_permutations, seed=seed)


def rescore_result(path: Path) -> tuple[Result, Score, Task]:
    """Recompute a results file's score from the similarity matrix it stores and the task it names (the same
    version: the ground-truth sha256 must match). Returns (stored result, recomputed score, task)."""
    from valuebench.benchmarks import get_task
    from valuebench.errors import UserError
    from valuebench.results import read_result

    result = read_result(path)
    ref = result.task.source or result.task.name
    task = get_task(ref)
    if task.metadata.ground_truth.sha256 != result.task.ground_truth_sha256:
        raise UserError(f"{path}: scored task {ref} at ground truth {result.task.ground_truth_sha256[:12]}…, but "
                        f"the task now has {task.metadata.ground_truth.sha256[:12]}…; it cannot be recomputed")
    if result.value_ids != task.value_set.ids:
        raise UserError(f"{path}: value ids do not match task {ref}'s value set {task.metadata.value_set}")
    sim = np.array([[np.nan if x is None else x for x in row] for row in result.similarity], dtype=float)
    if sim.shape != (len(result.value_ids),) * 2:
        raise UserError(f"{path}: similarity matrix is {sim.shape}, expected {len(result.value_ids)} x "
                        f"{len(result.value_ids)}")
    stored = result.scores
    return result, score_similarity(sim, task, n_permutations=int(stored.get("n_permutations", 1000)),
                                    seed=int(stored.get("seed", 0))), task


def n_steps(tasks: list[Task]) -> int:
    """How many steps ``evaluate`` announces: one representation per value set, one score per task."""
    return len({t.metadata.value_set for t in tasks}) + len(tasks)


def evaluate(method: Method, tasks: list[Task], *, output_dir: Path | None = None, n_permutations: int = 1000,
             n_bootstrap: int = 0, seed: int = 0, use_cache: bool = True, steps=None) -> list[TaskScore]:
    """Score ``method`` on ``tasks``; ``steps`` (a ``display.Steps``) hears of each representation and score."""
    out: list[TaskScore] = []
    by_value_set: dict[str, list[Task]] = {}
    for task in tasks:
        by_value_set.setdefault(task.metadata.value_set, []).append(task)
    for tasks_here in by_value_set.values():
        value_set = tasks_here[0].value_set
        t0 = time.perf_counter()
        if steps is not None:
            steps.step(f"represent {value_set.name}")
        rep = represent_cached(method, value_set, use_cache=use_cache)
        if steps is not None:
            steps.done()
        rep = validate(rep, value_set.ids, f"method {method.name}")
        represent_s = time.perf_counter() - t0
        # the canonical (rounded) similarity is what is scored and what the results file stores
        similarity = canonical_similarity(cosine_similarity(rep.aligned(value_set.ids)))
        for task in tasks_here:
            t1 = time.perf_counter()
            if steps is not None:
                steps.step(f"score {task.name}")
            sc = score_similarity(similarity, task, n_permutations=n_permutations, n_bootstrap=n_bootstrap,
                                  seed=seed)
            timing = {"represent_s": round(represent_s, 4), "score_s": round(time.perf_counter() - t1, 4)}
            result = make_result(method, task, value_set.ids, similarity, sc, timing, rep.metadata)
            if output_dir is not None:
                write_result(output_dir, result)
            out.append(TaskScore(task, sc, result))
            if steps is not None:
                steps.done()
    return out


def summary(method_name: str, scores: list[TaskScore], benchmark: dict | None = None) -> dict:
    """The ``evaluate --format json`` payload (a CLI contract: keep keys stable; ``benchmark`` is added when the
    tasks were a named benchmark: its name, version and task versions)."""
    rows = [{"task": s.task.name, "type": s.task.metadata.type, "spearman": s.score.spearman,
             "kendall": s.score.kendall, "p_value": s.score.p_value, "ci": list(s.score.ci),
             "n_pairs": s.score.n_pairs, "normalized": s.score.normalized, "ceiling": s.score.ceiling,
             "bound": s.score.bound, "default": s.task.in_default_benchmark}
            for s in scores]
    if rows:
        table = pd.DataFrame([[r["spearman"] for r in rows]], index=[method_name], columns=[r["task"] for r in rows])
        agg = aggregate(table, {r["task"]: r["type"] for r in rows}).iloc[0]
        mean = float(agg["mean"])
        by_type = {c[5:-1]: float(agg[c]) for c in agg.index if c.startswith("mean[")}
    else:
        mean, by_type = float("nan"), {}
    out = {"method": method_name, "tasks": rows, "mean": mean, "mean_by_type": by_type}
    if benchmark is not None:
        out["benchmark"] = benchmark
    return out
