"""Atomic writes: readers never see half a file, failures leave nothing behind, permissions are ordinary."""

from __future__ import annotations

import os
import stat

import pytest

from valuebench.io import atomic_write_bytes, atomic_write_json, atomic_write_text


def test_atomic_write_has_plain_open_permissions(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write_text(tmp_path / "atomic.txt", "x")
    mode = stat.S_IMODE(os.stat(tmp_path / "atomic.txt").st_mode)
    assert mode == stat.S_IMODE(os.stat(plain).st_mode) and mode & stat.S_IRGRP


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "r.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(ValueError):
        atomic_write_json(target, {"a": float("nan")})  # NaN is refused before anything is written
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # fails inside the write, after the temp file exists
    assert target.read_text() == '{\n  "a": 1\n}\n' and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
