"""Pipeline registry: built-in pipelines by kind, and third-party ones from entry points.

A package adds a pipeline (a ``groundtruth.protocol.Pipeline`` subclass, with its card text) under the
entry-point group ``valuebench.pipelines``::

    [project.entry-points."valuebench.pipelines"]
    my-kind = "my_package.module:MyPipeline"
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from valuebench.errors import did_you_mean
from valuebench.groundtruth.protocol import Pipeline

#: kind -> "module:Class"; modules are imported only when the pipeline is used
BUILTIN = {
    "steering": "valuebench.groundtruth.steering:Steering",
    "dpo": "valuebench.groundtruth.dpo:DPO",
    "sft": "valuebench.groundtruth.sft:SFT",
    "judges": "valuebench.groundtruth.judges:Judges",
    "separation": "valuebench.groundtruth.separation:Separation",
}


def available() -> dict[str, str]:
    return {**{ep.name: ep.value for ep in entry_points(group="valuebench.pipelines")}, **BUILTIN}


def kinds() -> list[str]:
    return list(available())


def get(kind: str) -> Pipeline:
    targets = available()
    if kind not in targets:
        raise did_you_mean("pipeline", kind, list(targets))
    module_name, _, attr = targets[kind].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Pipeline)) or cls.kind != kind:
        raise TypeError(f"pipeline {kind!r} ({targets[kind]}) is not a Pipeline subclass of kind {kind!r}")
    return cls()


def for_task_type(task_type: str) -> Pipeline | None:
    """The pipeline that makes tasks of ``task_type`` (a card's ``type``), or None."""
    for kind in available():
        pipe = get(kind)
        if pipe.task_type == task_type:
            return pipe
    return None
