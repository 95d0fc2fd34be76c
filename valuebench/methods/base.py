"""The one protocol every method implements, and a cache for the expensive ones.

A method is a small dataclass: its fields are its configuration (what the results path hashes), and
``represent(value_set)`` maps every value to a vector. That is the whole contract, in the spirit of
scikit-learn's estimators: options in the constructor, work in one method, no hidden state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from typing import Any, ClassVar

from valuebench.errors import UserError
from valuebench.values import ValueSet
from valuebench.vectors import MAX_DIM, Representation

#: Documented ranges of method options, by field name (inclusive). A field can declare its own with
#: ``dataclasses.field(metadata={"range": (lo, hi)})``. Every option is also checked against its type
#: annotation (``int`` refuses 1.5, "abc" and booleans; ``bool`` refuses "maybe"; floats must be finite),
#: so a bad ``--option`` ends in one line and exit 2 before any work, never in a traceback or a
#: billion-element allocation.
OPTION_RANGES: dict[str, tuple[float, float]] = {
    "seed": (0, 2**63 - 1),
    "dim": (1, MAX_DIM),
    "ngram_max": (1, 5),
    "batch_size": (1, 4096),
    "layer": (-1024, 1024),
    "sweep_layers": (-1024, 1024),
    "n_scenarios": (1, 100_000),
    "n_sweep_scenarios": (1, 100_000),
    "n_questions": (1, 100_000),
    "n_instructions": (1, 1_000),
    "n_samples": (1, 1_000),
    "max_new_tokens": (1, 8_192),
    "temperature": (0.01, 100.0),
    "steer_coeff": (-1_000.0, 1_000.0),
}
#: any other integer option, and any string option's length
DEFAULT_INT_RANGE = (-(2**63), 2**63 - 1)
MAX_STR_OPTION = 4_096
MAX_LIST_OPTION = 1_024


def _describe(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def check_option(method: str, name: str, value: Any, tp: Any, bounds: tuple[float, float] | None) -> Any:
    """``value`` checked against annotation ``tp`` and ``bounds``; returns it (ints given to a float field
    become floats, so 1 and 1.0 hash to the same config). Raises one ``UserError``."""
    where = f"method {method!r}: option {name}"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return check_option(method, name, value, arg, bounds)
            except UserError as exc:
                errors.append(exc)
        raise errors[0] if len(errors) == 1 else UserError(
            f"{where} must be {' or '.join(_describe(a) for a in args)}, got {value!r:.60}")
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list) or len(value) > MAX_LIST_OPTION:
            raise UserError(f"{where} must be a list of at most {MAX_LIST_OPTION} {_describe(item)}, got {value!r:.60}")
        return [check_option(method, name, v, item, bounds) for v in value]
    if tp is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where} must be true or false, got {value!r:.60}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where} must be an integer, got {value!r:.60}")
        lo, hi = bounds or DEFAULT_INT_RANGE
        if not lo <= value <= hi:
            raise UserError(f"{where} must be between {lo} and {hi}, got {value}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{where} must be a number, got {value!r:.60}")
        value = float(value)
        if not math.isfinite(value):
            raise UserError(f"{where} must be a finite number, got {value}")
        if bounds and not bounds[0] <= value <= bounds[1]:
            raise UserError(f"{where} must be between {bounds[0]} and {bounds[1]}, got {value}")
        return value
    if tp is str:
        if not isinstance(value, str) or len(value) > MAX_STR_OPTION or "\x00" in value:
            raise UserError(f"{where} must be a string of at most {MAX_STR_OPTION} characters, got {value!r:.60}")
        return value
    return value  # an annotation this checker does not know: the method checks it itself


@dataclasses.dataclass
class Method:
    """Base class: subclasses are dataclasses whose fields are their options."""

    name: ClassVar[str]
    description: ClassVar[str]
    needs_llm: ClassVar[bool] = False
    #: expensive methods are cached on disk per (method, config, value set)
    cacheable: ClassVar[bool] = False

    def __post_init__(self) -> None:
        """Every option checked against its field's type and documented range (``OPTION_RANGES``)."""
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            bounds = f.metadata.get("range", OPTION_RANGES.get(f.name))
            value = check_option(getattr(self, "name", type(self).__name__), f.name, getattr(self, f.name),
                                 hints.get(f.name, Any), bounds)
            object.__setattr__(self, f.name, value)

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
