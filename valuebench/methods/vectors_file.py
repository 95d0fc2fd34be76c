"""Precomputed vectors (``vectors:<path>``): how external representations enter valuebench.

``<path>`` is one vectors file (used for whichever value set it covers), or a folder holding one file per value
set named ``<value_set>.<ext>`` (a submission folder), so ``vectors:submissions/persona-vector`` scores a
submitted method on every task it covers.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from valuebench.errors import UserError
from valuebench.io import sha256_file
from valuebench.methods.base import Method
from valuebench.values import ValueSet
from valuebench.vectors import FORMATS, Representation, read_vectors


@dataclasses.dataclass
class VectorsFile(Method):
    name = "vectors"
    description = "Vectors read from a safetensors, .npz, JSON or CSV file, or a folder of <value_set>.<ext> files."
    path: str = ""

    def files(self) -> list[Path]:
        p = Path(self.path)
        return sorted(f for f in p.iterdir() if f.suffix in FORMATS) if p.is_dir() else [p]

    def config(self) -> dict:
        # keyed by content, so the same vectors under two paths share results
        if not self.path:
            return {}
        if Path(self.path).is_dir():
            return {"sha256": {f.name: sha256_file(f) for f in self.files()}}
        return {"sha256": sha256_file(self.path)}

    def file_for(self, value_set: ValueSet) -> Path:
        p = Path(self.path)
        if not p.is_dir():
            return p
        found = [p / f"{value_set.name}{ext}" for ext in FORMATS if (p / f"{value_set.name}{ext}").is_file()]
        if not found:
            raise UserError(f"{p}: no vectors for value set {value_set.name} (expected {value_set.name}"
                            f"{{{','.join(FORMATS)}}})")
        return found[0]

    def represent(self, value_set: ValueSet) -> Representation:
        path = self.file_for(value_set)
        rep = read_vectors(path, expected_ids=value_set.ids)
        return Representation(value_set.ids, rep.aligned(value_set.ids), {"path": str(path), **rep.metadata})
