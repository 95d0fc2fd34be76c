"""Small file helpers shared by every writer: atomic writes and safe YAML."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from valuebench.errors import UserError

MAX_YAML_BYTES = 1_000_000


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
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*anchor) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def safe_load_yaml(text: str, what: str) -> Any:
    """Parse untrusted YAML: size-capped, no aliases, no Python tags. ``what`` names the source in errors."""
    if len(text) > MAX_YAML_BYTES:
        raise UserError(f"{what}: YAML larger than {MAX_YAML_BYTES} bytes")
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise UserError(f"{what}: malformed YAML: {msg}") from None


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
