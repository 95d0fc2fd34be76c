"""Reading, validating and writing value vectors (and similarity matrices) in every accepted format.

Accepted: safetensors (tensor ``vectors`` + metadata ``value_ids`` as a JSON list), ``.npz`` (arrays
``vectors`` and ``value_ids``, loaded with ``allow_pickle=False``), JSON (``{"value_ids": [...],
"vectors": [[...]]}`` or ``{id: [...]}``) and CSV (first column ``value_id``). Pickle is never loaded.

Files come from strangers, so every reader is bounded before it parses: the file size (``io.input_limit``),
the uncompressed size and declared shape of every ``.npz`` member (a zip bomb is refused from its headers),
the JSON nesting depth, the CSV field count of the header line, and at most ``MAX_VALUES`` rows of at most
``MAX_DIM`` numbers. Validation is linear in the number of ids, and error messages name a few offenders.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from valuebench.errors import UserError
from valuebench.io import (
    atomic_write_bytes,
    check_size,
    input_limit,
    load_json_bytes,
    one_line,
    read_bytes_capped,
    short_list,
)

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
FORMATS = (".safetensors", ".npz", ".json", ".csv")
#: bounds on any vectors file: a value set has tens of values, a model's hidden size is at most tens of thousands
MAX_VALUES = 10_000
MAX_DIM = 100_000
#: pairwise similarities closer than this are "all equal": the rank correlation is undefined
CONSTANT_TOL = 1e-12


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
    if (vecs.dtype == object or not np.issubdtype(vecs.dtype, np.number)
            or np.issubdtype(vecs.dtype, np.complexfloating)):
        raise UserError(f"{what}: vectors must be real numbers, got dtype {vecs.dtype}")
    if vecs.ndim != 2:
        raise UserError(f"{what}: vectors must be a 2-D array [n_values, dim], got shape {vecs.shape}")
    if vecs.shape[0] != len(rep.value_ids):
        raise UserError(f"{what}: {vecs.shape[0]} vectors but {len(rep.value_ids)} value ids (dimension mismatch)")
    if vecs.shape[1] == 0:
        raise UserError(f"{what}: vectors have dimension 0")
    if vecs.shape[0] > MAX_VALUES or vecs.shape[1] > MAX_DIM:
        raise UserError(f"{what}: {vecs.shape[0]} x {vecs.shape[1]} vectors exceed the limits "
                        f"({MAX_VALUES} values, {MAX_DIM} dimensions)")
    dupes = sorted(v for v, c in Counter(rep.value_ids).items() if c > 1)
    if dupes:
        raise UserError(f"{what}: duplicate value ids: {short_list(dupes)}")
    if expected_ids is not None:
        have, want = set(rep.value_ids), set(expected_ids)
        unknown = [v for v in rep.value_ids if v not in want]
        missing = [v for v in expected_ids if v not in have]
        if unknown:
            raise UserError(f"{what}: unknown value ids: {short_list(unknown)}")
        if missing:
            raise UserError(f"{what}: missing value ids: {short_list(missing)}")
    vecs = vecs.astype(np.float64)
    finite = np.isfinite(vecs).all(axis=1)
    if not finite.all():
        raise UserError(f"{what}: NaN or inf in vectors for {short_list(np.array(rep.value_ids)[~finite])}")
    zero = ~(vecs != 0).any(axis=1)
    if zero.any():
        raise UserError(f"{what}: zero vector (cosine undefined) for {short_list(np.array(rep.value_ids)[zero])}")
    with np.errstate(over="ignore", under="ignore"):
        norms = np.linalg.norm(vecs, axis=1)
    if not (np.isfinite(norms) & (norms > 0)).all():  # squares over- or underflow: rescale rows (cosine only
        vecs = vecs / np.abs(vecs).max(axis=1, keepdims=True)  # sees directions)
    if expected_ids is not None and len(expected_ids) >= 3:
        sim = cosine_similarity(vecs)
        off = sim[~np.eye(len(sim), dtype=bool)]
        if off.max() - off.min() <= CONSTANT_TOL:
            raise UserError(f"{what}: every pairwise cosine similarity is {off[0]:.6g} (identical or parallel "
                            "vectors), so the rank correlation with any task is undefined")
    return Representation(list(rep.value_ids), vecs, rep.metadata)


def _reject_pickle(path: Path) -> None:
    """Refuse pickle streams under any name. Not applied to safetensors: its 8-byte little-endian header
    length can start with the same two bytes (a 640-byte header is 80 02 ...), and its reader never unpickles."""
    if path.suffix.lower() == ".safetensors":
        return
    with open(path, "rb") as fh:
        head = fh.read(2)
    if head in PICKLE_MAGIC:
        raise UserError(f"{path}: pickled data is never loaded; save vectors as safetensors, .npz, JSON or CSV")


def _read_safetensors(path: Path, limit: int) -> Representation:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            if "vectors" not in fh.keys():
                raise UserError(f"{path}: safetensors file has no tensor named 'vectors'")
            shape = fh.get_slice("vectors").get_shape()
            if len(shape) != 2 or shape[0] > MAX_VALUES or shape[1] > MAX_DIM:
                raise UserError(f"{path}: tensor 'vectors' has shape {list(shape)}; expected [n_values <= "
                                f"{MAX_VALUES}, dim <= {MAX_DIM}]")
            vectors = fh.get_tensor("vectors")
    except UserError:
        raise
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise UserError(f"{path}: corrupt safetensors file ({type(exc).__name__}: {one_line(exc)})") from None
    if "value_ids" not in meta:
        raise UserError(f"{path}: safetensors metadata has no 'value_ids' key")
    ids = load_json_bytes(meta["value_ids"].encode("utf-8", "surrogatepass"), f"{path}: metadata 'value_ids'")
    extra = {k: v for k, v in meta.items() if k != "value_ids"}
    return Representation(_as_id_list(ids, path), vectors, {"file_metadata": extra} if extra else {})


NPZ_MEMBERS = ("vectors.npy", "value_ids.npy")
MAX_NPZ_MEMBERS = 64


def _read_npz(path: Path, limit: int) -> Representation:
    """Read an .npz in one pass over its zip directory and .npy headers, refusing before any array is inflated:
    a zip bomb, an object (pickled) array, or a header declaring more data than the member holds never gets its
    data read (``np.load`` would open the archive and parse every header a second time)."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] != b"PK":
        raise UserError(f"{path}: not an .npz file (an .npz is a zip archive of .npy arrays; this file does not "
                        "start with the zip signature)")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_NPZ_MEMBERS:
                raise UserError(f"{path}: .npz holds {len(infos)} arrays; expected 'vectors' and 'value_ids'")
            names = {i.filename: i for i in infos}
            missing = [m for m in NPZ_MEMBERS if m not in names]
            if missing:
                raise UserError(f"{path}: .npz needs arrays 'vectors' and 'value_ids', has "
                                f"{short_list(sorted(n.removesuffix('.npy') for n in names))}")
            total = sum(names[m].file_size for m in NPZ_MEMBERS)
            if total > limit:
                raise UserError(f"{path}: .npz arrays inflate to {total / 1e6:.1f} MB, over the "
                                f"{limit / 1e6:g} MB input limit")
            arrays = {m: _npy_member(zf, names[m], path) for m in NPZ_MEMBERS}
    except UserError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise UserError(f"{path}: corrupt .npz file ({one_line(exc)})") from None
    return Representation(_as_id_list(arrays["value_ids.npy"].tolist(), path), arrays["vectors.npy"])


