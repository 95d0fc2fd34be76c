"""Hostile input, faults and cheating (issue 16): the audit's attack classes as parametrized tests, plus
property-based tests (hypothesis) over vector files and option strings.

Every user-caused failure must end in exit 2 with one line on stderr and no traceback; nothing may be
written outside the folder a command was given; one bad entry never stops the others; a copied answer is
flagged; the app defends itself. Runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import resource
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valuebench import benchmarks, hub, tasks
from valuebench.cli import main
from valuebench.errors import UserError
from valuebench.leaderboard import integrity, submissions
from valuebench.leaderboard import view as board_view
from valuebench.leaderboard.build import build
from valuebench.leaderboard.submissions import check_all, check_name, stage_upload
from valuebench.values import load_value_set
from valuebench.vectors import Representation

REPO = Path(__file__).parent.parent

IDS = load_value_set("constraints-9").ids
FAST = ["--tasks", "fixture-constraints", "--permutations", "20", "--bootstrap", "20"]
META = ("name: {n}\nmethod: m\ndescription: d\nauthors: [A]\nlicense: MIT\ndate: 2026-11-23\n"
        "derived_from: [value statements]\n")


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, out, err, needle=None):
    assert code == 2, (code, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("valuebench: error: "), err
    if needle:
        assert needle.lower() in err.lower(), err


def good_vectors(seed=0, n=len(IDS), dim=8):
    return np.random.default_rng(seed).standard_normal((n, dim))


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def bomb_npz() -> bytes:
    """A valid zip whose vectors.npy header declares 10^9 x 10^3 float64 (8 TB) over a few bytes."""
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000), }"
    header = header + " " * (118 - len(header)) + "\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\x00" * 64
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("vectors.npy", npy)
        ids = io.BytesIO()
        np.save(ids, np.array(IDS))
        zf.writestr("value_ids.npy", ids.getvalue())
    return buf.getvalue()


def csv_text(ids, vecs) -> str:
    return "value_id," + ",".join(f"d{i}" for i in range(vecs.shape[1])) + "\n" + "".join(
        f"{v}," + ",".join(repr(float(x)) for x in row) + "\n" for v, row in zip(ids, vecs))


HOSTILE_VECTOR_FILES = {
    "pickle-as-npz": ("v.npz", pickle.dumps({"vectors": [1]}), "pickled"),
    "pickle-as-json": ("v.json", pickle.dumps([1, 2]), "pickled"),
    "object-array-npz": ("v.npz", npz_bytes(vectors=np.array([[1, "a"]] * 9, dtype=object), value_ids=np.array(IDS)),
                         "pickled object arrays"),
    "all-zero-npz": ("v.npz", b"\x00" * 4096, "not an .npz"),
    "zip-bomb-npz": ("v.npz", bomb_npz(), "declares shape"),
    "json-100k-deep": ("v.json", b"[" * 100_000 + b"]" * 100_000, "nested 100000 levels"),
    "json-huge-int": ("v.json", json.dumps({"value_ids": IDS, "vectors": [[1] * 3] * 9}).replace("1", "9" * 5000, 1)
                      .encode(), "not valid json"),
    "json-strings": ("v.json", json.dumps({"value_ids": IDS, "vectors": [["a", "b"]] * 9}).encode(), "non-numeric"),
    "json-nan": ("v.json", json.dumps({"value_ids": IDS, "vectors": [[float("nan"), 1.0]] * 9}).encode(), "NaN or inf"),
    "json-ragged": ("v.json", json.dumps({"value_ids": IDS, "vectors": [[1.0] * (i + 1) for i in range(9)]}).encode(),
                    "different lengths"),
    "csv-ragged": ("v.csv", (csv_text(IDS, good_vectors()) + "x,1,2,3,4,5,6,7,8,9,10\n").encode(), "line 11 has"),
    "csv-text-cell": ("v.csv", csv_text(IDS, good_vectors()).replace("d0\n", "d0\n", 1).replace(",", ",abc,", 1)
                      .encode(), "fields"),
    "csv-wide-header": ("v.csv", ("value_id," + ",".join("x" * 200_000) + "\n").encode(), "header has more than"),
    "csv-bad-utf8": ("v.csv", b"value_id,a\n\xff\xfe,1\n", "not utf-8"),
    "csv-duplicate-ids": ("v.csv", csv_text([IDS[0]] * 9, good_vectors()).encode(), "duplicate value ids"),
    "identical-vectors": ("v.csv", csv_text(IDS, np.ones((9, 4))).encode(), "every pairwise cosine"),
    "zero-vector": ("v.csv", csv_text(IDS, np.vstack([np.zeros((1, 4)), good_vectors(n=8, dim=4)])).encode(),
                    "zero vector"),
    "safetensors-garbage": ("v.safetensors", b"\xff" * 64, "corrupt safetensors"),
    "unknown-ids": ("v.csv", csv_text([f"x{i}" for i in range(9)], good_vectors()).encode(), "unknown value ids"),
    "unsupported-suffix": ("v.pkl", b"whatever", "unsupported vectors format"),
}


@pytest.mark.usefixtures("fixture_tasks_only")
@pytest.mark.parametrize("case", sorted(HOSTILE_VECTOR_FILES))
def test_hostile_vector_files(case, capsys, tmp_path):
    name, data, needle = HOSTILE_VECTOR_FILES[case]
    path = tmp_path / name
    path.write_bytes(data)
    out_dir = tmp_path / "results"
    code, out, err = run(capsys, "evaluate", "--method", f"vectors:{path}", *FAST, "--output-dir", out_dir)
    assert_user_error(code, out, err, needle)
    assert not out_dir.exists() or not any(out_dir.rglob("*.json"))


def test_hostile_safetensors_shapes_and_metadata(capsys, tmp_path):
    from safetensors.numpy import save

    deep = save({"vectors": np.ones((9, 2, 2), dtype=np.float32)}, metadata={"value_ids": json.dumps(IDS)})
    meta = save({"vectors": good_vectors().astype(np.float32)}, metadata={"value_ids": "[" * 50_000})
    for data, needle in ((deep, "shape"), (meta, "nested")):
        (tmp_path / "v.safetensors").write_bytes(data)
        code, out, err = run(capsys, "evaluate", "--method", f"vectors:{tmp_path / 'v.safetensors'}", *FAST)
        assert_user_error(code, out, err, needle)


def test_oversized_file_is_refused_before_parsing(capsys, tmp_path):
    big = tmp_path / "big.csv"
    with open(big, "wb") as fh:  # sparse: 25 MB on paper, nothing on disk
        fh.write(b"value_id,a\n")
        fh.truncate(25_000_000)
    small = tmp_path / "small.csv"
    small.write_bytes(b"value_id,a\n")
    run(capsys, "evaluate", "--method", f"vectors:{small}", *FAST)  # warm up: imports, task registry
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, out, err = run(capsys, "evaluate", "--method", f"vectors:{big}", *FAST)
    assert_user_error(code, out, err, "over the 20 MB input limit")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 20_000  # KB: never read into memory
    code, out, err = run(capsys, "--max-input-mb", "30", "evaluate", "--method", f"vectors:{big}", *FAST)
    assert code == 2 and "input limit" not in err  # the flag raises the cap; the file is then parsed (and refused)


OPTION_CASES = [
    (["--method", "random", "--option", "dim=abc"], "must be an integer"),
    (["--method", "random", "--option", "dim=-5"], "between 1 and"),
    (["--method", "random", "--option", "dim=1.5"], "must be an integer"),
    (["--method", "random", "--option", "dim=1000000000"], "between 1 and 100000"),
    (["--method", "random", "--option", "dim=true"], "must be an integer"),
    (["--method", "tfidf", "--option", "ngram_max=0"], "between 1 and 5"),
    (["--method", "tfidf", "--option", "sublinear_tf=maybe"], "true or false"),
    (["--method", "random", "--seed", "-1"], "between 0 and"),
    (["--method", "random", "--option", "nope=1"], "has no option"),
    (["--method", "random", "--option", "dim"], "key=value"),
    (["--method", "random", "--option", "dim=" + "[" * 5000], "nested"),
    (["--method", "random", "--option", "dim=*a"], "malformed yaml"),
    (["--method", "random", "--option", "dim=!!python/object:os.system ls"], "malformed yaml"),
    (["--method", "random", "--permutations", "-1"], "--permutations must be between"),
    (["--method", "random", "--permutations", "10000000000"], "--permutations must be between"),
    (["--method", "random", "--bootstrap", "0"], "--bootstrap must be between"),
    (["--method", "random", "--score-seed", "-1"], "--score-seed must be between"),
    (["--method", "random", "--tasks", ","], "names nothing"),
    (["--method", "random", "--tasks", "fixture-constraints,fixture-constraints"], "more than once"),
    (["--method", "vectors:x.npz", "--option", "dim=3"], "takes no method options"),
    (["--method", "vectors:x.npz", "--seed", "3"], "takes no method options"),
    (["--method", "random", "--tasks", "no-such-task"], "unknown task"),
]


@pytest.mark.parametrize("argv,needle", OPTION_CASES, ids=[" ".join(a[1:])[:40] for a, _ in OPTION_CASES])
def test_hostile_options(argv, needle, capsys):
    code, out, err = run(capsys, "evaluate", *argv)
    assert_user_error(code, out, err, needle)


@pytest.mark.parametrize("target", ["file", "unwritable"])
def test_output_dir_checked_before_work(target, capsys, tmp_path):
    bad = tmp_path / "out"
    if target == "file":
        bad.write_text("x")
    else:
        bad.mkdir()
        bad.chmod(0o500)
        if os.access(bad, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: permissions are not enforced")
    code, out, err = run(capsys, "evaluate", "--method", "random", *FAST, "--output-dir", bad)
    assert_user_error(code, out, err, "--output-dir")


def test_leaderboard_build_seed_range(capsys, tmp_path):
    code, out, err = run(capsys, "leaderboard", "build", "--seed", "-1", "--submissions", tmp_path)
    assert_user_error(code, out, err, "--seed must be between")


# --------------------------------------------------------------------------------------------------
# submission folders


def write_sub(root: Path, name: str, files: dict[str, bytes], meta: str | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "meta.yaml").write_text(META.format(n=name) if meta is None else meta)
    for fname, data in files.items():
        (folder / fname).write_bytes(data)
    return folder


def good_npz(seed=0) -> bytes:
    return npz_bytes(vectors=good_vectors(seed), value_ids=np.array(IDS))


def leaked_similarity(task_name="fixture-constraints") -> bytes:
    task = benchmarks.get_task(task_name)
    m = np.nan_to_num(task.matrix, nan=0.0)
    sim = (m + m.T) / 2
    np.fill_diagonal(sim, 1.0)
    return pd.DataFrame(sim, index=task.value_set.ids, columns=task.value_set.ids).to_csv().encode()


@pytest.fixture
def hostile_root(tmp_path):
    root = tmp_path / "subs"
    write_sub(root, "good", {"constraints-9.npz": good_npz()})
    write_sub(root, "deep-json", {"constraints-9.json": b"[" * 100_000 + b"]" * 100_000})
    write_sub(root, "alias-bomb", {"constraints-9.npz": good_npz()},
              meta="a: &a [x, x]\nb: &b [*a, *a]\nname: alias-bomb\n")
    write_sub(root, "python-tag", {"constraints-9.npz": good_npz()},
              meta="name: !!python/object/apply:os.system [ls]\n")
    write_sub(root, "bad-utf8", {"constraints-9.npz": good_npz()}, meta=None)
    (root / "bad-utf8" / "meta.yaml").write_bytes(b"name: \xff\xfe\n")
    outside = write_sub(tmp_path / "elsewhere", "escaped", {"constraints-9.npz": good_npz()})
    (root / "escaped").symlink_to(outside, target_is_directory=True)
    write_sub(root, "con", {"constraints-9.npz": good_npz()})
    write_sub(root, "abc.", {"constraints-9.npz": good_npz()})
    write_sub(root, "leak", {"constraints-9.similarity.csv": leaked_similarity()})
    return root


EXPECTED_ERRORS = {"deep-json": "nested", "alias-bomb": "aliases", "python-tag": "malformed yaml",
                   "bad-utf8": "not utf-8", "escaped": "symlink", "con": "reserved", "abc.": "must not end"}


@pytest.mark.usefixtures("fixture_tasks_only")
def test_hostile_submission_folders_are_isolated(hostile_root):
    results = {name: (sub, err) for name, sub, err in check_all(hostile_root)}
    assert results["good"][0] is not None and results["leak"][0] is not None
    for name, needle in EXPECTED_ERRORS.items():
        sub, err = results[name]
        assert sub is None and needle.lower() in err.lower(), (name, err)
        assert "\n" not in err


@pytest.mark.usefixtures("fixture_tasks_only")
def test_unexpected_exception_in_one_reader_is_isolated(hostile_root, monkeypatch):
    real = submissions.read_vectors

    def flaky(path, *a, **kw):
        if "good" in str(path):
            raise RuntimeError("a bug in a reader")
        return real(path, *a, **kw)

    monkeypatch.setattr(submissions, "read_vectors", flaky)
    results = {name: (sub, err) for name, sub, err in check_all(hostile_root)}
    assert results["good"][0] is None and "RuntimeError: a bug in a reader" in results["good"][1]
    assert results["leak"][0] is not None


@pytest.mark.usefixtures("fixture_tasks_only")
def test_copied_answer_is_flagged_and_unranked(hostile_root, tmp_path, capsys):
    report = build(hostile_root, tmp_path / "data", figures=False, n_permutations=20, n_bootstrap=50,
                   private_tasks=[])
    table = pd.read_parquet(tmp_path / "data" / "leaderboard.parquet").set_index("submission")
    assert report["n_flagged"] == 1 and table.loc["leak", "rho:fixture-constraints"] > 0.8  # its symmetric part
    assert table.loc["leak", "ceiling_flag"].startswith(integrity.MESSAGE)
    assert pd.isna(table.loc["leak", "rank"]) and table.loc["good", "rank"] == 1
    data = board_view.load(tmp_path / "data")
    assert "leak" not in set(board_view.view(data)["Submission"])
    assert "leak" in set(board_view.view(data, show_flagged=True)["Submission"])
    assert set(EXPECTED_ERRORS) <= {e["submission"] for e in report["invalid"]}


def test_task_bound_prefers_ceilings_bound():
    """ceilings.bound when the card has it, else sqrt(Spearman-Brown), else Spearman-Brown of the split half."""
    task = benchmarks.get_task("fixture-constraints")

    class Ceilings:
        bound = 0.5

    def with_meta(ceilings, **noise):
        meta = task.metadata.model_copy()
        object.__setattr__(meta, "ceilings", ceilings)
        object.__setattr__(meta, "noise_ceiling", meta.noise_ceiling.model_copy(update=noise))
        return tasks.Task(meta, task.card_body, task.folder)

    assert integrity.task_bound(with_meta(Ceilings())) == 0.5
    assert integrity.task_bound(with_meta(None, spearman_brown=0.64)) == pytest.approx(0.8)
    assert integrity.task_bound(with_meta(None, spearman_brown=None, value=0.8)) == pytest.approx(np.sqrt(1.6 / 1.8))
    assert integrity.task_bound(with_meta(None, spearman_brown=None, value=None)) is None


@pytest.mark.usefixtures("fixture_tasks_only")
def test_private_tasks_scored_never_published(tmp_path):
    root = tmp_path / "subs"
    write_sub(root, "good", {"constraints-9.npz": good_npz()})
    private = tmp_path / "private" / "secret-held-out"
    shutil.copytree(FIXTURES / "tasks" / "fixture-constraints", private)
    card = private / "README.md"
    card.write_text(card.read_text().replace("name: fixture-constraints", "name: secret-held-out"))
    (tmp_path / "private" / "broken").mkdir()
    (tmp_path / "private" / "broken" / "README.md").write_bytes(b"---\n\xff\n---\n")
    report = build(root, tmp_path / "data", figures=True, n_permutations=20, n_bootstrap=50,
                   private_tasks=[tmp_path / "private"])
    assert report["n_private_tasks"] == 1 and [e.split(":")[0] for e in report["private_task_errors"]] == [
        "private task 1.1"]  # named by position only
    table = pd.read_parquet(tmp_path / "data" / "leaderboard.parquet")
    assert np.isfinite(table.loc[0, "private_mean"])
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert b"secret-held-out" not in path.read_bytes(), path
    data = board_view.load(tmp_path / "data")
    assert "Mean ρ (private)" in board_view.view(data).columns


@pytest.mark.usefixtures("fixture_tasks_only")
def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_build_is_atomic_and_checks_its_folders(tmp_path, capsys, monkeypatch):
    import valuebench.leaderboard.build as bb

    root = tmp_path / "subs"
    write_sub(root, "good", {"constraints-9.npz": good_npz()})
    out = tmp_path / "data"
    build(root, out, figures=False, n_permutations=20, n_bootstrap=20)
    before = _files(out)
    write_sub(root, "second", {"constraints-9.npz": good_npz(1)})

    def interrupted(staging, *args, **kwargs):
        (staging / "leaderboard.parquet").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(bb, "_build_into", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(root, out, figures=False, n_permutations=20, n_bootstrap=20)
    assert _files(out) == before  # the old set, untouched
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left
    monkeypatch.undo()
    code, out_, err = run(capsys, "leaderboard", "build", "--submissions", tmp_path / "typo", "--output",
                          out / "leaderboard.parquet", "--no-figures")
    assert_user_error(code, out_, err, "submissions folder not found")
    assert _files(out) == before
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "notes.txt").write_text("mine")
    code, out_, err = run(capsys, "leaderboard", "build", "--submissions", root, "--output",
                          tmp_path / "mixed" / "leaderboard.parquet", "--no-figures")
    assert_user_error(code, out_, err, "did not write")
    assert (tmp_path / "mixed" / "notes.txt").read_text() == "mine"


# --------------------------------------------------------------------------------------------------
# cards and references


def test_bad_card_blocks_only_itself(tmp_path, monkeypatch, capsys):
    extra = tmp_path / "extra"
    (extra / "broken-card").mkdir(parents=True)
    (extra / "broken-card" / "README.md").write_bytes(b"---\nname: broken-card\n\xff\xfe\n---\n")
    (extra / "bomb-card").mkdir()
    (extra / "bomb-card" / "README.md").write_text("---\na: &a [1, 1]\nb: [*a, *a]\n---\n")
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", f"{FIXTURES / 'tasks'}{os.pathsep}{extra}")
    assert "fixture-constraints" in tasks.discover()
    code, out, err = run(capsys, "tasks", "--format", "json")
    assert code == 0 and "fixture-constraints" in out
    for name, needle in (("broken-card", "invalid"), ("bomb-card", "aliases")):
        code, out, err = run(capsys, "task", "show", name)
        assert_user_error(code, out, err, needle)


COMMIT = "3f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39"


@pytest.mark.parametrize("ref,needle", [
    ("org/name@../../../evilref", "40-hex"),
    ("org/name@main", "40-hex"),
    ("org/name@" + COMMIT.upper(), "40-hex"),
    ("../x/name@" + COMMIT, "must be a task name"),
    ("org/name.@" + COMMIT, "must be a task name"),
    ("org/name", "must be a task name"),
])
def test_hostile_references(ref, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    for argv in (["hub", "pull", ref], ["evaluate", "--method", "random", "--tasks", ref]):
        code, out, err = run(capsys, *argv)
        assert_user_error(code, out, err, needle)
        assert "../" not in out


def test_snapshot_outside_the_cache_is_refused(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    outside = tmp_path / "evil" / COMMIT
    shutil.copytree(FIXTURES / "tasks" / "fixture-constraints", outside)
    with pytest.raises(UserError, match="inside the cache"):
        hub._load_snapshot(outside, "org/x@" + COMMIT, "org/x", cache)
    inside = cache / "datasets--org--x" / "snapshots" / COMMIT
    inside.mkdir(parents=True)
    for f in outside.iterdir():  # every file a symlink out of the cache
        (inside / f.name).symlink_to(f)
    with pytest.raises(UserError, match="inside the cache"):
        hub._load_snapshot(inside, "org/x@" + COMMIT, "org/x", cache)


@pytest.mark.parametrize("name", ["con", "NUL", "com1.txt", "lpt9", "abc.", "a/b", "..", ".hidden", "x" * 65, ""])
def test_bad_names(name):
    with pytest.raises(UserError):
        check_name(name)


# --------------------------------------------------------------------------------------------------
# the app (no browser: the functions the Submit tab and the table call)


def upload_files(tmp_path, name, data=None, fname="constraints-9.npz"):
    src = tmp_path / f"upload-{name}"
    src.mkdir(parents=True, exist_ok=True)
    (src / "meta.yaml").write_text(META.format(n=name))
    (src / fname).write_bytes(good_npz() if data is None else data)
    return [str(src / "meta.yaml"), str(src / fname)]


@pytest.mark.usefixtures("fixture_tasks_only")
def test_app_submit_defences(tmp_path):
    from valuebench.leaderboard import app

    pending = tmp_path / "pending"
    limiter = board_view.RateLimiter(limit=3, window=600, global_limit=100)
    check = app._checker(benchmarks.get_tasks(), [])
    ok = app.submit_upload("first", upload_files(tmp_path, "first"), pending, limiter=limiter, client="1.2.3.4",
                           check=check)
    assert "Valid" in ok
    on_board = app.submit_upload("taken", upload_files(tmp_path, "taken"), pending, limiter=limiter,
                                 client="1.2.3.4", taken={"taken"})
    assert "already on the board" in on_board
    leak = app.submit_upload("leak",
                             upload_files(tmp_path, "leak", leaked_similarity(), "constraints-9.similarity.csv"),
                             pending, limiter=limiter, client="1.2.3.4", check=check)
    assert "exceeds the noise ceiling" in leak
    throttled = app.submit_upload("fourth", upload_files(tmp_path, "fourth"), pending, limiter=limiter,
                                  client="1.2.3.4")
    assert "Too many uploads" in throttled
    other = app.submit_upload("other", upload_files(tmp_path, "other"), pending, limiter=limiter, client="5.6.7.8")
    assert "Valid" in other
    assert sorted(p.name for p in pending.iterdir()) == ["first", "other"]
    with pytest.raises(UserError, match="queue is full"):
        stage_upload([Path(f) for f in upload_files(tmp_path, "third")], "third", pending, max_pending=2)
    with pytest.raises(UserError, match="queue is full"):
        stage_upload([Path(f) for f in upload_files(tmp_path, "third")], "third", pending, max_pending_bytes=10)
    too_many = app.submit_upload("many", upload_files(tmp_path, "many") * 5, pending)
    assert "at most" in too_many


def test_rate_limiter_window_and_global_cap():
    lim = board_view.RateLimiter(limit=2, window=10, global_limit=3)
    assert [lim.check("a", now=t) for t in (0, 1)] == [0, 0]
    assert lim.check("a", now=2) == pytest.approx(8)
    assert lim.check("b", now=3) == 0 and lim.check("c", now=4) > 0  # global cap of 3 per window
    assert lim.check("a", now=10.5) == 0  # the window slid


def test_table_updates_leave_bounded_download_folders(tmp_path):
    root = tmp_path / "downloads"
    root.mkdir()
    for i in range(100):
        board_view.cached_export(pd.DataFrame({"x": [i % 40]}), root, keep=8)
    assert len([p for p in root.iterdir()]) <= 8
    csv, _ = board_view.cached_export(pd.DataFrame({"x": [1]}), root, keep=8)
    assert pd.read_csv(csv)["x"].tolist() == [1]


# --------------------------------------------------------------------------------------------------
# the CLI's last line of defence


def test_internal_error_is_one_line_and_debug_shows_traceback(capsys, monkeypatch):
    import valuebench.commands.catalog as catalog

    def boom(args):
        raise RuntimeError("simulated bug\nwith a second line")

    monkeypatch.setattr(catalog, "_methods", boom)
    code, out, err = run(capsys, "methods")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "internal error" in err and "Traceback" not in err
    code, out, err = run(capsys, "methods", "--debug")
    assert code == 1 and "Traceback" in err


def test_broken_pipe_is_quiet(capsys, monkeypatch):
    import valuebench.commands.catalog as catalog

    def closed(args):
        raise BrokenPipeError

    monkeypatch.setattr(catalog, "_methods", closed)
    monkeypatch.setattr(os, "dup2", lambda *a: None)  # keep pytest's captured stdout
    code, out, err = run(capsys, "methods")
    assert code == 141 and err == ""


def test_keyboard_interrupt_while_importing_commands(capsys, monkeypatch):
    import valuebench.cli as cli

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    code, out, err = run(capsys, "tasks")
    assert code == 130 and err.strip() == "valuebench: interrupted"


# --------------------------------------------------------------------------------------------------
# property-based: any vector file and any option string ends in exit 0 or 2, one line, nothing stray

PEAK_MB = 1500


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _run_sandboxed(argv: list[str], work: Path, allowed: Path) -> tuple[int, str]:
    """Run the CLI in ``work``; assert exit 0/2, no traceback, nothing written outside ``allowed``."""
    before = _tree(work)
    old = Path.cwd()
    os.chdir(work)
    try:
        out, err = io.StringIO(), io.StringIO()
        real_out, real_err = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            code = main(argv)
        finally:
            sys.stdout, sys.stderr = real_out, real_err
    finally:
        os.chdir(old)
    text = err.getvalue()
    assert code in (0, 2), (argv, code, text)
    assert "Traceback" not in text
    if code == 2:
        assert len(text.strip().splitlines()) == 1, text
    stray = {p for p in _tree(work) - before if not (work / p).resolve().is_relative_to(allowed.resolve())}
    assert not stray, stray
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert peak_mb < PEAK_MB, peak_mb
    return code, text


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64), st.integers(-10**30, 10**30),
                    st.sampled_from([0, 1, -1, 1e308, 5e-324]))
ids = st.one_of(st.sampled_from(IDS), st.text(max_size=12))


@st.composite
def vector_files(draw):
    fmt = draw(st.sampled_from([".json", ".csv", ".npz", ".safetensors", ".raw"]))
    n = draw(st.integers(0, 12))
    dim = draw(st.integers(0, 6))
    row_ids = draw(st.one_of(st.just(IDS[:n]), st.lists(ids, min_size=n, max_size=n)))
    rows = draw(st.lists(st.lists(numbers, min_size=dim, max_size=dim), min_size=n, max_size=n))
    if fmt == ".raw":
        return draw(st.sampled_from([".json", ".csv", ".npz", ".safetensors"])), draw(st.binary(max_size=300))
    if fmt == ".json":
        shape = draw(st.sampled_from(["pairs", "dict", "junk"]))
        obj = ({"value_ids": row_ids, "vectors": rows} if shape == "pairs" else dict(zip(row_ids, rows))
               if shape == "dict" else draw(st.recursive(st.none() | st.booleans() | numbers | st.text(max_size=5),
                                                       lambda c: st.lists(c, max_size=3) | st.dictionaries(
                                                           st.text(max_size=3), c, max_size=3), max_leaves=10)))
        return fmt, json.dumps(obj, allow_nan=True).encode()
    if fmt == ".csv":
        lines = ["value_id," + ",".join(f"d{i}" for i in range(dim))]
        lines += [",".join([v, *map(str, r)]) for v, r in zip(row_ids, rows)]
        if draw(st.booleans()):
            lines.append(draw(st.text(max_size=20)))
        return fmt, "\n".join(lines).encode("utf-8", "surrogatepass")
    arr = np.array(rows, dtype=np.float64).reshape(n, dim) if rows else np.zeros((n, dim))
    if fmt == ".npz":
        return fmt, npz_bytes(vectors=arr, value_ids=np.array(row_ids, dtype=str))
    from safetensors.numpy import save

    with np.errstate(over="ignore"):
        return fmt, save({"vectors": arr.astype(np.float32)}, metadata={"value_ids": json.dumps(row_ids)})


@pytest.mark.usefixtures("fixture_tasks_only")
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(vector_files())
def test_property_any_vector_file(tmp_path_factory, file):
    suffix, data = file
    work = tmp_path_factory.mktemp("work")
    path = work / f"v{suffix}"
    path.write_bytes(data)
    results = work / "results"
    _run_sandboxed(["evaluate", "--method", f"vectors:{path}", *FAST, "--output-dir", str(results)], work, results)


option_keys = st.sampled_from(["dim", "seed", "ngram_max", "sublinear_tf", "model", "nope", "", "dim ", "x=y"])
option_values = st.one_of(st.text(max_size=30), st.integers(-10**12, 10**12).map(str),
                          st.floats(allow_nan=True).map(str), st.sampled_from(["true", "maybe", "[1, 2]", "{a: 1}",
                                                                                 "null", "~", "1e9", "0x10", "&a 1",
                                                                                 "!!binary aGk=", "'3'"]))


@pytest.mark.usefixtures("fixture_tasks_only")
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(["random", "tfidf"]), options=st.lists(st.tuples(option_keys, option_values), max_size=3),
       extra=st.lists(st.sampled_from([["--seed", "-3"], ["--seed", "7"], ["--permutations", "0"],
                                       ["--bootstrap", "30"], ["--score-seed", "99999999999999999999"]]), max_size=2))
def test_property_any_option_string(tmp_path_factory, method, options, extra):
    work = tmp_path_factory.mktemp("work")
    argv = ["evaluate", "--method", method, *FAST]
    for key, value in options:
        argv += ["--option", f"{key}={value}"]
    for pair in extra:
        argv += pair
    code, err = _run_sandboxed(argv, work, work / "results")
    if code == 0:
        assert all(k.strip() in ("dim", "seed", "ngram_max", "sublinear_tf") for k, _ in options)


@pytest.mark.parametrize("scale", [1e-320, 1e300])
def test_extreme_but_finite_vectors_keep_their_directions(scale):
    from valuebench.vectors import cosine_similarity, validate

    vecs = good_vectors(dim=4)
    rep = validate(Representation(IDS, vecs * scale), IDS, "x")
    assert np.allclose(cosine_similarity(rep.vectors), cosine_similarity(vecs), atol=1e-3)


@pytest.mark.usefixtures("fixture_tasks_only")
def test_submissions_check_and_submit_show_the_ceiling_flag(tmp_path, capsys):
    root = tmp_path / "subs"
    write_sub(root, "good", {"constraints-9.npz": good_npz()})
    write_sub(root, "leak", {"constraints-9.similarity.csv": leaked_similarity()})
    code, out, err = run(capsys, "submissions", "check", "--root", root, "--format", "json")
    rows = {r["name"]: r for r in json.loads(out)["submissions"]}
    assert (code == 0 and rows["leak"]["ceiling_flag"].startswith(integrity.MESSAGE)
            and rows["good"]["ceiling_flag"] == "")
    (tmp_path / "copy.similarity.csv").write_bytes(leaked_similarity())
    code, out, err = run(capsys, "submit", "--vectors", tmp_path / "copy.similarity.csv",
                         "--value-set", "constraints-9", "--name", "copied", "--description", "d", "--author", "A",
                         "--license", "MIT",
                         "--derived-from", "value statements", "--output-dir", tmp_path / "out")
    assert code == 0 and "warning: exceeds the noise ceiling" in out


def test_app_checks_uploads_against_every_published_task():
    from valuebench.leaderboard import app

    published, _ = app._tasks_for_checks()
    assert {t.name for t in published} >= {t.name for t in benchmarks.get_tasks()} | {"fixture-constraints"}


def test_hub_snapshot_with_a_text_cell_is_a_user_error(tmp_path):
    import hashlib

    cache = tmp_path / "cache"
    snap = cache / "datasets--org--x" / "snapshots" / COMMIT
    shutil.copytree(FIXTURES / "tasks" / "fixture-constraints", snap)
    text = (snap / "matrix.csv").read_text().splitlines()
    cells = text[1].split(",")
    cells[2] = "abc"
    text[1] = ",".join(cells)
    (snap / "matrix.csv").write_text("\n".join(text) + "\n")
    card = (snap / "README.md").read_text()
    old = card.split("path: matrix.csv\n  sha256: ")[1].split()[0]
    (snap / "README.md").write_text(card.replace(old, hashlib.sha256((snap / "matrix.csv").read_bytes()).hexdigest()))
    with pytest.raises(UserError):
        hub._load_snapshot(snap, "org/x@" + COMMIT, "org/x", cache)
