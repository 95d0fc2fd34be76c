"""A pipeline run end to end, the same for every pipeline: load the data, plan the units, have an executor
run the unfinished ones, build M and its replicates from the finished units, write the task folder and card.

What differs between pipelines is behind ``groundtruth.protocol.Pipeline`` (looked up by kind in
``groundtruth.registry``); how units are run is the executor's business (``groundtruth.executors``)."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

from valuebench.errors import UserError
from valuebench.groundtruth import cards, registry
from valuebench.groundtruth.cards import hardware
from valuebench.groundtruth.executors import LocalExecutor
from valuebench.groundtruth.matrix import ceiling_summary, resampled_ceiling
from valuebench.groundtruth.protocol import Data, Pipeline
from valuebench.groundtruth.publish import write_task
from valuebench.groundtruth.subject import TINY, identity, load_subject  # noqa: F401 - TINY: public here
from valuebench.groundtruth.workdir import Workdir
from valuebench.scenarios import Scenario, load_scenarios, scenarios_dir
from valuebench.values import ValueSet, load_value_set


@dataclasses.dataclass
class RunSpec:
    kind: str  # a registered pipeline (groundtruth.registry): steering, dpo, judges, separation, ...
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
    choice: str = "logprob"  # steering, dpo, sft: how a scenario's choice is measured (see choice.scenario_margins)
    dpo: dict = dataclasses.field(default_factory=dict)
    task_name: str | None = None
    task_version: str = "1.0.0"  # bumped when a recipe change replaces a shipped matrix; not a run setting
    card_notes: tuple[str, ...] = ()  # "Recipe history" lines for the card (what was tried before); not a setting


#: RunSpec fields added after work folders were made: left out of the recorded configuration at their
#: default, so existing folders still resume (a work folder refuses any other configuration change)
LATER_DEFAULTS = {"placement": "system", "choice": "logprob"}


def _short_model(lm) -> str:
    return lm.name.split("/")[-1].replace("embedded:", "").replace("-Instruct", "").lower()


def _check_choice(spec: RunSpec, pipe: Pipeline) -> None:
    if spec.choice not in pipe.choices:
        takes = {kind: registry.get(kind).choices for kind in registry.kinds()}
        listed = "; ".join(f"{kind} takes {', '.join(c)}" for kind, c in takes.items() if len(c) > 1)
        raise UserError(f"choice measure {spec.choice!r} does not apply to {spec.kind}; {listed}; the others "
                        "score yes/no or log-prob only")


def load_data(spec: RunSpec, pipe: Pipeline | None = None) -> tuple[ValueSet, list[Scenario], list[Scenario], str]:
    """The value set (restricted to ``spec.values``), its train and holdout scenarios, and the data's sha256."""
    pipe = pipe or registry.get(spec.kind)
    _check_choice(spec, pipe)
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
        if len(tr) < pipe.min_train:
            raise UserError(f"value {vid!r} has {len(tr)} train scenarios in {path}; {spec.kind} needs at least "
                            f"{pipe.min_train}")
        train += tr
        holdout += ho
    return vs, train, holdout, digest.hexdigest()


def run(spec: RunSpec, lm=None, executor=None) -> Path:
    """Run one pipeline (its unfinished units on ``executor``, default in this process) and publish its task
    folder; returns the folder."""
    pipe = registry.get(spec.kind)
    pipe.check(spec)
    data = Data(*load_data(spec, pipe))
    vs = data.value_set
    executor = executor or LocalExecutor()
    lm = lm or (load_subject(spec.model) if executor.in_process else identity(spec.model))
    name = spec.task_name or f"{pipe.task_type}{pipe.name_suffix(spec)}-{_short_model(lm)}-{vs.name}"
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(spec).items()
              if k not in {"output", "work_dir", "task_version", "card_notes"}
              and not (k in LATER_DEFAULTS and v == LATER_DEFAULTS[k])}
    config.update({"data_sha256": data.sha256, "model_revision": lm.revision})
    work = Workdir(spec.work_dir or Path(spec.output) / ".work" / name, config)
    start = time.perf_counter()
    plan = pipe.plan(spec, data)
    executor.run(pipe, plan, work, spec.model, lm)
    outcome = pipe.finish(spec, data, {unit: work.load(unit) for unit in plan.units})
    wall = time.perf_counter() - start
    result, how = outcome.result, pipe.text["ceiling_method"]
    ceiling = _ceiling(result, outcome.resample, pipe.pairs, how, spec.seed)
    config["hardware"] = hardware(executor.threads)
    history = carried_history(Path(spec.output) / name)
    spec = dataclasses.replace(spec, card_notes=(*history, *[n for n in spec.card_notes if n not in history]))
    compute = work.compute_seconds()
    meta = cards.metadata(pipe, name, spec, vs, lm, ceiling, config, wall, compute)
    body = cards.body(pipe, spec, vs, lm, data, ceiling, result, wall, config, compute)
    extra = cards.extra_files(result, vs.ids)
    return write_task(Path(spec.output) / name, meta, result["M"], vs.ids, body, result["replicates"], extra)


def _ceiling(result: dict, resample, pairs: str, how: str, seed: int) -> dict:
    """The split-half ceiling: of the replicates as they are (separate runs), or averaged over random half
    splits (``resample``); the same for the continuous companion (``margin_ceiling``) when there is one."""
    if resample is None:  # replicates are separate training runs: one pair is all there is
        ceiling = ceiling_summary(result["replicates"], pairs, how)
        if "margin_replicates" in result:
            result["margin_ceiling"] = ceiling_summary(result["margin_replicates"], pairs, how)
        return ceiling
    ceiling = resampled_ceiling(lambda s: resample(s)["replicates"], pairs, how, seed)
    if "margin_replicates" in result:
        result["margin_ceiling"] = resampled_ceiling(lambda s: resample(s)["margin_replicates"], pairs, how, seed)
    return ceiling


def carried_history(folder: Path) -> tuple[str, ...]:
    """The "Recipe history" lines of the card a new run replaces: recipe history is card text, kept by every
    re-measurement (edit the card to add a line; the next run carries it over)."""
    import re

    card = folder / "README.md"
    if not card.is_file():
        return ()
    found = re.search(r"^## Recipe history\n(.*?)(?=^## |\Z)", card.read_text(encoding="utf-8"), re.S | re.M)
    return tuple(line[2:].strip() for line in found.group(1).splitlines() if line.startswith("- ")) if found else ()
