"""Surface baseline: the statement's length alone. A valid task must not be predictable from it (the gate)."""

from __future__ import annotations

import dataclasses

import numpy as np

from valuebench.methods.base import Method
from valuebench.values import ValueSet
from valuebench.vectors import Representation


@dataclasses.dataclass
class StatementLength(Method):
    name = "statement-length"
    description = ("2-d vector (1, z) with z the statement's standardized word count: cosines rank pairs by how "
                   "alike the two lengths are and by a shared length axis. Statement text only.")

    def represent(self, value_set: ValueSet) -> Representation:
        words = np.array([len(s.split()) for s in value_set.statements], dtype=float)
        z = (words - words.mean()) / (words.std() or 1.0)
        return Representation(value_set.ids, np.stack([np.ones_like(z), z], axis=1), {"words": words.tolist()})
