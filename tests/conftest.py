"""Test-wide setup: no network, the fixture task registered, caches in a temp folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each xdist worker gets one core's worth of threads. Two workers with the default 2 OpenMP threads each
    # on this 2-core CI machine spin against each other: small-op work (token-by-token generation) was
    # measured 12x slower under such contention than alone.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        os.environ.setdefault(var, str(max(1, (os.cpu_count() or 2) // workers)))

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def _fixture_tasks(monkeypatch):
    """Every test sees the shipped tasks plus the synthetic fixture task."""
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", str(FIXTURES / "tasks"))


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUEBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def isolated_tasks_root(tmp: Path) -> Path:
    """A tasks root with the shipped value sets and scenarios but none of the shipped tasks, for tests
    whose expectations assume the fixture task is the only constraints-9 task."""
    root = Path(tmp) / "tasks-root"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("value_sets", "scenarios"):
        link = root / name
        if not link.exists():
            link.symlink_to(REPO / "tasks" / name, target_is_directory=True)
    return root


@pytest.fixture
def fixture_tasks_only(tmp_path, monkeypatch):
    monkeypatch.setenv("VALUEBENCH_TASKS_DIR", str(isolated_tasks_root(tmp_path)))
