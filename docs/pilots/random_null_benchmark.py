"""Random vectors' null on a named benchmark's mean ρ (issue 13, item 6: its 95th percentile should be < 0.1).

A random method draws one set of vectors per value set and is scored on every task of that value set, so
tasks that share a value set share the draw here too. Usage: python docs/pilots/random_null_benchmark.py [NAME]
"""

import sys

import numpy as np

from valuebench.benchmarks import get_benchmark
from valuebench.scoring import observed_spearman, pair_mask

DRAWS, DIM = 2000, 256
tasks = get_benchmark(sys.argv[1] if len(sys.argv) > 1 else "default").tasks
rng = np.random.default_rng(0)
sims = {}
for name in sorted({t.value_set.name for t in tasks}):
    n = len(next(t for t in tasks if t.value_set.name == name).value_set.ids)
    v = rng.standard_normal((DRAWS, n, DIM))
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    sims[name] = v @ v.transpose(0, 2, 1)
per, pairs = [], 0
for t in tasks:
    valid = pair_mask(len(t.value_set.ids), t.metadata.pairs) & ~np.isnan(t.matrix)
    per.append(observed_spearman(sims[t.value_set.name], t.matrix, valid))
    pairs += int(valid.sum())
    print(f"{t.name}: {int(valid.sum())} pairs; random p95 {np.quantile(per[-1], 0.95):.3f}")
print(f"benchmark mean over {len(tasks)} tasks, {pairs} pairs: random p95 {np.quantile(np.mean(per, 0), 0.95):.3f}")
