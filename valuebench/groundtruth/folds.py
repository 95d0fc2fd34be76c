"""Disjoint folds of a value's scenarios: what makes replicates share no evaluation data.

Every v3 pipeline deals each value's scenarios into k folds and gives replicate r fold r of every value,
so two replicates never score the same scenario (and, for DPO, never train on the same pairs). Folds are
seeded per value, so adding a value or a scenario to another value never reshuffles this one.
"""

from __future__ import annotations

import hashlib

import numpy as np


def fold_split(ids: list[str], k: int, seed: int, salt: str) -> list[list[str]]:
    """Deal ``ids`` into ``k`` disjoint folds of near-equal size (sizes differ by at most one), seeded by
    (seed, salt); each fold is returned sorted."""
    salt_int = int.from_bytes(hashlib.sha256(salt.encode()).digest()[:4], "little")
    order = np.random.default_rng([seed, salt_int]).permutation(len(ids))
    return [sorted(ids[i] for i in order[f::k]) for f in range(k)]


def value_folds(value_ids: list[str], scenarios, k: int, seed: int) -> dict[str, list[list[str]]]:
    """``folds[value][r]``: the scenario ids of fold r of each value."""
    return {v: fold_split(sorted(s.id for s in scenarios if s.value_id == v), k, seed, v) for v in value_ids}
