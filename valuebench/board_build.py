"""``valuebench leaderboard build``: everything the app shows, computed once into ``leaderboard/data/``.

The app must answer a page load from files, never by scoring or plotting (MTEB's leaderboard users waited
20-40 s per interaction when it recomputed). So the build writes: the table (parquet), the paired bootstrap
resamples (npz, so filters can recompute ties without rescoring), task cards and heatmaps, submission
cards and MDS maps. Figures are named by a hash of what they show, so a rebuild only draws new ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import time
from pathlib import Path

import numpy as np

from valuebench import __version__
from valuebench.board import build_table
from valuebench.io import atomic_write_bytes, atomic_write_json
from valuebench.submissions import Submission, check_all
from valuebench.tasks import Task, get_tasks
from valuebench.values import load_value_set

FIGURES = "figures"


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.tobytes() if isinstance(part, np.ndarray) else str(part).encode())
    return h.hexdigest()[:16]


def _write_figure(out_dir: Path, rel: str, draw) -> None:
    """Draw only if the file is missing (its name is a content hash); ``draw`` returns a Figure."""
    path = out_dir / rel
    if path.is_file():
        return
    from valuebench.analysis.figures import figure_png

    atomic_write_bytes(path, figure_png(draw()))


def task_heatmap(out_dir: Path, task: Task) -> str:
    from valuebench.analysis.figures import heatmap_figure

    rel = f"{FIGURES}/task-{task.name}-{_digest(task.metadata.ground_truth.sha256, task.ceiling)}.png"
    _write_figure(out_dir, rel, lambda: heatmap_figure(
        task.matrix, task.value_set.ids, title=f"{task.name}: ground truth M[i, j]", ceiling=task.ceiling,
        colorbar_label="generalization M[i, j]"))
    return rel


def value_map(out_dir: Path, name: str, value_set: str, similarity: np.ndarray) -> str:
    """MDS map of one submission's similarities on one value set, values coloured by their first label."""
    vs = load_value_set(value_set)
    label_key = next(iter(vs.labels), None)
    labels = vs.label_vector(label_key) if label_key else None
    rel = f"{FIGURES}/map-{_digest(value_set, similarity, label_key)}.png"

    def draw():
        from valuebench.analysis.figures import value_map_figure
        from valuebench.analysis.mds import mds_coordinates

        coords, stress = mds_coordinates(similarity, seed=0)
        return value_map_figure(coords, vs.ids, labels, title=f"{name} on {value_set}", stress=stress,
                                label_name=label_key)

    _write_figure(out_dir, rel, draw)
    return rel


def task_card(task: Task, heatmap: str | None) -> dict:
    m = task.metadata
    return {"name": m.name, "pretty_name": m.pretty_name or m.name, "version": m.version, "type": m.type,
            "value_set": m.value_set, "n_values": len(task.value_set), "model": m.model.name,
            "model_revision": m.model.revision, "ceiling": task.ceiling, "ceiling_method": m.noise_ceiling.method,
            "pairs": m.pairs, "license": m.license, "description": m.description.strip(),
            "reference": m.reference, "card": task.card_body.strip(), "heatmap": heatmap}


def submission_card(name: str, sub: Submission | None, error: str | None, maps: dict[str, str]) -> dict:
    if sub is None:
        return {"name": name, "status": "invalid", "error": error, "markdown": f"**Invalid:** {error}", "maps": {}}
    m = sub.meta
    lines = [f"### {name}", "", m.description.strip(), "",
             "| field | value |", "|---|---|",
             f"| method | `{m.method}` |", f"| authors | {', '.join(m.authors)} |",
             f"| subject models | {', '.join(m.subject_models) or '(none)'} |",
             f"| code | {m.code or '(not given)'} |", f"| license | {m.license} |", f"| date | {m.date} |",
             f"| derived from | {'; '.join(m.derived_from)} |",
             f"| files | {', '.join(f'{k} ({v})' for k, v in sub.kinds.items())} |",
             f"| leakage flag | {sub.leakage or 'none'} |"]
    if m.method_config:
        lines.append(f"| config | `{json.dumps(m.method_config, sort_keys=True)}` |")
    return {"name": name, "status": "valid", "error": None, "markdown": "\n".join(lines), "maps": maps}


def build(submissions_root: Path, out_dir: Path, *, figures: bool = True, n_permutations: int = 1000,
          n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Validate, score and render everything; returns the build report (what ``--format json`` prints)."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    tasks = get_tasks()
    entries = check_all(Path(submissions_root), [t.name for t in tasks])
    t_load = time.perf_counter()
    table, scored, boot = build_table(entries, tasks, n_permutations=n_permutations, n_bootstrap=n_bootstrap,
                                      seed=seed)
    t_score = time.perf_counter()
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    atomic_write_bytes(out_dir / "leaderboard.parquet", buf.getvalue())
    buf = io.BytesIO()
    np.savez_compressed(buf, boot=boot, tasks=np.array([t.name for t in tasks]),
                        submissions=np.array(list(table.loc[table["status"] == "valid", "submission"])))
    atomic_write_bytes(out_dir / "bootstrap.npz", buf.getvalue())
    cards = [task_card(t, task_heatmap(out_dir, t) if figures else None) for t in tasks]
    atomic_write_json(out_dir / "tasks.json", cards)
    subs = []
    for name, sub, err in entries:
        maps = {vs: value_map(out_dir, name, vs, sim) for vs, sim in sub.similarities.items()} \
            if (sub is not None and figures) else {}
        subs.append(submission_card(name, sub, err, maps))
    atomic_write_json(out_dir / "submissions.json", subs)
    t_end = time.perf_counter()
    report = {"built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "valuebench_version": __version__, "submissions_root": str(submissions_root),
              "n_submissions": len(entries), "n_valid": int((table["status"] == "valid").sum()),
              "tasks": [t.name for t in tasks], "n_permutations": n_permutations, "n_bootstrap": n_bootstrap,
              "seed": seed, "figures": figures,
              "seconds": {"validate": round(t_load - t0, 3), "score": round(t_score - t_load, 3),
                          "write_and_figures": round(t_end - t_score, 3), "total": round(t_end - t0, 3),
                          "per_task": scored.seconds},
              "invalid": [{"submission": n, "error": e} for n, s, e in entries if s is None]}
    atomic_write_json(out_dir / "manifest.json", report)
    return report
