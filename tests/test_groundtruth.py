"""Ground-truth pipelines: formulas, the shared-prefix scorer against plain computation, and every
pipeline end to end on a tiny random Llama (what CI can afford)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from conftest import REPO

from valuebench.cli import main
from valuebench.groundtruth.matrix import half_split, shift_matrix
from valuebench.lm import tiny_llama
from valuebench.lm.shared_prefix import score_continuations
from valuebench.tasks import load_task_card

VALUES = "no_white_lies,no_stereotypes"


def test_shift_matrix_edges():
    a0 = np.array([0.5, 1.0, 0.0])
    a = np.array([[0.5, 1.0, 0.5], [0.75, 0.5, 0.0], [0.25, 1.0, 1.0]])
    m = shift_matrix(a, a0)
    assert np.isnan(np.diag(m)).all()
    assert m[1, 0] == pytest.approx(0.5)  # gain: (0.75-0.5)/(1-0.5)
    assert m[2, 0] == pytest.approx(-0.5)  # loss: (0.25-0.5)/0.5
    assert m[0, 1] == 0.0  # a0 = 1 and no change
    assert m[0, 2] == pytest.approx(0.5)  # a0 = 0: (0.5-0)/1
    assert np.nanmax(np.abs(m)) <= 1


def test_half_split_is_disjoint_and_seeded():
    ids = [f"x-{k}" for k in range(9)]
    a, b = half_split(ids, 3)
    assert not set(a) & set(b) and set(a) | set(b) == set(ids) and len(a) == 5
    assert half_split(ids, 3) == (a, b) and half_split(ids, 4) != (a, b)


def test_shared_prefix_scores_equal_full_sequences():
    lm = tiny_llama()
    tok = lm.tokenizer
    prefixes = [tok("hello there friend", add_special_tokens=False)["input_ids"],
                tok("a much longer prefix with many more tokens in it", add_special_tokens=False)["input_ids"]]
    conts = [[tok(t, add_special_tokens=False)["input_ids"] for t in ("yes indeed", "no", "perhaps so then")],
             [tok(t, add_special_tokens=False)["input_ids"] for t in ("no", "")]]  # ragged, and an empty one
    yes_no = [tok("Yes", add_special_tokens=False)["input_ids"][0], tok("No", add_special_tokens=False)["input_ids"][0]]
    got = score_continuations(lm, prefixes, conts, next_token_ids=yes_no, batch_size=2)
    for n, pre in enumerate(prefixes):
        for k, cont in enumerate(conts[n]):
            ids = torch.tensor([pre + cont])
            with torch.no_grad():
                lp = torch.log_softmax(lm.model(ids).logits[0].float(), -1)
            want = sum(lp[len(pre) - 1 + t, c].item() for t, c in enumerate(cont))
            assert got.sum_logprob[n, k] == pytest.approx(want, abs=1e-4)
            assert got.n_tokens[n, k] == len(cont)
            np.testing.assert_allclose(got.next_logprobs[n, k], lp[-1, yes_no].numpy(), atol=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["steering", "judges", "dpo", "sft", "separation"])
def test_pipeline_end_to_end_on_tiny_model(kind, tmp_path, capsys):
    argv = ["groundtruth", kind, "--value-set", "constraints-9", "--values", VALUES, "--model", "tiny-random",
            "--max-holdout", "3", "--max-train", "4", "--output", str(tmp_path)]
    tuned = kind in ("dpo", "sft")  # one measurement, two training objectives
    if tuned:
        argv += ["--dpo-learning-rate", "1e-3", "--dpo-epochs", "1", "--dpo-gate-z", "0", "--task-version", "2.0.0",
                 "--dpo-eval-per-value", "2"]
    assert main(argv) == 0, capsys.readouterr().err
    folders = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(folders) == 1
    task = load_task_card(folders[0] / "README.md")
    assert task.matrix.shape == (9, 9) and np.isnan(np.diag(task.matrix)).all()
    assert np.isfinite(task.matrix).sum() == 2  # the two measured values' off-diagonal pair, both ways
    assert len(task.replicate_matrices()) == (3 if tuned or kind == "separation" else 2)
    assert task.metadata.provenance.config["values"] == VALUES.split(",")
    assert task.metadata.symmetric == (kind == "judges")
    if tuned:
        logs = json.loads((folders[0] / "train_logs.json").read_text())
        assert len(logs) == 6 and all(any("loss" in row for row in rows) for rows in logs.values())
        assert task.metadata.provenance.config["dpo"] == {"learning_rate": 1e-3, "epochs": 1, "gate_z": 0.0,
                                                          "eval_per_value": 2}
        unit = json.loads((tmp_path / ".work" / folders[0].name / f"{kind}-r0-no_white_lies.json").read_text())
        assert sum(s.startswith("no_stereotypes") for s in unit["margins"]) == 2  # first 2 of the other value's fold
        assert sum(s.startswith("no_white_lies") for s in unit["margins"]) in (4, 5)  # own value's unseen folds
        assert task.metadata.version == "2.0.0" and "task_version" not in task.metadata.provenance.config
        assert all(row["learning_rate"] == 1e-3 for rows in logs.values() for row in rows if "loss" in row)
    # the card's command recreates the task: run it in a fresh folder and get the same matrix
    command = task.metadata.provenance.command.split()
    assert command[:2] == ["valuebench", "groundtruth"] and "--values" in command and "--max-holdout" in command
    assert main(command[1:] + ["--output", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / folders[0].name / "matrix.csv").read_text() == (folders[0] / "matrix.csv").read_text()
    # resumable: a second run reuses every finished unit and reproduces the matrix
    before = (folders[0] / "matrix.csv").read_text()
    assert main(argv) == 0
    assert (folders[0] / "matrix.csv").read_text() == before


def test_dpo_folds_share_nothing_between_replicates():
    from valuebench.groundtruth.dpo import DPOSettings, plan
    from valuebench.groundtruth.folds import fold_split
    from valuebench.scenarios import load_scenarios

    ids = [f"v-{k:03d}" for k in range(44)]
    folds = fold_split(ids, 3, 0, "v")
    assert sorted(sum(folds, [])) == ids and [len(f) for f in folds] == [15, 15, 14]
    assert fold_split(ids, 3, 0, "v") == folds and fold_split(ids, 3, 0, "w") != folds
    pool = load_scenarios("constraints-9", "no_white_lies") + load_scenarios("constraints-9", "no_stereotypes")
    layout = plan(["no_white_lies", "no_stereotypes"], pool, DPOSettings(), 0)
    assert len(layout["units"]) == 6
    for v, fs in layout["folds"].items():
        assert len(set().union(*fs)) == sum(len(f) for f in fs) == sum(s.value_id == v for s in pool)


def test_dpo_matrices_gate_rows_and_use_each_replicates_own_fold():
    """Synthetic margins: value a's training moves a and b; value b's training moves nothing (gated out).
    Each replicate's cell must be computed on its own fold of the column value, against the same fold's base."""
    from valuebench.groundtruth.dpo import DPOSettings, matrices

    rng = np.random.default_rng(0)
    values = ["a", "b", "c"]
    folds = {v: [[f"{v}-{r}{k}" for k in range(20)] for r in range(3)] for v in values}
    base = {s: float(rng.normal()) for v in values for f in folds[v] for s in f}
    runs = {}
    for r in range(3):
        for vi in values:
            margins = {}
            for vj in values:
                for q, fold in enumerate(folds[vj]):
                    if (vj == vi) == (q == r):
                        continue  # trained on (own fold r) or not evaluated (other values' other folds)
                    bumps = {"a": {"a": 1.0, "b": 0.5 + r, "c": 0.0}, "b": {}, "c": {"c": 1.0, "a": 0.1}}
                    bump = bumps[vi].get(vj, 0.0)
                    margins.update({s: base[s] + bump + 0.01 * rng.normal() for s in fold})
            runs[(r, vi)] = {"margins": margins}
    out = matrices(values, folds, runs, base, DPOSettings())
    assert out["gated_out"] == ["b"] and np.isnan(out["M"][1]).all()
    assert out["own_shift"]["a"]["z"] > 10 and out["own_shift"]["a"]["mean"] == pytest.approx(1.0, abs=0.01)
    reps = out["replicates"]
    assert [rep[0, 1] for rep in reps] == pytest.approx([0.5, 1.5, 2.5], abs=0.01)  # each replicate its own
    assert out["M"][0, 1] == pytest.approx(1.5, abs=0.01) and out["M"][2, 0] == pytest.approx(0.1, abs=0.01)
    assert set(out["measures"]) == {"margin", "sigmoid", "rate_logit"}
    # a compute budget: cross-value cells on the first 5 scenarios of each fold; the rest need not exist
    for (r, vi), run in runs.items():
        run["margins"] = {s: m for s, m in run["margins"].items()
                          if s.startswith(vi) or s in folds[s[0]][r][:5]}
    capped = matrices(values, folds, runs, base, DPOSettings(eval_per_value=5))
    assert [rep[0, 1] for rep in capped["replicates"]] == pytest.approx([0.5, 1.5, 2.5], abs=0.01)
    assert capped["own_shift"] == out["own_shift"]


def test_separation_removes_row_and_column_effects():
    """A judge that favours follow replies everywhere (row effect) and values whose scenarios every judge
    separates easily (column effect) leave nothing; a planted pair-specific bump survives."""
    from valuebench.groundtruth.separation import separation

    values = ["a", "b", "c", "d"]
    folds = {v: [[f"{v}-{r}{k}" for k in range(5)] for r in range(3)] for v in values}
    row, col = [0.5, 1.0, 2.0, 0.0], [0.3, 0.0, 1.0, 0.2]
    tables = []
    for r in range(3):
        scores = {}
        for j, v in enumerate(values):
            for s in folds[v][r]:
                scores[f"{s}:violate"] = [0.0] * 4
                scores[f"{s}:follow"] = [row[i] + col[j] + (1.0 if (i, j) == (0, 2) else 0.0) for i in range(4)]
        tables.append(scores)
    out = separation(values, folds, tables)
    assert out["raw"][1, 3] == pytest.approx(1.2)
    off = ~np.eye(4, dtype=bool)
    assert np.nanargmax(out["M"]) == 2 and np.isnan(out["M"][~off]).all()
    assert out["M"][off].mean() == pytest.approx(0.0, abs=1e-9)
    assert out["own_judge"]["c"]["rank_of_own"] == 1 and out["own_judge"]["a"]["rank_of_own"] == 3


def test_recipe_history_is_card_text_carried_to_the_next_measurement(tmp_path):
    from valuebench.groundtruth.pipelines import carried_history

    shipped = carried_history(REPO / "tasks/dpo-generalization-smollm2-135m-constraints-9")
    assert any(line.startswith("v2.0.0") for line in shipped) and any("Pilot for v3" in x for x in shipped)
    (tmp_path / "t").mkdir()
    (tmp_path / "t/README.md").write_text("---\n---\n# x\n## Recipe history\n- one\n- two\n\n## Cost\n- not me\n")
    assert carried_history(tmp_path / "t") == ("one", "two") and carried_history(tmp_path / "none") == ()


def test_groundtruth_all_reruns_the_default_benchmark_from_its_units(tmp_path, capsys):
    """`all` re-runs the command recorded in every default-benchmark card; with the committed work units in
    place nothing is retrained and the published matrices come out byte for byte."""
    from valuebench.paths import tasks_dir
    from valuebench.tasks import discover

    shipped = [t for t in discover().values() if t.folder.parent == tasks_dir() and t.in_default_benchmark]
    assert shipped, "the default benchmark is empty"
    for task in shipped:
        shutil.copytree(tasks_dir() / ".work" / task.name, tmp_path / ".work" / task.name)
    assert main(["groundtruth", "all", "--output", str(tmp_path)]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    for task in shipped:
        assert f"{task.name}: valuebench groundtruth" in out
        for name in ("matrix.csv", *(r.path for r in task.metadata.replicates)):
            assert (tmp_path / task.name / name).read_bytes() == (task.folder / name).read_bytes(), name


def test_bad_input_exit_2(tmp_path, capsys):
    assert main(["groundtruth", "steering", "--value-set", "nope", "--model", "tiny-random"]) == 2
    assert "unknown value set" in capsys.readouterr().err
    scen = tmp_path / "scen"
    scen.mkdir()
    src = REPO / "tasks/scenarios/constraints-9/no_white_lies.jsonl"
    rows = [json.loads(x) for x in src.read_text().splitlines()]
    (scen / "no_white_lies.jsonl").write_text("\n".join(json.dumps(r) for r in rows if r["split"] == "train"))
    shutil.copy(REPO / "tasks/scenarios/constraints-9/no_stereotypes.jsonl", scen)
    from valuebench.errors import UserError
    from valuebench.groundtruth.pipelines import RunSpec, load_data
    with pytest.raises(UserError, match="no holdout scenarios"):
        load_data(RunSpec(kind="steering", value_set="constraints-9", model="tiny-random", scenario_dir=scen,
                          values=["no_stereotypes", "no_white_lies"]))
    assert main(["groundtruth", "judges", "--value-set", "constraints-9", "--values", "bogus",
                 "--model", "tiny-random", "--output", str(tmp_path / "out")]) == 2
    assert "unknown value ids" in capsys.readouterr().err
    for flags, message in ((["--executor", "ray", "--unit-gpus", "-1"], "--unit-gpus must be between 0 and 64"),
                           (["--unit-gpus", "1"], "--unit-gpus applies to --executor ray")):
        assert main(["groundtruth", "dpo", "--value-set", "constraints-9", *flags, "--model", "tiny-random",
                     "--output", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["groundtruth", "dpo", "--value-set", "constraints-9", "--dpo-epochs", "0",
                 "--model", "tiny-random", "--output", str(tmp_path / "out")]) == 2
    assert "--dpo-epochs must be between 1 and" in capsys.readouterr().err
    assert main(["groundtruth", "dpo", "--value-set", "constraints-9", "--dpo-eval-per-value", "1",
                 "--model", "tiny-random", "--output", str(tmp_path / "out")]) == 2
    assert "--dpo-eval-per-value must be between 2 and" in capsys.readouterr().err
    assert main(["groundtruth", "dpo", "--value-set", "constraints-9", "--task-version", "v2",
                 "--model", "tiny-random", "--output", str(tmp_path / "out")]) == 2
    assert "--task-version must look like MAJOR.MINOR.PATCH" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_main_effects_r2():
    from valuebench.ceilings import main_effects_r2

    r, c = np.array([0.0, 1.0, 2.0, 3.0]), np.array([5.0, -1.0, 0.5, 2.0])
    additive = r[:, None] + c[None, :]
    np.fill_diagonal(additive, np.nan)
    assert main_effects_r2(additive) == pytest.approx(1.0)
    noise = np.random.default_rng(0).normal(size=(8, 8))
    assert 0 < main_effects_r2(noise) < 0.8  # 14 parameters for 56 cells of pure noise
    assert main_effects_r2(np.zeros((4, 4))) is None


def test_user_turn_steering_prefixes_the_user_message(monkeypatch):
    from valuebench.groundtruth import choice, steering
    from valuebench.scenarios import load_scenarios

    seen = []
    monkeypatch.setattr("valuebench.lm.response_logprobs",
                        lambda lm, convs, resps, batch_size: (seen.append(convs), np.zeros(len(convs)))[1])
    sc = load_scenarios("constraints-9", "no_white_lies", split="holdout")[:2]
    prompt = steering.steering_prompts("Never tell white lies.", 1, "user")[0]
    choice.scenario_margins(None, sc, None, user_prefix=prompt)
    convs = seen[0]
    assert [m["role"] for m in convs[0]] == ["user"]
    assert convs[0][0]["content"] == f"{prompt}\n\n{sc[0].user_prompt}" and "Never tell white lies." in prompt


def test_mcq_margins_equal_a_plain_forward_and_randomize_order():
    from valuebench.groundtruth import choice
    from valuebench.scenarios import load_scenarios

    lm = tiny_llama()
    sc = load_scenarios("constraints-9", "no_white_lies", split="holdout")[:4]
    got = choice.scenario_margins(lm, sc, "Be honest.", choice="mcq", seed=3, batch_size=3)
    tok = lm.tokenizer
    a_id, b_id = (tok(x, add_special_tokens=False)["input_ids"][0] for x in ("A", "B"))
    for s, margin in zip(sc, got):
        first = choice.follow_is_a(s.id, 3)
        a, b = (s.response_follow, s.response_violate) if first else (s.response_violate, s.response_follow)
        text = choice.MCQ_QUESTION.format(user=s.user_prompt, a=a, b=b)
        ids = torch.tensor([choice.prompt_ids(tok, [{"role": "system", "content": "Be honest."},
                                                    {"role": "user", "content": text}])])
        with torch.no_grad():
            lp = torch.log_softmax(lm.model(ids).logits[0, -1].float(), -1)
        want = (lp[a_id] - lp[b_id]).item() * (1 if first else -1)
        assert margin == pytest.approx(want, abs=1e-4)
    ids = [f"v-{k:03d}" for k in range(400)]
    share = np.mean([choice.follow_is_a(i, 0) for i in ids])
    assert 0.43 < share < 0.57  # a coin flip per scenario, not a fixed order
    assert [choice.follow_is_a(i, 0) for i in ids] != [choice.follow_is_a(i, 1) for i in ids]


@pytest.mark.slow
def test_mcq_steering_end_to_end_and_judges_refuse_it(tmp_path, capsys):
    argv = ["groundtruth", "steering", "--value-set", "constraints-9", "--values", VALUES, "--model", "tiny-random",
            "--max-holdout", "3", "--phrasings", "1", "--choice", "mcq", "--output", str(tmp_path)]
    assert main(argv) == 0, capsys.readouterr().err
    folders = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(folders) == 1 and "-mcq-" in folders[0], folders
    task = load_task_card(tmp_path / folders[0] / "README.md")
    assert task.metadata.provenance.config["choice"] == "mcq" and "--choice mcq" in task.metadata.provenance.command
    assert "Choice measure: MCQ" in task.card_body
    # republishing a finished work folder with card notes (what `make groundtruth` does for the shipped DPO)
    from valuebench.groundtruth.pipelines import RunSpec, run
    before = (tmp_path / folders[0] / "matrix.csv").read_text()
    run(RunSpec(kind="steering", value_set="constraints-9", model="tiny-random", output=tmp_path,
                values=VALUES.split(","), max_holdout=3, n_phrasings=1, choice="mcq", task_version="1.1.0",
                card_notes=("tried a system prompt first",)))
    again = load_task_card(tmp_path / folders[0] / "README.md")
    assert "## Recipe history\n- tried a system prompt first" in again.card_body
    assert again.metadata.version == "1.1.0" and (tmp_path / folders[0] / "matrix.csv").read_text() == before
    assert main(["groundtruth", "judges", "--value-set", "constraints-9", "--values", VALUES, "--choice", "mcq",
                 "--model", "tiny-random", "--output", str(tmp_path / "j")]) == 2
    assert "does not apply to judges" in capsys.readouterr().err and not (tmp_path / "j").exists()


#: license ids of the Hub's list (https://hf.co/docs/hub/repositories-licenses) a task card may carry
HUB_LICENSES = {"apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "odc-by"}


def test_shipped_cards_carry_hub_metadata_that_datasets_loads(tmp_path):
    """Every packaged task card is a Hub dataset card: a license id from the Hub's list, task and size categories,
    a whole pretty name, and one config per matrix (default, each replicate, each companion CSV) with a `test`
    split, which `datasets` loads from the folder as it would from the Hub."""
    import datasets

    from valuebench.io import split_front_matter
    from valuebench.paths import tasks_dir
    from valuebench.tasks import discover, read_matrix_csv

    shipped = [t for t in discover().values() if t.folder.parent == tasks_dir()]
    assert shipped
    for task in shipped:
        front, _ = split_front_matter((task.folder / "README.md").read_text(encoding="utf-8"), task.name)
        assert front["license"] in HUB_LICENSES and front["task_categories"] == ["sentence-similarity"]
        assert front["size_categories"] == ["n<1K"] and front["pretty_name"].endswith(task.metadata.value_set)
        configs = {c["config_name"]: c["data_files"] for c in front["configs"]}
        csvs = sorted(p.name for p in task.folder.glob("*.csv"))
        assert sorted(f[0]["path"] for f in configs.values()) == csvs, task.name
        assert configs["default"] == [{"split": "test", "path": "matrix.csv"}]
        assert {f"replicate-{k}" for k in range(len(task.metadata.replicates))} <= set(configs)
        for name, path in (("default", "matrix.csv"), ("replicate-0", "replicate-0.csv")):
            rows = datasets.load_dataset(str(task.folder), name, split="test", cache_dir=str(tmp_path))
            assert rows.num_rows == len(read_matrix_csv(task.folder / path)) and "value_id" in rows.column_names
