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

from valuebench.ceilings import MIN_CEILING, check_card
from valuebench.errors import UserError
from valuebench.io import sha256_file, split_front_matter
from valuebench.paths import extra_task_dirs, tasks_dir
from valuebench.values import ValueSet, load_value_set

#: known task types; others are allowed (the field is open) but must be kebab-case


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubjectModel(_Strict):
    name: str
    revision: str


class DataFile(_Strict):
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")




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


class Estimate(_Strict):
    """A replicate-agreement estimate: ``value`` (Spearman between replicate matrices over the scored pairs),
    its ``sd`` across ``n_splits`` random splits when it is a mean over splits, ``how`` it was computed, and
    ``reason`` when it does not exist (``value`` null)."""

    value: float | None = Field(default=None, ge=-1, le=1)
    sd: float | None = None
    n_splits: int | None = None
    how: str = ""
    reason: str | None = None


class Ceilings(_Strict):
    """Every ceiling of a measured task; computed by ``valuebench.validity.ceilings`` (see its docstring for
    why each exists) and checked against the replicate files whenever the task is resolved.

    - ``split_half``: agreement of the published replicates (what ``noise_ceiling`` has always held);
    - ``independent``: agreement of replicates that share no training data, no evaluation scenarios and no
      base-rate estimate: the validity ceiling the gate uses;
    - ``reliability``: Spearman-Brown of ``split_half`` to the ``n_replicates`` averaged into the published
      matrix; ``bound`` = sqrt(reliability): what a perfect predictor of the pipeline's true matrix reaches
      against the published one; ``normalized`` scores are rho / bound;
    - ``symmetric_bound``: a symmetric prediction ((R + R^T)/2 of one replicate) scored against another
      replicate, averaged over replicate pairs: what any cosine can reach, cross-validated;
    - ``main_effects_r2``: share of the published matrix's variance explained by row + column effects (their
      symmetric part g_i + g_j *is* expressible by cosines); ``antisymmetric_share``: share of its variance in
      (M - M^T)/2, which no symmetric similarity can express.
    """

    split_half: Estimate
    independent: Estimate
    n_replicates: int = Field(ge=0)
    reliability: float | None = None
    bound: float | None = None
    symmetric_bound: Estimate
    main_effects_r2: float | None = None
    antisymmetric_share: float | None = None


class BaselineCheck(_Strict):
    method: str
    spearman: float | None = None
    p_value: float | None = None
    passed: bool


class Validity(_Strict):
    """The validity gate's verdict (``valuebench.validity.gate``): ``default`` is what puts a task in the
    default benchmark. ``reasons`` says, in words, every criterion that failed (empty when it passed)."""

    verdict: Literal["pass", "fail"]
    default: bool
    reasons: list[str] = []
    ceiling_used: Literal["independent", "split_half"] | None = None
    ceiling_value: float | None = None
    min_ceiling: float
    baselines: list[BaselineCheck] = []
    random_null_p95: float | None = None
    n_permutations: int
    seed: int = 0
    gate_version: int = 1


class Provenance(_Strict):
    pipeline: str
    config: dict = {}
    date: dt.date
    command: str | None = None
    hardware: str | None = None
    wall_time_s: float | None = None


class HFDataFiles(_Strict):
    split: str
    path: str | list[str]


class HFConfig(_Strict):
    config_name: str
    data_files: str | list[str] | list[HFDataFiles]


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
    #: scenario splits the task only measures on: a method that read them is flagged for leakage when the task
    #: is ranked (``leaderboard.submissions.LeakRule``); empty when every scenario is also training data
    held_out_splits: list[Literal["train", "holdout"]] = ["holdout"]
    reference: str | None = None
    license: str
    ground_truth: DataFile
    replicates: list[DataFile] = []
    noise_ceiling: NoiseCeiling
    ceilings: Ceilings | None = None
    validity: Validity | None = None
    provenance: Provenance
    # Hugging Face dataset-card keys, so the card renders and loads on the Hub as is
    pretty_name: str | None = None
    tags: list[str] = []
    task_categories: list[str] = []
    size_categories: list[str] = []
    configs: list[HFConfig] = []
    superseded_by: str | None = None


