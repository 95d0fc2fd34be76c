"""Leaderboard at scale: build 1,000 synthetic submissions (< 30 s) and time the page in Chromium (< 2 s).

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
N_SUBMISSIONS = 1000


def _reference_seconds(subs_root: Path, n_sample: int = 20) -> float:
    """Per-submission ``score_similarity`` on a sample, scaled to all submissions and tasks."""
    from valuebench.benchmarks import get_tasks
    from valuebench.evaluate import score_similarity
    from valuebench.leaderboard.submissions import discover, load_submission

    tasks = get_tasks()
    folders = discover(subs_root)[:n_sample]
    t0 = time.perf_counter()
    for folder in folders:
        sub = load_submission(folder)
        for task in tasks:
            score_similarity(sub.similarities[task.metadata.value_set], task)
    return (time.perf_counter() - t0) * N_SUBMISSIONS / n_sample


def _browser_rows(data: Path, tmp: Path) -> list[dict]:
    from tests.helpers import browser

    if not Path(browser.CHROMIUM).exists():
        return [{"name": "page load (1,000 submissions)", "value": None, "unit": "s", "passed": None,
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
    return [{"name": "page first load (1,000 submissions)", "value": round(load_s, 3), "unit": "s",
             "target": "< 2 s", "passed": load_s < 2.0,
             "note": f"navigation until the first table row shows (second visit; very first {cold_s:.2f} s)"},
            {"name": "filter change (1,000 submissions)", "value": round(filter_s, 3), "unit": "s",
             "target": "< 2 s", "passed": filter_s < 2.0,
             "note": "tick value set constraints-9 until the table re-renders without the ccai task"}]


def run() -> list[dict]:
    from tests.helpers import synthetic

    with tempfile.TemporaryDirectory(prefix="vb-bench-board-") as tmp_name:
        tmp = Path(tmp_name)
        synthetic.write_task(tmp / "tasks")
        old = os.environ.get("VALUEBENCH_TASK_PATHS")
        os.environ["VALUEBENCH_TASK_PATHS"] = os.pathsep.join(
            [str(REPO / "tests/fixtures/tasks"), str(tmp / "tasks")])
        try:
            from valuebench.leaderboard.build import build

            synthetic.write_submissions(tmp / "subs", N_SUBMISSIONS)
            t0 = time.perf_counter()
            report = build(tmp / "subs", tmp / "data", figures=False)
            build_s = time.perf_counter() - t0
            ref_s = _reference_seconds(tmp / "subs")
            rows = [{"name": "build 1,000 submissions x 2 tasks (scores, CIs, p, ties)", "value": round(build_s, 2),
                     "unit": "s", "reference": round(ref_s, 1), "ratio": round(ref_s / build_s, 1),
                     "target": "< 30 s", "passed": build_s < 30,
                     "note": f"validate {report['seconds']['validate']} s, score {report['seconds']['score']} s; "
                             "reference = per-submission score() extrapolated from 20"}]
            rows += _browser_rows(tmp / "data", tmp)
        finally:
            os.environ.pop("VALUEBENCH_TASK_PATHS") if old is None else \
                os.environ.__setitem__("VALUEBENCH_TASK_PATHS", old)
    return rows
