"""Write a task folder: matrix CSVs, sha256s and the card (YAML front matter + markdown body).

Everything is written to a temporary sibling folder first and renamed into place, so an interrupted
write never leaves a half-made task that the registry would pick up.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from valuebench.io import sha256_file
from valuebench.tasks import TaskMetadata, load_task_card


def matrix_frame(matrix: np.ndarray, value_ids: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(np.asarray(matrix, dtype=float), index=value_ids, columns=value_ids)
    frame.index.name = "value_id"
    return frame


def write_task(folder: Path, metadata: dict, matrix: np.ndarray, value_ids: list[str], body: str,
               replicates: list[np.ndarray] = (), extra_files: dict[str, str] | None = None) -> Path:
    """Create ``folder`` as a task: ``matrix.csv``, ``replicate-<k>.csv``, extra text files, ``README.md``.

    ``metadata`` is the card's front matter without the file entries, which are filled in here.
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
        meta.setdefault("configs", [{"config_name": "default", "data_files": "matrix.csv"}])
        TaskMetadata.model_validate(meta)  # fail before anything is published
        front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=110)
        (tmp / "README.md").write_text(f"---\n{front}---\n\n{body.strip()}\n", encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists() and tmp != folder:
            shutil.rmtree(tmp, ignore_errors=True)
    load_task_card(folder / "README.md")
    return folder
