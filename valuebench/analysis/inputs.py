"""What the analyses take in: a method's vectors on a value set, and output paths checked up front.

Shared by the CLI and the report so both compute the same thing the scorer does (validated vectors,
aligned to the value set by id), and so a bad output path fails before minutes of work, not after.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import numpy as np

from valuebench.errors import UserError
from valuebench.io import atomic_write_bytes
from valuebench.methods.base import Method
from valuebench.methods.cache import represent_cached
from valuebench.values import ValueSet
from valuebench.vectors import validate


def method_vectors(method: Method, value_set: ValueSet, *, use_cache: bool = True) -> np.ndarray:
    """The method's vectors [n, d], validated and in value-set order (as ``valuebench represent`` does)."""
    rep = validate(represent_cached(method, value_set, use_cache=use_cache), value_set.ids, f"method {method.name}")
    return rep.aligned(value_set.ids)


def check_output(path: str | Path, suffixes: tuple[str, ...], *, directory: bool = False) -> Path:
    """Reject an unsupported extension or an unwritable location before any work is done."""
    out = Path(path)
    if not directory and out.suffix.lower() not in suffixes:
        raise UserError(f"unsupported output extension {out.suffix or '(none)'!r} for {out}; "
                        f"use one of {', '.join(suffixes)}")
    if not directory and out.is_dir():
        raise UserError(f"output {out} is a directory; give a file name")
    if directory and out.exists() and not out.is_dir():
        raise UserError(f"output {out} exists and is not a directory")
    parent = out if directory else out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to {out}: {parent} is not a writable directory")
    return out


def write_output(path: Path, data: bytes) -> None:
    """Atomic write; an OS failure (full disk, permissions) is the user's to fix, in one line."""
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
