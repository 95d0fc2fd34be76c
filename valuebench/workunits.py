"""Ceilings recomputed from a pipeline's work units (read-only): replicates that share no training data, no
evaluation scenarios and no base-rate estimate, built by resampling disjoint halves of what v2 pipelines
measured (``independent_from_workdir``); the symmetric bound of prompted pipelines; and the judge
diagnostics and companion-matrix notes cards carry. ``valuebench.validity.gate`` calls these; v3 pipelines
make their replicates independent by construction and need none of this.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from valuebench.ceilings import estimate, masked_spearman, symmetric_part
from valuebench.errors import UserError
from valuebench.scoring import pair_mask
from valuebench.tasks import Task

N_SPLITS = 100



def _halves(ids: list[str], seed: int) -> tuple[list[str], list[str]]:
    from valuebench.groundtruth.matrix import half_split

    return half_split(ids, seed)


def _by_value(margins: dict, value_ids: list[str]) -> dict[str, list[str]]:
    """Scenario ids ``<value_id>-<nnn>`` grouped by value, in their stored order."""
    out = {v: [] for v in value_ids}
    for sid in margins:
        vid = sid.rsplit("-", 1)[0]
        if vid in out:
            out[vid].append(sid)
    return out


def _shift_rate(after: dict, base: dict, ids: list[str]) -> float:
    from valuebench.groundtruth.matrix import rates, shift_matrix

    a = rates([after[s] for s in ids])
    a0 = rates([base[s] for s in ids])
    return float(shift_matrix(np.array([[a, a]]), np.array([a0, a0]))[0, 1])


def _shift_margin(after: dict, base: dict, ids: list[str]) -> float:
    return float(np.mean([after[s] - base[s] for s in ids]))


def independent_dpo(base: dict[str, float], runs: dict[tuple[int, str], dict[str, float]], value_ids: list[str],
                    *, measure: str = "rate", n_splits: int = N_SPLITS, seed: int = 0) -> dict:
    """Independent ceiling of a DPO task whose replicates were scored on the same holdout scenarios.

    Per split, each value's holdout scenarios are cut into random halves A and B; replicate a's models are
    scored on half A against the base model's margins on half A, replicate b's models on half B against the
    base on half B. The two matrices then share no training data (replicates trained on disjoint train halves),
    no evaluation scenario and no base-rate estimate. Mean (and sd) over ``n_splits`` splits and over replicate
    pairs. ``measure``: ``rate`` (the published M) or ``margin`` (the mean margin shift companion)."""
    by_value = _by_value(base, value_ids)
    reps = sorted({r for r, _ in runs})
    shift = _shift_rate if measure == "rate" else _shift_margin
    n = len(value_ids)
    mask = pair_mask(n)
    out = []
    for k in range(n_splits):
        halves = {v: _halves(by_value[v], seed + k + j) for j, v in enumerate(value_ids)}
        rhos = []
        for ia, ra in enumerate(reps):
            for rb in reps[ia + 1:]:
                mats = []
                for r, h in ((ra, 0), (rb, 1)):
                    m = np.full((n, n), np.nan)
                    for i, vi in enumerate(value_ids):
                        for j, vj in enumerate(value_ids):
                            if i != j and (r, vi) in runs:
                                m[i, j] = shift(runs[(r, vi)], base, halves[vj][h])
                    mats.append(m)
                rhos.append(masked_spearman(mats[0], mats[1], mask))
        out.append(np.nanmean(rhos))
    out = np.array(out)
    finite = out[np.isfinite(out)]
    what = "M (rate shift)" if measure == "rate" else "mean margin shift"
    return estimate(float(finite.mean()) if finite.size else None,
                    f"Spearman of {what} between replicate a's models on a random half of every value's holdout "
                    "(against the base model on that half) and replicate b's models on the other half (against "
                    f"the base on it): no shared training data, scenarios or base estimate; mean over {n_splits} "
                    "random splits", sd=float(finite.std()) if finite.size else None, n_splits=n_splits)


def _prompted_halves(margins: dict[str, dict[str, float]], value_ids: list[str], split: int,
                     measure: str) -> list[np.ndarray]:
    """The two replicate matrices of one random split (split seed ``split``, as ``steering.matrices``)."""
    base = margins["neutral"]
    by_value = _by_value(base, value_ids)
    shift = _shift_rate if measure == "rate" else _shift_margin
    halves = {v: _halves(by_value[v], split + j) for j, v in enumerate(value_ids)}
    n = len(value_ids)
    mats = []
    for h in (0, 1):
        m = np.full((n, n), np.nan)
        for i, vi in enumerate(value_ids):
            for j, vj in enumerate(value_ids):
                if i != j:
                    m[i, j] = shift(margins[vi], base, halves[vj][h])
        mats.append(m)
    return mats


def independent_prompted(margins: dict[str, dict[str, float]], value_ids: list[str], *, n_splits: int = N_SPLITS,
                         seed: int = 0, measure: str = "rate") -> tuple[dict, dict]:
    """Prompt steering: replicates on disjoint halves of each value's holdout, each with the neutral prompt's
    margins on its own half as base, share no scenario and no base estimate (no training involved). This is
    exactly how the split-half ceiling was computed (same splits, ``steering.matrices``); recomputed here from
    the work units so the card's number is checked, not copied. Returns (independent, symmetric bound), both
    over the same ``n_splits`` splits: one split's symmetric bound is as noisy as one split's ceiling."""
    mask = pair_mask(len(value_ids))
    ind, sym = [], []
    for k in range(n_splits):
        a, b = _prompted_halves(margins, value_ids, seed + k, measure)
        ind.append(masked_spearman(a, b, mask))
        pair = [masked_spearman(symmetric_part(a), b, mask), masked_spearman(symmetric_part(b), a, mask)]
        sym.append(np.mean([r for r in pair if np.isfinite(r)]) if np.isfinite(pair).any() else np.nan)

    def summary(values, how):
        values = np.array(values)
        finite = values[np.isfinite(values)]
        return estimate(float(finite.mean()) if finite.size else None, how,
                        sd=float(finite.std()) if finite.size else None, n_splits=n_splits)

    return (summary(ind, "Spearman of M between two disjoint random halves of every value's holdout, each against "
                         f"the neutral prompt on its own half (no training involved); mean over {n_splits} random "
                         "splits"),
            summary(sym, "rho((R_a + R_a^T)/2, R_b) between the two halves of each split, both directions; mean "
                         f"over {n_splits} random splits"))


NO_INDEPENDENT_JUDGES = ("the judges' question text is fixed: both replicates ask the same question of the same "
                         "model, so no replicate independent of the prompt exists; the split-half ceiling is the "
                         "reliability of a fixed prompt, not validity, and the surface baselines decide")


def _load_units(folder: Path, prefix: str) -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob(f"{prefix}*.json")):
        try:
            out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: unreadable work unit ({exc})") from None
    return out


def _pipeline_units(task: Task, work_dir: Path | None):
    """The pipeline that made ``task`` and a loader of its work units (``prefix`` -> name -> payload); None when
    no registered pipeline makes tasks of its type or there is no work folder."""
    from valuebench.groundtruth.registry import for_task_type

    pipe = for_task_type(task.metadata.type)
    if pipe is None or work_dir is None or not Path(work_dir).is_dir():
        return pipe, None
    return pipe, lambda prefix: _load_units(Path(work_dir), prefix)


def independent_from_workdir(task: Task, work_dir: Path, *, measure: str = "rate") -> dict | None:
    """The independent ceiling from a task's work units (``tasks/.work/<task>``), as the task's pipeline reads
    them; none (with the reason) for pipelines whose replicates cannot be independent; None when the folder holds
    nothing the pipeline recomputes from (the card's value then stands)."""
    pipe, units = _pipeline_units(task, work_dir)
    if pipe is not None and pipe.not_independent is not None:
        return estimate(None, "", reason=pipe.not_independent)
    return pipe.independent_from_units(task, units, measure) if units else None


def symmetric_from_workdir(task: Task, work_dir: Path) -> dict | None:
    """The symmetric bound over many splits, for tasks whose replicate files are one random split (steering)."""
    pipe, units = _pipeline_units(task, work_dir)
    return pipe.symmetric_from_units(task, units) if units else None


def judge_diagnostics(scores: dict[str, list[float]], value_ids: list[str]) -> dict:
    """Why judge agreement is not validity, from the judges' raw scores (item ``<scenario>:follow|violate`` ->
    one yes-minus-no score per judge): the share of score variance on the first principal component (a
    general "good reply" factor), and how often a value's own judge prefers the upholding reply on that value's
    scenarios vs how often the other judges do."""
    items = list(scores)
    table = np.array([scores[i] for i in items], dtype=float)
    centred = table - table.mean(axis=0)
    eig = np.linalg.eigvalsh(np.cov(centred, rowvar=False))
    pc1 = float(eig[-1] / eig.sum()) if eig.sum() > 0 else float("nan")
    own, other = [], []
    for j, vj in enumerate(value_ids):
        scen = sorted({i.rsplit(":", 1)[0] for i in items if i.rsplit(":", 1)[0].rsplit("-", 1)[0] == vj})
        if not scen:
            continue
        right = np.array([[scores[f"{s}:follow"][k] > scores[f"{s}:violate"][k] for k in range(len(value_ids))]
                          for s in scen if f"{s}:follow" in scores and f"{s}:violate" in scores])
        if right.size:
            own.append(right[:, j].mean())
            other.append(np.delete(right, j, axis=1).mean())
    return {"pc1_share": pc1, "own_judge": float(np.mean(own)) if own else None,
            "other_judges": float(np.mean(other)) if other else None}


def companion_notes(task: Task, work_dir: Path | None) -> list[str]:
    """Card lines the work units support beyond the gate: the pipeline's own diagnostics (judges: the general
    factor, ``judge_diagnostics``), and for a continuous companion (``margin_shift.csv``) its independent ceiling,
    which the audit found holds up better than the rate matrix on DPO."""
    pipe, units = _pipeline_units(task, work_dir)
    if not units:
        return []
    notes = pipe.unit_notes(task, units)
    if not (task.folder / "margin_shift.csv").is_file():
        return notes
    est = independent_from_workdir(task, work_dir, measure="margin")
    if est is None or est["value"] is None:
        return notes
    return [*notes, f"- companion `margin_shift.csv` (mean margin change, continuous): independent ceiling "
            f"{est['value']:.2f} ± {est['sd']:.2f} (sd over {est['n_splits']} splits, same splits; not gated, the "
            "published matrix is the rate M)"]
