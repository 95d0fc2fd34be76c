"""Submissions: one folder per submitted method, validated before anything is scored or stored.

Layout of ``submissions/<name>/``: ``meta.yaml`` (``SubmissionMeta``) plus, per value set, either vectors
(``<value_set>.safetensors|.npz|.json|.csv``, read by ``valuebench.vectors.read_vectors``) or a precomputed
similarity matrix (``<value_set>.similarity.csv``, value ids as row and column labels). Nothing a submitter
claims about scores is read: the leaderboard recomputes everything from these files. Uploads come from
strangers, so every reader here is defensive: size caps, no pickle, no YAML aliases, safe folder names
(no Windows device names, no trailing dot or space), no symlinks out of the submissions folder, and one
bad folder, whatever it raises, is reported as invalid without stopping the others.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valuebench.errors import UserError, invalid_field
from valuebench.io import MAX_INPUT_BYTES, one_line, read_text_capped, safe_load_yaml, short_list
from valuebench.values import list_value_sets, load_value_set
from valuebench.vectors import FORMATS, cosine_similarity, read_labelled_csv, read_vectors

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Windows device names: a folder called ``con`` or ``nul.txt`` cannot be checked out there
RESERVED_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
MAX_FILE_BYTES = MAX_INPUT_BYTES  # a 21-value set at 100k dims in float64 is ~17 MB
#: the app's pending queue: at most this many submissions and bytes wait for review
MAX_PENDING = 100
MAX_PENDING_BYTES = 500_000_000
MAX_META_BYTES = 64_000
SIMILARITY_SUFFIX = ".similarity.csv"
SYMMETRY_TOL = 1e-6
LEAK_WORDS = ("test split", "ground truth", "ground-truth", "matrix", "work unit", "tasks/.work")
#: how ``derived_from`` names a scenario split
SPLIT_WORDS = {"holdout": ("holdout", "held-out", "held out"), "train": ("train",)}


@dataclass(frozen=True)
class LeakRule:
    """What counts as evaluation data for the leakage flag.

    A task's outcomes (its matrices and work units: any entry naming a task or one of ``LEAK_WORDS``) always
    do. Scenarios are the tasks' *inputs*: which splits a method must not read depends on the recipe of
    the tasks that are ranked (``held_out_splits`` in their cards). Recipes that only measure on the holdout
    split (judge agreement, prompt steering) hold it out; v3 recipes train and measure on every scenario, so a
    scenario is available before any training and reading it is not leakage.
    """

    task_names: tuple[str, ...] = ()
    held_out_splits: frozenset[str] = frozenset({"holdout"})

    @classmethod
    def for_tasks(cls, tasks, ranked=None) -> LeakRule:
        """Every task's name; the held-out splits of ``ranked`` (default: the tasks in the default benchmark)."""
        ranked = [t for t in tasks if t.in_default_benchmark] if ranked is None else ranked
        return cls(tuple(t.name for t in tasks),
                   frozenset(s for t in ranked for s in t.metadata.held_out_splits))


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
    """Folder names come from users: no separators, no '..', no hidden files, bounded length, no Windows
    device names (``con``, ``nul.txt``), no trailing dot."""
    if not isinstance(name, str) or "/" in name or "\\" in name or ".." in name or not NAME_RE.match(name):
        raise UserError(f"invalid submission name {one_line(repr(name), 80)}: use 1-64 letters, digits, '-', '_' "
                        "or '.', starting with a letter or digit, without '/' or '..'")
    if name.endswith("."):
        raise UserError(f"invalid submission name {name!r}: it must not end with '.'")
    if name.split(".", 1)[0].lower() in RESERVED_NAMES:
        raise UserError(f"invalid submission name {name!r}: {name.split('.', 1)[0]!r} is a reserved device name")
    return name


