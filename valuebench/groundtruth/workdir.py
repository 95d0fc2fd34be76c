"""Resumable work: every finished unit (a steering condition, one DPO run) is one JSON file.

An interrupted pipeline re-run skips the units whose file exists, so hours of CPU are never redone.
The folder records the configuration it was made with; a changed configuration is refused rather than
silently mixed with old units. Each unit records the seconds it took (``_elapsed_s``), so a task's card
can report the compute of all the runs that built it, not just of the last, resumed one.
"""

from __future__ import annotations

import json
import time
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
        self._last = time.perf_counter()

    def file(self, unit: str) -> Path:
        return self.path / f"{unit}.json"

    def done(self, unit: str) -> bool:
        return self.file(unit).is_file()

    def save(self, unit: str, data: dict, elapsed: float | None = None) -> None:
        """Write a finished unit atomically; ``elapsed``: the seconds it took (default: since the last save)."""
        now = time.perf_counter()
        took = now - self._last if elapsed is None else elapsed
        atomic_write_json(self.file(unit), {**data, "_elapsed_s": round(took, 2)})
        self._last = now

    def compute_seconds(self) -> tuple[float, int, int, int]:
        """(summed ``_elapsed_s`` of the timed units, number of units, number without timing, number whose
        time was apportioned from a whole run's measured wall time, ``_elapsed_estimated``)."""
        units = [json.loads(f.read_text()) for f in sorted(self.path.glob("*.json")) if f.name != "config.json"]
        timed = [u["_elapsed_s"] for u in units if "_elapsed_s" in u]
        estimated = sum(bool(u.get("_elapsed_estimated")) for u in units)
        return float(sum(timed)), len(units), len(units) - len(timed), estimated

    def load(self, unit: str) -> dict:
        return json.loads(self.file(unit).read_text())
