"""Tasks: a ground-truth matrix over one value set, declared by a card, not by code.

A task is a folder ``tasks/<name>/`` with ``README.md`` (YAML front matter = ``TaskMetadata``, markdown
body = the card a reader sees, the layout of a Hugging Face dataset card) and the matrix as CSV with value
ids as row and column labels. The registry finds every card, rejects duplicate names, verifies sha256s and
aligns matrices to the value set by id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valuebench.errors import UserError
from valuebench.io import sha256_file, split_front_matter
from valuebench.paths import extra_task_dirs, tasks_dir
from valuebench.values import ValueSet, load_value_set

#: known task types; others are allowed (the field is open) but must be kebab-case
KNOWN_TYPES = ("dpo-generalization", "prompt-steering", "judge-agreement")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubjectModel(_Strict):
    name: str
    revision: str


class DataFile(_Strict):
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


#: tasks whose noise ceiling is lower are too unreliable to rank methods: kept, but run only when named
MIN_CEILING = 0.3


class NoiseCeiling(_Strict):
    """``value`` is the Spearman correlation between replicate matrices over the scored pairs: what a
    perfect predictor of one replicate could be expected to reach against another."""

    value: float | None = Field(default=None, ge=-1, le=1)
    method: str
    n_replicates: int | None = None
    spearman_brown: float | None = None
    # when replicates are halves of the data, one split is a noisy draw: the value is the mean over this
    # many random half splits, and ``sd`` is its spread across splits
    n_splits: int | None = None
    sd: float | None = None


class Provenance(_Strict):
    pipeline: str
    config: dict = {}
    date: dt.date
    command: str | None = None
    hardware: str | None = None
    wall_time_s: float | None = None


class HFConfig(_Strict):
    config_name: str
    data_files: str | list[str]


class TaskMetadata(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: str
    type: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    value_set: str
    model: SubjectModel
    description: str
    main_score: Literal["spearman"] = "spearman"
    pairs: Literal["off-diagonal", "upper-triangle"] = "off-diagonal"
    symmetric: bool = False
    reference: str | None = None
    license: str
    ground_truth: DataFile
    replicates: list[DataFile] = []
    noise_ceiling: NoiseCeiling
    provenance: Provenance
    # Hugging Face dataset-card keys, so the card renders and loads on the Hub as is
    pretty_name: str | None = None
    tags: list[str] = []
    configs: list[HFConfig] = []
    superseded_by: str | None = None


def read_matrix_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, index_col=0)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: unreadable matrix CSV ({exc})") from None
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    return frame.astype(float)


@dataclass
class Task:
    metadata: TaskMetadata
    card_body: str
    folder: Path
    #: where the copy came from: None for the packaged copy, ``ORG/NAME@<commit sha>`` for a Hub snapshot,
    #: so results of two same-named copies never overwrite each other and say which one they scored
    source: str | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @cached_property
    def value_set(self) -> ValueSet:
        return load_value_set(self.metadata.value_set)

    def _verified(self, data: DataFile) -> Path:
        path = self.folder / data.path
        if not path.is_file():
            raise UserError(f"task {self.name}: data file missing: {path}")
        actual = sha256_file(path)
        if actual != data.sha256:
            raise UserError(f"task {self.name}: sha256 mismatch for {data.path} (card {data.sha256[:12]}…, "
                            f"file {actual[:12]}…); the file is corrupted or the card is stale")
        return path

    def verify(self) -> list[Path]:
        """sha256-check every data file the card lists (ground truth and replicates), eagerly: resolution and
        pushing call this so a corrupted copy fails before it is scored or uploaded, not on first use."""
        return [self._verified(d) for d in (self.metadata.ground_truth, *self.metadata.replicates)]

    def _aligned(self, data: DataFile) -> np.ndarray:
        """The matrix reordered to the value set's id order (rows = trained/steered value i).

        A task may cover a subset of its value set: values it did not measure become NaN rows and
        columns, which scoring skips. Ids the value set does not know are an error."""
        frame = read_matrix_csv(self._verified(data))
        ids = self.value_set.ids
        for axis, labels in (("rows", frame.index), ("columns", frame.columns)):
            unknown = sorted(set(labels) - set(ids))
            if unknown or len(set(labels)) != len(labels):
                raise UserError(f"task {self.name}: matrix {axis} do not match value set "
                                f"{self.metadata.value_set} (unknown or repeated ids {unknown or list(labels)})")
        if sorted(frame.index) != sorted(frame.columns):
            raise UserError(f"task {self.name}: matrix rows and columns name different values")
        return frame.reindex(index=ids, columns=ids).to_numpy(dtype=float)

    @cached_property
    def matrix(self) -> np.ndarray:
        return self._aligned(self.metadata.ground_truth)

    def replicate_matrices(self) -> list[np.ndarray]:
        return [self._aligned(r) for r in self.metadata.replicates]

    @property
    def ceiling(self) -> float | None:
        return self.metadata.noise_ceiling.value

    @property
    def in_default_benchmark(self) -> bool:
        """Tasks without a ceiling (synthetic fixtures, imported matrices) are included; measured ones need
        a ceiling of at least ``MIN_CEILING``."""
        return self.ceiling is None or self.ceiling >= MIN_CEILING

    def summary(self) -> dict:
        m = self.metadata
        return {"name": m.name, "type": m.type, "value_set": m.value_set, "n_values": len(self.value_set),
                "model": m.model.name, "ceiling": m.noise_ceiling.value, "default": self.in_default_benchmark}


def load_task_card(card: Path, *, check_folder_name: bool = True) -> Task:
    """``check_folder_name=False`` is for Hugging Face cache snapshots, whose folder is a commit sha; packaged
    tasks keep the check, since their folder name is how a user finds them."""
    text = card.read_text(encoding="utf-8")
    front, body = split_front_matter(text, str(card))
    try:
        meta = TaskMetadata.model_validate(front)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise UserError(f"{card}: invalid task metadata at {where}: {first['msg']}") from None
    if check_folder_name and meta.name != card.parent.name:
        raise UserError(f"{card}: task name {meta.name!r} does not match its folder {card.parent.name!r}")
    return Task(meta, body, card.parent)


def task_roots() -> list[Path]:
    return [tasks_dir(), *extra_task_dirs()]


#: cards that failed to load, folder name -> one-line error: ``discover`` skips them (one bad card never
#: hides the other tasks) and ``hub.resolve`` reports the error when such a name is asked for
BROKEN: dict[str, str] = {}


def discover() -> dict[str, Task]:
    """Every task card under the task roots, by name; a card that fails to load is left out and recorded in
    ``BROKEN``, whatever it raised; duplicate names are an error."""
    found: dict[str, Task] = {}
    for root in task_roots():
        for card in sorted(Path(root).glob("*/README.md")):
            if card.parent.name in {"value_sets", "scenarios"}:
                continue
            try:
                task = load_task_card(card)
            except Exception as exc:  # noqa: BLE001 - isolation: bad UTF-8, bad YAML, a bug in a validator
                BROKEN[card.parent.name] = " ".join(str(exc).split())[:500] or type(exc).__name__
                continue
            BROKEN.pop(card.parent.name, None)
            if task.name in found:
                raise UserError(f"duplicate task name {task.name!r}: {found[task.name].folder} and {task.folder}")
            found[task.name] = task
    return found


def get_task(name: str) -> Task:
    """A packaged task by name, or a Hub reference ``ORG/NAME@REVISION`` / an index entry of
    ``tasks/hub.yaml``; see ``valuebench.hub.resolve`` (imported here because it imports this module)."""
    from valuebench.hub import resolve

    return resolve(name)


def get_tasks(names: list[str] | None = None, *, value_set: str | None = None,
              type: str | None = None) -> list[Task]:
    tasks = discover()
    if names:
        from valuebench.hub import resolve

        selected = [resolve(n, packaged=tasks) for n in names]
    else:
        selected = [t for t in tasks.values() if t.metadata.superseded_by is None and t.in_default_benchmark]
    if value_set:
        selected = [t for t in selected if t.metadata.value_set == value_set]
    if type:
        selected = [t for t in selected if t.metadata.type == type]
    return selected
