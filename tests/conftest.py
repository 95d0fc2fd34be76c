"""Test-wide setup: no network, the fixture task registered, caches in a temp folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

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
