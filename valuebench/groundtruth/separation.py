"""Judge separation (v2 judges, judge-separation tasks): J(i, j) = how much more value i's judge favours the
follow reply than the violate reply on value j's scenarios (mean score difference, a directed matrix).

A judge's yes-bias cancels in the difference; its general discrimination (row effect) and the general ease of
value j's scenarios (column effect) are removed by an additive fit over the off-diagonal cells, so what is scored
is pair-specific. Replicate r asks every judge in question phrasing r (``judges.PHRASINGS``) on fold r of every
value's scenarios: replicates share neither wording nor scenarios.
"""

from __future__ import annotations

import numpy as np

from valuebench.groundtruth.folds import value_folds
from valuebench.groundtruth.judges import PHRASINGS, _pool, chunk_units, judge_chunk, merged_scores
from valuebench.groundtruth.protocol import Data, Outcome, Pipeline, Plan

REPLICATES = len(PHRASINGS)  # one question phrasing per replicate


def _folds(data: Data, seed: int) -> dict[str, list[list[str]]]:
    return value_folds(data.value_set.ids, data.train + data.holdout, REPLICATES, seed)


class Separation(Pipeline):
    """Units ``sep-r<r>-<k>``: replicate r's pool (both replies of fold r of every value's scenarios, train and
    holdout) in chunks of 64 replies, each judged by every value's judge in phrasing r."""

    kind, task_type = "separation", "judge-separation"
    held_out_splits = ()  # every scenario is judged, in folds; nothing is trained

    def plan(self, spec, data: Data) -> Plan:
        folds, pool = _folds(data, spec.seed), data.train + data.holdout
        units = {}
        for r in range(REPLICATES):
            ids = {s for v in data.value_set.ids for s in folds[v][r]}
            units.update(chunk_units(f"sep-r{r}", _pool([sc for sc in pool if sc.id in ids]), PHRASINGS[r]))
        shared = {"statements": [v.statement for v in data.value_set.values], "batch_size": spec.batch_size}
        return Plan(shared, units)

    def run_unit(self, lm, shared: dict, inputs: dict) -> dict:
        return judge_chunk(lm, shared["statements"], inputs, shared["batch_size"])

    def finish(self, spec, data: Data, payloads: dict[str, dict]) -> Outcome:
        tables = [merged_scores(payloads, f"sep-r{r}") for r in range(REPLICATES)]
        ids = data.value_set.ids
        return Outcome(report(separation(ids, _folds(data, spec.seed), tables), ids))


def residual(m: np.ndarray) -> np.ndarray:
    """Off-diagonal cells minus their best additive fit r_i + c_j (least squares, diagonal excluded)."""
    n = len(m)
    mask = ~np.eye(n, dtype=bool) & np.isfinite(m)
    rows, cols = np.nonzero(mask)
    design = np.zeros((rows.size, 2 * n))
    design[np.arange(rows.size), rows] = 1
    design[np.arange(rows.size), n + cols] = 1
    beta = np.linalg.lstsq(design, m[mask], rcond=None)[0]
    out = np.full((n, n), np.nan)
    out[mask] = m[mask] - design @ beta
    return out


def separation(value_ids: list[str], folds: dict, tables: list[dict]) -> dict:
    """Per replicate, raw J(i, j) = mean over fold r of value j of score_i(follow) - score_i(violate) (judge
    i's own value on the diagonal), and its pair-specific residual; M = mean of the replicates' residuals."""
    raw, res = [], []
    for r, scores in enumerate(tables):
        mat = np.array([[np.mean([scores[f"{s}:follow"][i] - scores[f"{s}:violate"][i] for s in folds[vj][r]])
                         for vj in value_ids] for i in range(len(value_ids))])
        raw.append(mat)
        res.append(residual(mat))
    raw_mean = np.mean(np.stack(raw), axis=0)
    off = ~np.eye(len(value_ids), dtype=bool)
    own = {v: {"own": round(float(raw_mean[k, k]), 4),
               "others_mean": round(float(raw_mean[off[:, k], k].mean()), 4),  # other judges on value v
               "rank_of_own": int(1 + np.sum(raw_mean[:, k] > raw_mean[k, k]))}
           for k, v in enumerate(value_ids)}
    return {"M": np.mean(np.stack(res), axis=0), "replicates": res, "raw": raw_mean, "raw_replicates": raw,
            "own_judge": own}


def report(out: dict, value_ids: list[str]) -> dict:
    """Companion raw matrix and the card's table: does each value's own judge separate its value best?"""
    lines = ["", "## Own judge (raw separation, mean over replicates)",
             "| value | own judge | other judges (mean) | rank of own judge |", "|---|---|---|---|"]
    for v in value_ids:
        o = out["own_judge"][v]
        lines.append(f"| {v} | {o['own']:+.3f} | {o['others_mean']:+.3f} | {o['rank_of_own']} of {len(value_ids)} |")
    return {**out, "companions": {"separation_raw.csv": out["raw"]}, "card_lines": lines}
