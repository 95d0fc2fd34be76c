"""``persona-vector-conflict``: persona vectors whose prompts are the value's own conflict scenarios.

The research found ConflictScope-style prompts (situations where the value competes with another) gave
better-predicting vectors than generic questions: the rollouts then show the value winning or losing.
"""

from __future__ import annotations

import dataclasses

from valuebench.methods.persona_prompts import value_scenarios
from valuebench.methods.persona_vector import PersonaBase
from valuebench.values import ValueSet


@dataclasses.dataclass
class PersonaVectorConflict(PersonaBase):
    name = "persona-vector-conflict"
    description = ("Persona vectors from ConflictScope-style prompts: pro - anti activations on each value's "
                   "train scenarios, layer chosen by steering on held-out scenarios.")
    n_scenarios: int = 10

    def user_turns(self, value_set: ValueSet) -> dict[str, list[list[dict]]]:
        return {vid: [[{"role": "user", "content": sc.user_prompt}]
                      for sc in value_scenarios(value_set, vid, "train", self.n_scenarios)]
                for vid in value_set.ids}
