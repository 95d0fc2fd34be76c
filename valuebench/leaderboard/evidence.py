"""What the board needs beyond the score table to show the evidence: the named benchmarks, each task's facts
and matrix, and every submission's similarity matrix (for the similarity-vs-ground-truth scatter).

Written by the build next to the table, read by the app; the scatter is drawn on request from these files,
never by rescoring. Similarities are stored per value set as one float32 array ``[S, n, n]`` (``np.save``,
memory-mapped by the app, so a 10,000-entry board does not load them all) with the submission order in
``similarities/index.json``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from valuebench.io import atomic_write_bytes, atomic_write_json

SIMILARITIES = "similarities"
BENCHMARKS = "benchmarks.json"
#: methods that are the null hypothesis (badge "null" on the board), whoever submitted them
NULL_METHODS = {"random"}


def write_benchmarks(out_dir: Path, benches) -> None:
    """``benchmarks.json``: name, version, description and task names of every named benchmark, with its scored
    pairs and random vectors' 95th percentile on its mean (``validity.benchmark_null``)."""
    from valuebench.validity import benchmark_null

    atomic_write_json(Path(out_dir) / BENCHMARKS, [{**b.summary(), **benchmark_null(b.tasks)} for b in benches])


def task_facts(task) -> dict:
    """The task fields the board shows beyond its card: bound, gate verdict and reasons, axis meaning, and the
    matrix itself (value ids in order; NaN as null) for the scatter."""
    from valuebench.analysis.labels import axes, colorbar_label

    v = task.metadata.validity
    m = task.matrix
    return {"bound": task.bound, "default": task.in_default_benchmark,
            "gate": v.verdict if v else "not gated", "reasons": list(v.reasons) if v else [],
            "axes": axes(task.metadata.type), "measure": colorbar_label(task.metadata.type),
            "value_ids": task.value_set.ids,
            "matrix": [[None if not np.isfinite(x) else float(x) for x in row] for row in m]}


def write_similarities(out_dir: Path, subs) -> None:
    """One ``[S, n, n]`` float32 array per value set and the submission order of each."""
    folder = Path(out_dir) / SIMILARITIES
    folder.mkdir(parents=True, exist_ok=True)
    by_set: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    for sub in subs:
        for vs, sim in sub.similarities.items():
            names, mats = by_set.setdefault(vs, ([], []))
            names.append(sub.name)
            mats.append(np.asarray(sim, dtype=np.float32))
    for vs, (names, mats) in by_set.items():
        buf = io.BytesIO()
        np.save(buf, np.stack(mats), allow_pickle=False)
        atomic_write_bytes(folder / f"{vs}.npy", buf.getvalue())
    atomic_write_json(folder / "index.json", {vs: names for vs, (names, _) in by_set.items()})


class Similarities:
    """Read side: ``get(submission, value_set)`` -> [n, n] or None; arrays are memory-mapped on first use."""

    def __init__(self, folder: Path):
        self.folder = Path(folder) / SIMILARITIES
        index = self.folder / "index.json"
        raw = json.loads(index.read_text(encoding="utf-8")) if index.is_file() else {}
        self.position = {vs: {n: i for i, n in enumerate(names)} for vs, names in raw.items()}
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, submission: str, value_set: str) -> np.ndarray | None:
        i = self.position.get(value_set, {}).get(submission)
        if i is None:
            return None
        if value_set not in self._arrays:
            self._arrays[value_set] = np.load(self.folder / f"{value_set}.npy", mmap_mode="r", allow_pickle=False)
        return np.asarray(self._arrays[value_set][i], dtype=float)


def badge(method: str, baseline: bool) -> str:
    """'null' for the random-vector null, 'baseline' for the maintainers' reference rows, '' for entries."""
    if method in NULL_METHODS:
        return "null"
    return "baseline" if baseline else ""
