"""Named benchmarks and a CLI without surprises: versions follow task versions, the command table matches the
modules, ``--help`` imports no heavy library, ``compare`` never computes unasked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import FIXTURES, REPO

from valuebench import benchmarks
from valuebench.cli import main
from valuebench.values import load_value_set
from valuebench.vectors import Representation, read_vectors, write_safetensors


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_command_table_matches_the_modules():
    import argparse
    import importlib

    from valuebench.commands import COMMANDS

    for module in sorted({m for m, _ in COMMANDS.values()}):
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"valuebench.commands.{module}").register(sub)
        helps = {a.dest: a.help for a in sub._choices_actions}
        assert {c for c, (m, _) in COMMANDS.items() if m == module} == set(helps), module
        assert all(COMMANDS[c][1] == h for c, h in helps.items()), module


@pytest.mark.parametrize("argv", [["--help"], ["evaluate", "--help"], ["compare", "--help"], ["tasks", "--help"]])
def test_help_imports_no_heavy_library(argv):
    code = ("import sys, contextlib, io\nfrom valuebench.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    main({argv!r})\n"
            "print(sorted(m for m in ('scipy', 'sklearn', 'matplotlib', 'pandas', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_benchmarks_listed_and_versioned(capsys, tmp_path, monkeypatch):
    code, out, _ = run(capsys, "benchmarks", "--format", "json")
    found = {b["name"]: b for b in json.loads(out)}
    assert {"default", "all", "constraints-9", "ccai-21"} <= set(found)
    assert "fixture-constraints" in found["default"]["tasks"] and set(found["default"]["tasks"]) <= \
        set(found["all"]["tasks"])
    assert found["all"]["task_versions"]["fixture-constraints"] == "1.0.0"
    # a task's version bump changes every benchmark holding it, and only those
    copy = tmp_path / "tasks" / "fixture-constraints"
    shutil.copytree(FIXTURES / "tasks" / "fixture-constraints", copy)
    card = copy / "README.md"
    card.write_text(card.read_text().replace("version: 1.0.0", "version: 1.0.1", 1))
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", str(tmp_path / "tasks"))
    bumped = {b.name: b.version for b in benchmarks.list_benchmarks()}
    assert bumped["all"] != found["all"]["version"] and bumped["constraints-9"] != found["constraints-9"]["version"]
    assert bumped["ccai-21"] == found["ccai-21"]["version"]


def test_listed_benchmark_and_did_you_mean(capsys, tmp_path, monkeypatch):
    root = tmp_path / "tasks"
    shutil.copytree(FIXTURES / "tasks", root)
    (root / "benchmarks.yaml").write_text("- name: my-bench\n  description: one task\n  tasks: [fixture-constraints]\n")
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", str(root))
    code, out, _ = run(capsys, "benchmarks", "my-bench", "--format", "json")
    assert code == 0 and json.loads(out)["tasks"] == ["fixture-constraints"]
    code, out, err = run(capsys, "evaluate", "--method", "random", "--benchmark", "my-bnch")
    assert code == 2 and "did you mean 'my-bench'" in err and err.count("\n") == 1
    (root / "benchmarks.yaml").write_text("- name: all\n  description: x\n  tasks: []\n")
    code, _, err = run(capsys, "benchmarks")
    assert code == 2 and "already taken" in err


def test_evaluate_benchmark_reports_version_and_warns_outside_default(capsys):
    code, out, err = run(capsys, "evaluate", "--method", "random", "--benchmark", "constraints-9",
                         "--permutations", "50", "--format", "json")
    data = json.loads(out)
    bench = {b.name: b for b in benchmarks.list_benchmarks()}["constraints-9"]
    assert code == 0 and data["benchmark"]["version"] == bench.version
    assert {r["task"] for r in data["tasks"]} == set(bench.task_names)
    outside = [t.name for t in bench.tasks if not t.in_default_benchmark]
    assert outside and all(f"task {n} is outside the default benchmark" in err for n in outside)
    code, out, err = run(capsys, "evaluate", "--method", "random", "--permutations", "50", "--format", "json")
    assert code == 0 and json.loads(out)["benchmark"]["name"] == "default" and "outside" not in err
    with pytest.raises(SystemExit) as exc:
        run(capsys, "evaluate", "--method", "random", "--benchmark", "all", "--tasks", "x")
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_compare_skips_methods_without_vectors(capsys, tmp_path, monkeypatch, tmp_cache):
    monkeypatch.chdir(tmp_path)  # no submissions/ here: the package's are used, which hold no LLM method
    (tmp_path / "submissions").mkdir()
    code, out, err = run(capsys, "compare", "--methods", "random,persona-vector", "--tasks", "fixture-constraints",
                         "--permutations", "20", "--format", "json")
    data = json.loads(out)
    assert code == 0 and [r["method"] for r in data["rows"]] == ["random"]
    evidence = data["rows"][0]["evidence"]["fixture-constraints"]  # rho with its CI and p, as evaluate gives them
    assert evidence["spearman"] == data["rows"][0]["fixture-constraints"] and len(evidence["ci"]) == 2
    assert evidence["ci"][0] <= evidence["spearman"] <= evidence["ci"][1] and 0 < evidence["p_value"] <= 1
    assert data["skipped"][0]["method"] == "persona-vector" and "--compute" in data["skipped"][0]["compute"]
    code, _, err = run(capsys, "compare", "--methods", "persona-vector", "--tasks", "fixture-constraints")
    assert code == 2 and "--compute" in err
    # a baseline submission supplies the vectors: scored from them, no model loaded
    vs = load_value_set("constraints-9")
    folder = tmp_path / "submissions" / "pv"
    folder.mkdir()
    write_safetensors(folder / "constraints-9.safetensors",
                      Representation(vs.ids, np.random.default_rng(0).normal(size=(len(vs), 8))))
    (folder / "meta.yaml").write_text(
        "name: pv\nmethod: persona-vector\ndescription: d\nauthors: [a]\nlicense: MIT\ndate: 2026-01-01\n"
        "derived_from: [value statements]\nbaseline: true\n")
    code, out, err = run(capsys, "compare", "--methods", "persona-vector", "--tasks", "fixture-constraints",
                         "--permutations", "20", "--format", "json")
    row = json.loads(out)["rows"][0]
    assert code == 0 and row["method"] == "persona-vector" and row["vectors"] == "submitted (pv/)", err


def test_represent_writes_npz_and_json(capsys, tmp_path):
    out_path = tmp_path / "v.npz"
    code, out, err = run(capsys, "represent", "--method", "random", "--value-set", "constraints-9",
                         "--output", str(out_path), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["method"] == "random" and data["n_values"] == 9, err
    rep = read_vectors(out_path, load_value_set("constraints-9").ids)
    assert rep.vectors.shape == (9, data["dims"])
    code, _, err = run(capsys, "represent", "--method", "random", "--value-set", "constraints-9",
                       "--output", str(tmp_path / "v.txt"))
    assert code == 2 and ".safetensors or .npz" in err and not (tmp_path / "v.txt").exists()


def test_task_show_labels_columns_by_value_id(capsys):
    code, out, _ = run(capsys, "task", "show", "fixture-constraints")
    header = out[out.index("┏"):out.index("┡")]
    assert code == 0 and "delusions" in header and "│ 0 " not in out  # ids, not 0..8


def test_option_of_wrong_type_exits_2(capsys):
    code, _, err = run(capsys, "evaluate", "--method", "random", "--option", "dim=abc")
    assert code == 2 and "must be" in err and err.count("\n") == 1


def test_json_into_a_closed_pipe_is_quiet():
    cmd = f"{sys.executable} -m valuebench.cli tasks --format json | head -c 1"
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.stdout == "[" and out.stderr == ""


def test_every_flag_has_help():
    """Every option of every command says what it does (the ground-truth command excepted: another module's)."""
    import argparse

    from valuebench.cli import build_parser

    missing = []

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])
            elif not action.help and prefix[:1] != ["groundtruth"]:
                missing.append(" ".join([*prefix, *(action.option_strings or [action.dest])]))

    walk(build_parser(), [])
    assert missing == []
