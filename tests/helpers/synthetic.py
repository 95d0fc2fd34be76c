"""Synthetic data for load tests: many submissions and an extra task, written like real ones.

Used by the browser test and ``perf/bench_leaderboard.py`` (1,000 submissions). Everything goes
through the same files and validators as real submissions, so the build does its real work.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from valuebench.values import load_value_set

CARD = """---
name: {name}
version: 1.0.0
type: prompt-steering
value_set: {value_set}
model:
  name: synthetic-steering
  revision: none
description: Synthetic load-test task (random block structure plus noise). Not ground truth.
license: CC0-1.0
noise_ceiling:
  value: 0.7
  method: fixed by construction (synthetic)
provenance:
  pipeline: synthetic
  date: 2026-11-23
ground_truth:
  path: matrix.csv
  sha256: {sha}
---

# {name}

A synthetic task for load tests of the leaderboard. It is not ground truth.
"""


def write_task(root: Path, name: str = "synthetic-ccai", value_set: str = "ccai-21", seed: int = 0) -> Path:
    """A task folder (card + matrix) over ``value_set``; add ``root`` to VALUEBENCH_TASK_PATHS to use it."""
    ids = load_value_set(value_set).ids
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, len(ids))
    m = np.where(group[:, None] == group[None, :], 0.5, 0.1) + 0.15 * rng.standard_normal((len(ids), len(ids)))
    np.fill_diagonal(m, np.nan)
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(m, index=ids, columns=ids).to_csv(folder / "matrix.csv")
    sha = hashlib.sha256((folder / "matrix.csv").read_bytes()).hexdigest()
    (folder / "README.md").write_text(CARD.format(name=name, value_set=value_set, sha=sha), encoding="utf-8")
    return folder


def write_submissions(root: Path, count: int, value_sets=("constraints-9", "ccai-21"), seed: int = 0,
                      dim: int = 16) -> list[Path]:
    """``count`` valid submissions with random vectors (every 10th flagged for leakage)."""
    rng = np.random.default_rng(seed)
    sets = {vs: load_value_set(vs).ids for vs in value_sets}
    out = []
    for k in range(count):
        folder = Path(root) / f"synthetic-{k:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        seen = "tasks/scenarios/ccai-21 holdout split" if k % 10 == 9 else "value statements"
        (folder / "meta.yaml").write_text(
            f"name: {folder.name}\nmethod: synthetic-{k % 7}\ndescription: random vectors for load tests\n"
            f"authors: [load test]\nsubject_models: [model-{k % 3}]\nlicense: CC0-1.0\ndate: 2026-11-23\n"
            f"derived_from: ['{seen}']\n", encoding="utf-8")
        for vs, ids in sets.items():
            np.savez(folder / f"{vs}.npz", vectors=rng.standard_normal((len(ids), dim)), value_ids=np.array(ids))
        out.append(folder)
    return out


def isolated_root(tmp: Path, repo: Path) -> Path:
    """A tasks root with the shipped value sets and scenarios but none of the shipped tasks (load tests score the
    synthetic task and the fixture only, so their numbers do not move when real tasks are added)."""
    root = Path(tmp) / "tasks-root"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("value_sets", "scenarios"):
        link = root / name
        if not link.exists():
            link.symlink_to(Path(repo) / "tasks" / name, target_is_directory=True)
    return root