def _npy_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One .npy member: header checked first (no object dtype, no more data declared than held), then read."""
    member = info.filename[:-4]
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = reader(fh)
        if dtype.hasobject:
            raise UserError(f"{path}: .npz contains pickled object arrays, which are never loaded")
        count = int(np.prod(shape, dtype=object))
        if count * dtype.itemsize > info.file_size:
            raise UserError(f"{path}: array {member!r} declares shape {list(shape)}, more data than the file holds")
        data = fh.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise UserError(f"{path}: array {member!r} is truncated ({len(data)} of {count * dtype.itemsize} bytes)")
    return np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C").copy()


def _read_json(path: Path, limit: int) -> Representation:
    data = load_json_bytes(read_bytes_capped(path, limit), str(path))
    if isinstance(data, dict) and "vectors" in data and "value_ids" in data:
        ids, rows = data["value_ids"], data["vectors"]
    elif isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        ids, rows = list(data), list(data.values())
    else:
        raise UserError(f"{path}: JSON must be {{'value_ids': [...], 'vectors': [[...]]}} or {{id: [numbers]}}")
    return Representation(_as_id_list(ids, path), _numeric_rows(rows, path))


def read_labelled_csv(path: Path, limit: int | None = None, *, allow_empty: bool = False
                      ) -> tuple[list[str], list[str], np.ndarray]:
    """A strict CSV reader (not pandas, which guesses): a header ``<label>,<c1>,...``, then rows ``<id>,<numbers>``
    with exactly as many fields as the header. Returns (column labels, row ids, [rows, columns] floats).
    ``allow_empty``: an empty cell is NaN (a similarity matrix's diagonal) instead of an error."""
    raw = read_bytes_capped(path, limit)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    first = text.split("\n", 1)[0]
    if first.count(",") > MAX_DIM:
        raise UserError(f"{path}: header has more than {MAX_DIM + 1} fields (at most {MAX_DIM} columns)")
    ids, rows = [], []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        header = next(reader, None)
        if not header or len(header) < 2:
            raise UserError(f"{path}: CSV needs a header 'value_id,<column 1>,...' with at least one number column")
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise UserError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)} "
                                "(every row must be an id followed by one number per header column)")
            if len(ids) >= MAX_VALUES:
                raise UserError(f"{path}: more than {MAX_VALUES} rows")
            try:
                rows.append(np.array([float(x) if (x.strip() or not allow_empty) else np.nan for x in row[1:]],
                                     dtype=np.float64))
            except ValueError:
                bad = next(x for x in row[1:] if not _is_float(x) and (x.strip() or not allow_empty))
                raise UserError(f"{path}: line {line}: {one_line(bad, 40)!r} is not a number") from None
            ids.append(row[0])
    except csv.Error as exc:
        raise UserError(f"{path}: not a readable CSV ({one_line(exc)})") from None
    if not rows:
        raise UserError(f"{path}: CSV has a header but no rows")
    return header[1:], ids, np.stack(rows)


