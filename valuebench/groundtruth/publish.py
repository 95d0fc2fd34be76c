"""Write a task folder: matrix CSVs, sha256s and the card (YAML front matter + markdown body).

Everything is written to a temporary sibling folder first and renamed into place, so an interrupted
write never leaves a half-made task that the registry would pick up. A task with replicates goes through the
validity gate (``valuebench.validity.gate``) before it is published: its ceilings and the verdict are written
into the card, and the verdict decides whether it is in the default benchmark. ``rewrite_card`` re-runs the
gate on a published task and rewrites only its card (``valuebench task gate NAME --write``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml

from valuebench.errors import UserError
from valuebench.groundtruth.matrix import matrix_frame
from valuebench.io import atomic_write_text, sha256_file, split_front_matter
from valuebench.tasks import Task, TaskMetadata, load_task_card


def _dump(front: dict, body: str) -> str:
    return f"---\n{yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=110)}---\n\n{body.strip()}\n"


#: the Hub's task category for a matrix that scores similarities (huggingface.js ``pipelines.ts``), and its size
HUB_TASK_CATEGORIES = ["sentence-similarity"]
HUB_SIZE_CATEGORIES = ["n<1K"]
HUB_SPLIT = "test"  # a benchmark's ground truth is evaluation data only


def hub_configs(matrix: str, replicates: list[str], companions: list[str]) -> list[dict]:
    """One Hub dataset config per CSV (``default`` is the matrix), each with one ``test`` split, so
    ``datasets.load_dataset(repo, name)`` loads each matrix as itself instead of concatenating them."""
    files = [("default", matrix), *((Path(f).stem, f) for f in [*replicates, *companions])]
    return [{"config_name": name, "data_files": [{"split": HUB_SPLIT, "path": path}]} for name, path in files]


def with_hub(front: dict, folder: Path) -> dict:
    """The front matter with the Hub's dataset-card keys: task and size categories, and ``configs`` for the
    matrix, its replicates and the companion CSVs found in ``folder``."""
    reps = [r["path"] for r in front.get("replicates", [])]
    taken = {front["ground_truth"]["path"], *reps}
    companions = sorted(p.name for p in Path(folder).glob("*.csv") if p.name not in taken)
    return {**{k: v for k, v in front.items() if k not in ("task_categories", "size_categories", "configs")},
            "task_categories": HUB_TASK_CATEGORIES, "size_categories": HUB_SIZE_CATEGORIES,
            "configs": hub_configs(front["ground_truth"]["path"], reps, companions)}


def with_verdict(front: dict, verdict) -> dict:
    """The front matter with ``ceilings`` and ``validity`` right after ``noise_ceiling``, the Hub's license id and
    a whole pretty name."""
    from valuebench.groundtruth.cards import LICENSE, pretty_name

    out = {}
    for key, value in front.items():
        if key in ("ceilings", "validity"):
            continue
        out[key] = value
        if key == "noise_ceiling":  # one number: the noise ceiling mirrors the recomputed split-half ceiling
            c = verdict.ceilings
            out[key] = {**value, "value": c.split_half.value, "spearman_brown": c.reliability}
            out["ceilings"] = verdict.ceilings.model_dump(mode="json")
            out["validity"] = verdict.validity.model_dump(mode="json")
    if str(out.get("license", "")).lower() == LICENSE:
        out["license"] = LICENSE
    out["pretty_name"] = pretty_name(out["type"], out["model"]["name"], out["value_set"])
    return out


def _gate_and_card(card: Path, front: dict, body: str, overrides: dict, work_dir: Path | None,
                   notes: list[str] = ()) -> tuple[dict, str]:
    from valuebench.groundtruth.cards import rewrite_body
    from valuebench.validity import gate

    task = load_task_card(card, check_folder_name=False)
    verdict = gate(task, ceilings_override=overrides, work_dir=work_dir)
    front = with_verdict(front, verdict)
    return front, rewrite_body(body, verdict.ceilings, verdict.validity, front["name"], notes)


def write_task(folder: Path, metadata: dict, matrix: np.ndarray, value_ids: list[str], body: str,
               replicates: list[np.ndarray] = (), extra_files: dict[str, str] | None = None, *,
               work_dir: Path | None = None) -> Path:
    """Create ``folder`` as a task: ``matrix.csv``, ``replicate-<k>.csv``, extra text files, ``README.md``.

    ``metadata`` is the card's front matter without the file entries, which are filled in here; it may carry a
    partial ``ceilings`` ({"independent": ..., "split_half": ..., "symmetric": ...}, as from
    ``validity.estimate``) with estimates only the pipeline knows. With replicates, the task goes through
    ``validity.gate`` (the independent ceiling is recomputed from ``work_dir``, default
    ``<folder's parent>/.work/<name>``, when it holds work units of a known kind) and its card carries the
    ceilings, the verdict and the Validity section.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        matrix_frame(matrix, value_ids).to_csv(tmp / "matrix.csv", float_format="%.6g")
        meta = dict(metadata)
        meta["ground_truth"] = {"path": "matrix.csv", "sha256": sha256_file(tmp / "matrix.csv")}
        reps = []
        for k, rep in enumerate(replicates):
            name = f"replicate-{k}.csv"
            matrix_frame(rep, value_ids).to_csv(tmp / name, float_format="%.6g")
            reps.append({"path": name, "sha256": sha256_file(tmp / name)})
        meta["replicates"] = reps
        for name, text in (extra_files or {}).items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text, encoding="utf-8")
        meta = with_hub(meta, tmp)
        partial = meta.pop("ceilings", None) or {}
        meta.pop("validity", None)
        if isinstance(partial, dict) and "n_replicates" in partial:  # a whole Ceilings: its estimates
            partial = {"split_half": partial["split_half"], "independent": partial["independent"],
                       "symmetric": partial["symmetric_bound"]}
        TaskMetadata.model_validate(meta)  # fail before anything is published
        (tmp / "README.md").write_text(_dump(meta, body), encoding="utf-8")
        if reps:
            work = Path(work_dir) if work_dir is not None else folder.parent / ".work" / folder.name
            meta, body = _gate_and_card(tmp / "README.md", meta, body, dict(partial),
                                        work if work.is_dir() else None)
            TaskMetadata.model_validate(meta)
            (tmp / "README.md").write_text(_dump(meta, body), encoding="utf-8")
            load_task_card(tmp / "README.md", check_folder_name=False).verify()  # consistent before it appears
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists() and tmp != folder:
            shutil.rmtree(tmp, ignore_errors=True)
    load_task_card(folder / "README.md")
    return folder


