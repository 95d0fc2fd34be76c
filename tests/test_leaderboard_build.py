"""Leaderboard build: recomputed scores equal ``score()``, invalid entries listed, ties, filters, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from valuebench.benchmarks import get_task
from valuebench.cli import main
from valuebench.evaluate import score_similarity
from valuebench.leaderboard import view as board_view
from valuebench.leaderboard.build import build
from valuebench.leaderboard.submissions import load_submission
from valuebench.leaderboard.submit import method_meta, represent_value_sets, write_submission
from valuebench.leaderboard.table import jack_width, tied_with_leader
from valuebench.methods import get_method
from valuebench.scoring import score, score_many

REPO = Path(__file__).parent.parent


def _sims(rng, S, n, symmetric=True):
    out = []
    for _ in range(S):
        v = rng.standard_normal((n, 6))
        u = v / np.linalg.norm(v, axis=1, keepdims=True)
        m = u @ u.T
        out.append((m + m.T) / 2 if symmetric else m + 0.01 * rng.standard_normal((n, n)))
    return np.array(out)


@pytest.mark.parametrize("pairs", ["off-diagonal", "upper-triangle"])
@pytest.mark.parametrize("variant", ["plain", "nan-truth", "ties", "asymmetric"])
def test_score_many_equals_score(pairs, variant):
    rng = np.random.default_rng(len(pairs) + len(variant))
    n = 9
    truth = rng.standard_normal((n, n))
    sims = _sims(rng, 5, n, symmetric=variant != "asymmetric")
    if variant == "nan-truth":
        truth[1, 4] = truth[6, 2] = np.nan
    if variant == "ties":
        truth, sims = np.round(truth), np.round(sims, 1)
    many = score_many(sims, truth, pairs=pairs, n_permutations=300, n_bootstrap=300, seed=5)
    for s, sim in enumerate(sims):
        ref = score(sim, truth, pairs=pairs, n_permutations=300, n_bootstrap=300, seed=5)
        got = (many.spearman[s], many.p_value[s], many.ci_low[s], many.ci_high[s])
        assert np.allclose(got, (ref.spearman, ref.p_value, *ref.ci), atol=1e-9), (s, got, ref)


def test_tied_with_leader_rule():
    """Ties come from the same calibrated jackknife as the CIs: the leader is tied with itself and with an
    entry it cannot separate from, never with one it beats significantly (random included)."""
    from valuebench.leaderboard.submissions import Submission
    from valuebench.leaderboard.table import score_submissions

    task = get_task("fixture-constraints")
    truth = task.matrix
    rng = np.random.default_rng(0)
    sym = lambda m: (m + m.T) / 2  # noqa: E731
    good = np.nan_to_num(sym(truth), nan=1.0)
    close = good + 0.02 * sym(rng.standard_normal(good.shape))
    rand = _sims(rng, 1, 9)[0]
    subs = [Submission(name, Path("."), None, similarities={"constraints-9": sim})
            for name, sim in (("good", good), ("close", close), ("random", rand), ("missing", rand))]
    subs[3].similarities = {}
    scored = score_submissions(subs, [task], n_permutations=100)
    boot = np.stack([scored.boot[task.name]], axis=1)
    rho = scored.stats[f"rho:{task.name}"]
    tied = tied_with_leader(boot, rho)
    assert tied.tolist() == [True, True, False, False]
    assert scored.stats[f"p:{task.name}"][0] < 0.05  # the leader beats random significantly: not tied


def _pair_variance(jack, leader, entry):
    """Reference: the tie variance of one (leader, entry) pair, task by task, as first written (one pair at a time)."""
    from valuebench.leaderboard.table import unpack_jackknife
    from valuebench.scoring import jackknife_variance

    groups = {}
    for t in range(jack.shape[1]):
        n_all, n, df, group, rho, loo, resid = unpack_jackknife(jack[[leader, entry], t])
        if n_all == 0 or not np.isfinite(rho).all():
            continue
        d_loo = np.where(np.isnan(loo[0]), rho[0], loo[0]) - np.where(np.isnan(loo[1]), rho[1], loo[1])
        g = groups.setdefault((group, n_all), [np.zeros(n_all), np.zeros(len(resid[0])), n, df])
        g[0] += d_loo
        g[1] += resid[0] - resid[1]
    total = sum(float(jackknife_variance(a[None], b[None], df, n)[0]) for a, b, n, df in groups.values())
    return total, min([n for _, _, n, _ in groups.values()], default=10**9)


def test_vectorised_ties_equal_the_pairwise_computation():
    """The board re-decides ties for 10,000 entries per filter, all at once; same numbers as pair by pair, with
    two value sets (so two jackknife groups) and entries missing a task."""
    from valuebench.leaderboard.submissions import Submission
    from valuebench.leaderboard.table import _difference_variances, score_submissions

    tasks = [get_task("fixture-constraints"), get_task("prompt-steering-smollm2-135m-ccai-21")]
    rng = np.random.default_rng(1)
    subs = [Submission(f"s{k}", Path("."), None, similarities={"constraints-9": _sims(rng, 1, 9)[0],
                                                              "ccai-21": _sims(rng, 1, 21)[0]}) for k in range(12)]
    subs[4].similarities.pop("ccai-21")
    scored = score_submissions(subs, tasks, n_permutations=10)
    boot = np.stack([scored.boot[t.name] for t in tasks], axis=1).astype(float)
    for leader in (0, 7):
        var, n = _difference_variances(boot, leader)
        for e in range(len(subs)):
            if e != leader:
                ref_var, ref_n = _pair_variance(boot, leader, e)
                assert var[e] == pytest.approx(ref_var, rel=1e-9, abs=1e-15) and n[e] == ref_n


@pytest.fixture
def subs_root(tmp_path):
    root = tmp_path / "subs"
    for name in ("random", "tfidf"):
        method = get_method(name)
        write_submission(root, method_meta(method, name, baseline=True),
                         represent_value_sets(method, ["constraints-9"]))
    leaky = get_method("random", seed=3)
    write_submission(root, method_meta(leaky, "leaky", authors=["A"],
                                       derived_from=["tasks/scenarios/constraints-9 holdout split"]),
                     represent_value_sets(leaky, ["constraints-9"]))
    (root / "broken").mkdir()
    (root / "broken" / "meta.yaml").write_text("name: [unclosed\n")
    return root


@pytest.mark.usefixtures("fixture_tasks_only")
def test_build_recomputes_every_score(subs_root, tmp_path):
    out = tmp_path / "data"
    report = build(subs_root, out, figures=False)
    table = pd.read_parquet(out / "leaderboard.parquet")
    assert report["n_submissions"] == 4 and report["n_valid"] == 3
    assert report["invalid"][0]["submission"] == "broken" and "malformed YAML" in report["invalid"][0]["error"]
    task = get_task("fixture-constraints")
    for name in ("random", "tfidf", "leaky"):
        row = table.set_index("submission").loc[name]
        ref = score_similarity(load_submission(subs_root / name).similarities["constraints-9"], task)
        assert row["rho:fixture-constraints"] == pytest.approx(ref.spearman, abs=1e-9)
        assert row["p:fixture-constraints"] == pytest.approx(ref.p_value, abs=1e-9)
        assert (row["ci_low:fixture-constraints"], row["ci_high:fixture-constraints"]) == pytest.approx(ref.ci)
        assert row["norm:fixture-constraints"] == pytest.approx(ref.spearman / task.bound)
        assert ref.normalized == pytest.approx(ref.spearman / task.bound)
    assert list(table["status"]) == ["valid", "valid", "valid", "invalid"]
    assert table["rank"].iloc[0] == 1 and table["tied_with_leader"].iloc[0]
    assert table.set_index("submission").loc["leaky", "leakage"].startswith("saw the holdout scenarios")
    with np.load(out / "bootstrap.npz") as npz:
        assert npz["boot"].shape == (3, 1, jack_width(9))
        assert list(npz["submissions"]) == list(table["submission"][:3])
    cards = json.loads((out / "submissions.json").read_text())
    assert {c["name"]: c["status"] for c in cards}["broken"] == "invalid"


@pytest.mark.usefixtures("fixture_tasks_only")
def test_build_writes_figures_and_cards(tmp_path):
    root = tmp_path / "subs"
    method = get_method("random")
    write_submission(root, method_meta(method, "random", baseline=True),
                     represent_value_sets(method, ["constraints-9"]))
    out = tmp_path / "data"
    build(root, out, figures=True, n_permutations=50, n_bootstrap=50)
    tasks = json.loads((out / "tasks.json").read_text())
    assert tasks[0]["name"] == "fixture-constraints" and (out / tasks[0]["heatmap"]).read_bytes()[:4] == b"\x89PNG"
    card = json.loads((out / "submissions.json").read_text())[0]
    assert (out / card["maps"]["constraints-9"]).is_file() and "| method | `random` |" in card["markdown"]


@pytest.mark.usefixtures("fixture_tasks_only")
def test_view_filters_and_exports(subs_root, tmp_path):
    out = tmp_path / "data"
    build(subs_root, out, figures=False)
    data = board_view.load(out)
    full = board_view.view(data)
    assert list(full["Submission"]) == list(data.valid["submission"])
    header = board_view.task_header(data.task("fixture-constraints"))
    assert "bound" in header and full[header].tolist() == data.valid["rho:fixture-constraints"].round(3).tolist()
    assert "leaky" not in board_view.view(data, hide_leakage=True)["Submission"].tolist()
    assert board_view.view(data, search="tfidf")["Submission"].tolist() == ["tfidf"]
    none = board_view.view(data, types=["no-such-type"])  # no task selected: no entry has a score, none shown
    assert len(none) == 0 and not any(c.startswith("ρ ") for c in none.columns)
    detail = board_view.view(data, details=True)
    assert {"95% CI fixture-constraints", "p fixture-constraints"} <= set(detail.columns)
    csv, js = board_view.export(board_view.plain_headers(full), tmp_path / "dl")
    assert pd.read_csv(csv)["Submission"].tolist() == full["Submission"].tolist()
    assert len(json.loads(js.read_text())) == len(full)


def test_board_evidence(subs_root, tmp_path):
    """Benchmarks, badges, entries without a score dropped, per-task ranking, per-method scores and the stored
    similarity behind the scatter (equal to the submission's own)."""
    from valuebench.leaderboard.submissions import load_submission

    out = tmp_path / "data"
    build(subs_root, out, figures=False)
    data = board_view.load(out)
    names = {b["name"] for b in data.benchmarks}
    assert {"default", "all", "constraints-9"} <= names and all(b["version"] for b in data.benchmarks)
    assert set(board_view.view(data, benchmark="all").columns) >= {"Badge", "Mean ρ"}
    assert set(data.valid["badge"]) <= {"null", "baseline", ""}
    assert data.valid.set_index("submission").loc["random", "badge"] == "null"
    ranking = board_view.task_ranking(data, "fixture-constraints")
    assert list(ranking["ρ"]) == sorted(ranking["ρ"], reverse=True) and len(ranking) == len(data.valid)
    scores = board_view.method_scores(data, "tfidf")
    assert "fixture-constraints" in set(scores["Task"]) and scores["Rank on task"].str.contains(" of ").all()
    stored = data.similarities.get("tfidf", "constraints-9")
    own = load_submission(subs_root / "tfidf").similarities["constraints-9"]
    assert stored is not None and np.allclose(stored, own, atol=1e-6)
    assert data.similarities.get("tfidf", "no-such-set") is None
    styled = board_view.styled(board_view.view(data), board_view.selected_tasks(data))
    assert "background-color" in styled.to_html()


def test_cli_build_json(subs_root, tmp_path, capsys):
    out = tmp_path / "cli" / "leaderboard.parquet"
    assert main(["leaderboard", "build", "--submissions", str(subs_root), "--output", str(out),
                 "--no-figures", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["n_valid"] == 3 and len(payload["rows"]) == 3 and out.is_file()
    assert payload["invalid"][0]["submission"] == "broken"


def test_shipped_baselines_are_valid():
    assert main(["submissions", "check", "--submissions", str(REPO / "submissions")]) == 0
