"""Submissions: one folder per submitted method, validated before anything is scored or stored.

Layout of ``submissions/<name>/``: ``meta.yaml`` (``SubmissionMeta``) plus, per value set, either vectors
(``<value_set>.safetensors|.npz|.json|.csv``, read by ``valuebench.vectors.read_vectors``) or a precomputed
similarity matrix (``<value_set>.similarity.csv``, value ids as row and column labels). Nothing a submitter
claims about scores is read: the leaderboard recomputes everything from these files. Uploads come from
strangers, so every reader here is defensive: size caps, no pickle, no YAML aliases, safe folder names.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valuebench.errors import UserError
from valuebench.io import safe_load_yaml
from valuebench.tasks import read_matrix_csv
from valuebench.values import list_value_sets, load_value_set
from valuebench.vectors import FORMATS, cosine_similarity, read_vectors

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_FILE_BYTES = 20_000_000  # a 21-value set at 100k dims in float64 is ~17 MB
MAX_META_BYTES = 64_000
SIMILARITY_SUFFIX = ".similarity.csv"
SYMMETRY_TOL = 1e-6
LEAK_WORDS = ("holdout", "held-out", "held out", "test split", "ground truth", "ground-truth", "matrix")


class SubmissionMeta(BaseModel):
    """What a submitter declares; ``derived_from`` lists every data source the method saw."""

    model_config = ConfigDict(extra="forbid")
    name: str
    method: str = Field(min_length=1)
    description: str = Field(min_length=1)
    authors: list[str] = Field(min_length=1)
    subject_models: list[str] = []
    code: str | None = None
    license: str = Field(min_length=1)
    date: dt.date
    derived_from: list[str] = Field(min_length=1)
    method_config: dict = {}
    baseline: bool = False


@dataclass
class Submission:
    """A validated submission: similarity matrices per value set, aligned to the value set's id order."""

    name: str
    folder: Path
    meta: SubmissionMeta
    similarities: dict[str, np.ndarray] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    leakage: str | None = None


def check_name(name: str) -> str:
    """Folder names come from users: no separators, no '..', no hidden files, bounded length."""
    if not isinstance(name, str) or "/" in name or "\\" in name or ".." in name or not NAME_RE.match(name):
        raise UserError(f"invalid submission name {name!r}: use 1-64 letters, digits, '-', '_' or '.', "
                        "starting with a letter or digit, without '/' or '..'")
    return name


def leakage(derived_from: list[str], task_names: list[str]) -> str | None:
    """Why a method may have seen evaluation data, or None.

    Holdout scenarios and ground-truth matrices are what tasks are measured on; scenario *train* splits
    and value statements are fair game. Naming a scenario folder without a split counts as all splits.
    """
    for entry in derived_from:
        low = entry.lower()
        if any(w in low for w in LEAK_WORDS):
            return f"saw evaluation data: {entry!r}"
        if any(re.search(rf"(^|[/\s]){re.escape(t.lower())}($|[/\s])", low) for t in task_names):
            return f"saw a task's ground truth: {entry!r}"
        if "scenarios" in low and "train" not in low:
            return f"saw scenarios without a train-only restriction: {entry!r}"
    return None


def split_filename(filename: str) -> tuple[str, str]:
    """``<value_set>.<ext>`` → (value set, 'vectors' | 'similarity'); anything else is refused."""
    if filename.endswith(SIMILARITY_SUFFIX):
        return filename[: -len(SIMILARITY_SUFFIX)], "similarity"
    path = Path(filename)
    if path.suffix.lower() in FORMATS:
        return path.stem, "vectors"
    raise UserError(f"unexpected file {filename!r}: a submission holds meta.yaml and "
                    f"<value_set>{{{','.join(FORMATS)}}} or <value_set>{SIMILARITY_SUFFIX} files")


def read_meta(path: Path) -> SubmissionMeta:
    if not path.is_file():
        raise UserError(f"{path.parent.name}: meta.yaml is missing")
    if path.stat().st_size > MAX_META_BYTES:
        raise UserError(f"{path}: meta.yaml is larger than {MAX_META_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: meta.yaml is not UTF-8 text") from None
    data = safe_load_yaml(text, str(path))
    if not isinstance(data, dict):
        raise UserError(f"{path}: meta.yaml must be a mapping of fields")
    try:
        return SubmissionMeta.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise UserError(f"{path}: invalid field {where}: {first['msg']}") from None


