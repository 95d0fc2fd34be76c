"""``valuebench leaderboard build``: everything the app shows, computed once into ``leaderboard/data/``.

The app must answer a page load from files, never by scoring or plotting (MTEB's leaderboard users waited
20-40 s per interaction when it recomputed). So the build writes: the table (parquet), the paired bootstrap
resamples (npz, so filters can recompute ties without rescoring), task cards and heatmaps, submission
cards and MDS maps. Figures are named by a hash of what they show, so a rebuild only draws new ones.

A build is atomic as a set: everything is written into a fresh folder beside the output folder, then swapped
in by one rename (``renameat2(RENAME_EXCHANGE)`` where the kernel has it, else two renames), so the app only
ever sees one complete build; an interrupted build leaves the old one untouched and its staging folder is
removed (or swept by the next build). Figures of the previous build are carried over by hard link.

Two checks from the numbers (``leaderboard.integrity``): an entry whose ρ on a task exceeds that task's noise
bound is flagged "exceeds the noise ceiling" and left out of the ranking (``rank``/``borda_rank`` empty), and
private held-out tasks (``--private-tasks`` / ``VALUEBENCH_PRIVATE_TASKS``) are scored into
``private_mean`` without anything about them (name, card, matrix, figure) being written.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from valuebench import __version__
from valuebench.benchmarks import get_benchmark, list_benchmarks
from valuebench.errors import UserError
from valuebench.io import atomic_write_bytes, atomic_write_json, one_line
from valuebench.leaderboard import evidence, integrity
from valuebench.leaderboard.submissions import LeakRule, Submission, check_all
from valuebench.leaderboard.table import aggregate_view, build_table, score_submissions
from valuebench.tasks import Task
from valuebench.values import load_value_set

FIGURES = "figures"
PARQUET = "leaderboard.parquet"
#: what a build folder holds; an existing output folder with anything else is not replaced
BUILD_NAMES = {PARQUET, "bootstrap.npz", "tasks.json", "submissions.json", "manifest.json", FIGURES,
               evidence.BENCHMARKS, evidence.SIMILARITIES}
RANK_COLUMNS = ("rank", "borda_rank", "borda_points")


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
    from valuebench.analysis.plots import task_heatmap as draw

    rel = f"{FIGURES}/task-{task.name}-{_digest(task.metadata.ground_truth.sha256, task.bound, 'v2')}.png"
    _write_figure(out_dir, rel, lambda: draw(task))
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
            "reference": m.reference, "card": task.card_body.strip(), "heatmap": heatmap,
            **evidence.task_facts(task)}


def submission_card(name: str, sub: Submission | None, error: str | None, maps: dict[str, str]) -> dict:
    if sub is None:
        return {"name": name, "status": "invalid", "error": error, "markdown": f"**Invalid:** {error}", "maps": {}}
    m = sub.meta
    kind = {"null": "null: random vectors, what no information scores", "baseline": "baseline (maintainers' reference)",
            "": "entry"}[evidence.badge(m.method, m.baseline)]
    lines = [f"### {name}", "", m.description.strip(), "",
             "| field | value |", "|---|---|", f"| kind | {kind} |",
             f"| method | `{m.method}` |", f"| authors | {', '.join(m.authors)} |",
             f"| subject models | {', '.join(m.subject_models) or '(none)'} |",
             f"| code | {m.code or '(not given)'} |", f"| license | {m.license} |", f"| date | {m.date} |",
             f"| derived from | {'; '.join(m.derived_from)} |",
             f"| files | {', '.join(f'{k} ({v})' for k, v in sub.kinds.items())} |",
             f"| leakage flag | {sub.leakage or 'none'} |"]
    if m.method_config:
        lines.append(f"| config | `{json.dumps(m.method_config, sort_keys=True)}` |")
    return {"name": name, "status": "valid", "error": None, "markdown": "\n".join(lines), "maps": maps}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_stale(dest: Path) -> None:
    """Staging and old folders left by a build that was killed (its pid is gone)."""
    for prefix in (f".{dest.name}.build-", f".{dest.name}.old-"):
        for path in dest.parent.glob(prefix + "*"):
            pid = path.name[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)


def _check_destination(dest: Path, parquet_name: str) -> None:
    if dest.exists() and not dest.is_dir():
        raise UserError(f"output folder {dest} exists and is not a folder")
    if dest.is_dir():
        foreign = sorted(p.name for p in dest.iterdir()
                         if p.name not in BUILD_NAMES | {parquet_name} and not p.name.endswith(".parquet"))
        if foreign:
            raise UserError(f"output folder {dest} holds files a build did not write ({', '.join(foreign[:5])}); "
                            "a build replaces the whole folder, so choose an empty or new folder")


def _carry_figures(old: Path, new: Path) -> None:
    """Hard-link (else copy) the previous build's figures: their names are content hashes."""
    src = old / FIGURES
    if not src.is_dir():
        return
    (new / FIGURES).mkdir(exist_ok=True)
    for fig in src.iterdir():
        if fig.is_file() and not fig.is_symlink() and fig.suffix == ".png":
            try:
                os.link(fig, new / FIGURES / fig.name)
            except OSError:
                shutil.copy2(fig, new / FIGURES / fig.name)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with renameat2(RENAME_EXCHANGE) (Linux >= 3.15); False where unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def swap_in(staging: Path, dest: Path) -> None:
    """Make ``staging`` the folder at ``dest`` in one step; the previous build is removed afterwards."""
    if not dest.exists():
        os.rename(staging, dest)
        return
    if _exchange(staging, dest):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous build
        return
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(dest, old)
    os.rename(staging, dest)
    shutil.rmtree(old, ignore_errors=True)


