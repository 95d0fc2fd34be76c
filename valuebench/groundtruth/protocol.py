"""The ground-truth pipeline protocol: what every pipeline module implements, and what an executor runs.

A pipeline does three things, and only these:

1. ``plan(spec, data)`` -> ``Plan``: the names of its work units, each with its own pure inputs, plus the inputs
   every unit shares (scenarios, settings). Unit names are the work-folder file stems (``steer-neutral``,
   ``dpo-r0-<value>``, ...), so folders made before this protocol still resume.
2. ``run_unit(lm, shared, inputs)`` -> a JSON-able payload: a pure function of its inputs and the subject model.
   It writes nothing; the executor (``groundtruth.executors``: in-process, or Ray workers that return the
   payload to the driver) writes it atomically as one file through ``groundtruth.workdir``.
3. ``finish(spec, data, payloads)`` -> ``Outcome``: the matrices (``M``, ``replicates``, companions, card lines)
   from the finished units, read back from their files, and a resampler when replicates are random halves.

The card text a pipeline contributes (what it measures, how it was made, caveats, the ceiling's method) is
prose in ``text/<kind>.yaml`` beside its module (``groundtruth/text/`` for the built-ins), formatted with
``card_fields``; the CLI flags that recreate a run come from ``reproduce_flags``. Pipelines are registered by
kind in ``groundtruth.registry``.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

TEXT_DIR = Path(__file__).parent / "text"


@dataclasses.dataclass(frozen=True)
class Data:
    """A run's loaded inputs: the value set (restricted to ``--values``), its scenarios and their hash."""

    value_set: object
    train: list
    holdout: list
    sha256: str


@dataclasses.dataclass
class Plan:
    """``units``: unit name -> its own inputs, in run order; ``shared``: inputs every unit reads (sent once)."""

    shared: dict
    units: dict[str, dict]


@dataclasses.dataclass
class Outcome:
    """``result``: ``M``, ``replicates`` and whatever companions and card lines the pipeline adds;
    ``resample(seed)``: the result for another random half split (None: replicates are separate runs)."""

    result: dict
    resample: Callable[[int], dict] | None = None


class Pipeline:
    """Base class; a pipeline module defines one subclass and registers it (``groundtruth.registry``)."""

    kind: str = ""  # the CLI name: valuebench groundtruth <kind>
    task_type: str = ""  # the card's ``type`` and the task name's prefix
    pairs: str = "off-diagonal"  # which cells are scored (``upper-triangle`` for symmetric matrices)
    symmetric: bool = False
    choices: tuple[str, ...] = ("logprob",)  # choice measures (groundtruth.choice) the pipeline can use
    min_train: int = 0  # train scenarios every value needs
    #: why the pipeline's replicates are not independent (None: independent by construction)
    not_independent: str | None = None
    #: scenario splits the task only measures on, so a method must not read them (``TaskMetadata``)
    held_out_splits: tuple[str, ...] = ("holdout",)

    @functools.cached_property
    def text(self) -> dict:
        """The card prose: ``text/<kind>.yaml`` beside the module that defines the pipeline (a third-party
        pipeline ships its own)."""
        folder = Path(sys.modules[type(self).__module__].__file__).parent / "text"
        return yaml.safe_load((folder / f"{self.kind}.yaml").read_text(encoding="utf-8"))

    def check(self, spec) -> None:
        """Refuse settings the pipeline cannot run (``UserError``), before any work."""

    def name_suffix(self, spec) -> str:
        """What the task name carries between its type and the model (e.g. ``-user`` for user-turn steering)."""
        return "-mcq" if spec.choice == "mcq" else ""

    def plan(self, spec, data: Data) -> Plan:
        raise NotImplementedError

    def run_unit(self, lm, shared: dict, inputs: dict) -> dict:
        raise NotImplementedError

    def finish(self, spec, data: Data, payloads: dict[str, dict]) -> Outcome:
        raise NotImplementedError

    def card_fields(self, spec, result: dict) -> dict:
        """Values the card text's ``{placeholders}`` are filled with."""
        return {"seed": spec.seed}

    def recipe_variant(self, spec) -> str | None:
        """Which of the text's recipes applies (when ``recipe`` is a mapping)."""
        return None

    def reproduce_flags(self, spec) -> list[str]:
        """The CLI flags after ``--seed`` that recreate ``spec``'s pipeline settings (a subclass adds its own
        before or after these)."""
        return [f"--choice {spec.choice}"] if spec.choice != "logprob" else []

    # Reading a published task's work units back (``valuebench.workunits``, for the validity gate). ``units(prefix)``
    # loads the units whose names start with ``prefix``: name -> payload.

    def independent_from_units(self, task, units, measure: str) -> dict | None:
        """An independent ceiling recomputed from units whose replicates were not independent by construction
        (v2 recipes); None: the card's own value stands."""
        return None

    def symmetric_from_units(self, task, units) -> dict | None:
        """The symmetric bound over many random splits, when the replicate files hold only one."""
        return None

    def unit_notes(self, task, units) -> list[str]:
        """Card lines the units support beyond the gate (diagnostics)."""
        return []

    def recipe(self, spec, result: dict) -> str:
        recipe = self.text["recipe"]
        if isinstance(recipe, dict):
            recipe = recipe[self.recipe_variant(spec)]
        return recipe.format(**self.card_fields(spec, result))
