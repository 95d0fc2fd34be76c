"""Results files: one JSON per (method, config, task), self-contained enough to recompute the score.

Layout: ``results/<method>/<config-hash>/<task>.json``. Each file stores the similarity matrix the score
was computed from (it is tiny, and already rounded to ``scoring.SIMILARITY_DECIMALS``), so any score can be
re-derived from the file and the task at its version without trusting the run that wrote it:
``valuebench rescore FILE`` does, and gets the same numbers to the last bit.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from valuebench import __version__
from valuebench.errors import UserError, invalid_field
from valuebench.io import atomic_write_json
from valuebench.scoring import canonical_similarity

SCHEMA_VERSION = 1
#: ``read_results`` refuses a folder holding more results files than this (a mistyped root, not a results tree)
MAX_RESULTS_FILES = 100_000


class TaskRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: str
    type: str
    ground_truth_sha256: str
    source: str | None = None  # ORG/NAME@<commit sha> when the task came from the Hub


class MethodRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    config: dict
    config_hash: str
    metadata: dict = {}


class Result(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    valuebench_version: str = __version__
    method: MethodRef
    task: TaskRef
    value_ids: list[str]
    similarity: list[list[float]]
    scores: dict
    timing: dict
    date: str
    platform: str = ""


def make_result(method, task, value_ids, similarity, score, timing, rep_metadata) -> Result:
    return Result(
        method=MethodRef(name=method.name, config=method.config(), config_hash=method.config_hash(),
                         metadata=rep_metadata),
        task=TaskRef(name=task.name, version=task.metadata.version, type=task.metadata.type,
                     ground_truth_sha256=task.metadata.ground_truth.sha256, source=task.source),
        value_ids=list(value_ids),
        # the canonical similarity that was scored (``scoring.canonical_similarity``, 9 decimals): re-scoring
        # the file ranks exactly the same values, so it gives exactly the same score
        similarity=[[float(x) for x in row] for row in canonical_similarity(similarity)],
        scores=score.to_dict(),
        timing=timing,
        date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        platform=f"{platform.system()} {platform.machine()} python {platform.python_version()}",
    )


def result_path(root: Path, method_name: str, config_hash: str, task_name: str, source: str | None = None) -> Path:
    safe = method_name.replace("/", "__").replace(":", "_")
    stem = task_name if source is None else f"{task_name}--{source.replace('/', '__')}"
    return Path(root) / safe / config_hash / f"{stem}.json"


def write_result(root: Path, result: Result) -> Path:
    path = result_path(root, result.method.name, result.method.config_hash, result.task.name, result.task.source)
    atomic_write_json(path, json.loads(result.model_dump_json()))
    return path


def read_result(path: Path) -> Result:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: unreadable results file ({exc})") from None
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise UserError(f"{path}: results schema version {version!r} is not supported (expected {SCHEMA_VERSION})")
    try:
        return Result.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{path}: invalid results file at {invalid_field(exc)}") from None


def read_results(path: Path) -> list[Result]:
    """One results file, or every ``*.json`` under a results folder (``results/<method>/<hash>/<task>.json``),
    each validated by ``read_result``; sorted by task, then method."""
    path = Path(path)
    if path.is_file():
        return [read_result(path)]
    if not path.is_dir():
        raise UserError(f"{path}: no such results file or folder")
    files = []
    for f in path.rglob("*.json"):
        files.append(f)
        if len(files) > MAX_RESULTS_FILES:
            raise UserError(f"{path}: more than {MAX_RESULTS_FILES:,} JSON files; point at a results folder")
    if not files:
        raise UserError(f"{path}: no results files (*.json) in this folder")
    return sorted((read_result(f) for f in files), key=lambda r: (r.task.name, r.method.name, r.method.config_hash))


def summary_row(result: Result) -> dict:
    """The numbers a reader compares, flat: one row per results file."""
    s = result.scores
    ci = s.get("ci") or [None, None]
    return {"task": result.task.name, "task_version": result.task.version, "method": result.method.name,
            "config_hash": result.method.config_hash, "spearman": s.get("spearman"), "ci_low": ci[0],
            "ci_high": ci[1], "p_value": s.get("p_value"), "normalized": s.get("normalized"),
            "bound": s.get("bound"), "n_pairs": s.get("n_pairs"), "date": result.date}
