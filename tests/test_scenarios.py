"""Scenario data: the shipped files pass every quality check, and each check catches what it should."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import REPO

from valuebench.cli import main
from valuebench.errors import UserError
from valuebench.scenarios import Scenario, load_scenarios, read_jsonl
from valuebench.scenarios.quality import CUE_MAX, CUES, LENGTH_SHARE, check_value_set, pasted_statement, surface_balance
from valuebench.values import load_value_set

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
    for name, per in data["balance"].items():  # every value reports its balance, within the gate
        assert set(per) == set(data["value_sets"][name])
        for vid, bal in per.items():
            assert LENGTH_SHARE[0] <= bal["follow_longer"] <= LENGTH_SHARE[1], (name, vid)
            assert bal["cue_holdout"] <= CUE_MAX and bal["best_cue"].split(":")[0] in CUES, (name, vid)
    assert data["data_versions"]["constraints-9"] >= 2


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


# --- surface balance ---------------------------------------------------------------------------------------
PLAIN = "We went to the market on Saturday and bought bread, apples and some cheese for the week ahead."
LONGER = PLAIN + " The stall owner was friendly."
ASKING = PLAIN[:-1] + "?"  # same words, characters and sentences as PLAIN: only the question mark differs


def _pair(k: int, follow: str, violate: str, split: str) -> Scenario:
    return Scenario(id=f"v-{k:03d}", value_id="v", competing_value="x", user_prompt="p", response_follow=follow,
                    response_violate=violate, split=split, source="test")


def _rows(follow: str, violate: str, n: int = 30, swap_every: int = 0) -> list[Scenario]:
    """n pairs, a third holdout; with ``swap_every`` = 2 every other pair swaps which text the follow reply gets."""
    rows = []
    for k in range(n):
        f, v = (violate, follow) if swap_every and k % swap_every else (follow, violate)
        rows.append(_pair(k, f, v, "holdout" if k % 3 == 2 else "train"))
    return rows


def test_planted_question_mark_is_found_and_length_is_not_blamed():
    bal = surface_balance(_rows(ASKING, PLAIN))
    assert bal["best_cue"] == "question_marks:higher"
    assert bal["cue_train"] == 1.0 and bal["cue_holdout"] == 1.0 > CUE_MAX
    assert bal["follow_longer"] == 0.5  # same word count in every pair: ties count as 0.5


def test_planted_length_and_the_lower_direction():
    assert surface_balance(_rows(LONGER, PLAIN))["follow_longer"] == 1.0
    bal = surface_balance(_rows(PLAIN, LONGER))
    assert bal["follow_longer"] == 0.0 and bal["best_cue"] == "words:lower" and bal["cue_holdout"] == 1.0


def test_balanced_pairs_pass():
    bal = surface_balance(_rows(LONGER.replace(".", "?", 1), PLAIN, swap_every=2))
    assert bal["follow_longer"] == 0.5
    assert bal["cue_holdout"] <= CUE_MAX


def test_negations_hedges_and_pronouns_are_cues():
    assert CUES["negations"]("I can't, won't and will not; no, never.") == 5
    assert CUES["negations"]("It doesn\u2019t fit.") == 1  # curly apostrophe
    assert CUES["hedges"]("It might rain; maybe you could stay.") == 3
    assert CUES["first_person"]("I think my plan suits me.") == 3
    assert CUES["second_person"]("You and your sister, you're welcome.") == 3
    assert CUES["digits"]("Call 021 555 at 9.") == 7


def test_check_fails_a_value_with_a_planted_cue(tmp_path):
    dst = _copy(tmp_path)
    path = dst / "no_white_lies.jsonl"
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    for r in rows:  # every follow reply gains a question: the '?' cue (and length) now pick it
        r["response_follow"] += " Does that help?"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = check_value_set(load_value_set("constraints-9"), dst, embed=_distinct)
    problems = [p for p in report.problems if p.startswith("constraints-9/no_white_lies:")]
    assert any("surface cue 'question_marks:higher'" in p for p in problems)
    assert any("follow reply is longer in" in p for p in problems)
    assert not any(p.startswith("constraints-9/no_stereotypes:") for p in report.problems)
    assert report.balance["constraints-9"]["no_white_lies"]["cue_holdout"] == 1.0


def test_check_table_shows_balance_columns(capsys):
    assert main(["scenarios", "check", "--value-set", "constraints-9"]) == 0
    out = capsys.readouterr().out
    assert "follow_longer" in out and "cue_holdout" in out and "constraints-9 v2" in out


def test_check_unknown_value_set_is_a_user_error(capsys):
    assert main(["scenarios", "check", "--value-set", "nope"]) == 2
    assert "unknown value set" in capsys.readouterr().err
