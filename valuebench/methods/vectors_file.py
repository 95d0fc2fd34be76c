"""Precomputed vectors (``vectors:<path>``): how external representations enter valuebench."""

from __future__ import annotations

import dataclasses

from valuebench.io import sha256_file
from valuebench.methods.base import Method
from valuebench.values import ValueSet
from valuebench.vectors import Representation, read_vectors


@dataclasses.dataclass
class VectorsFile(Method):
    name = "vectors"
    description = "Vectors read from a safetensors, .npz, JSON or CSV file (vectors:<path>)."
    path: str = ""

    def config(self) -> dict:
        # keyed by content, so the same vectors under two paths share results
        return {"sha256": sha256_file(self.path)} if self.path else {}

    def represent(self, value_set: ValueSet) -> Representation:
        rep = read_vectors(self.path, expected_ids=value_set.ids)
        return Representation(value_set.ids, rep.aligned(value_set.ids), {"path": self.path, **rep.metadata})
