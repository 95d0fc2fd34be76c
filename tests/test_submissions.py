"""Submissions: writing, validating, bad uploads (each refused with a clear message, nothing left behind)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from valuebench.cli import main
from valuebench.errors import UserError
from valuebench.leaderboard import submissions
from valuebench.leaderboard.submissions import LeakRule, check_all, leakage, load_submission, stage_upload
from valuebench.leaderboard.submit import push_submission
from valuebench.values import load_value_set

IDS = load_value_set("constraints-9").ids
META = """name: {name}
method: my-method
description: test vectors
authors: [Test Author]
subject_models: [tiny-model]
license: CC0-1.0
date: 2026-11-23
derived_from: [value statements]
"""


def vectors(n=len(IDS), dim=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim))


def upload_dir(tmp_path, name="good", ids=IDS, vecs=None, meta=None, filename="constraints-9.npz"):
    """Files as a browser would upload them: in some folder outside the pending area."""
    src = tmp_path / "upload"
    src.mkdir(parents=True, exist_ok=True)
    (src / "meta.yaml").write_text(meta if meta is not None else META.format(name=name))
    np.savez(src / filename, vectors=vectors(len(ids)) if vecs is None else vecs, value_ids=np.array(ids))
    return [src / "meta.yaml", src / filename]


def files_under(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*")) if path.exists() else []


def test_submit_method_writes_valid_folder(tmp_path, capsys):
    assert main(["submit", "--method", "random", "--name", "rnd", "--author", "Ada", "--output-dir",
                 str(tmp_path)]) == 0
    sub = load_submission(tmp_path / "rnd")
    assert set(sub.similarities) == {"ccai-21", "constraints-9"}
    assert sub.meta.method == "random" and not sub.meta.baseline and sub.leakage is None
    assert sub.meta.authors == ["Ada"]
    assert sub.similarities["constraints-9"].shape == (9, 9)
    assert np.array_equal(sub.similarities["constraints-9"], sub.similarities["constraints-9"].T)
    assert main(["submissions", "check", "--root", str(tmp_path)]) == 0
    assert main(["submissions", "check", "--submissions", str(tmp_path)]) == 0
    # an existing submission is not silently overwritten
    assert main(["submit", "--method", "random", "--name", "rnd", "--author", "Ada", "--output-dir",
                 str(tmp_path)]) == 2
    assert "--force" in capsys.readouterr().err


def test_submit_vectors_file(tmp_path):
    np.savez(tmp_path / "v.npz", vectors=vectors(), value_ids=np.array(IDS))
    code = main(["submit", "--vectors", str(tmp_path / "v.npz"), "--value-set", "constraints-9", "--name", "mine",
                 "--description", "d", "--author", "A", "--license", "MIT", "--derived-from",
                 "tasks/scenarios/constraints-9 train split", "--output-dir", str(tmp_path / "subs")])
    assert code == 0
    sub = load_submission(tmp_path / "subs" / "mine")
    assert sub.kinds == {"constraints-9": "vectors"} and sub.leakage is None
    # missing metadata is a user error, not a traceback
    assert main(["submit", "--vectors", str(tmp_path / "v.npz"), "--value-set", "constraints-9", "--name", "x",
                 "--output-dir", str(tmp_path / "subs")]) == 2


def test_submission_is_the_users(tmp_path, capsys, monkeypatch):
    import valuebench.leaderboard.submit as submit

    monkeypatch.setattr(submit, "git_author", lambda: "Grace Hopper")
    assert main(["submit", "--method", "tfidf", "--name", "my-tfidf", "--value-set", "constraints-9",
                 "--output-dir", str(tmp_path)]) == 0
    meta = load_submission(tmp_path / "my-tfidf").meta
    assert meta.authors == ["Grace Hopper"] and meta.baseline is False
    # no --author and no git name: refused before anything is computed or written
    monkeypatch.setattr(submit, "git_author", lambda: None)
    assert main(["submit", "--method", "tfidf", "--name", "anon", "--output-dir", str(tmp_path)]) == 2
    assert "--author" in capsys.readouterr().err and not (tmp_path / "anon").exists()
    # --push without --repo: refused first, nothing written
    assert main(["submit", "--method", "tfidf", "--name", "pushme", "--author", "A", "--push",
                 "--output-dir", str(tmp_path)]) == 2
    assert "--repo" in capsys.readouterr().err and not (tmp_path / "pushme").exists()
    # the maintainers' flag
    assert main(["submit", "--method", "tfidf", "--name", "tfidf", "--baseline", "--value-set", "constraints-9",
                 "--output-dir", str(tmp_path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["baseline"] is True and out["authors"] == ["valuebench maintainers"]


def test_build_and_check_default_to_the_current_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["submit", "--method", "random", "--name", "r", "--author", "A", "--value-set",
                 "constraints-9"]) == 0
    assert (tmp_path / "submissions" / "r" / "meta.yaml").is_file()
    assert main(["submissions", "check"]) == 0
    assert main(["leaderboard", "build", "--no-figures", "--permutations", "20"]) == 0
    assert (tmp_path / "leaderboard" / "data" / "leaderboard.parquet").is_file()


def test_check_reports_invalid_and_exits_1(tmp_path, capsys):
    assert main(["submit", "--method", "random", "--name", "ok", "--author", "A", "--value-set", "constraints-9",
                 "--output-dir", str(tmp_path)]) == 0
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "meta.yaml").write_text("name: broken\n")
    capsys.readouterr()
    assert main(["submissions", "check", "--root", str(tmp_path), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["n_invalid"] == 1
    bad = next(r for r in out["submissions"] if r["name"] == "broken")
    assert not bad["valid"] and "method" in bad["error"]


def test_similarity_csv_validated(tmp_path):
    sim = np.corrcoef(vectors(dim=20))
    folder = tmp_path / "sim"
    folder.mkdir()
    (folder / "meta.yaml").write_text(META.format(name="sim"))
    path = folder / "constraints-9.similarity.csv"
    import pandas as pd

    pd.DataFrame(sim, index=IDS, columns=IDS).to_csv(path)
    assert load_submission(folder).kinds == {"constraints-9": "similarity"}
    asym = sim.copy()
    asym[0, 1] += 0.5
    pd.DataFrame(asym, index=IDS, columns=IDS).to_csv(path)
    with pytest.raises(UserError, match="not symmetric"):
        load_submission(folder)
    pd.DataFrame(sim[:8, :8], index=IDS[:8], columns=IDS[:8]).to_csv(path)
    with pytest.raises(UserError, match="missing"):
        load_submission(folder)


def test_leakage_rules():
    rule = LeakRule(("fixture-constraints",))  # a ranked task that holds out the holdout split
    assert leakage(["value statements"], rule) is None
    assert leakage(["tasks/scenarios/ccai-21 train split"], rule) is None
    assert "holdout" in leakage(["tasks/scenarios/ccai-21 holdout split"], rule)
    assert leakage(["tasks/scenarios/ccai-21"], rule)  # no split named = all splits
    assert leakage(["tasks/fixture-constraints/matrix.csv"], rule)
    assert leakage(["fixture-constraints"], rule)
    assert leakage(["tasks/.work/dpo-x/dpo-r0-a.json"], rule)
    # v3 recipes train and measure on every scenario: reading any split is fair, outcomes never are
    v3 = LeakRule(("fixture-constraints",), frozenset())
    assert leakage(["tasks/scenarios holdout split (layer sweep)", "tasks/scenarios/ccai-21"], v3) is None
    assert leakage(["fixture-constraints replicate-0.csv"], v3)
    assert leakage(["DPO ground truth"], v3)


def test_leak_rule_follows_the_ranked_tasks_cards(monkeypatch):
    """The shipped default benchmark (v3) holds out no split; ranking a holdout-only recipe brings the flag back."""
    from valuebench.tasks import discover

    monkeypatch.delenv("VALUEBENCH_TASK_PATHS")  # the shipped tasks only

    tasks = list(discover().values())
    ranked = [t for t in tasks if t.in_default_benchmark]
    assert ranked and all(t.metadata.held_out_splits == [] for t in ranked)
    assert LeakRule.for_tasks(tasks).held_out_splits == frozenset()
    steering = [t for t in tasks if t.metadata.type == "prompt-steering"]
    assert LeakRule.for_tasks(tasks, steering).held_out_splits == {"holdout"}
    persona = ["value statements", "tasks/scenarios holdout split (layer sweep, 3 scenarios per value)"]
    assert leakage(persona, LeakRule.for_tasks(tasks)) is None
    assert "holdout" in leakage(persona, LeakRule.for_tasks(tasks, steering))


def test_good_upload_goes_to_pending_only(tmp_path):
    pending = tmp_path / "pending"
    sub, dest = stage_upload(upload_dir(tmp_path), "good", pending)
    assert dest == pending / "good" and sub.name == "good"
    assert files_under(pending) == ["good", "good/constraints-9.npz", "good/meta.yaml"]
    with pytest.raises(UserError, match="already exists"):
        stage_upload(upload_dir(tmp_path), "good", pending)


def _bad_cases(tmp_path):
    """(name, files, expected message fragment) for every kind of bad upload the issue lists."""
    cases = []
    d = tmp_path / "pkl"
    d.mkdir()
    (d / "meta.yaml").write_text(META.format(name="pkl"))
    (d / "constraints-9.npz").write_bytes(pickle.dumps({"vectors": [1, 2]}))
    cases.append(("pkl", [d / "meta.yaml", d / "constraints-9.npz"], "pickle"))
    (d / "constraints-9.pkl").write_bytes(pickle.dumps([1]))
    cases.append(("pkl", [d / "meta.yaml", d / "constraints-9.pkl"], "unexpected file"))
    nan = vectors()
    nan[2, 3] = np.nan
    cases.append(("nan", upload_dir(tmp_path / "n", "nan", vecs=nan), "NaN or inf"))
    inf = vectors()
    inf[0, 0] = np.inf
    cases.append(("inf", upload_dir(tmp_path / "i", "inf", vecs=inf), "NaN or inf"))
    wrong = IDS[:-1] + ["not_a_value"]
    cases.append(("wrongids", upload_dir(tmp_path / "w", "wrongids", ids=wrong), "unknown value ids"))
    dup = IDS[:-1] + [IDS[0]]
    cases.append(("dupids", upload_dir(tmp_path / "d", "dupids", ids=dup), "duplicate value ids"))
    d = tmp_path / "dims"
    d.mkdir()
    (d / "meta.yaml").write_text(META.format(name="dims"))
    rows = {vid: [0.1, 0.2, 0.3] for vid in IDS}
    rows[IDS[4]] = [0.1, 0.2]
    (d / "constraints-9.json").write_text(json.dumps(rows))
    cases.append(("dims", [d / "meta.yaml", d / "constraints-9.json"], "dimension"))
    cases.append(("yaml", upload_dir(tmp_path / "y", meta="name: [unclosed\n"), "malformed YAML"))
    laughs = 'a: &a ["lol","lol"]\nb: &b [*a,*a,*a]\nc: &c [*b,*b,*b]\nname: laughs\n'
    cases.append(("laughs", upload_dir(tmp_path / "l", meta=laughs), "aliases"))
    cases.append(("metaname", upload_dir(tmp_path / "m", meta=META.format(name="other")), "does not match"))
    return cases


def test_bad_uploads_refused_and_nothing_written(tmp_path):
    pending = tmp_path / "pending"
    for name, files, fragment in _bad_cases(tmp_path):
        with pytest.raises(UserError, match=fragment) as info:
            stage_upload(files, name, pending)
        assert str(pending) not in str(info.value), "messages name files, not server paths"
        assert files_under(pending) == [], name


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".hidden", "x" * 80, "", "a\\b", "ok..no"])
def test_bad_names_refused(tmp_path, name):
    with pytest.raises(UserError, match="invalid submission name"):
        stage_upload(upload_dir(tmp_path), name, tmp_path / "pending")
    assert not (tmp_path / "evil").exists() and files_under(tmp_path / "pending") == []


def test_oversized_file_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_FILE_BYTES", 1000)
    with pytest.raises(UserError, match="over the"):
        stage_upload(upload_dir(tmp_path), "good", tmp_path / "pending")
    assert files_under(tmp_path / "pending") == []


def test_check_all_never_raises(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "meta.yaml").write_text("a: &x [1]\nb: *x\n")
    (tmp_path / "b").mkdir()
    results = check_all(tmp_path)
    assert [(n, s is None) for n, s, _ in results] == [("a", True), ("b", True)]
    assert "aliases" in results[0][2] and "meta.yaml is missing" in results[1][2]


def test_push_builds_a_pull_request(tmp_path, monkeypatch):
    assert main(["submit", "--method", "random", "--name", "rnd", "--author", "A", "--value-set", "constraints-9",
                 "--output-dir", str(tmp_path)]) == 0
    calls = {}

    class FakeApi:
        def __init__(self, token=None):
            calls["token"] = token

        def create_commit(self, **kwargs):
            calls.update(kwargs)
            return type("Info", (), {"pr_url": "https://huggingface.co/spaces/org/board/discussions/1"})()

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    url = push_submission(tmp_path / "rnd", "org/board")
    assert url.endswith("/discussions/1")
    assert calls["create_pr"] is True and calls["repo_id"] == "org/board" and calls["repo_type"] == "space"
    assert sorted(op.path_in_repo for op in calls["operations"]) == [
        "submissions/rnd/constraints-9.safetensors", "submissions/rnd/meta.yaml"]
    with pytest.raises(UserError, match="ORG/NAME"):
        push_submission(tmp_path / "rnd", "no-slash")


def test_push_failure_is_one_line(tmp_path, monkeypatch):
    import huggingface_hub

    class Offline:
        def __init__(self, token=None):
            pass

        def create_commit(self, **kwargs):
            raise RuntimeError("offline mode is enabled\nmore detail")

    monkeypatch.setattr(huggingface_hub, "HfApi", Offline)
    (tmp_path / "s").mkdir()
    with pytest.raises(UserError, match="could not open a pull request on org/board: offline mode is enabled$"):
        push_submission(tmp_path / "s", "org/board")


def test_parallel_check_equals_serial(tmp_path, monkeypatch):
    """Large boards are read by forked workers: same entries, same order, same errors as one process."""
    import valuebench.leaderboard.submissions as subs_mod
    from tests.helpers import synthetic

    synthetic.write_submissions(tmp_path / "subs", 9, value_sets=("constraints-9",))
    (tmp_path / "subs" / "broken").mkdir()
    (tmp_path / "subs" / "broken" / "meta.yaml").write_text("name: broken\n")
    serial = subs_mod.check_all(tmp_path / "subs", workers=1)
    monkeypatch.setattr(subs_mod, "PARALLEL_FROM", 2)
    monkeypatch.setattr(subs_mod, "_can_fork", lambda: True)
    parallel = subs_mod.check_all(tmp_path / "subs", workers=2)
    assert [(n, e) for n, _, e in parallel] == [(n, e) for n, _, e in serial] and serial[0][2] is not None
    assert all(np.array_equal(a.similarities["constraints-9"], b.similarities["constraints-9"])
               for (_, a, _), (_, b, _) in zip(serial, parallel) if a is not None)
