"""Reading, validating and writing value vectors (and similarity matrices) in every accepted format.

Accepted: safetensors (tensor ``vectors`` + metadata ``value_ids`` as a JSON list), ``.npz`` (arrays
``vectors`` and ``value_ids``, loaded with ``allow_pickle=False``), JSON (``{"value_ids": [...],
"vectors": [[...]]}`` or ``{id: [...]}``) and CSV (first column ``value_id``). Pickle is never loaded.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from valuebench.errors import UserError
from valuebench.io import atomic_write_bytes

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
FORMATS = (".safetensors", ".npz", ".json", ".csv")


@dataclass
class Representation:
    """A method's output: one row per value, rows labelled by value id."""

    value_ids: list[str]
    vectors: np.ndarray
    metadata: dict = field(default_factory=dict)

    def aligned(self, value_ids: list[str]) -> np.ndarray:
        """Rows reordered to ``value_ids`` (which must be exactly this representation's ids)."""
        index = {vid: i for i, vid in enumerate(self.value_ids)}
        return self.vectors[[index[v] for v in value_ids]]


def validate(rep: Representation, expected_ids: list[str] | None, what: str) -> Representation:
    """Check a representation is usable; raise one clear ``UserError`` naming the first problem."""
    vecs = np.asarray(rep.vectors)
    if vecs.dtype == object or not np.issubdtype(vecs.dtype, np.number):
        raise UserError(f"{what}: vectors must be numeric, got dtype {vecs.dtype}")
    if vecs.ndim != 2:
        raise UserError(f"{what}: vectors must be a 2-D array [n_values, dim], got shape {vecs.shape}")
    if vecs.shape[0] != len(rep.value_ids):
        raise UserError(f"{what}: {vecs.shape[0]} vectors but {len(rep.value_ids)} value ids (dimension mismatch)")
    if vecs.shape[1] == 0:
        raise UserError(f"{what}: vectors have dimension 0")
    dupes = sorted({v for v in rep.value_ids if rep.value_ids.count(v) > 1})
    if dupes:
        raise UserError(f"{what}: duplicate value ids: {', '.join(dupes)}")
    if not np.isfinite(vecs).all():
        bad = [rep.value_ids[i] for i in np.where(~np.isfinite(vecs).all(axis=1))[0]]
        raise UserError(f"{what}: NaN or inf in vectors for {', '.join(bad)}")
    zero = [rep.value_ids[i] for i in np.where(np.linalg.norm(vecs, axis=1) == 0)[0]]
    if zero:
        raise UserError(f"{what}: zero vector (cosine undefined) for {', '.join(zero)}")
    if expected_ids is not None:
        missing = [v for v in expected_ids if v not in rep.value_ids]
        unknown = [v for v in rep.value_ids if v not in expected_ids]
        if unknown:
            raise UserError(f"{what}: unknown value ids: {', '.join(unknown)}")
        if missing:
            raise UserError(f"{what}: missing value ids: {', '.join(missing)}")
    return Representation(list(rep.value_ids), vecs.astype(np.float64), rep.metadata)


def _reject_pickle(path: Path) -> None:
    """Refuse pickle streams under any name. Not applied to safetensors: its 8-byte little-endian header
    length can start with the same two bytes (a 640-byte header is 80 02 ...), and its reader never unpickles."""
    if path.suffix.lower() == ".safetensors":
        return
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head in PICKLE_MAGIC:
        raise UserError(f"{path}: pickled data is never loaded; save vectors as safetensors, .npz, JSON or CSV")


def _read_safetensors(path: Path) -> Representation:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            if "vectors" not in fh.keys():
                raise UserError(f"{path}: safetensors file has no tensor named 'vectors'")
            vectors = fh.get_tensor("vectors")
    except UserError:
        raise
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise UserError(f"{path}: corrupt safetensors file ({type(exc).__name__}: {exc})") from None
    if "value_ids" not in meta:
        raise UserError(f"{path}: safetensors metadata has no 'value_ids' key")
    try:
        ids = json.loads(meta["value_ids"])
    except json.JSONDecodeError:
        raise UserError(f"{path}: metadata 'value_ids' is not a JSON list") from None
    extra = {k: v for k, v in meta.items() if k != "value_ids"}
    return Representation(_as_id_list(ids, path), vectors, {"file_metadata": extra} if extra else {})


def _read_npz(path: Path) -> Representation:
    try:
        with np.load(path, allow_pickle=False) as data:
            if "vectors" not in data.files or "value_ids" not in data.files:
                raise UserError(f"{path}: .npz needs arrays 'vectors' and 'value_ids', has {data.files}")
            return Representation(_as_id_list(data["value_ids"].tolist(), path), data["vectors"])
    except UserError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise UserError(f"{path}: .npz contains pickled object arrays, which are never loaded") from None
        raise UserError(f"{path}: corrupt .npz file ({exc})") from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UserError(f"{path}: corrupt .npz file ({exc})") from None


def _read_json(path: Path) -> Representation:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and "vectors" in data and "value_ids" in data:
        ids, rows = data["value_ids"], data["vectors"]
    elif isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        ids, rows = list(data), list(data.values())
    else:
        raise UserError(f"{path}: JSON must be {{'value_ids': [...], 'vectors': [[...]]}} or {{id: [numbers]}}")
    return Representation(_as_id_list(ids, path), _numeric_rows(rows, path))


def _read_csv(path: Path) -> Representation:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a readable CSV ({exc})") from None
    if frame.shape[1] < 2:
        raise UserError(f"{path}: CSV needs a value_id column and at least one number column")
    ids = frame.iloc[:, 0].astype(str).tolist()
    return Representation(_as_id_list(ids, path), _numeric_rows(frame.iloc[:, 1:].values.tolist(), path))


def _numeric_rows(rows: list, path: Path) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise UserError(f"{path}: vectors must be a non-empty list of rows")
    lengths = {len(r) if isinstance(r, list) else -1 for r in rows}
    if len(lengths) != 1 or -1 in lengths:
        raise UserError(f"{path}: vectors have inconsistent dimensions {sorted(lengths)} (dimension mismatch)")
    try:
        return np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserError(f"{path}: vectors contain non-numeric entries") from None


def _as_id_list(ids, path: Path) -> list[str]:
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UserError(f"{path}: value_ids must be a list of strings")
    return ids


READERS = {".safetensors": _read_safetensors, ".npz": _read_npz, ".json": _read_json, ".csv": _read_csv}


def read_vectors(path: Path, expected_ids: list[str] | None = None) -> Representation:
    """Read and validate a vectors file; ``expected_ids`` (a value set's ids) checks coverage."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"vectors file not found: {path}")
    _reject_pickle(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UserError(f"{path}: unsupported vectors format {path.suffix!r}; use one of {', '.join(FORMATS)}")
    return validate(reader(path), expected_ids, str(path))


def write_safetensors(path: Path, rep: Representation) -> None:
    """Write ``vectors`` [n, d] float32 with ``value_ids`` (and any string metadata) in the header."""
    from safetensors.numpy import save

    meta = {"value_ids": json.dumps(rep.value_ids)}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in rep.metadata.items()})
    data = save({"vectors": np.ascontiguousarray(rep.vectors, dtype=np.float32)}, metadata=meta)
    atomic_write_bytes(Path(path), data)


def cosine_similarity(vectors: np.ndarray) -> np.ndarray:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sim = unit @ unit.T
    return np.clip(sim, -1.0, 1.0)