def ceiling_flags(table: pd.DataFrame, tasks: list[Task], private: dict[str, list[str]] | None = None) -> list[str]:
    """Per row of ``table``: why its scores exceed a task's noise bound ('' if they do not)."""
    out = []
    limits = {t.name: integrity.threshold(t) for t in tasks}
    for _, row in table.iterrows():
        msgs = []
        if row["status"] == "valid":
            for name, limit in limits.items():
                rho = row.get(f"rho:{name}")
                if integrity.exceeds(None if pd.isna(rho) else float(rho), limit):
                    msgs.append(f"ρ = {float(rho):.3f} on {name}, above {limit:.3f}")
            msgs += (private or {}).get(row["submission"], [])
        out.append(f"{integrity.MESSAGE} ({'; '.join(msgs)})" if msgs else "")
    return out


def rerank_without_flagged(table: pd.DataFrame, boot: np.ndarray, tasks: list[Task],
                           rank_tasks: list[Task] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Ranks, Borda points and ties recomputed over the unflagged valid entries; flagged ones keep their
    scores and means but get no rank. Valid rows stay first (``boot`` rows follow them), flagged last."""
    flagged = (table["status"] == "valid") & (table["ceiling_flag"] != "")
    if not flagged.any():
        return table, boot
    table = table.copy()
    keep = table[(table["status"] == "valid") & ~flagged]
    ranked = rank_tasks or tasks
    agg = aggregate_view(keep, {t.name: t.metadata.type for t in ranked}, boot, [t.name for t in tasks])
    agg = agg.set_index("submission")
    for col in (*RANK_COLUMNS, "tied_with_leader"):
        if col in agg:
            table.loc[keep.index, col] = agg.loc[keep["submission"], col].to_numpy()
    table.loc[flagged, list(c for c in RANK_COLUMNS if c in table)] = np.nan
    table.loc[flagged, "tied_with_leader"] = False
    n_valid = int((table["status"] == "valid").sum())
    valid = table.iloc[:n_valid].assign(_flag=flagged.iloc[:n_valid].to_numpy())
    order = valid.sort_values(["_flag", "rank", "borda_rank", "submission"], na_position="last",
                              kind="stable").index.to_numpy()
    table = pd.concat([table.loc[order], table.iloc[n_valid:]]).reset_index(drop=True)
    return table, boot[order]


def score_private(subs: list[Submission], private: list[Task], **score_kw) -> tuple[dict, dict]:
    """Mean ρ over the private tasks per submission (NaN unless all are covered) and private flags."""
    if not private or not subs:
        return {}, {}
    scored = score_submissions(subs, private, **score_kw)
    rho = np.stack([scored.stats[f"rho:{t.name}"] for t in private], axis=1)  # [S, P]
    means = {s.name: float(np.mean(r)) if np.isfinite(r).all() else float("nan") for s, r in zip(subs, rho)}
    flags = {}
    for i, task in enumerate(private):
        limit = integrity.threshold(task)
        for s, r in zip(subs, rho[:, i]):
            if integrity.exceeds(float(r), limit):
                flags.setdefault(s.name, []).append(f"ρ = {r:.3f} on private task {i + 1}, above {limit:.3f}")
    return means, flags


def build(submissions_root: Path, out_dir: Path, *, figures: bool = True, n_permutations: int = 1000,
          n_bootstrap: int = 1000, seed: int = 0, private_tasks: list[Path] | None = None,
          parquet_name: str = PARQUET, progress=None) -> dict:
    """Validate, score and render everything into a fresh folder, then swap it in at ``out_dir``; returns the
    build report (what ``--format json`` prints). ``private_tasks``: folders of private task folders
    (default: ``VALUEBENCH_PRIVATE_TASKS``)."""
    t0 = time.perf_counter()
    submissions_root, out_dir = Path(submissions_root), Path(out_dir)
    if not submissions_root.is_dir():
        raise UserError(f"submissions folder not found: {submissions_root}")
    if not parquet_name.endswith(".parquet") or "/" in parquet_name:
        raise UserError(f"output table must be a .parquet file name, got {parquet_name!r}")
    _check_destination(out_dir, parquet_name)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _sweep_stale(out_dir)
    benches = list_benchmarks()
    tasks = get_benchmark("all").tasks  # every current task is scored; the table ranks the default benchmark
    private, private_errors = integrity.load_private_tasks(
        integrity.private_task_dirs() if private_tasks is None else list(private_tasks))
    staging = out_dir.with_name(f".{out_dir.name}.build-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    staging.mkdir()
    try:
        _carry_figures(out_dir, staging)
        evidence.write_benchmarks(staging, benches)
        report = _build_into(staging, submissions_root, tasks, private, private_errors, t0, figures=figures,
                             n_permutations=n_permutations, n_bootstrap=n_bootstrap, seed=seed,
                             parquet_name=parquet_name, progress=progress)
        if (staging / FIGURES).is_dir() and not any((staging / FIGURES).iterdir()):
            (staging / FIGURES).rmdir()
        swap_in(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _build_into(out_dir: Path, submissions_root: Path, tasks: list[Task], private: list[Task],
                private_errors: list[str], t0: float, *, figures: bool, n_permutations: int, n_bootstrap: int,
                seed: int, parquet_name: str, progress=None) -> dict:
    rank_tasks = [t for t in tasks if t.in_default_benchmark]
    entries = check_all(submissions_root, LeakRule.for_tasks(tasks, rank_tasks))
    t_load = time.perf_counter()
    score_kw = {"n_permutations": n_permutations, "n_bootstrap": n_bootstrap, "seed": seed}
    table, scored, boot = build_table(entries, tasks, rank_tasks, **score_kw)
    valid_subs = [sub for _, sub, _ in entries if sub is not None]
    private_means, private_flags = score_private(valid_subs, private, **score_kw)
    table["private_mean"] = table["submission"].map(private_means).astype(float) if private else np.nan
    table["ceiling_flag"] = ceiling_flags(table, tasks, private_flags)
    table, boot = rerank_without_flagged(table, boot, tasks, rank_tasks)
    t_score = time.perf_counter()
    buf = io.BytesIO()
    table.to_parquet(buf, index=False)
    atomic_write_bytes(out_dir / parquet_name, buf.getvalue())
    buf = io.BytesIO()
    np.savez_compressed(buf, boot=boot, tasks=np.array([t.name for t in tasks]),
                        submissions=np.array(list(table.loc[table["status"] == "valid", "submission"])))
    atomic_write_bytes(out_dir / "bootstrap.npz", buf.getvalue())
    evidence.write_similarities(out_dir, valid_subs)
    figure_errors = []
    with warnings.catch_warnings():  # MDS and matplotlib warn per figure: thousands of lines on a big board
        warnings.simplefilter("ignore")
        cards = [task_card(t, task_heatmap(out_dir, t) if figures else None) for t in tasks]
        atomic_write_json(out_dir / "tasks.json", cards)
        subs = []
        if figures and progress is not None:
            progress.restart(len(entries), "leaderboard build: MDS maps")
        for name, sub, err in entries:
            if figures and progress is not None:
                progress.step(name)
            maps = {}
            if sub is not None and figures:
                try:
                    maps = {vs: value_map(out_dir, name, vs, sim) for vs, sim in sub.similarities.items()}
                except Exception as exc:  # noqa: BLE001 - one bad figure never stops the build
                    figure_errors.append({"submission": name, "error": one_line(f"{type(exc).__name__}: {exc}")})
            subs.append(submission_card(name, sub, err, maps))
            if figures and progress is not None:
                progress.done()
    atomic_write_json(out_dir / "submissions.json", subs)
    t_end = time.perf_counter()
    report = {"build_id": uuid.uuid4().hex,
              "built": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "valuebench_version": __version__, "submissions_root": str(submissions_root),
              "n_submissions": len(entries), "n_valid": int((table["status"] == "valid").sum()),
              "n_flagged": int((table["ceiling_flag"] != "").sum()),
              "tasks": [t.name for t in tasks], "ranked_over": [t.name for t in rank_tasks] or "all tasks",
              "n_private_tasks": len(private),
              "private_task_errors": private_errors, "n_permutations": n_permutations,
              "n_bootstrap": n_bootstrap, "seed": seed, "figures": figures, "figure_errors": figure_errors,
              "seconds": {"validate": round(t_load - t0, 3), "score": round(t_score - t_load, 3),
                          "write_and_figures": round(t_end - t_score, 3), "total": round(t_end - t0, 3),
                          "per_task": scored.seconds},
              "invalid": [{"submission": n, "error": e} for n, s, e in entries if s is None]}
    atomic_write_json(out_dir / "manifest.json", report)
    return report