def leakage(derived_from: list[str], rule: LeakRule | None = None) -> str | None:
    """Why a method may have seen evaluation data under ``rule`` (default: hold out the holdout split), or None.

    Value statements are fair game; scenario splits are unless the rule holds them out. Naming scenarios
    without a split counts as all splits.
    """
    rule = rule or LeakRule()
    for entry in derived_from:
        low = entry.lower()
        if any(w in low for w in LEAK_WORDS):
            return f"saw evaluation data: {entry!r}"
        if any(re.search(rf"(^|[/\s]){re.escape(t.lower())}($|[/\s])", low) for t in rule.task_names):
            return f"saw a task's ground truth: {entry!r}"
        named = [s for s, words in SPLIT_WORDS.items() if any(w in low for w in words)]
        if "scenarios" in low or named:
            seen = sorted(set(named or SPLIT_WORDS) & rule.held_out_splits)
            if seen:
                return f"saw the {'/'.join(seen)} scenarios the ranked tasks measure on: {entry!r}"
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
    if path.is_symlink() or path.stat().st_size > MAX_META_BYTES:
        raise UserError(f"{path}: meta.yaml is a symlink or larger than {MAX_META_BYTES} bytes")
    text = read_text_capped(path, MAX_META_BYTES, f"{path}")
    data = safe_load_yaml(text, str(path))
    if not isinstance(data, dict):
        raise UserError(f"{path}: meta.yaml must be a mapping of fields")
    try:
        return SubmissionMeta.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{path}: invalid field {invalid_field(exc)}") from None


def read_similarity_csv(path: Path, expected_ids: list[str], max_bytes: int | None = MAX_FILE_BYTES) -> np.ndarray:
    """A submitted similarity matrix, checked (square, ids, finite, symmetric) and aligned to ``expected_ids``.
    Parsed by the same strict, size-capped CSV reader as vectors (``max_bytes=None``: the CLI's limit)."""
    cols, rows, m = read_labelled_csv(Path(path), max_bytes, allow_empty=True)
    if m.shape[0] != m.shape[1]:
        raise UserError(f"{path}: similarity matrix must be square, got {m.shape[0]}x{m.shape[1]}")
    want = set(expected_ids)
    for axis, labels in (("row", rows), ("column", cols)):
        dupes = sorted(v for v, c in Counter(labels).items() if c > 1)
        if dupes:
            raise UserError(f"{path}: duplicate {axis} value ids: {short_list(dupes)}")
        have = set(labels)
        unknown = [v for v in labels if v not in want]
        missing = [v for v in expected_ids if v not in have]
        if unknown or missing:
            raise UserError(f"{path}: {axis} ids do not match the value set (unknown: {short_list(unknown) or 'none'}; "
                            f"missing: {short_list(missing) or 'none'})")
    ri = {v: i for i, v in enumerate(rows)}
    ci = {v: i for i, v in enumerate(cols)}
    m = m[np.ix_([ri[v] for v in expected_ids], [ci[v] for v in expected_ids])]
    if not np.isfinite(m).all():
        raise UserError(f"{path}: NaN, inf or empty cells in the similarity matrix (fill the diagonal too)")
    if np.abs(m - m.T).max() > SYMMETRY_TOL:
        raise UserError(f"{path}: similarity matrix is not symmetric (max |S - S^T| = {np.abs(m - m.T).max():.3g})")
    m = (m + m.T) / 2
    off = m[~np.eye(len(m), dtype=bool)]
    if len(m) >= 3 and off.max() - off.min() <= 1e-12:
        raise UserError(f"{path}: every off-diagonal similarity is {off[0]:.6g}, so the rank correlation with "
                        "any task is undefined")
    return m


