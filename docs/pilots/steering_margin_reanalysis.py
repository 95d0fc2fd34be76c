"""Re-analysis of the prompt-steering work units (issue 13): independent ceilings of the margin shift, raw and
with row / column / both main effects removed, and the surface baselines on each.

Run from the repo root: `.venv/bin/python docs/pilots/steering_margin_reanalysis.py constraints-9` (the numbers are
in the steering cards' recipe history).
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from valuebench.scoring import score
from valuebench.values import load_value_set
from valuebench.vectors import cosine_similarity, read_vectors

BASELINES = ["random", "statement-length", "surface", "tfidf", "sentence-embedding"]


def shifts(vs_name: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Per measured value j: [condition i, scenario] margin shifts against the neutral prompt."""
    work = Path(f"tasks/.work/prompt-steering-smollm2-135m-{vs_name}")
    ids = load_value_set(vs_name).ids
    units = {p.stem.removeprefix("steer-"): json.loads(p.read_text())["margins"] for p in work.glob("steer-*.json")}
    neutral = units["neutral"]
    scen = {j: sorted(s for s in neutral if s.rsplit("-", 1)[0] == j) for j in ids}
    return ids, {j: np.array([[units[i][s] - neutral[s] for s in scen[j]] for i in ids]) for j in ids}


def matrix(ids, sh, sel) -> np.ndarray:
    return np.column_stack([sh[j][:, sel[j]].mean(1) for j in ids])


def transform(d: np.ndarray, how: str) -> np.ndarray:
    d = d.copy()
    np.fill_diagonal(d, np.nan)
    for _ in range(20 if how == "double" else 1):
        if how in ("col", "double"):
            d = d - np.nanmean(d, 0, keepdims=True)
        if how in ("row", "double"):
            d = d - np.nanmean(d, 1, keepdims=True)
    return d


def main(vs_name: str) -> None:
    ids, sh = shifts(vs_name)
    n = len(ids)
    off = ~np.eye(n, dtype=bool)
    rng = np.random.default_rng(0)
    for how in ["raw", "col", "row", "double"]:
        rs = []
        for _ in range(100):
            perm = {j: rng.permutation(sh[j].shape[1]) for j in ids}
            a = {j: p[: len(p) // 2] for j, p in perm.items()}
            b = {j: p[len(p) // 2: 2 * (len(p) // 2)] for j, p in perm.items()}
            ma, mb = (transform(matrix(ids, sh, h), how) for h in (a, b))
            rs.append(spearmanr(ma[off], mb[off]).statistic)
        truth = transform(matrix(ids, sh, {j: np.arange(sh[j].shape[1]) for j in ids}), how)
        line = f"{vs_name} {how:7s} independent ceiling {np.mean(rs):.3f} sd {np.std(rs):.3f} |"
        for m in BASELINES:
            rep = read_vectors(Path(f"submissions/{m}/{vs_name}.safetensors"), ids)
            sc = score(cosine_similarity(rep.aligned(ids)), truth, n_permutations=1000)
            line += f" {m} {sc.spearman:.2f} p{sc.p_value:.3f};"
        print(line, flush=True)
    own = np.array([sh[j][c].mean() for c, j in enumerate(ids)])
    se = np.array([sh[j][c].std(ddof=1) / np.sqrt(sh[j].shape[1]) for c, j in enumerate(ids)])
    print("own shift", np.round(own, 3), "z", np.round(own / se, 1))


if __name__ == "__main__":
    main(sys.argv[1])
