"""Scoring a vectors file on every registered task: vectorized scorer vs a plain per-permutation loop."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

N_PERM = 1000
N_BOOT = 1000


def _loop_reference(similarity, truth, mask, seed=0):
    """The straightforward implementation: one scipy call per permutation and per bootstrap sample."""
    rng = np.random.default_rng(seed)
    n = len(truth)
    valid = mask & ~np.isnan(truth)
    null = []
    for _ in range(N_PERM):
        p = rng.permutation(n)
        null.append(stats.spearmanr(similarity[np.ix_(p, p)][valid], truth[valid]).statistic)
    boot = []
    for _ in range(N_BOOT):
        idx = rng.integers(0, n, n)
        s, m = similarity[np.ix_(idx, idx)], truth[np.ix_(idx, idx)]
        keep = mask & (idx[:, None] != idx[None, :]) & ~np.isnan(m)
        boot.append(stats.spearmanr(s[keep], m[keep]).statistic)
    return null, boot


def run() -> list[dict]:
    from valuebench.benchmarks import get_tasks
    from valuebench.evaluate import evaluate
    from valuebench.methods import get_method
    from valuebench.scoring import pair_mask
    from valuebench.vectors import cosine_similarity

    if not get_tasks():  # before real tasks exist, measure on the test fixture
        os.environ["VALUEBENCH_TASK_PATHS"] = str(Path(__file__).parent.parent / "tests" / "fixtures" / "tasks")
    tasks = get_tasks()
    method = get_method("random")
    with tempfile.TemporaryDirectory() as tmp:  # a real vectors file, as a submitter would give
        from valuebench.vectors import write_safetensors
        paths = {}
        for t in tasks:
            vs = t.value_set
            path = Path(tmp) / f"{vs.name}.safetensors"
            write_safetensors(path, method.represent(vs))
            paths[vs.name] = path
        for t in tasks:  # warm caches (imports, matrix reads) outside the timing
            t.matrix
        start = time.perf_counter()
        for vs_name, path in paths.items():
            here = [t for t in tasks if t.metadata.value_set == vs_name]
            evaluate(get_method(f"vectors:{path}"), here, n_permutations=N_PERM, n_bootstrap=N_BOOT)
        fast = time.perf_counter() - start
    start = time.perf_counter()
    for t in tasks:
        sim = cosine_similarity(method.represent(t.value_set).vectors)
        _loop_reference(sim, t.matrix, pair_mask(len(sim), t.metadata.pairs))
    slow = time.perf_counter() - start
    names = ", ".join(t.name for t in tasks)
    return [
        {"name": f"score vectors file on {len(tasks)} tasks (1000 perm + 1000 boot each)", "value": round(fast, 3),
         "unit": "s", "reference": round(slow, 3), "ratio": round(slow / fast, 1), "target": "< 1 s",
         "passed": fast < 1.0, "note": names},
    ]
