"""``activation-diff``: teacher-forced, no generation: follow − violate response activations per value.

For each of the value's train scenarios the model reads the scenario with the value-following response and
with the value-violating one; the vector is the mean response-token activation difference at one layer
(default ~2/3 of depth, where value-like directions are usually most linear). Cheap: no sampling at all.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from valuebench.lm import EMBEDDED_DEFAULT, load_lm
from valuebench.methods.base import Method
from valuebench.methods.persona_prompts import value_scenarios
from valuebench.values import ValueSet
from valuebench.vectors import Representation


@dataclasses.dataclass
class ActivationDiff(Method):
    name = "activation-diff"
    description = ("Mean response activation on response_follow minus response_violate "
                   "over each value's train scenarios.")
    needs_llm = True
    cacheable = True
    model: str = EMBEDDED_DEFAULT
    seed: int = 0  # unused (fully deterministic); kept so every LLM method takes --seed
    batch_size: int = 32
    layer: int | None = None
    n_scenarios: int | None = 20

    def represent(self, value_set: ValueSet) -> Representation:
        from valuebench.lm.activations import response_activations

        start = time.perf_counter()
        lm = load_lm(self.model)
        layer = (lm.check_layer(self.layer) if self.layer is not None
                 else min(lm.n_layers - 1, round(2 * lm.n_layers / 3)))
        convs, resps, owner = [], [], []
        for vi, vid in enumerate(value_set.ids):
            for sc in value_scenarios(value_set, vid, "train", self.n_scenarios):
                convs += [sc.messages(), sc.messages()]
                resps += [sc.response_follow, sc.response_violate]
                owner += [vi, vi]
        batch = lm.forward_batch_size(self.batch_size)
        acts = response_activations(lm, convs, resps, [layer], batch_size=batch, progress="activations")[:, 0]
        diff = acts[0::2] - acts[1::2]
        owner = np.array(owner[0::2])
        vectors = np.stack([diff[owner == vi].mean(0) for vi in range(len(value_set))]).astype("float64")
        meta = {"model": lm.name, "model_revision": lm.revision, "layer": layer,
                "n_scenarios": int(len(owner)), "seconds": round(time.perf_counter() - start, 1)}
        return Representation(value_set.ids, vectors, meta)
