"""The CLI contract (JSON shapes other parts rely on) and bad input: one line, exit 2, nothing written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from valuebench.cli import main
from valuebench.values import load_value_set
from valuebench.vectors import Representation, read_vectors, write_safetensors

C9 = load_value_set("constraints-9").ids


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_value_sets_json(capsys):
    data = run_json(capsys, "value-sets")
    names = {d["name"] for d in data}
    assert {"constraints-9", "ccai-21"} <= names
    for d in data:
        assert {"name", "values"} <= set(d)
        assert all({"id", "statement", "source", "labels"} <= set(v) for v in d["values"])


def test_tasks_json(capsys):
    data = run_json(capsys, "tasks")
    row = next(d for d in data if d["name"] == "fixture-constraints")
    assert set(row) == {"name", "type", "value_set", "n_values", "model", "ceiling", "default", "gate", "ceilings",
                        "validity"}
    assert row["n_values"] == 9 and row["ceiling"] == row["ceilings"]["split_half"]["value"] == 0.5408
    assert row["default"] is True and row["gate"] == "pass" and row["ceilings"]["bound"] == 0.8378


def test_task_show_json(capsys):
    data = run_json(capsys, "task", "show", "fixture-constraints")
    assert data["value_ids"] == C9
    assert len(data["matrix"]) == 9 and data["matrix"][0][0] is None
    assert data["name"] == "fixture-constraints" and data["noise_ceiling"]["value"] == 0.5408
    assert data["ceilings"]["split_half"]["value"] == 0.5408 and data["validity"]["verdict"] == "pass"


def test_methods_json(capsys):
    data = run_json(capsys, "methods")
    by_name = {d["name"]: d for d in data}
    assert {"random", "tfidf", "sentence-embedding"} <= set(by_name)
    assert all({"name", "description", "needs_llm"} <= set(d) for d in data)
    assert by_name["random"]["needs_llm"] is False


def test_represent_writes_safetensors(capsys, tmp_path):
    out = tmp_path / "v.safetensors"
    code, _, err = run(capsys, "represent", "--method", "tfidf", "--value-set", "constraints-9", "--output", str(out))
    assert code == 0, err
    rep = read_vectors(out, expected_ids=C9)
    assert rep.value_ids == C9 and rep.vectors.shape[0] == 9


def test_evaluate_json_and_results_file(capsys, tmp_path):
    data = run_json(capsys, "evaluate", "--method", "random", "--tasks", "fixture-constraints",
                    "--output-dir", str(tmp_path), "--permutations", "200", "--bootstrap", "200")
    assert set(data) == {"method", "tasks", "mean", "mean_by_type"}
    row = data["tasks"][0]
    assert {"task", "spearman", "kendall", "p_value", "ci", "n_pairs", "normalized"} <= set(row)
    assert row["n_pairs"] == 72 and len(row["ci"]) == 2
    files = list(tmp_path.rglob("fixture-constraints.json"))
    assert len(files) == 1 and files[0].parts[-3] == "random"
    saved = json.loads(files[0].read_text())
    assert saved["schema_version"] == 1 and len(saved["similarity"]) == 9
    # the stored similarity matrix reproduces the score
    from valuebench.benchmarks import get_task
    from valuebench.scoring import score
    task = get_task("fixture-constraints")
    again = score(np.array(saved["similarity"]), task.matrix, ceiling=task.ceiling, n_permutations=200,
                  n_bootstrap=200)
    assert again.spearman == pytest.approx(row["spearman"], abs=1e-12) and list(again.ci) == row["ci"]


def test_evaluate_vectors_file_equals_method(capsys, tmp_path):
    out = tmp_path / "v.safetensors"
    run(capsys, "represent", "--method", "random", "--value-set", "constraints-9", "--output", str(out))
    a = run_json(capsys, "evaluate", "--method", "random", "--tasks", "fixture-constraints")
    b = run_json(capsys, "evaluate", "--method", f"vectors:{out}", "--tasks", "fixture-constraints")
    assert a["tasks"][0]["spearman"] == pytest.approx(b["tasks"][0]["spearman"], abs=1e-5)


# ----------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("argv,needle", [
    (["evaluate", "--method", "nope"], "unknown method 'nope'"),
    (["evaluate", "--method", "random", "--tasks", "nope"], "unknown task 'nope'"),
    (["represent", "--method", "random", "--value-set", "nope", "--output", "x.safetensors"], "unknown value set"),
    (["task", "show", "nope"], "unknown task 'nope'"),
    (["evaluate", "--method", "random", "--option", "dims=3"], "has no option 'dims'"),
    (["evaluate", "--method", "random", "--option", "oops"], "KEY=VALUE"),
])
def test_unknown_names_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def _write(path, kind, ids, vecs):
    if kind == "safetensors":
        write_safetensors(path, Representation(ids, np.asarray(vecs, dtype=float)))
    elif kind == "npz":
        np.savez(path, vectors=np.asarray(vecs, dtype=float), value_ids=np.array(ids))
    elif kind == "json":
        path.write_text(json.dumps({"value_ids": ids, "vectors": np.asarray(vecs, dtype=float).tolist()}))


GOOD = np.random.default_rng(0).normal(size=(9, 4))


def _nan():
    v = GOOD.copy()
    v[2, 1] = np.nan
    return v


def _zero():
    v = GOOD.copy()
    v[3] = 0
    return v


@pytest.mark.parametrize("kind", ["safetensors", "npz", "json"])
@pytest.mark.parametrize("ids,vecs,needle", [
    (C9, _nan(), "NaN or inf"),
    (C9, _zero(), "zero vector"),
    (C9[:8] + [C9[0]], GOOD, "duplicate value ids"),
    (C9[:8], GOOD[:8], "missing value ids"),
    (C9[:8] + ["not_a_value"], GOOD, "unknown value ids"),
])
def test_bad_vectors_exit_2_nothing_written(capsys, tmp_path, kind, ids, vecs, needle):
    if kind == "json" and needle == "NaN or inf":
        vecs = vecs.tolist()
    src = tmp_path / f"bad.{kind}"
    if kind == "json" and needle == "NaN or inf":
        src.write_text(json.dumps({"value_ids": ids, "vectors": vecs}))  # json.dumps writes NaN
    else:
        _write(src, kind, ids, vecs)
    out = tmp_path / "out" / "x.safetensors"
    code, _, err = run(capsys, "represent", "--method", f"vectors:{src}", "--value-set", "constraints-9",
                       "--output", str(out))
    assert code == 2 and needle in err, err
    assert not out.exists() and not (tmp_path / "out").exists()


def test_dimension_mismatch_json(capsys, tmp_path):
    src = tmp_path / "ragged.json"
    src.write_text(json.dumps({"value_ids": C9, "vectors": [[1.0, 2.0]] * 8 + [[1.0]]}))
    code, _, err = run(capsys, "evaluate", "--method", f"vectors:{src}")
    assert code == 2 and "dimension mismatch" in err


def test_pickled_files_are_never_loaded(capsys, tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    src = tmp_path / "evil.npz"
    np.savez(src, vectors=np.array([object()] * 9, dtype=object), value_ids=np.array(C9))
    code, _, err = run(capsys, "evaluate", "--method", f"vectors:{src}")
    assert code == 2 and "pickle" in err
    raw = tmp_path / "evil.json"
    raw.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    code, _, err = run(capsys, "evaluate", "--method", f"vectors:{raw}")
    assert code == 2 and "pickled data is never loaded" in err
    assert not marker.exists()


def test_corrupt_files(capsys, tmp_path):
    for name, blob in [("c.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json"),
                       ("c.npz", b"PK\x03\x04garbage"), ("c.json", b"{oops")]:
        src = tmp_path / name
        src.write_bytes(blob)
        code, _, err = run(capsys, "evaluate", "--method", f"vectors:{src}")
        assert code == 2 and ("corrupt" in err or "not valid JSON" in err), err
    code, _, err = run(capsys, "evaluate", "--method", f"vectors:{tmp_path / 'missing.npz'}")
    assert code == 2 and "not found" in err
