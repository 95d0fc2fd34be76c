"""``persona-vector``: pro − anti response activations from value-prompted rollouts on generic questions.

Chen et al. 2025 (research notes §1), scaled to a CPU: a few pro/anti phrasings per value, short sampled
answers to generic questions, the response-token mean activation at candidate layers, and one layer for all
values chosen by steering effectiveness on held-out scenarios (the sweep is kept in the metadata).
"""

from __future__ import annotations

import dataclasses
import time

from valuebench.errors import UserError
from valuebench.lm import EMBEDDED_DEFAULT, load_lm
from valuebench.methods.base import Method
from valuebench.methods.persona_prompts import EXTRACT_QUESTIONS
from valuebench.values import ValueSet
from valuebench.vectors import Representation


@dataclasses.dataclass
class PersonaBase(Method):
    """Options and pipeline shared by both persona-vector variants; subclasses choose the user turns."""

    needs_llm = True
    cacheable = True
    model: str = EMBEDDED_DEFAULT
    seed: int = 0
    batch_size: int = 32
    n_instructions: int = 2
    n_samples: int = 1
    max_new_tokens: int = 40
    temperature: float = 1.0
    sweep_layers: list[int] | None = None
    n_sweep_scenarios: int = 3
    steer_coeff: float = 2.0

    def user_turns(self, value_set: ValueSet) -> dict[str, list[list[dict]]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def represent(self, value_set: ValueSet) -> Representation:
        from valuebench.methods.persona_common import candidate_layers, pro_anti_vectors, select_layer

        start = time.perf_counter()
        lm = load_lm(self.model)
        layers = candidate_layers(lm, self.sweep_layers)
        diffs, info = pro_anti_vectors(lm, value_set, self.user_turns(value_set), layers, self)
        chosen, sweep = select_layer(lm, value_set, diffs, layers, self)
        meta = {"model": lm.name, "model_revision": lm.revision, "layer": chosen, "candidate_layers": layers,
                "sweep": sweep, **info, "seconds": round(time.perf_counter() - start, 1)}
        return Representation(value_set.ids, diffs[:, layers.index(chosen)].astype("float64"), meta)


@dataclasses.dataclass
class PersonaVector(PersonaBase):
    name = "persona-vector"
    description = ("Persona vectors (Chen et al. 2025): pro - anti response activations on generic questions, "
                   "layer chosen by steering effectiveness on held-out scenarios.")
    n_questions: int = 10

    def user_turns(self, value_set: ValueSet) -> dict[str, list[list[dict]]]:
        if not 1 <= self.n_questions <= len(EXTRACT_QUESTIONS):
            raise UserError(f"n_questions must be between 1 and {len(EXTRACT_QUESTIONS)}, got {self.n_questions}")
        turns = [[{"role": "user", "content": q}] for q in EXTRACT_QUESTIONS[: self.n_questions]]
        return {vid: turns for vid in value_set.ids}
