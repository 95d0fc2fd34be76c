"""Ceilings, the validity gate, the shipped cards, one score on every route, and the bad inputs of issue 12."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import FIXTURES, REPO

from valuebench import benchmarks, methods, tasks
from valuebench.ceilings import antisymmetric_share, estimate, spearman_brown, symmetric_bound
from valuebench.cli import main
from valuebench.errors import UserError
from valuebench.groundtruth.cards import pretty_name
from valuebench.groundtruth.publish import rewrite_card, write_task
from valuebench.validity import GATE_BASELINES
from valuebench.workunits import independent_dpo

SHIPPED = sorted(p.parent.name for p in (REPO / "tasks").glob("*-smollm2-135m-*/README.md"))


# --------------------------------------------------------------------------------------------------
# statistics


def test_ceiling_statistics_by_hand():
    rng = np.random.default_rng(0)
    sym = rng.normal(size=(6, 6))
    sym = sym + sym.T
    np.fill_diagonal(sym, np.nan)
    assert antisymmetric_share(sym) == pytest.approx(0.0)
    anti = rng.normal(size=(6, 6))
    anti = anti - anti.T
    np.fill_diagonal(anti, np.nan)
    assert antisymmetric_share(anti) == pytest.approx(1.0)
    assert spearman_brown(0.5, 2) == pytest.approx(2 / 3) and spearman_brown(-0.1, 2) is None
    # a symmetric predictor of an antisymmetric truth reaches nothing; of a symmetric one, everything
    assert symmetric_bound([sym, sym.copy()], "off-diagonal") == pytest.approx(1.0)
    assert np.isnan(symmetric_bound([anti, anti.copy()], "off-diagonal"))  # (R + R^T)/2 = 0: constant


def test_independent_dpo_separates_signal_from_shared_noise():
    """Two replicates that agree only through the shared holdout scenarios and base have no independent
    ceiling; replicates that share the model's true structure do."""
    rng = np.random.default_rng(1)
    ids = [f"v{k}" for k in range(6)]
    scen = {v: [f"{v}-{s:03d}" for s in range(20)] for v in ids}
    base = {s: float(rng.normal()) for v in ids for s in scen[v]}
    true = rng.normal(size=(6, 6))
    # holdout noise: how value i's model happens to react to scenario s, the same in both replicates
    shared = {(vi, s): float(rng.normal()) for vi in ids for s in base}
    runs_signal, runs_noise = {}, {}
    for r in (0, 1):
        for i, vi in enumerate(ids):
            runs_signal[(r, vi)] = {s: base[s] + true[i, j] + 0.3 * rng.normal()
                                    for j, vj in enumerate(ids) for s in scen[vj]}
            runs_noise[(r, vi)] = {s: base[s] + shared[(vi, s)] + 0.05 * rng.normal() for s in base}
    good = independent_dpo(base, runs_signal, ids, measure="margin", n_splits=20)
    none = independent_dpo(base, runs_noise, ids, measure="margin", n_splits=20)
    assert good["value"] > 0.8 and good["n_splits"] == 20 and good["sd"] is not None
    assert abs(none["value"]) < 0.3


# --------------------------------------------------------------------------------------------------
# the shipped cards


#: shipped tasks that pass the gate (v3 recipes); every other shipped card records why it fails
PASSING = {"dpo-generalization-smollm2-135m-constraints-9", "dpo-generalization-smollm2-135m-ccai-21",
           "sft-generalization-smollm2-135m-ccai-21"}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cards_carry_ceilings_and_a_verdict(name):
    task = tasks.discover()[name]
    task.verify()  # sha256s and ceilings consistent with the files
    m, c, v = task.metadata, task.metadata.ceilings, task.metadata.validity
    assert c is not None and v is not None
    assert c.bound == pytest.approx(np.sqrt(c.reliability), abs=1e-3)
    assert m.license == "apache-2.0" and m.pretty_name == pretty_name(m.type, m.model.name, m.value_set)
    assert [b.method for b in v.baselines] == list(GATE_BASELINES)
    if name in PASSING:
        assert v.verdict == "pass" and task.in_default_benchmark and not v.reasons
        assert c.independent.value >= 0.4 and c.n_replicates >= 3 and all(b.passed for b in v.baselines)
        return
    assert v.verdict == "fail" and not task.in_default_benchmark and v.reasons
    if m.type == "judge-agreement":
        assert c.independent.value is None and "question text is fixed" in c.independent.reason
        assert any("statement-length" in r for r in v.reasons)
    elif "by construction" in c.independent.how:  # v3 recipes: k replicates on disjoint folds, nothing resampled
        assert c.n_replicates >= 3 and c.independent.n_splits is None
        # a low ceiling (judge separation) or a baseline the matrix does not beat (SFT: random p 0.029)
        assert c.independent.value < 0.3 or not all(b.passed for b in v.baselines)
    else:
        assert c.independent.n_splits == 100 and c.independent.value < 0.3
    assert "## Validity" in task.card_body and "## Ceilings" in task.card_body
    assert "can only predict the remaining" not in task.card_body  # the corrected main-effects text
    assert "*is* expressible by cosine similarities" in task.card_body


