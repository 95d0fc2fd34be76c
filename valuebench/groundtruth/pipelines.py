"""The three pipelines end to end: measure, build M and replicates, write the task folder and card."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from valuebench.errors import UserError
from valuebench.groundtruth import cards, judges, steering
from valuebench.groundtruth.cards import TASK_TYPES, hardware
from valuebench.groundtruth.choice import scenario_margins
from valuebench.groundtruth.matrix import ceiling_summary, resampled_ceiling
from valuebench.groundtruth.publish import write_task
from valuebench.groundtruth.workdir import Workdir
from valuebench.scenarios import Scenario, load_scenarios, scenarios_dir
from valuebench.values import ValueSet, load_value_set


@dataclasses.dataclass
class RunSpec:
    kind: str  # steering | dpo | judges
    value_set: str
    model: str
    seed: int = 0
    output: Path = Path("tasks")
    work_dir: Path | None = None
    batch_size: int = 8
    scenario_dir: Path | None = None
    values: list[str] | None = None  # restrict to these value ids (CI, smoke runs)
    max_holdout: int | None = None
    max_train: int | None = None
    n_phrasings: int = 2
    placement: str = "system"  # steering: where the steering text goes (system prompt or user turn)
    choice: str = "logprob"  # steering, dpo: how a scenario's choice is measured (see choice.scenario_margins)
    dpo: dict = dataclasses.field(default_factory=dict)
    task_name: str | None = None
    task_version: str = "1.0.0"  # bumped when a recipe change replaces a shipped matrix; not a run setting
    card_notes: tuple[str, ...] = ()  # "Recipe history" lines for the card (what was tried before); not a setting


#: RunSpec fields added after work folders were made: left out of the recorded configuration at their
#: default, so existing folders still resume (a work folder refuses any other configuration change)
LATER_DEFAULTS = {"placement": "system", "choice": "logprob"}


def _short_model(lm) -> str:
    return lm.name.split("/")[-1].replace("embedded:", "").replace("-Instruct", "").lower()


def load_data(spec: RunSpec) -> tuple[ValueSet, list[Scenario], list[Scenario], str]:
    from valuebench.groundtruth.choice import CHOICES

    if spec.choice not in CHOICES or (spec.kind in ("judges", "separation") and spec.choice != "logprob"):
        raise UserError(f"choice measure {spec.choice!r} does not apply to {spec.kind}; steering and dpo take "
                        f"{', '.join(CHOICES)}, judges score yes/no")
    vs = load_value_set(spec.value_set)
    if spec.values:
        unknown = [v for v in spec.values if v not in vs.ids]
        if unknown:
            raise UserError(f"unknown value ids {unknown}; valid ids: {', '.join(vs.ids)}")
        if len(set(spec.values)) < 2:
            raise UserError("--values needs at least two value ids (a matrix needs pairs)")
        vs = ValueSet.model_validate({**vs.model_dump(), "values": [v.model_dump() for v in vs.values
                                                                     if v.id in spec.values]})
    folder = Path(spec.scenario_dir) if spec.scenario_dir else scenarios_dir(vs.name)
    digest = hashlib.sha256()
    train, holdout = [], []
    for vid in vs.ids:
        path = folder / f"{vid}.jsonl"
        if not path.is_file():
            raise UserError(f"no scenarios for value {vid!r}: {path} is missing")
        digest.update(path.read_bytes())
        rows = load_scenarios(vs, vid, root=folder)
        tr = [s for s in rows if s.split == "train"][: spec.max_train]
        ho = [s for s in rows if s.split == "holdout"][: spec.max_holdout]
        if not ho:
            raise UserError(f"value {vid!r} has no holdout scenarios in {path}; every pipeline measures on holdout")
        if spec.kind == "dpo" and len(tr) < 2:
            raise UserError(f"value {vid!r} has {len(tr)} train scenarios in {path}; DPO needs at least 2")
        train += tr
        holdout += ho
    return vs, train, holdout, digest.hexdigest()


def _dpo_measure(lm, vs: ValueSet, pool: list[Scenario], work: Workdir, spec: RunSpec) -> dict:
    from valuebench.groundtruth import dpo

    settings = dpo.DPOSettings(**spec.dpo)
    if settings.measure not in dpo.MEASURES:
        raise UserError(f"unknown DPO measure {settings.measure!r}; valid: {', '.join(dpo.MEASURES)}")
    layout = dpo.plan(vs.ids, pool, settings, spec.seed)
    if not work.done("dpo-base"):
        m = scenario_margins(lm, pool, None, batch_size=spec.batch_size, choice=spec.choice, seed=spec.seed)
        work.save("dpo-base", {"margins": {s.id: float(x) for s, x in zip(pool, m)}})
    base = work.load("dpo-base")["margins"]
    runs = {}
    bar = tqdm(layout["units"], desc="dpo", unit="run")
    for r, vid in bar:
        unit = f"dpo-r{r}-{vid}"
        bar.set_postfix_str(unit)
        if not work.done(unit):
            work.save(unit, dpo.run_unit(lm, pool, layout["folds"], r, vid, settings, spec.seed, spec.batch_size,
                                         spec.choice))
        runs[(r, vid)] = work.load(unit)
    bar.close()
    out = dpo.report(dpo.matrices(vs.ids, layout["folds"], runs, base, settings), vs.ids, settings)
    out["timing"] = {"train_s_per_value": float(np.mean([v["train_s"] for v in runs.values()])),
                     "eval_s_per_value": float(np.mean([v["eval_s"] for v in runs.values()])),
                     "step_share_of_train": float(np.mean([v.get("step_s", np.nan) / v["train_s"]
                                                           for v in runs.values()]))}
    out["logs"] = {f"r{r}-{v}": runs[(r, v)]["train_log"] for (r, v) in runs}
    out["settings"] = dataclasses.asdict(settings)
    return out


TINY = "tiny-random"


def load_subject(model: str):
    """The subject model; ``tiny-random`` is a tiny random Llama for smoke runs and CI (not a real task)."""
    from valuebench.lm import load_lm, tiny_llama

    return tiny_llama() if model == TINY else load_lm(model)


def _measure(spec: RunSpec, lm, vs: ValueSet, train, holdout, work: Workdir):
    """Run the pipeline's units; returns (result, scored pairs, ceiling method, resampler or None). The
    resampler rebuilds the replicates for another random half split, when replicates are data halves."""
    if spec.kind == "steering":
        margins = steering.run_conditions(lm, vs, holdout, work, n_phrasings=spec.n_phrasings,
                                          batch_size=spec.batch_size, placement=spec.placement,
                                          choice=spec.choice, seed=spec.seed)
        return (steering.matrices(vs, holdout, margins, spec.seed), "off-diagonal",
                "Spearman between M from two disjoint random halves of each value's holdout",
                lambda s: steering.matrices(vs, holdout, margins, s))
    if spec.kind == "judges":
        scores = judges.run_judges(lm, vs, holdout, work, batch_size=spec.batch_size)
        return (judges.matrices(holdout, scores, spec.seed), "upper-triangle",
                "Spearman between agreement matrices on two disjoint random halves of the pool",
                lambda s: judges.matrices(holdout, scores, s))
    if spec.kind == "separation":
        folds, tables = judges.run_separation(lm, vs, train + holdout, work, batch_size=spec.batch_size,
                                              seed=spec.seed)
        return (judges.report(judges.separation(vs.ids, folds, tables), vs.ids), "off-diagonal",
                "mean Spearman between replicates that share neither the judges' question phrasing nor "
                "scenarios (disjoint folds of every value's scenarios)", None)
    if spec.kind == "dpo":
        return (_dpo_measure(lm, vs, train + holdout, work, spec), "off-diagonal",
                "mean Spearman between DPO replicates that share no training data, evaluation scenarios or base "
                "estimate (disjoint folds of every value's scenarios, seeds s, s+1, ...)", None)
    raise UserError(f"unknown pipeline {spec.kind!r}; valid pipelines: {', '.join(TASK_TYPES)}")


def run(spec: RunSpec, lm=None) -> Path:
    """Run one pipeline and publish its task folder; returns the folder."""
    vs, train, holdout, data_hash = load_data(spec)
    lm = lm or load_subject(spec.model)
    variant = ("-user" if spec.kind == "steering" and spec.placement == "user" else "") + \
        ("-mcq" if spec.choice == "mcq" else "")
    name = spec.task_name or f"{TASK_TYPES[spec.kind]}{variant}-{_short_model(lm)}-{vs.name}"
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(spec).items()
              if k not in {"output", "work_dir", "task_version", "card_notes"}
              and not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])}
    config.update({"data_sha256": data_hash, "model_revision": lm.revision})
    work = Workdir(spec.work_dir or Path(spec.output) / ".work" / name, config)
    start = time.perf_counter()
    result, pairs, how, resample = _measure(spec, lm, vs, train, holdout, work)
    wall = time.perf_counter() - start
    compute = work.compute_seconds()
    if resample is None:  # replicates are separate training runs: one pair is all there is
        ceiling = ceiling_summary(result["replicates"], pairs, how)
        if "margin_replicates" in result:
            result["margin_ceiling"] = ceiling_summary(result["margin_replicates"], pairs, how)
    else:
        ceiling = resampled_ceiling(lambda s: resample(s)["replicates"], pairs, how, spec.seed)
        if "margin_replicates" in result:
            result["margin_ceiling"] = resampled_ceiling(lambda s: resample(s)["margin_replicates"], pairs, how,
                                                         spec.seed)
    config["hardware"] = hardware()
    history = carried_history(Path(spec.output) / name)
    spec = dataclasses.replace(spec, card_notes=(*history, *[n for n in spec.card_notes if n not in history]))
    meta = cards.metadata(name, spec, vs, lm, pairs, ceiling, config, wall, compute)
    body = cards.body(spec, vs, lm, train, holdout, ceiling, result, wall, config, compute)
    extra = cards.extra_files(result, vs.ids)
    return write_task(Path(spec.output) / name, meta, result["M"], vs.ids, body, result["replicates"], extra)


def carried_history(folder: Path) -> tuple[str, ...]:
    """The "Recipe history" lines of the card a new run replaces: recipe history is card text, kept by every
    re-measurement (edit the card to add a line; the next run carries it over)."""
    import re

    card = folder / "README.md"
    if not card.is_file():
        return ()
    found = re.search(r"^## Recipe history\n(.*?)(?=^## |\Z)", card.read_text(encoding="utf-8"), re.S | re.M)
    return tuple(line[2:].strip() for line in found.group(1).splitlines() if line.startswith("- ")) if found else ()
