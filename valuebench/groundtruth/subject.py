"""The subject model a pipeline's units run on, loaded once per process (the driver, or each Ray worker)."""

from __future__ import annotations

TINY = "tiny-random"
_LOADED: dict[str, object] = {}


def load_subject(model: str):
    """The subject model; ``tiny-random`` is a tiny random Llama for smoke runs and CI (not a real task)."""
    from valuebench.lm import load_lm, tiny_llama

    return tiny_llama() if model == TINY else load_lm(model)


def identity(model: str):
    """What a run records about its subject model (``name``, ``revision``, ``path``) without loading weights, for
    executors that run units elsewhere; the tiny model is built (it takes a second)."""
    from types import SimpleNamespace

    from valuebench.lm.loading import resolve_lm

    if model == TINY:
        lm = load_subject(model)
        return SimpleNamespace(name=lm.name, revision=lm.revision, path=lm.path)
    path, name, revision = resolve_lm(model)
    return SimpleNamespace(name=name, revision=revision, path=path)


def subject(model: str):
    """``load_subject`` cached per process: a worker that runs many units loads the model once."""
    if model not in _LOADED:
        _LOADED[model] = load_subject(model)
    return _LOADED[model]
