"""Performance benchmarks (``make bench``): each ``bench_*.py`` module exposes ``run() -> list[dict]``.

A row is ``{"name", "value", "unit", "reference", "ratio", "target", "passed", "note"}``: requirements are
stated as ratios against a reference measured in the same run (never as absolute timings in unit tests).
"""