def read_similarity_csv(path: Path, expected_ids: list[str]) -> np.ndarray:
    """A submitted similarity matrix, checked (square, ids, finite, symmetric) and aligned to ``expected_ids``."""
    try:
        frame = read_matrix_csv(path)
    except ValueError:
        raise UserError(f"{path}: similarity matrix has non-numeric entries") from None
    rows, cols = list(frame.index), list(frame.columns)
    if frame.shape[0] != frame.shape[1]:
        raise UserError(f"{path}: similarity matrix must be square, got {frame.shape[0]}x{frame.shape[1]}")
    for axis, labels in (("row", rows), ("column", cols)):
        dupes = sorted({v for v in labels if labels.count(v) > 1})
        if dupes:
            raise UserError(f"{path}: duplicate {axis} value ids: {', '.join(dupes)}")
        unknown = [v for v in labels if v not in expected_ids]
        missing = [v for v in expected_ids if v not in labels]
        if unknown or missing:
            raise UserError(f"{path}: {axis} ids do not match the value set (unknown {unknown}, missing {missing})")
    m = frame.loc[expected_ids, expected_ids].to_numpy(dtype=float)
    if not np.isfinite(m).all():
        raise UserError(f"{path}: NaN or inf in similarity matrix")
    if np.abs(m - m.T).max() > SYMMETRY_TOL:
        raise UserError(f"{path}: similarity matrix is not symmetric (max |S - S^T| = {np.abs(m - m.T).max():.3g})")
    return (m + m.T) / 2


def symmetric_cosine(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity, made exactly symmetric (BLAS may differ in the last bit between S and S^T)."""
    sim = cosine_similarity(vectors)
    return (sim + sim.T) / 2


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path.name}: file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")


def load_submission(folder: Path, task_names: list[str] | None = None) -> Submission:
    """Validate a submission folder completely; raise one ``UserError`` naming the first problem."""
    folder = Path(folder)
    check_name(folder.name)
    if not folder.is_dir():
        raise UserError(f"submission folder not found: {folder}")
    meta = read_meta(folder / "meta.yaml")
    if meta.name != folder.name:
        raise UserError(f"{folder.name}: meta.yaml name {meta.name!r} does not match the folder name")
    sub = Submission(folder.name, folder, meta)
    known = list_value_sets()
    for path in sorted(p for p in folder.iterdir() if p.name != "meta.yaml"):
        if path.is_symlink() or not path.is_file():
            raise UserError(f"{folder.name}: {path.name} is not a regular file")
        _check_size(path)
        value_set, kind = split_filename(path.name)
        if value_set not in known:
            raise UserError(f"{folder.name}: {path.name} names unknown value set {value_set!r}; "
                            f"known: {', '.join(known)}")
        if value_set in sub.similarities:
            raise UserError(f"{folder.name}: more than one file for value set {value_set!r}")
        ids = load_value_set(value_set).ids
        if kind == "similarity":
            sub.similarities[value_set] = read_similarity_csv(path, ids)
        else:
            sub.similarities[value_set] = symmetric_cosine(read_vectors(path, ids).aligned(ids))
        sub.kinds[value_set] = kind
    if not sub.similarities:
        raise UserError(f"{folder.name}: no vectors or similarity files (expected <value_set>.safetensors etc.)")
    sub.leakage = leakage(meta.derived_from, task_names or [])
    return sub


def discover(root: Path) -> list[Path]:
    """Every submission folder under ``root`` (hidden and underscore folders are staging, not entries)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def check_all(root: Path, task_names: list[str] | None = None) -> list[tuple[str, Submission | None, str | None]]:
    """(name, submission or None, error or None) for every folder: one bad folder never stops the rest."""
    out = []
    for folder in discover(root):
        try:
            out.append((folder.name, load_submission(folder, task_names), None))
        except UserError as exc:
            out.append((folder.name, None, str(exc).replace(f"{folder.parent}/", "")))
    return out


def stage_upload(files: list[Path], name: str, pending_root: Path,
                 task_names: list[str] | None = None) -> tuple[Submission, Path]:
    """Validate uploaded files as a submission named ``name``; if valid, move them to ``pending_root/name``.

    Files are copied into a private staging folder inside ``pending_root`` (never anywhere else) under
    their base names only, validated there, then renamed into place; on any error the staging folder is
    removed, so a rejected upload leaves nothing behind.
    """
    check_name(name)
    pending_root = Path(pending_root)
    if not files:
        raise UserError("no files uploaded: add meta.yaml and at least one vectors or similarity file")
    dest = pending_root / name
    if dest.exists():
        raise UserError(f"a pending submission named {name!r} already exists; choose another name")
    pending_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=pending_root)) / name
    try:
        staging.mkdir()
        for src in files:
            src = Path(src)
            base = Path(src.name).name
            if base != "meta.yaml":
                split_filename(base)
            _check_size(src)
            if (staging / base).exists():
                raise UserError(f"{base} was uploaded twice")
            shutil.copyfile(src, staging / base)
        sub = load_submission(staging, task_names)
        staging.rename(dest)
    except UserError as exc:  # report file names, not server paths
        raise UserError(str(exc).replace(f"{staging}/", "").replace(str(staging), name)) from None
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)
    sub.folder = dest
    return sub, dest
