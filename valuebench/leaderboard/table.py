"""The leaderboard table: every (submission, task) score recomputed from submitted vectors + ground truth.

Nothing a submitter claims is read. One row per submission folder; invalid folders stay on the board as
rows with their error (a broken submission never breaks the build). Scores come from
``scoring.score_many``, vectorised across submissions (``scoring.score`` is that function on one matrix).

Aggregates follow MTEB's definitions (``scoring.aggregate``): mean over tasks (null if a task is missing),
mean of per-type means, Borda rank. *Tied with the leader*: the leader is the complete entry with the highest mean rho;
an entry is tied with it when the 95% interval of (leader mean - entry mean) contains 0. The interval uses the same
calibrated value jackknife as every score's CI (``scoring.jackknife_variance``), applied to the *difference*: both
entries are scored on the same values, so leaving value i out moves both, and tasks over the same value set are left out
together; tasks over different value sets add their variances. No multiplicity correction: "tied" is
deliberately generous, but an entry that the leader beats significantly is never tied (random included).

``pack_jackknife`` stores what the tie test needs per (submission, task) in one float row, so the app can
re-decide ties for any task filter without rescoring.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from valuebench.leaderboard.submissions import Submission
from valuebench.scoring import Jackknife, aggregate, jackknife_variance, score_many
from valuebench.tasks import Task

TIE_ALPHA = 0.05
INFO_COLUMNS = ["submission", "method", "authors", "subject_models", "license", "date", "derived_from",
                "leakage", "baseline", "value_sets", "status", "error"]
STAT_PREFIXES = ("rho", "ci_low", "ci_high", "p", "norm")

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


@dataclass
class Scored:
    """Per-task statistics for all valid submissions (arrays over submissions, NaN when not covered)."""

    names: list[str]
    stats: dict[str, np.ndarray] = field(default_factory=dict)  # "rho:<task>" -> [S]
    boot: dict[str, np.ndarray] = field(default_factory=dict)  # task -> [S, K] packed jackknife, float32
    seconds: dict[str, float] = field(default_factory=dict)


def score_submissions(subs: list[Submission], tasks: list[Task], *, n_permutations: int = 1000,
                      n_bootstrap: int = 0, seed: int = 0) -> Scored:
    """Score every valid submission on every task over a value set it covers. ``boot`` holds, per task, the
    packed jackknife rows of ``pack_jackknife`` (NaN-padded to the widest task), which is what
    ``tied_with_leader`` reads; ``n_bootstrap`` is accepted for old callers and ignored."""
    out = Scored([s.name for s in subs])
    S = len(subs)
    width = max((jack_width(len(t.value_set)) for t in tasks), default=0)
    for task in tasks:
        t0 = time.perf_counter()
        vs = task.metadata.value_set
        have = [i for i, s in enumerate(subs) if vs in s.similarities]
        cols = {p: np.full(S, np.nan) for p in STAT_PREFIXES}
        jack = np.full((S, width), np.nan, dtype=np.float32)
        if have:
            sims = np.stack([subs[i].similarities[vs] for i in have])
            ms = score_many(sims, task.matrix, pairs=task.metadata.pairs, n_permutations=n_permutations,
                            seed=seed)
            packed = pack_jackknife(ms.jackknife, group_key(task.value_set.ids))
            cols["rho"][have], cols["p"][have] = ms.spearman, ms.p_value
            cols["ci_low"][have], cols["ci_high"][have] = ms.ci_low, ms.ci_high
            bound = task.bound
            if bound and bound > 0:
                cols["norm"][have] = ms.spearman / bound
            jack[np.ix_(have, np.arange(packed.shape[1]))] = packed
        for prefix, arr in cols.items():
            out.stats[f"{prefix}:{task.name}"] = arr
        out.boot[task.name] = jack
        out.seconds[task.name] = round(time.perf_counter() - t0, 3)
    return out


def _difference_variances(jack: np.ndarray, leader: int) -> tuple[np.ndarray, np.ndarray]:
    """Variance of (leader - entry) summed over tasks for every entry at once, and each entry's smallest value
    count, from packed jackknife rows ``jack`` [S, T, K]: tasks sharing a value set (same group key and size) are
    left out together; a task counts for an entry only where both it and the leader have a score."""
    S = jack.shape[0]
    groups: dict[tuple[float, int], list] = {}
    for t in range(jack.shape[1]):
        n_all, n, df, group, rho, loo, resid = unpack_jackknife(jack[:, t])
        if n_all == 0 or not np.isfinite(rho[leader]):
            continue
        ok = np.isfinite(rho)
        filled = np.where(np.isnan(loo), rho[:, None], loo)
        d_loo = np.where(ok[:, None], filled[leader][None, :] - filled, 0.0)
        d_res = np.where(ok[:, None], resid[leader][None, :] - resid, 0.0)
        g = groups.setdefault((group, n_all), [np.zeros((S, n_all)), np.zeros((S, d_res.shape[1])), n, df,
                                               np.zeros(S, dtype=bool)])
        g[0] += d_loo
        g[1] += d_res
        g[2], g[3] = max(g[2], n), min(g[3], df)
        g[4] |= ok
    total, n_min = np.zeros(S), np.full(S, 10**9)
    for loo, resid, n, df, has in groups.values():
        var = jackknife_variance(loo, resid, df, n)
        total = np.where(has, total + var, total)
        n_min = np.where(has, np.minimum(n_min, n), n_min)
    return total, n_min


def tied_with_leader(boot: np.ndarray, means: np.ndarray, alpha: float = TIE_ALPHA) -> np.ndarray:
    """Which entries the leader does not beat: ``boot`` [S, T, K] packed jackknife rows (``score_submissions``),
    ``means`` [S] mean rho over the same T tasks. Tied when the (1 - alpha) interval of the mean difference,
    t(n-1) quantile, contains 0. Vectorised over entries (a 10,000-entry board re-decides ties per filter)."""
    means = np.asarray(means, dtype=float)
    tied = np.zeros(len(means), dtype=bool)
    complete = np.isfinite(means)
    if not complete.any():
        return tied
    leader = int(np.nanargmax(np.where(complete, means, np.nan)))
    if boot.size == 0 or boot.shape[1] == 0:
        tied[complete] = True
        return tied
    T = boot.shape[1]
    var, n = _difference_variances(np.asarray(boot, dtype=float), leader)
    diff = means[leader] - means
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(1 - alpha / 2, np.maximum(n, 4) - 1)
        beaten = diff - q * np.sqrt(var) / T > 0
    tied = complete & (~np.isfinite(var) | (n < 4) | ~beaten)
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


def build_table(entries: list[tuple[str, Submission | None, str | None]], tasks: list[Task],
                rank_tasks: list[Task] | None = None, **score_kw) -> tuple[pd.DataFrame, Scored, np.ndarray]:
    """The full leaderboard frame (valid rows first, then invalid) and the bootstrap array [S, T, B]: every task
    scored, means and ranks over ``rank_tasks`` (default: all of them)."""
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
    ranked = rank_tasks if rank_tasks else tasks
    agg = aggregate_view(table, {t.name: t.metadata.type for t in ranked}, boot, [t.name for t in tasks])
    table = table.merge(agg, on="submission", how="left")
    table["tied_with_leader"] = table["tied_with_leader"].fillna(False).astype(bool)
    table = table.sort_values(["status", "rank", "borda_rank", "submission"],
                              key=lambda c: c.map({"valid": 0, "invalid": 1}) if c.name == "status" else c,
                              na_position="last", kind="stable").reset_index(drop=True)
    position = {name: i for i, name in enumerate(scored.names)}
    order = [position[n] for n, st in zip(table["submission"], table["status"]) if st == "valid"]
    return table, scored, boot[order]
