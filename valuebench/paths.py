"""Where the shipped data lives, with environment overrides for tests and installed copies."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def tasks_dir() -> Path:
    """Root of value sets, scenarios and task cards (``VALUEBENCH_TASKS_DIR`` overrides)."""
    return Path(os.environ.get("VALUEBENCH_TASKS_DIR", REPO_ROOT / "tasks"))


def extra_task_dirs() -> list[Path]:
    """Additional folders holding task cards, ``os.pathsep``-separated in ``VALUEBENCH_TASK_PATHS``."""
    raw = os.environ.get("VALUEBENCH_TASK_PATHS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p]


def cache_dir() -> Path:
    """User cache for converted models and computed representations (``VALUEBENCH_CACHE`` overrides)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "valuebench"
    return Path(os.environ.get("VALUEBENCH_CACHE", default))