@pytest.mark.parametrize("name", ["dpo-generalization-smollm2-135m-constraints-9",
                                  "sft-generalization-smollm2-135m-constraints-9",
                                  "judge-agreement-smollm2-135m-ccai-21"])
def test_gate_reproduces_the_shipped_verdict(name):
    """The card's numbers are computed (from the files and the work units), not typed in."""
    task = tasks.discover()[name]
    verdict, text = rewrite_card(task, work_dir=REPO / "tasks" / ".work" / name, write=False)
    assert verdict.ceilings == task.metadata.ceilings and verdict.validity == task.metadata.validity
    assert text == (task.folder / "README.md").read_text(encoding="utf-8")


def test_task_gate_command_checks_and_rewrites(tmp_path, monkeypatch, capsys):
    dst = tmp_path / "t" / "fixture-copy"
    shutil.copytree(FIXTURES / "tasks" / "fixture-constraints", dst)
    card = dst / "README.md"
    front = yaml.safe_load(card.read_text().split("---")[1])
    front["name"] = "fixture-copy"
    front["validity"]["baselines"][0]["spearman"] = 0.9  # hand-edited: the verdict no longer follows
    card.write_text("---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n\n# copy\n")
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", str(tmp_path / "t"))
    assert main(["evaluate", "--method", "random", "--tasks", "fixture-copy"]) == 2
    assert "ceilings inconsistent" in capsys.readouterr().err
    assert main(["task", "gate", str(dst), "--format", "json"]) == 1  # the card is stale
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "pass" and out["card_up_to_date"] is False
    assert main(["task", "gate", "fixture-copy", "--write"]) == 0
    capsys.readouterr()
    assert main(["task", "gate", "fixture-copy"]) == 0
    benchmarks.get_task("fixture-copy").verify()
    assert "## Validity" in card.read_text()


