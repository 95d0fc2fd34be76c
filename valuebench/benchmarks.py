"""Which tasks a run uses: one task by name or Hub reference, every current task (``all``), or the default
benchmark (the packaged tasks whose card carries a passing validity verdict). Above both the task registry
(``valuebench.tasks``) and Hub resolution (``valuebench.hub``), so neither imports the other's caller.
"""

from __future__ import annotations

from valuebench.hub import resolve
from valuebench.tasks import Task, discover


def get_task(name: str) -> Task:
    """A packaged task by name, or a Hub reference ``ORG/NAME@REVISION`` / an index entry of
    ``tasks/hub.yaml``; see ``valuebench.hub.resolve``."""
    return resolve(name)


def get_tasks(names: list[str] | None = None, *, value_set: str | None = None,
              type: str | None = None) -> list[Task]:
    """Named tasks (``["all"]``: every current task, gated or not), else the default benchmark: the tasks whose
    card carries a passing validity verdict (``Task.in_default_benchmark``), each verified."""
    tasks = discover()
    if names and names != ["all"]:
        selected = [resolve(n, packaged=tasks) for n in names]  # resolve verifies each
    else:
        selected = [t for t in tasks.values()
                    if t.metadata.superseded_by is None and (names == ["all"] or t.in_default_benchmark)]
        for t in selected:
            t.verify()
    if value_set:
        selected = [t for t in selected if t.metadata.value_set == value_set]
    if type:
        selected = [t for t in selected if t.metadata.type == type]
    return selected
