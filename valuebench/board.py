"""The leaderboard table: every (submission, task) score recomputed from submitted vectors + ground truth.

Nothing a submitter claims is read. One row per submission folder; invalid folders stay on the board as
rows with their error (a broken submission never breaks the build). Scores come from
``board_scoring.score_many`` (the same numbers as ``scoring.score``, vectorised across submissions).

Aggregates follow MTEB's definitions (``scoring.aggregate``): mean over tasks (null if a task is missing),
mean of per-type means, Borda rank. *Tied with the leader*: the leader is the complete entry with the
highest mean rho; an entry is tied with it when the 95% paired-bootstrap interval of (leader mean - entry
mean) contains 0. The bootstrap resamples values, and every submission is scored on the *same* resamples
of each task, so the difference is paired; resamples of different tasks are independent. No multiplicity
correction: "tied" is deliberately generous, since adjacent ranks are rarely separable with 9-21 values.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from valuebench.board_scoring import score_many
from valuebench.scoring import aggregate
from valuebench.submissions import Submission
from valuebench.tasks import Task

TIE_ALPHA = 0.05
INFO_COLUMNS = ["submission", "method", "authors", "subject_models", "license", "date", "derived_from",
                "leakage", "baseline", "value_sets", "status", "error"]
STAT_PREFIXES = ("rho", "ci_low", "ci_high", "p", "norm")


@dataclass
class Scored:
    """Per-task statistics for all valid submissions (arrays over submissions, NaN when not covered)."""

    names: list[str]
    stats: dict[str, np.ndarray] = field(default_factory=dict)  # "rho:<task>" -> [S]
    boot: dict[str, np.ndarray] = field(default_factory=dict)  # task -> [S, B] float32
    seconds: dict[str, float] = field(default_factory=dict)


def score_submissions(subs: list[Submission], tasks: list[Task], *, n_permutations: int = 1000,
                      n_bootstrap: int = 1000, seed: int = 0) -> Scored:
    """Score every valid submission on every task over a value set it covers."""
    out = Scored([s.name for s in subs])
    S = len(subs)
    for task in tasks:
        t0 = time.perf_counter()
        vs = task.metadata.value_set
        have = [i for i, s in enumerate(subs) if vs in s.similarities]
        cols = {p: np.full(S, np.nan) for p in STAT_PREFIXES}
        boot = np.full((S, n_bootstrap), np.nan, dtype=np.float32)
        if have:
            sims = np.stack([subs[i].similarities[vs] for i in have])
            ms = score_many(sims, task.matrix, pairs=task.metadata.pairs, n_permutations=n_permutations,
                            n_bootstrap=n_bootstrap, seed=seed)
            cols["rho"][have], cols["p"][have] = ms.spearman, ms.p_value
            cols["ci_low"][have], cols["ci_high"][have] = ms.ci_low, ms.ci_high
            if task.ceiling and task.ceiling > 0:
                cols["norm"][have] = ms.spearman / task.ceiling
            boot[have] = ms.boot
        for prefix, arr in cols.items():
            out.stats[f"{prefix}:{task.name}"] = arr
        out.boot[task.name] = boot
        out.seconds[task.name] = round(time.perf_counter() - t0, 3)
    return out


def tied_with_leader(boot: np.ndarray, means: np.ndarray, alpha: float = TIE_ALPHA) -> np.ndarray:
    """Which entries the leader does not beat: ``boot`` [S, T, B] paired resamples, ``means`` [S]."""
    means = np.asarray(means, dtype=float)
    tied = np.zeros(len(means), dtype=bool)
    complete = np.isfinite(means)
    if not complete.any() or boot.size == 0:
        return tied
    leader = int(np.nanargmax(np.where(complete, means, np.nan)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN resamples (a task not covered)
        per_resample = np.nanmean(boot.astype(float), axis=1)  # [S, B]: mean rho over tasks per resample
    diff = per_resample[leader] - per_resample
    share = np.mean(np.where(np.isfinite(diff), diff <= 0, False), axis=1)
    tied[complete] = share[complete] >= alpha / 2
    tied[leader] = True
    return tied


def aggregate_view(table: pd.DataFrame, task_types: dict[str, str], boot: np.ndarray | None,
                   boot_tasks: list[str]) -> pd.DataFrame:
    """Aggregates over the tasks in ``task_types`` for the rows of ``table`` (valid rows only).

    Used by the build (all tasks) and by the app when a filter narrows the tasks: only means and ranks are
    recomputed there, from stored scores and stored bootstrap resamples, never a score.
    """
    names = list(task_types)
    valid = table[table["status"] == "valid"]
    rho = valid[[f"rho:{t}" for t in names]].set_axis(names, axis=1).set_index(valid["submission"])
    agg = aggregate(rho, task_types) if names and len(rho) else pd.DataFrame(index=rho.index)
    for col in ("mean", "mean_by_type", "borda_points"):
        if col not in agg:
            agg[col] = np.nan
    agg["borda_rank"] = agg["borda_points"].rank(ascending=False, method="min")
    agg["rank"] = agg["mean"].rank(ascending=False, method="min")
    if boot is not None and names and len(rho):
        cols = [boot_tasks.index(t) for t in names]
        rows = valid.index.to_numpy()
        agg["tied_with_leader"] = tied_with_leader(boot[rows][:, cols], agg["mean"].to_numpy())
    else:
        agg["tied_with_leader"] = False
    return agg.reset_index(names="submission")


def info_row(name: str, sub: Submission | None, error: str | None) -> dict:
    """The descriptive columns of one row (strings, so parquet and the app's filters stay simple)."""
    if sub is None:
        return {**{c: "" for c in INFO_COLUMNS}, "submission": name, "baseline": False, "status": "invalid",
                "error": error or "invalid"}
    m = sub.meta
    return {"submission": name, "method": m.method, "authors": ", ".join(m.authors),
            "subject_models": ", ".join(m.subject_models), "license": m.license, "date": m.date.isoformat(),
            "derived_from": "; ".join(m.derived_from), "leakage": sub.leakage or "", "baseline": m.baseline,
            "value_sets": ", ".join(sorted(sub.similarities)), "status": "valid", "error": ""}


def build_table(entries: list[tuple[str, Submission | None, str | None]], tasks: list[Task], **score_kw
                ) -> tuple[pd.DataFrame, Scored, np.ndarray]:
    """The full leaderboard frame (valid rows first, then invalid) and the bootstrap array [S, T, B]."""
    valid = [sub for _, sub, _ in entries if sub is not None]
    scored = score_submissions(valid, tasks, **score_kw)
    rows = [info_row(n, s, e) for n, s, e in entries if s is not None]
    rows += [info_row(n, s, e) for n, s, e in entries if s is None]
    table = pd.DataFrame(rows, columns=INFO_COLUMNS)
    n_invalid = len(rows) - len(valid)
    for key, arr in scored.stats.items():
        table[key] = np.concatenate([arr, np.full(n_invalid, np.nan)])
    B = next(iter(scored.boot.values())).shape[1] if scored.boot else 0
    boot = (np.stack([scored.boot[t.name] for t in tasks], axis=1) if tasks
            else np.zeros((len(valid), 0, B), dtype=np.float32))
    agg = aggregate_view(table, {t.name: t.metadata.type for t in tasks}, boot, [t.name for t in tasks])
    table = table.merge(agg, on="submission", how="left")
    table["tied_with_leader"] = table["tied_with_leader"].fillna(False).astype(bool)
    table = table.sort_values(["status", "rank", "borda_rank", "submission"],
                              key=lambda c: c.map({"valid": 0, "invalid": 1}) if c.name == "status" else c,
                              na_position="last", kind="stable").reset_index(drop=True)
    position = {name: i for i, name in enumerate(scored.names)}
    order = [position[n] for n, st in zip(table["submission"], table["status"]) if st == "valid"]
    return table, scored, boot[order]
