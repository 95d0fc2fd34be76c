"""Value sets: the lists of values a task is measured over, loaded from ``tasks/value_sets/*.yaml``.

Values are always addressed by id, never by position: every matrix and vector file in valuebench carries
the value ids it is indexed by, and code aligns by id before comparing anything.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from valuebench.errors import UserError, did_you_mean, invalid_field
from valuebench.io import safe_load_yaml
from valuebench.paths import tasks_dir

ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: str
    url: str


class Value(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    statement: str = Field(min_length=1)
    source: Source
    labels: dict[str, str] = {}
    verbatim: bool = False


class ValueSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    description: str
    license: str
    labels: dict[str, list[str]] = {}
    values: list[Value] = Field(min_length=2)

    @model_validator(mode="after")
    def _check(self) -> "ValueSet":
        seen: set[str] = set()
        for value in self.values:
            if value.id in seen:
                raise ValueError(f"duplicate value id {value.id!r}")
            seen.add(value.id)
            for key, label in value.labels.items():
                allowed = self.labels.get(key)
                if allowed is None:
                    raise ValueError(f"value {value.id!r} uses undeclared label {key!r}")
                if label not in allowed:
                    raise ValueError(f"value {value.id!r}: label {key}={label!r} not in {allowed}")
        for key in self.labels:
            missing = [v.id for v in self.values if key not in v.labels]
            if missing:
                raise ValueError(f"label {key!r} missing on values {missing}")
        return self

    @property
    def ids(self) -> list[str]:
        return [v.id for v in self.values]

    @property
    def statements(self) -> list[str]:
        return [v.statement for v in self.values]

    def __len__(self) -> int:
        return len(self.values)

    def get(self, value_id: str) -> Value:
        for value in self.values:
            if value.id == value_id:
                return value
        raise did_you_mean("value id", value_id, self.ids)

    def label_vector(self, label: str) -> list[str]:
        """The label of every value, in value-set order (for colouring maps and silhouettes)."""
        if label not in self.labels:
            raise did_you_mean("label", label, list(self.labels))
        return [v.labels[label] for v in self.values]


def value_sets_dir() -> Path:
    return tasks_dir() / "value_sets"


def list_value_sets() -> list[str]:
    return sorted(p.stem for p in value_sets_dir().glob("*.yaml"))


def load_value_set_file(path: Path) -> ValueSet:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"value-set file not found: {path}")
    data = safe_load_yaml(path.read_text(encoding="utf-8"), str(path))
    try:
        vs = ValueSet.model_validate(data)
    except ValidationError as exc:
        raise UserError(f"{path}: invalid value set at {invalid_field(exc)}") from None
    if vs.name != path.stem:
        raise UserError(f"{path}: value set name {vs.name!r} does not match file name {path.stem!r}")
    return vs


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime: float) -> ValueSet:
    return load_value_set_file(Path(path))


def load_value_set(name: str) -> ValueSet:
    """Load a registered value set by name (or a YAML file by path)."""
    candidate = Path(name)
    if candidate.suffix in {".yaml", ".yml"} and candidate.is_file():
        return load_value_set_file(candidate)
    path = value_sets_dir() / f"{name}.yaml"
    if not path.is_file():
        raise did_you_mean("value set", name, list_value_sets())
    return _load_cached(str(path), path.stat().st_mtime)
