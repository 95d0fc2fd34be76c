"""The one protocol every method implements, and a cache for the expensive ones.

A method is a small dataclass: its fields are its configuration (what the results path hashes), and
``represent(value_set)`` maps every value to a vector. That is the whole contract, in the spirit of
scikit-learn's estimators: options in the constructor, work in one method, no hidden state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import ClassVar

from valuebench.values import ValueSet
from valuebench.vectors import Representation


@dataclasses.dataclass
class Method:
    """Base class: subclasses are dataclasses whose fields are their options."""

    name: ClassVar[str]
    description: ClassVar[str]
    needs_llm: ClassVar[bool] = False
    #: expensive methods are cached on disk per (method, config, value set)
    cacheable: ClassVar[bool] = False

    def represent(self, value_set: ValueSet) -> Representation:  # pragma: no cover - protocol
        raise NotImplementedError

    def config(self) -> dict:
        """Options that change the vectors (what results and caches are keyed by)."""
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        blob = json.dumps({"method": self.name, "config": self.config()}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]