def _read_csv(path: Path, limit: int) -> Representation:
    """CSV vectors: header ``value_id,<d1>,...``, one row per value (``read_labelled_csv``)."""
    _, ids, vectors = read_labelled_csv(path, limit)
    return Representation(ids, vectors)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numeric_rows(rows: list, path: Path) -> np.ndarray:
    if not isinstance(rows, list) or not rows:
        raise UserError(f"{path}: vectors must be a non-empty list of rows")
    if len(rows) > MAX_VALUES:
        raise UserError(f"{path}: more than {MAX_VALUES} vectors")
    lengths = {len(r) if isinstance(r, list) else -1 for r in rows}
    if -1 in lengths:
        raise UserError(f"{path}: every vector must be a list of numbers")
    if len(lengths) != 1:
        raise UserError(f"{path}: vectors have different lengths {short_list(sorted(lengths), 5)} (dimension mismatch)")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for r in rows for x in r):
        raise UserError(f"{path}: vectors contain non-numeric entries (every entry must be a JSON number)")
    try:
        return np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise UserError(f"{path}: vectors contain numbers that do not fit a 64-bit float") from None


def _as_id_list(ids, path: Path) -> list[str]:
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise UserError(f"{path}: value_ids must be a list of strings")
    if len(ids) > MAX_VALUES:
        raise UserError(f"{path}: more than {MAX_VALUES} value ids")
    return ids


READERS = {".safetensors": _read_safetensors, ".npz": _read_npz, ".json": _read_json, ".csv": _read_csv}


def read_vectors(path: Path, expected_ids: list[str] | None = None, *, max_bytes: int | None = None
                 ) -> Representation:
    """Read and validate a vectors file; ``expected_ids`` (a value set's ids) checks coverage. The file is
    refused before parsing if it is over ``max_bytes`` (default: ``io.input_limit()``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"vectors file not found: {path}")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise UserError(f"{path}: unsupported vectors format {path.suffix!r}; use one of {', '.join(FORMATS)}")
    check_size(path, max_bytes)  # None: the CLI's limit, with a hint how to raise it
    limit = input_limit() if max_bytes is None else max_bytes
    _reject_pickle(path)
    return validate(reader(path, limit), expected_ids, str(path))


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


def write_npz(path: Path, rep: Representation) -> None:
    """Write ``vectors`` [n, d] float32 and ``value_ids`` (unicode, no pickle) as an ``.npz`` that ``read_vectors``
    reads back."""
    buf = io.BytesIO()
    np.savez(buf, vectors=np.ascontiguousarray(rep.vectors, dtype=np.float32),
             value_ids=np.array(rep.value_ids, dtype=str))
    atomic_write_bytes(Path(path), buf.getvalue())


#: the formats ``represent`` writes, by suffix
WRITERS = {".safetensors": write_safetensors, ".npz": write_npz}