def symmetric_cosine(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity, made exactly symmetric (BLAS may differ in the last bit between S and S^T)."""
    sim = cosine_similarity(vectors)
    return (sim + sim.T) / 2


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise UserError(f"{path.name}: file is {size / 1e6:.1f} MB, over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")


def load_submission(folder: Path, rule: LeakRule | None = None) -> Submission:
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
            aligned = read_vectors(path, ids, max_bytes=MAX_FILE_BYTES).aligned(ids)
            sub.similarities[value_set] = symmetric_cosine(aligned)
        sub.kinds[value_set] = kind
    if not sub.similarities:
        raise UserError(f"{folder.name}: no vectors or similarity files (expected <value_set>.safetensors etc.)")
    sub.leakage = leakage(meta.derived_from, rule)
    return sub


def discover(root: Path) -> list[Path]:
    """Every submission folder under ``root`` (hidden and underscore folders are staging, not entries)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def _check_one(folder: Path, root: Path, rule: LeakRule | None) -> tuple[str, Submission | None, str | None]:
    try:
        if folder.is_symlink() and not _inside(folder, root):
            raise UserError(f"{folder.name}: a symlink to a folder outside {root.name}/ is refused")
        return folder.name, load_submission(folder, rule), None
    except UserError as exc:
        return folder.name, None, one_line(str(exc).replace(f"{folder.parent}/", ""), 500)
    except RecursionError:
        return folder.name, None, f"{folder.name}: input nested too deeply"
    except MemoryError:
        return folder.name, None, f"{folder.name}: input too large to hold in memory"
    except Exception as exc:  # noqa: BLE001 - isolation is the point
        msg = one_line(str(exc).replace(f"{folder.parent}/", ""), 300)
        return folder.name, None, f"{folder.name}: could not be read ({type(exc).__name__}: {msg})"


def _check_chunk(args) -> list:
    folders, root, rule = args
    return [_check_one(f, root, rule) for f in folders]


#: boards at least this large are validated by one forked worker per core (file reading is most of a build)
PARALLEL_FROM = 500


def _can_fork() -> bool:
    """Forking a process that runs other threads can deadlock in the child: only a single-threaded one forks."""
    import threading

    return threading.active_count() == 1


def check_all(root: Path, rule: LeakRule | None = None, workers: int | None = None
              ) -> list[tuple[str, Submission | None, str | None]]:
    """(name, submission or None, error or None) for every folder: one bad folder never stops the rest,
    whatever it raises (a bug in a reader shows up as that entry's error, in one line). Large boards are read by
    ``workers`` forked processes (default: one per core) when this process runs no other thread (forking a
    threaded process can deadlock); the result is the same, in the same order."""
    import os

    root = Path(root)
    folders = discover(root)
    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(folders) < PARALLEL_FROM or not _can_fork():
        return [_check_one(f, root, rule) for f in folders]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    size = -(-len(folders) // (4 * workers))
    chunks = [(folders[i:i + size], root, rule) for i in range(0, len(folders), size)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return [row for part in pool.map(_check_chunk, chunks) for row in part]


def pending_usage(pending_root: Path) -> tuple[int, int]:
    """(number of pending submissions, their total bytes) in the app's queue."""
    pending_root = Path(pending_root)
    if not pending_root.is_dir():
        return 0, 0
    folders = [p for p in pending_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    size = sum(f.stat().st_size for d in folders for f in d.iterdir() if f.is_file() and not f.is_symlink())
    return len(folders), size


def stage_upload(files: list[Path], name: str, pending_root: Path,
                 rule: LeakRule | None = None, *, taken: set[str] | frozenset[str] = frozenset(),
                 max_pending: int = MAX_PENDING, max_pending_bytes: int = MAX_PENDING_BYTES,
                 check=None) -> tuple[Submission, Path]:
    """Validate uploaded files as a submission named ``name``; if valid, move them to ``pending_root/name``.

    Files are copied into a private staging folder inside ``pending_root`` (never anywhere else) under
    their base names only, validated there, then renamed into place; on any error the staging folder is
    removed, so a rejected upload leaves nothing behind. ``taken``: names already on the board (refused,
    so a pending entry can never replace a ranked one). The queue holds at most ``max_pending`` entries and
    ``max_pending_bytes``. ``check(sub)`` may refuse a valid submission (the app's score-based leakage check).
    """
    check_name(name)
    pending_root = Path(pending_root)
    if not files:
        raise UserError("no files uploaded: add meta.yaml and at least one vectors or similarity file")
    if name.lower() in {t.lower() for t in taken}:
        raise UserError(f"a submission named {name!r} is already on the board; choose another name")
    dest = pending_root / name
    if dest.exists() or (pending_root.is_dir() and name.lower() in {p.name.lower() for p in pending_root.iterdir()}):
        raise UserError(f"a pending submission named {name!r} already exists; choose another name")
    count, used = pending_usage(pending_root)
    incoming = sum(Path(f).stat().st_size for f in files if Path(f).is_file())
    if count >= max_pending:
        raise UserError(f"the review queue is full ({count} pending submissions); try again after the next review")
    if used + incoming > max_pending_bytes:
        raise UserError(f"the review queue is full ({used / 1e6:.0f} MB pending); try again after the next review")
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
        sub = load_submission(staging, rule)
        if check is not None:
            check(sub)
        staging.rename(dest)
    except UserError as exc:  # report file names, not server paths
        raise UserError(str(exc).replace(f"{staging}/", "").replace(str(staging), name)) from None
    finally:
        shutil.rmtree(staging.parent, ignore_errors=True)
    sub.folder = dest
    return sub, dest
