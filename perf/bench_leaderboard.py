"""Leaderboard at scale: build 1,000 and 10,000 synthetic submissions (< 30 s with the full statistics) and time the
page in Chromium (first load and a filter change < 1 s each).

The build rescored everything with the full statistics (1,000 permutations, 1,000 bootstrap resamples per
(submission, task)); the reference is the per-submission ``scoring.score`` path measured on a sample in
the same run, extrapolated to the same workload, so the ratio shows what vectorising across submissions buys.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = (1000, 10000)
TARGET_S = 1.0


def _reference_seconds(subs_root: Path, n: int, n_sample: int = 20) -> float:
    """Per-submission ``score_similarity`` on a sample, scaled to all submissions and tasks."""
    from valuebench.benchmarks import get_tasks
    from valuebench.evaluate import score_similarity
    from valuebench.leaderboard.submissions import discover, load_submission

    tasks = get_tasks(["all"])
    folders = discover(subs_root)[:n_sample]
    t0 = time.perf_counter()
    for folder in folders:
        sub = load_submission(folder)
        for task in tasks:
            score_similarity(sub.similarities[task.metadata.value_set], task)
    return (time.perf_counter() - t0) * n / n_sample


def _browser_rows(data: Path, tmp: Path, n: int) -> list[dict]:
    from tests.helpers import browser

    if not Path(browser.CHROMIUM).exists():
        return [{"name": f"page load ({n:,} submissions)", "value": None, "unit": "s", "passed": None,
                 "note": f"skipped: {browser.CHROMIUM} not installed"}]
    from playwright.sync_api import sync_playwright

    with browser.serve(data, tmp / "pending", tmp / "app.log") as (url, _):
        with sync_playwright() as p:
            chromium = browser.launch(p)
            page = chromium.new_page(viewport={"width": 1440, "height": 1000})
            cold_s = browser.first_load(page, url)  # the very first visit also warms Gradio's caches
            load_s = browser.first_load(page, url)
            filter_s = browser.filter_change(page, "constraints-9", "ρ synthetic-ccai")
            chromium.close()
    return [{"name": f"page first load ({n:,} submissions)", "value": round(load_s, 3), "unit": "s",
             "target": f"< {TARGET_S:g} s", "passed": load_s < TARGET_S,
             "note": f"navigation until the first table row shows (second visit; very first {cold_s:.2f} s)"},
            {"name": f"filter change ({n:,} submissions)", "value": round(filter_s, 3), "unit": "s",
             "target": f"< {TARGET_S:g} s", "passed": filter_s < TARGET_S,
             "note": "tick value set constraints-9 until the table re-renders without the ccai task"}]


def _build_rows(tmp: Path, n: int) -> list[dict]:
    from tests.helpers import synthetic
    from valuebench.leaderboard.build import build

    synthetic.write_submissions(tmp / "subs", n)
    t0 = time.perf_counter()
    report = build(tmp / "subs", tmp / "data", figures=False)
    build_s = time.perf_counter() - t0
    ref_s = _reference_seconds(tmp / "subs", n)
    return [{"name": f"build {n:,} submissions x {len(report['tasks'])} tasks (scores, CIs, p, ties)",
             "value": round(build_s, 2), "unit": "s", "reference": round(ref_s, 1), "ratio": round(ref_s / build_s, 1),
             "target": "< 30 s", "passed": build_s < 30,
             "note": f"validate {report['seconds']['validate']} s, score {report['seconds']['score']} s, write "
                     f"{report['seconds']['write_and_figures']} s; reference = per-submission score() extrapolated "
                     "from 20"}]


def run() -> list[dict]:
    """Every build first (a build forks readers only from a single-threaded process; the browser driver leaves
    threads behind), then the page timings over the built boards."""
    from tests.helpers import synthetic

    builds, pages = [], []
    with tempfile.TemporaryDirectory(prefix="vb-bench-board-") as tmp_name:
        tmp = Path(tmp_name)
        synthetic.write_task(tmp / "tasks")
        env = {"VALUEBENCH_TASK_PATHS": os.pathsep.join([str(REPO / "tests/fixtures/tasks"), str(tmp / "tasks")]),
               "VALUEBENCH_TASKS_DIR": str(synthetic.isolated_root(tmp, REPO))}  # fixture + synthetic task only
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            for n in SIZES:
                builds += _build_rows(tmp / str(n), n)
            for n in SIZES:
                pages += _browser_rows(tmp / str(n) / "data", tmp / str(n), n)
        finally:
            for k, v in old.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return builds + pages
