"""Helpers shared by the tests and ``benchmarks/`` (import as ``tests.helpers``; the repo root is on the path)."""
