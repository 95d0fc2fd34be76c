"""Scenario data: the shipped files pass every quality check, and each check catches what it should."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from valuebench.cli import main
from valuebench.errors import UserError
from valuebench.scenarios import load_scenarios, read_jsonl
from valuebench.scenarios.quality import check_value_set, pasted_statement
from valuebench.values import load_value_set

from conftest import REPO

C9 = REPO / "tasks/scenarios/constraints-9"


def test_shipped_scenarios_pass_all_checks(capsys):
    code = main(["scenarios", "check", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert data["problems"] == [] and code == 0
    assert set(data["value_sets"]) == {"constraints-9", "ccai-21"}
    for vid, counts in data["value_sets"]["constraints-9"].items():
        assert counts["train"] >= 40 and counts["holdout"] >= 20, vid
    assert len(data["value_sets"]["ccai-21"]) == 21
    for vid, counts in data["value_sets"]["ccai-21"].items():
        assert counts["train"] >= 25 and counts["holdout"] >= 15, vid


def _copy(tmp_path):
    dst = tmp_path / "constraints-9"
    shutil.copytree(C9, dst)
    return dst


def _distinct(texts):  # a stand-in embedding: distinct texts are orthogonal, equal texts identical
    index = {t: k for k, t in enumerate(dict.fromkeys(texts))}
    out = np.zeros((len(texts), len(index)))
    out[np.arange(len(texts)), [index[t] for t in texts]] = 1
    return out


def test_malformed_line_names_file_and_line(tmp_path):
    dst = _copy(tmp_path)
    path = dst / "no_white_lies.jsonl"
    lines = path.read_text().splitlines()
    lines[4] = lines[4][:-5]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"no_white_lies.jsonl:5: malformed JSON"):
        read_jsonl(path)
    report = check_value_set(load_value_set("constraints-9"), dst, embed=_distinct)
    assert any("no_white_lies.jsonl:5" in p for p in report.problems)


def test_unknown_value_id_lists_valid_ids(tmp_path):
    with pytest.raises(UserError, match="unknown value id 'nope'.*no_white_lies"):
        load_scenarios("constraints-9", "nope")
    dst = _copy(tmp_path)
    shutil.copy(dst / "no_white_lies.jsonl", dst / "no_such_value.jsonl")
    report = check_value_set(load_value_set("constraints-9"), dst, embed=_distinct)
    assert any("unknown value ids ['no_such_value']" in p for p in report.problems)


def test_checks_catch_duplicates_imbalance_paste_and_counts(tmp_path):
    dst = _copy(tmp_path)
    path = dst / "no_stereotypes.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    rows[1]["user_prompt"] = rows[0]["user_prompt"]  # near-duplicate within a value
    hold = next(r for r in rows if r["split"] == "holdout")
    hold["user_prompt"] = rows[3]["user_prompt"]  # train/holdout overlap
    rows[5]["user_prompt"] += " Do not use stereotypes or make any other harmful generalising statements."
    for r in rows:
        r["response_follow"] = r["response_follow"] + " " + r["response_follow"]  # length imbalance
    rows = rows[:30]  # too few per split
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    problems = "\n".join(check_value_set(load_value_set("constraints-9"), dst, embed=_distinct).problems)
    assert "near-duplicate prompts no_stereotypes-001 and no_stereotypes-002" in problems
    assert "overlap" in problems
    assert "pastes the value statement" in problems
    assert "length ratio" in problems
    assert "need 40" in problems and "need 20" in problems


def test_pasted_statement_needs_a_long_run_of_words():
    s = "The AI should not say racist or sexist things."
    assert pasted_statement(s, "Please, the ai should not say racist or sexist things, ok?")
    assert not pasted_statement(s, "Say nothing sexist in this toast for my sister's wedding.")


def test_check_exit_code_is_1_on_problems(tmp_path, monkeypatch, capsys):
    root = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks/value_sets", root / "value_sets")
    (root / "scenarios").mkdir()
    shutil.copy(REPO / "tasks/scenarios/requirements.yaml", root / "scenarios")
    dst = _copy(root / "scenarios")
    (dst / "no_white_lies.jsonl").unlink()
    monkeypatch.setenv("VALUEBENCH_TASKS_DIR", str(root))
    assert main(["scenarios", "check", "--value-set", "constraints-9", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert any("no_white_lies" in p for p in data["problems"])
