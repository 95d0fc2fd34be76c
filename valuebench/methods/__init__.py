"""Method registry: built-in methods, ``vectors:<path>`` files, and third-party entry points.

Third-party packages register a method class under the entry-point group ``valuebench.methods``::

    [project.entry-points."valuebench.methods"]
    my-method = "my_package.module:MyMethod"
"""

from __future__ import annotations

import dataclasses
import importlib
from importlib.metadata import entry_points

from valuebench.errors import UserError, did_you_mean
from valuebench.methods.base import Method

#: built-in methods, name -> "module:Class"; modules are imported only when the method is used
BUILTIN = {
    "random": "valuebench.methods.random_vectors:RandomVectors",
    "tfidf": "valuebench.methods.tfidf:TfidfStatements",
    "statement-length": "valuebench.methods.statement_length:StatementLength",
    "surface": "valuebench.methods.surface:SurfaceFeatures",
    "sentence-embedding": "valuebench.methods.sentence_embedding:SentenceEmbedding",
    "persona-vector": "valuebench.methods.persona_vector:PersonaVector",
    "persona-vector-conflict": "valuebench.methods.persona_vector_conflict:PersonaVectorConflict",
    "activation-diff": "valuebench.methods.activation_diff:ActivationDiff",
    "reply-diff": "valuebench.methods.reply_diff:ReplyDiff",
}

#: baselines every task is checked against (the validity gate runs random, statement-length and surface)
BASELINES = ("random", "tfidf", "sentence-embedding", "statement-length", "surface")

_extra: dict[str, str] = {}


def _shadow_error(name: str, where: str) -> UserError:
    kind = "baseline" if name in BASELINES else "method"
    return UserError(f"method name {name!r} ({where}) shadows the built-in {kind} {name!r}; a built-in name always "
                     "means the built-in method (scores, results files and the validity gate rely on it): rename it")


def register(name: str, target: str) -> None:
    """Register a method class by import path (used by optional built-ins and tests)."""
    if name in BUILTIN and BUILTIN[name] != target:
        raise _shadow_error(name, target)
    _extra[name] = target


def _entry_point_targets() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="valuebench.methods")}


def available() -> dict[str, str]:
    plugins = {**_extra, **_entry_point_targets()}
    for name, target in plugins.items():
        if name in BUILTIN and BUILTIN[name] != target:
            raise _shadow_error(name, f"entry point {target}")
    return {**BUILTIN, **plugins}


def method_class(name: str) -> type[Method]:
    targets = available()
    if name not in targets:
        raise did_you_mean("method", name, list(targets) + ["vectors:<path>"])
    module_name, _, attr = targets[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise UserError(f"method {name!r} ({targets[name]}) does not subclass valuebench.methods.base.Method")
    own = getattr(cls, "name", name)
    if own != name and own in BUILTIN and BUILTIN[own] != targets[name]:
        raise _shadow_error(own, f"the class behind {name!r}, {targets[name]}")
    return cls


def get_method(name: str, **options) -> Method:
    """Instantiate a method by name; ``vectors:<path>`` wraps a precomputed vectors file."""
    if name.startswith("vectors:"):
        from valuebench.methods.vectors_file import VectorsFile

        return VectorsFile(path=name.split(":", 1)[1])
    cls = method_class(name)
    allowed = cls.option_names()
    unknown = [k for k in options if k not in allowed]
    if unknown:
        listed = ", ".join(allowed) or "(none)"
        raise UserError(f"method {name!r} has no option {unknown[0]!r}; its options: {listed}")
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise UserError(f"method {name!r}: bad options ({exc})") from None


def describe_all() -> list[dict]:
    rows = []
    for name in sorted(available()):
        cls = method_class(name)
        rows.append({"name": name, "description": cls.description, "needs_llm": cls.needs_llm,
                     "options": [f.name for f in dataclasses.fields(cls)]})
    return rows
