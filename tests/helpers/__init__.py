"""Helpers shared by the tests and ``perf/`` (import as ``tests.helpers``; the repo root is on the path)."""
