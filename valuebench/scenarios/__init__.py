"""Value-conflict scenarios: the shared data every ground-truth pipeline and some methods read.

``tasks/scenarios/<value_set>/<value_id>.jsonl``: one record per line (see ``Scenario``). Loading is
strict: a malformed line is reported with its file and line number.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from valuebench.errors import UserError, did_you_mean, invalid_field
from valuebench.paths import tasks_dir
from valuebench.values import ValueSet, load_value_set

Split = Literal["train", "holdout"]


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z0-9_]+-[0-9a-z_-]+$")
    value_id: str
    competing_value: str = Field(min_length=1)
    system: str | None = None
    user_prompt: str = Field(min_length=1)
    response_follow: str = Field(min_length=1)
    response_violate: str = Field(min_length=1)
    split: Split
    source: str = Field(min_length=1)

    def messages(self, system: str | None = None) -> list[dict]:
        """Chat messages up to the assistant turn; ``system`` overrides the scenario's own."""
        sys_text = system if system is not None else self.system
        head = [{"role": "system", "content": sys_text}] if sys_text else []
        return head + [{"role": "user", "content": self.user_prompt}]


def scenarios_dir(value_set: str) -> Path:
    return tasks_dir() / "scenarios" / value_set


def read_jsonl(path: Path) -> list[Scenario]:
    """Parse one scenario file; errors name the file and line."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(Scenario.model_validate(json.loads(line)))
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}:{lineno}: malformed JSON ({exc.msg})") from None
            except ValidationError as exc:
                raise UserError(f"{path}:{lineno}: invalid scenario field {invalid_field(exc, 'record')}") from None
    return out


def load_scenarios(value_set: ValueSet | str, value_id: str | None = None,
                   split: Split | None = None, root: Path | None = None) -> list[Scenario]:
    """Scenarios of a value set (or one value), optionally one split, in file order."""
    vs = load_value_set(value_set) if isinstance(value_set, str) else value_set
    folder = Path(root) if root else scenarios_dir(vs.name)
    if value_id is not None and value_id not in vs.ids:
        raise did_you_mean("value id", value_id, vs.ids)
    ids = [value_id] if value_id else vs.ids
    out: list[Scenario] = []
    for vid in ids:
        path = folder / f"{vid}.jsonl"
        if not path.is_file():
            continue
        for sc in read_jsonl(path):
            if sc.value_id != vid:
                raise UserError(f"{path}: scenario {sc.id} has value_id {sc.value_id!r}, expected {vid!r}")
            if split is None or sc.split == split:
                out.append(sc)
    return out


def by_value(scenarios: list[Scenario]) -> dict[str, list[Scenario]]:
    grouped: dict[str, list[Scenario]] = {}
    for sc in scenarios:
        grouped.setdefault(sc.value_id, []).append(sc)
    return grouped
