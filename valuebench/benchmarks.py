"""Which tasks a run uses: one task by name or Hub reference, or a named **benchmark**.

A benchmark is a named, versioned list of tasks with its own summary (MTEB's ``Benchmark``). Three kinds exist:

* ``default``: the current tasks whose card carries a passing validity verdict (``Task.in_default_benchmark``);
  what ``evaluate`` scores and the board ranks unless told otherwise;
* ``all``: every current task, gated or not;
* one per value set (``ccai-21``, ``constraints-9``, ...): every current task over that value set;
* and any listed in a ``benchmarks.yaml`` beside the task cards (``tasks/benchmarks.yaml`` or a folder of
  ``VALUEBENCH_TASK_PATHS``): ``- {name: NAME, description: TEXT, tasks: [TASK, ...]}``, so a curated list is
  data, not code.

A benchmark's version is derived from its tasks: ``<n tasks>.<8 hex of sha256 over 'name==version' lines>``,
so bumping any task's version (or adding/removing a task) changes the benchmark's version, and two runs that
report the same benchmark version scored the same task versions.

Above both the task registry (``valuebench.tasks``) and Hub resolution (``valuebench.hub``), so neither imports
the other's caller.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from valuebench.errors import UserError, did_you_mean
from valuebench.hub import resolve
from valuebench.tasks import Task, discover, task_roots

DEFAULT = "default"
ALL = "all"
BENCHMARKS_FILE = "benchmarks.yaml"


@dataclass
class Benchmark:
    name: str
    description: str
    tasks: list[Task]

    @property
    def version(self) -> str:
        lines = sorted(f"{t.name}=={t.metadata.version}" for t in self.tasks)
        return f"{len(lines)}.{hashlib.sha256(chr(10).join(lines).encode()).hexdigest()[:8]}"

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]

    def summary(self) -> dict:
        """What ``valuebench benchmarks --format json`` prints and the board's ``benchmarks.json`` stores."""
        return {"name": self.name, "version": self.version, "description": self.description,
                "tasks": self.task_names, "task_versions": {t.name: t.metadata.version for t in self.tasks},
                "types": sorted({t.metadata.type for t in self.tasks}),
                "value_sets": sorted({t.metadata.value_set for t in self.tasks})}


def get_task(name: str) -> Task:
    """A packaged task by name, or a Hub reference ``ORG/NAME@REVISION`` / an index entry of
    ``tasks/hub.yaml``; see ``valuebench.hub.resolve``."""
    return resolve(name)


def _current(tasks: dict[str, Task]) -> list[Task]:
    return [t for t in tasks.values() if t.metadata.superseded_by is None]


def _listed(tasks: dict[str, Task]) -> list[tuple[str, str, list[str], Path]]:
    """(name, description, task names, file) of every ``benchmarks.yaml`` entry under the task roots."""
    from pydantic import BaseModel, ConfigDict, ValidationError

    from valuebench.errors import invalid_field
    from valuebench.io import safe_load_yaml

    class Entry(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str
        description: str
        tasks: list[str]

    out = []
    for root in task_roots():
        path = Path(root) / BENCHMARKS_FILE
        if not path.is_file():
            continue
        raw = safe_load_yaml(path.read_text(encoding="utf-8"), str(path)) or []
        if not isinstance(raw, list):
            raise UserError(f"{path}: must be a list of {{name, description, tasks}} entries")
        for i, item in enumerate(raw):
            try:
                entry = Entry.model_validate(item)
            except ValidationError as exc:
                raise UserError(f"{path}: entry {i + 1}: {invalid_field(exc)}") from None
            out.append((entry.name, entry.description, entry.tasks, path))
    return out


def list_benchmarks() -> list[Benchmark]:
    """Every named benchmark: default, all, one per value set, then the listed ones (names are unique)."""
    tasks = discover()
    current = _current(tasks)
    out = [Benchmark(DEFAULT, "tasks whose ground truth passes the validity gate (independent replicates agree, "
                              "surface baselines fail); what the board ranks by default",
                     [t for t in current if t.in_default_benchmark]),
           Benchmark(ALL, "every current task, gated or not (low-ceiling tasks included: read their ρ with "
                          "their bound)", current)]
    for vs in sorted({t.metadata.value_set for t in current}):
        out.append(Benchmark(vs, f"every current task over the {vs} value set",
                             [t for t in current if t.metadata.value_set == vs]))
    for name, description, names, path in _listed(tasks):
        if any(b.name == name for b in out):
            raise UserError(f"{path}: benchmark name {name!r} is already taken")
        unknown = [n for n in names if n not in tasks]
        if unknown:
            raise UserError(f"{path}: benchmark {name!r} names unknown task(s) {', '.join(unknown)}")
        out.append(Benchmark(name, description, [tasks[n] for n in names]))
    return out


def get_benchmark(name: str) -> Benchmark:
    """A benchmark by name; its tasks are verified (sha256 and card statistics) before they are used."""
    found = {b.name: b for b in list_benchmarks()}
    if name not in found:
        raise did_you_mean("benchmark", name, list(found))
    for t in found[name].tasks:
        t.verify()
    return found[name]


def get_tasks(names: list[str] | None = None, *, value_set: str | None = None,
              type: str | None = None) -> list[Task]:
    """Named tasks (``["all"]``: every current task, gated or not), else the default benchmark: the tasks whose
    card carries a passing validity verdict (``Task.in_default_benchmark``), each verified."""
    tasks = discover()
    if names and names != ["all"]:
        selected = [resolve(n, packaged=tasks) for n in names]  # resolve verifies each
    else:
        selected = [t for t in _current(tasks) if names == ["all"] or t.in_default_benchmark]
        for t in selected:
            t.verify()
    if value_set:
        selected = [t for t in selected if t.metadata.value_set == value_set]
    if type:
        selected = [t for t in selected if t.metadata.type == type]
    return selected


def outside_default(tasks: list[Task]) -> list[str]:
    """One warning line per task outside the default benchmark, with the gate's first reason."""
    lines = []
    for t in tasks:
        if t.in_default_benchmark:
            continue
        v = t.metadata.validity
        why = (v.reasons[0] if v and v.reasons else "no passing validity verdict") if v else "not gated"
        lines.append(f"warning: task {t.name} is outside the default benchmark ({why}); "
                     f"read its ρ against its bound {t.bound:.2f}" if t.bound else
                     f"warning: task {t.name} is outside the default benchmark ({why})")
    return lines