def rewrite_card(task: Task, *, work_dir: Path | None = None, overrides: dict | None = None,
                 notes: list[str] = (), write: bool = True):
    """Re-run the gate on a published task and (``write``) rewrite its README.md only: front matter gets
    ``ceilings``, ``validity``, the Hub license id and a whole pretty name; the body gets the Ceilings and
    Validity sections. Data files are untouched, so every sha256 in the card stays valid. Returns the verdict
    and the new card text; nothing is written unless the new card loads and is consistent."""
    from valuebench.groundtruth.cards import rewrite_body
    from valuebench.validity import gate

    card = task.folder / "README.md"
    front, body = split_front_matter(card.read_text(encoding="utf-8"), str(card))
    from valuebench.workunits import companion_notes

    verdict = gate(task, ceilings_override=overrides, work_dir=work_dir)
    front = with_hub(with_verdict(front, verdict), task.folder)
    notes = [*notes, *companion_notes(task, work_dir)]
    text = _dump(front, rewrite_body(body, verdict.ceilings, verdict.validity, front["name"], notes))
    tmp = Path(tempfile.mkdtemp(dir=task.folder.parent, prefix=f".{task.folder.name}.card."))
    try:
        for d in (task.metadata.ground_truth, *task.metadata.replicates):
            (tmp / d.path).parent.mkdir(parents=True, exist_ok=True)
            (tmp / d.path).symlink_to((task.folder / d.path).resolve())
        (tmp / "README.md").write_text(text, encoding="utf-8")
        check = load_task_card(tmp / "README.md", check_folder_name=False)
        check.source = task.source
        check.verify()
    except UserError as exc:
        raise UserError(f"task {task.name}: the rewritten card would not load ({exc}); nothing written") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if write:
        atomic_write_text(card, text)
    return verdict, text
