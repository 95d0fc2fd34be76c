"""Random baseline: the score any method must beat (its expected rho is 0)."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from valuebench.methods.base import Method
from valuebench.values import ValueSet
from valuebench.vectors import Representation


@dataclasses.dataclass
class RandomVectors(Method):
    name = "random"
    description = "Gaussian vectors seeded by (seed, value id): deterministic, independent of value order."
    seed: int = 0
    dim: int = 256

    def represent(self, value_set: ValueSet) -> Representation:
        rows = []
        for value_id in value_set.ids:
            digest = hashlib.sha256(f"{self.seed}:{value_id}".encode()).digest()
            rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
            rows.append(rng.standard_normal(self.dim))
        return Representation(value_set.ids, np.stack(rows), {"seed": self.seed})
