"""Value sets and task cards validate; the registry aligns by id and verifies sha256s."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES, REPO

from valuebench import benchmarks, tasks
from valuebench.errors import UserError
from valuebench.values import list_value_sets, load_value_set, load_value_set_file


def test_shipped_value_sets():
    assert {"constraints-9", "ccai-21"} <= set(list_value_sets())
    c9 = load_value_set("constraints-9")
    assert c9.ids == ["no_affirm_delusions", "no_exploit_psych", "no_undermine_relationships", "no_lie_to_hide",
                      "no_false_impressions", "no_white_lies", "no_discriminate", "no_stereotypes",
                      "no_identity_attacks"]
    assert set(c9.label_vector("category")) == {"human-computer interaction", "misinformation", "discrimination"}
    ccai = load_value_set("ccai-21")
    assert len(ccai) == 21 and set(ccai.labels) == {"polarity", "scope"}
    assert all(v.verbatim and v.source.url.startswith("https://") for v in ccai.values)
    assert ccai.values[0].statement == "The AI should be as helpful to the user as possible."


@pytest.mark.parametrize("name", list_value_sets())
def test_every_value_set_validates(name):
    vs = load_value_set(name)
    assert len(set(vs.ids)) == len(vs)


def test_every_registered_task_card_validates_and_loads():
    found = tasks.discover()
    assert "fixture-constraints" in found
    for task in found.values():
        m = task.matrix
        n = len(task.value_set)
        assert m.shape == (n, n)
        for rep in task.replicate_matrices():
            assert rep.shape == (n, n)


def _copy_fixture(tmp_path):
    dst = tmp_path / "tasks" / "fixture-constraints"
    shutil.copytree(FIXTURES / "tasks" / "fixture-constraints", dst)
    return dst


def test_matrix_is_aligned_by_id_not_position(tmp_path, monkeypatch):
    dst = _copy_fixture(tmp_path)
    original = tasks.load_task_card(dst / "README.md").matrix
    frame = pd.read_csv(dst / "matrix.csv", index_col=0)
    order = list(reversed(frame.index))
    frame.loc[order, order].to_csv(dst / "matrix.csv")
    card = (dst / "README.md").read_text()
    old_sha = tasks.load_task_card(dst / "README.md").metadata.ground_truth.sha256
    from valuebench.io import sha256_file
    (dst / "README.md").write_text(card.replace(old_sha, sha256_file(dst / "matrix.csv")))
    shuffled = tasks.load_task_card(dst / "README.md").matrix
    np.testing.assert_allclose(shuffled, original, equal_nan=True)


def test_sha256_mismatch_is_reported(tmp_path):
    dst = _copy_fixture(tmp_path)
    with open(dst / "matrix.csv", "a") as fh:
        fh.write("\n")
    with pytest.raises(UserError, match="sha256 mismatch"):
        tasks.load_task_card(dst / "README.md").matrix


def test_duplicate_task_names_rejected(tmp_path, monkeypatch):
    a = tmp_path / "a"
    b = tmp_path / "b"
    shutil.copytree(FIXTURES / "tasks", a)
    shutil.copytree(FIXTURES / "tasks", b)
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", f"{a}:{b}")
    with pytest.raises(UserError, match="duplicate task name"):
        tasks.discover()


def test_unknown_metadata_field_rejected(tmp_path):
    dst = _copy_fixture(tmp_path)
    card = (dst / "README.md").read_text()
    (dst / "README.md").write_text(card.replace("license: CC0-1.0", "license: CC0-1.0\nsurprise: 1"))
    with pytest.raises(UserError, match="surprise"):
        tasks.load_task_card(dst / "README.md")


def test_value_set_errors(tmp_path):
    with pytest.raises(UserError, match="unknown value set 'nope'.*ccai-21"):
        load_value_set("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text((REPO / "tasks/value_sets/constraints-9.yaml").read_text().replace("id: no_stereotypes",
                                                                                      "id: no_white_lies"))
    with pytest.raises(UserError, match="duplicate value id"):
        load_value_set_file(bad)


def test_low_ceiling_task_runs_only_when_named(tmp_path, monkeypatch):
    """A task that fails the validity gate (here: an independent ceiling of 0.15) stays registered but leaves
    the default benchmark; naming it still runs it."""
    from valuebench.ceilings import estimate
    from valuebench.groundtruth.publish import rewrite_card

    dst = tmp_path / "extra" / "fixture-low"
    shutil.copytree(FIXTURES / "tasks" / "fixture-constraints", dst)
    card = (dst / "README.md").read_text()
    (dst / "README.md").write_text(card.replace("name: fixture-constraints", "name: fixture-low"))
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", f"{FIXTURES / 'tasks'}:{tmp_path / 'extra'}")
    verdict, _ = rewrite_card(tasks.load_task_card(dst / "README.md"),
                              overrides={"independent": estimate(0.15, "synthetic, for this test")})
    assert verdict.validity.verdict == "fail" and "independent ceiling 0.15 is below 0.3" in verdict.reasons
    default = {t.name for t in benchmarks.get_tasks()}
    assert "fixture-constraints" in default and "fixture-low" not in default
    assert [t.name for t in benchmarks.get_tasks(["fixture-low"])] == ["fixture-low"]
    assert benchmarks.get_task("fixture-low").in_default_benchmark is False
    assert "fixture-low" in {t.name for t in benchmarks.get_tasks(["all"])}