def read_matrix_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, index_col=0)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: unreadable matrix CSV ({exc})") from None
    frame.index = frame.index.astype(str)
    frame.columns = frame.columns.astype(str)
    try:
        return frame.astype(float)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{path}: matrix cells must be numbers or empty ({' '.join(str(exc).split())[:120]})") from None


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

    def verify_files(self) -> list[Path]:
        """sha256-check every data file the card lists (ground truth and replicates)."""
        return [self._verified(d) for d in (self.metadata.ground_truth, *self.metadata.replicates)]

    def verify(self) -> list[Path]:
        """sha256-check every data file, then check the card's ceilings and verdict against them
        (``ceilings.check_card``), eagerly: resolution and pushing call this so a corrupted copy or a stale
        card fails before it is scored or uploaded, not on first use."""
        paths = self.verify_files()
        check_card(self)
        return paths

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
        """The split-half noise ceiling (replicate-to-replicate rho), for display."""
        if self.metadata.ceilings is not None:
            return self.metadata.ceilings.split_half.value
        return self.metadata.noise_ceiling.value

    @property
    def bound(self) -> float | None:
        """sqrt(reliability of the published matrix): the most a perfect predictor of the pipeline's true matrix
        reaches against it; ``normalized`` = rho / bound. Cards without ``ceilings`` (older or synthetic ones):
        from ``noise_ceiling``, Spearman-Brown over its replicate count (2 when not given)."""
        if self.metadata.ceilings is not None:
            return self.metadata.ceilings.bound
        nc = self.metadata.noise_ceiling
        reliability = nc.spearman_brown
        if reliability is None and nc.value is not None and nc.value > 0:
            k = nc.n_replicates or 2
            reliability = k * nc.value / (1 + (k - 1) * nc.value)
        if reliability is None or reliability <= 0:
            return None
        return float(np.sqrt(min(reliability, 1.0)))

    @property
    def gated(self) -> bool:
        return self.metadata.validity is not None

    @property
    def in_default_benchmark(self) -> bool:
        """The validity gate decides (``valuebench.validity.gate``; its verdict is in the card). Cards without
        replicate files cannot be gated (synthetic fixtures, imported matrices): they keep the old rule, a
        noise ceiling of at least ``MIN_CEILING`` or none. A card with replicates but no verdict is out (and
        ``verify`` refuses it)."""
        if self.metadata.validity is not None:
            return self.metadata.validity.default
        if self.metadata.replicates:
            return False
        return self.ceiling is None or self.ceiling >= MIN_CEILING

    def summary(self) -> dict:
        m = self.metadata
        c = m.ceilings
        return {"name": m.name, "type": m.type, "value_set": m.value_set, "n_values": len(self.value_set),
                "model": m.model.name, "ceiling": self.ceiling, "default": self.in_default_benchmark,
                "gate": m.validity.verdict if m.validity else "not gated",
                "ceilings": c.model_dump(mode="json") if c is not None else None,
                "validity": m.validity.model_dump(mode="json") if m.validity is not None else None}


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
                from valuebench.io import check_size

                check_size(card, what=str(card))  # capped before it is read, like every input file
                task = load_task_card(card)
            except Exception as exc:  # noqa: BLE001 - isolation: bad UTF-8, bad YAML, a bug in a validator
                BROKEN[card.parent.name] = " ".join(str(exc).split())[:500] or type(exc).__name__
                continue
            BROKEN.pop(card.parent.name, None)
            if task.name in found:
                raise UserError(f"duplicate task name {task.name!r}: {found[task.name].folder} and {task.folder}")
            found[task.name] = task
    return found