def test_tasks_json_has_ceilings(capsys):
    assert main(["tasks", "--format", "json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    for name in SHIPPED:
        c = rows[name]["ceilings"]
        assert set(c) >= {"split_half", "independent", "reliability", "bound", "symmetric_bound",
                          "main_effects_r2", "antisymmetric_share"}
        assert (rows[name]["default"] is (name in PASSING)
                and rows[name]["gate"] == ("pass" if name in PASSING else "fail"))


def test_write_task_gates_a_new_task(tmp_path):
    """What a pipeline publishes goes through the gate: ceilings, verdict and Validity section in its card."""
    ids = tasks.load_value_set("constraints-9").ids
    rng = np.random.default_rng(3)
    true = rng.normal(size=(9, 9))
    reps = [true + 0.5 * rng.normal(size=(9, 9)) for _ in range(3)]
    for r in reps:
        np.fill_diagonal(r, np.nan)
    meta = {"name": "new-task", "version": "1.0.0", "type": "dpo-generalization", "value_set": "constraints-9",
            "model": {"name": "synthetic", "revision": "none"}, "description": "synthetic", "license": "apache-2.0",
            "noise_ceiling": {"value": 0.5, "method": "mean pairwise Spearman", "n_replicates": 3},
            "ceilings": {"independent": estimate(0.61, "folds share nothing (by construction)")},
            "provenance": {"pipeline": "synthetic", "date": "2026-12-01"}}
    from valuebench.ceilings import replicate_agreement

    meta["noise_ceiling"]["value"] = round(replicate_agreement(reps, "off-diagonal"), 4)
    folder = write_task(tmp_path / "new-task", meta, np.mean(reps, axis=0), ids, "# new task\n", reps)
    task = tasks.load_task_card(folder / "README.md")
    task.verify()
    c, v = task.metadata.ceilings, task.metadata.validity
    assert c.n_replicates == 3 and c.independent.value == 0.61 and v is not None
    assert c.reliability == pytest.approx(spearman_brown(c.split_half.value, 3), abs=1e-3)
    assert "## Validity" in task.card_body
    assert v.default == (v.verdict == "pass")


# --------------------------------------------------------------------------------------------------
# one score, whatever the route (tfidf has exact-zero cosines: the case that broke it)


def test_tfidf_scores_identically_on_every_route(tmp_path, tmp_cache):
    from valuebench.evaluate import evaluate, rescore_result
    from valuebench.leaderboard.submissions import LeakRule, check_all
    from valuebench.leaderboard.submit import method_meta, represent_value_sets, write_submission
    from valuebench.leaderboard.table import build_table
    from valuebench.methods import get_method

    task = benchmarks.get_task("dpo-generalization-smollm2-135m-constraints-9")
    by_name = evaluate(get_method("tfidf"), [task], output_dir=tmp_path / "results")[0].score
    assert main(["represent", "--method", "tfidf", "--value-set", "constraints-9",
                 "--output", str(tmp_path / "v.safetensors")]) == 0
    from_file = evaluate(get_method(f"vectors:{tmp_path / 'v.safetensors'}"), [task])[0].score
    result_file = next((tmp_path / "results").rglob("*.json"))
    _, from_results, _ = rescore_result(result_file)
    write_submission(tmp_path / "subs", method_meta(get_method("tfidf"), "tfidf", baseline=True),
                     represent_value_sets(get_method("tfidf"), ["constraints-9"]))
    table, _, _ = build_table(check_all(tmp_path / "subs", LeakRule((task.name,))), [task])
    row = table.set_index("submission").loc["tfidf"]
    board = (row[f"rho:{task.name}"], row[f"p:{task.name}"], row[f"ci_low:{task.name}"],
             row[f"ci_high:{task.name}"], row[f"norm:{task.name}"])
    for other in (from_file, from_results):
        assert other.spearman == pytest.approx(by_name.spearman, abs=1e-12)
        assert other.p_value == pytest.approx(by_name.p_value, abs=1e-12)
        assert other.ci == pytest.approx(by_name.ci, abs=1e-12)
    assert board == pytest.approx((by_name.spearman, by_name.p_value, *by_name.ci, by_name.normalized), abs=1e-12)
    assert main(["rescore", str(result_file)]) == 0


# --------------------------------------------------------------------------------------------------
# bad input: one message, exit 2, nothing written


def _card_copy(tmp_path, monkeypatch, edit) -> Path:
    dst = tmp_path / "t" / "fixture-bad"
    shutil.copytree(FIXTURES / "tasks" / "fixture-constraints", dst)
    card = dst / "README.md"
    front = yaml.safe_load(card.read_text().split("---")[1])
    front["name"] = "fixture-bad"
    edit(front)
    card.write_text("---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n\n# bad\n")
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", str(tmp_path / "t"))
    return dst


@pytest.mark.parametrize("edit,message", [
    (lambda f: (f.pop("ceilings"), f.pop("validity")), "no `ceilings`"),
    (lambda f: f["ceilings"].__setitem__("bound", 0.99), "bound 0.99 != sqrt"),
    (lambda f: f["ceilings"].__setitem__("n_replicates", 5), "n_replicates 5 but 2 replicate files"),
    (lambda f: f["ceilings"]["split_half"].__setitem__("value", 0.9), "split_half"),
])
def test_card_with_missing_or_inconsistent_ceilings_is_refused(tmp_path, monkeypatch, capsys, edit, message):
    _card_copy(tmp_path, monkeypatch, edit)
    out = tmp_path / "results"
    assert main(["evaluate", "--method", "random", "--tasks", "fixture-bad", "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() or not any(out.rglob("*.json"))


def test_method_name_shadowing_a_baseline_is_refused(monkeypatch, capsys):
    with pytest.raises(UserError, match="shadows the built-in baseline 'surface'"):
        methods.register("surface", "my_pkg.module:Other")
    monkeypatch.setattr(methods, "_entry_point_targets", lambda: {"random": "evil.module:Random"})
    assert main(["methods"]) == 2
    err = capsys.readouterr().err
    assert "shadows the built-in baseline 'random'" in err and err.count("\n") == 1


def test_similarity_with_nan_is_refused(tmp_path, capsys, tmp_cache):
    assert main(["evaluate", "--method", "random", "--tasks", "fixture-constraints",
                 "--output-dir", str(tmp_path / "r")]) == 0
    capsys.readouterr()
    path = next((tmp_path / "r").rglob("*.json"))
    data = json.loads(path.read_text())
    data["similarity"][1][2] = float("nan")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["rescore", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "NaN or inf off the diagonal" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_benchmark_null_draws_once_per_value_set(capsys, monkeypatch):
    """A benchmark's random null: one draw per value set shared by its tasks (as the random method does), the
    single-task case is the card's own ``random_null_p95``, and the CLI prints it with the scored pairs."""
    from valuebench.validity import benchmark_null, random_null, random_null_p95

    monkeypatch.delenv("VALUEBENCH_TASK_PATHS")  # the shipped tasks only
    bench = benchmarks.get_benchmark("default")
    for task in bench.tasks:
        assert round(random_null_p95(task), 4) == task.metadata.validity.random_null_p95
    one, pairs = random_null(bench.tasks[:1])
    twice, _ = random_null(bench.tasks[:1] * 2)
    assert np.allclose(one, twice)  # the same task twice shares its draw: nothing averages out
    null = benchmark_null(bench.tasks)
    assert null["n_pairs"] == sum(int(np.isfinite(t.matrix)[~np.eye(len(t.matrix), dtype=bool)].sum())
                                  for t in bench.tasks)
    assert null["random_null_p95"] < max(t.metadata.validity.random_null_p95 for t in bench.tasks)
    assert main(["benchmarks", "default"]) == 0
    assert f"{null['n_pairs']} scored pairs" in capsys.readouterr().out
