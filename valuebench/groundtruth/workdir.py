"""Resumable work: every finished unit (a steering condition, one DPO run) is one JSON file.

An interrupted pipeline re-run skips the units whose file exists, so hours of CPU are never redone.
A unit's file also records the configuration it was made with; a changed configuration is refused
rather than silently mixed with old units.
"""

from __future__ import annotations

import json
from pathlib import Path

from valuebench.errors import UserError
from valuebench.io import atomic_write_json


class Workdir:
    def __init__(self, path: Path, config: dict):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.config = config
        cfg = self.path / "config.json"
        if cfg.is_file():
            old = json.loads(cfg.read_text())
            if old != json.loads(json.dumps(config, default=str)):
                raise UserError(f"work folder {self.path} was made with another configuration; "
                                "use a new --work-dir or delete it")
        else:
            atomic_write_json(cfg, json.loads(json.dumps(config, default=str)))

    def file(self, unit: str) -> Path:
        return self.path / f"{unit}.json"

    def done(self, unit: str) -> bool:
        return self.file(unit).is_file()

    def save(self, unit: str, data: dict) -> None:
        atomic_write_json(self.file(unit), data)

    def load(self, unit: str) -> dict:
        return json.loads(self.file(unit).read_text())
