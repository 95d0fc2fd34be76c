"""Small file helpers shared by every reader and writer: atomic writes, size-capped reads, safe YAML and JSON.

Every file a user can hand valuebench (vectors, similarity matrices, cards, YAML, JSON) is size-checked
*before* it is parsed, against one limit: ``MAX_INPUT_BYTES`` (20 MB, the same as a submitted file), which
``VALUEBENCH_MAX_INPUT_BYTES`` or the CLI flag ``valuebench --max-input-mb N`` raises for trusted local files.
JSON is refused when nested deeper than ``MAX_JSON_DEPTH`` (checked before ``json.loads``, so a 100,000-deep
array is one clear error, not a ``RecursionError``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from valuebench.errors import UserError

MAX_YAML_BYTES = 1_000_000
#: one limit for every input file, the same as a submitted file's (``submissions.MAX_FILE_BYTES``)
MAX_INPUT_BYTES = 20_000_000
MAX_INPUT_ENV = "VALUEBENCH_MAX_INPUT_BYTES"
#: vectors JSON needs depth 3 ({"vectors": [[...]]}); anything far deeper is hostile
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def input_limit() -> int:
    """Bytes any one input file may have: ``VALUEBENCH_MAX_INPUT_BYTES`` if set (a positive integer), else 20 MB."""
    raw = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not raw:
        return MAX_INPUT_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise UserError(f"{MAX_INPUT_ENV} must be a positive integer number of bytes, got {raw!r}") from None
    if value <= 0:
        raise UserError(f"{MAX_INPUT_ENV} must be a positive integer number of bytes, got {raw!r}")
    return value


def check_size(path: Path, limit: int | None = None, what: str | None = None) -> int:
    """Refuse a file over ``limit`` bytes (default ``input_limit()``) before anything reads it; returns its size."""
    path = Path(path)
    hint = "" if limit is not None else f" (raise it with --max-input-mb or {MAX_INPUT_ENV})"
    limit = input_limit() if limit is None else limit
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UserError(f"{what or path}: cannot read ({exc.strerror or exc})") from None
    if size > limit:
        raise UserError(f"{what or path}: file is {size / 1e6:.1f} MB, over the {limit / 1e6:g} MB input limit{hint}")
    return size


def read_bytes_capped(path: Path, limit: int | None = None, what: str | None = None) -> bytes:
    """The whole file, refused before reading if it is over the limit (and if it grew while being read)."""
    check_size(path, limit, what)
    limit = input_limit() if limit is None else limit
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise UserError(f"{what or path}: file is over the {limit / 1e6:g} MB input limit")
    return data


def read_text_capped(path: Path, limit: int | None = None, what: str | None = None) -> str:
    """UTF-8 text of a size-capped file; invalid UTF-8 is a one-line ``UserError``."""
    data = read_bytes_capped(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{what or path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def json_depth(data: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in a JSON document, strings ignored (linear time, no recursion)."""
    import numpy as np

    step = np.zeros(256, dtype=np.int64)  # a byte's effect on the depth (a lookup: np.isin sorts, ~5x slower)
    step[[ord("["), ord("{")]], step[[ord("]"), ord("}")]] = 1, -1
    codes = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    return int(np.cumsum(step[codes]).max(initial=0))


def load_json_bytes(data: bytes, what: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse untrusted JSON: depth-limited before parsing, one-line errors."""
    depth = json_depth(data)
    if depth > max_depth:
        raise UserError(f"{what}: JSON nested {depth} levels deep, more than the {max_depth} allowed")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(f"{what}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise UserError(f"{what}: not valid JSON ({one_line(exc)})") from None


def one_line(exc: BaseException | str, limit: int = 300) -> str:
    """A message on one line, at most ``limit`` characters (pandas and YAML errors span several lines)."""
    text = " ".join(str(exc).split()) or (type(exc).__name__ if isinstance(exc, BaseException) else "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_list(items, limit: int = 10) -> str:
    """``a, b, c, … (+N more)``: error messages name the first few offenders, never a million of them."""
    items = [str(i) for i in items]
    head = ", ".join(i if len(i) <= 80 else i[:79] + "…" for i in items[:limit])
    return head + (f", … (+{len(items) - limit} more)" if len(items) > limit else "")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename, so no reader ever sees half a file. The file
    gets the permissions a plain ``open()`` would give (mkstemp's private 0600 would leak into results)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases: they are how billion-laughs YAML bombs expand."""

    def compose_node(self, parent, index):  # noqa: D401 - yaml API
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, _ALIAS_MESSAGE, event.start_mark)
        return super().compose_node(parent, index)


_CSafeLoader = getattr(yaml, "CSafeLoader", None)  # libyaml: ~10x faster (a 10,000-entry board reads 10,000 metas)
_ALIAS_MESSAGE = "YAML aliases (*anchor) are not allowed"


def _check_nodes(root) -> None:
    """Refuse aliases (a node reached twice) and nesting deeper than ``MAX_JSON_DEPTH``, walking the composed
    node graph iteratively (what ``_NoAliasLoader`` checks while composing, for the C parser)."""
    seen: set[int] = set()
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise yaml.composer.ComposerError(None, None, _ALIAS_MESSAGE, node.start_mark)
        seen.add(id(node))
        if depth > MAX_JSON_DEPTH:
            raise RecursionError
        if isinstance(node, yaml.MappingNode):
            stack.extend((x, depth + 1) for pair in node.value for x in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((x, depth + 1) for x in node.value)


def _load(text: str) -> Any:
    if _CSafeLoader is None:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - SafeLoader subclass
    loader = _CSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def safe_load_yaml(text: str, what: str) -> Any:
    """Parse untrusted YAML: size-capped, no aliases, no Python tags. ``what`` names the source in errors."""
    if len(text) > MAX_YAML_BYTES:
        raise UserError(f"{what}: YAML larger than {MAX_YAML_BYTES} bytes")
    depth = json_depth(text.encode("utf-8", "surrogatepass"))  # flow style [[[...]]] nests like JSON
    if depth > MAX_JSON_DEPTH:
        raise UserError(f"{what}: YAML nested {depth} levels deep, more than the {MAX_JSON_DEPTH} allowed")
    try:
        return _load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{what}: malformed YAML: {one_line(exc)}") from None
    except RecursionError:  # deep block-style nesting (indentation), which the bracket count cannot see
        raise UserError(f"{what}: YAML nested too deeply") from None


def split_front_matter(text: str, what: str) -> tuple[Any, str]:
    """Split a card into (YAML front matter, markdown body), as Hugging Face dataset cards are laid out."""
    if not text.startswith("---"):
        raise UserError(f"{what}: card has no YAML front matter (must start with '---')")
    parts = text.split("\n---", 1)
    if len(parts) != 2:
        raise UserError(f"{what}: front matter is not closed by a '---' line")
    head = parts[0][3:]
    body = parts[1].split("\n", 1)[1] if "\n" in parts[1] else ""
    return safe_load_yaml(head, what), body
