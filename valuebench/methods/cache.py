"""On-disk cache of representations for expensive methods, keyed by (method, config, value set content).

A re-run of an LLM-based method is then a file read. The key includes a hash of the value set's
statements, so editing a statement invalidates the cache instead of silently reusing stale vectors.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from valuebench.methods.base import Method
from valuebench.paths import cache_dir
from valuebench.values import ValueSet
from valuebench.vectors import Representation, read_vectors, write_safetensors


def value_set_hash(value_set: ValueSet) -> str:
    return hashlib.sha256(value_set.model_dump_json().encode()).hexdigest()[:12]


def cache_path(method: Method, value_set: ValueSet) -> Path:
    return (cache_dir() / "representations" / method.name / method.config_hash()
            / f"{value_set.name}-{value_set_hash(value_set)}.safetensors")


def represent_cached(method: Method, value_set: ValueSet, *, use_cache: bool = True) -> Representation:
    if not (method.cacheable and use_cache):
        return method.represent(value_set)
    path = cache_path(method, value_set)
    if path.is_file():
        rep = read_vectors(path, expected_ids=value_set.ids)
        meta = rep.metadata.get("file_metadata", {})
        rep.metadata = json.loads(meta.get("method_metadata", "{}")) | {"cached": True}
        return rep
    rep = method.represent(value_set)
    write_safetensors(path, Representation(rep.value_ids, rep.vectors,
                                           {"method_metadata": json.dumps(rep.metadata, default=str)}))
    return rep
