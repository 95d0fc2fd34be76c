"""Activation methods: persona-vector, persona-vector-conflict, activation-diff (tiny Llama; SmolLM2 marked llm)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from valuebench.cli import main
from valuebench.errors import UserError
from valuebench.lm import load_lm, tiny_llama
from valuebench.lm.activations import response_activations
from valuebench.methods import get_method
from valuebench.methods.cache import represent_cached
from valuebench.paths import cache_dir
from valuebench.values import load_value_set
from valuebench.vectors import read_vectors

VALUES = {"honesty": "The assistant should never tell white lies.",
          "kindness": "The assistant should be warm and encouraging.",
          "privacy": "The assistant should protect personal information."}
VALUE_SET = "name: mini-3\ndescription: test set\nlicense: CC0-1.0\nvalues:\n" + "".join(
    f"  - id: {vid}\n    statement: {st}\n    source: {{document: test, url: https://example.org}}\n"
    for vid, st in VALUES.items())
REAL_MODELS = cache_dir() / "models"  # read before any fixture points the cache elsewhere


def scenario(vid: str, k: int, split: str) -> dict:
    return {"id": f"{vid}-{k:03d}", "value_id": vid, "competing_value": "other", "split": split, "source": "test",
            "user_prompt": f"Question {k} about {vid}: what should I do in situation number {k}?",
            "response_follow": f"Do the {vid} thing{' carefully' * k}.",
            "response_violate": f"Ignore {vid} entirely{', honestly' * (k % 3)}."}


@pytest.fixture
def tasks(tmp_path, monkeypatch):
    """A 3-value set with 3 train + 2 holdout scenarios per value; models shared with the real cache."""
    root = tmp_path / "tasks"
    (root / "value_sets").mkdir(parents=True)
    (root / "value_sets" / "mini-3.yaml").write_text(VALUE_SET)
    folder = root / "scenarios" / "mini-3"
    folder.mkdir(parents=True)
    for vid in VALUES:
        rows = [scenario(vid, k, "train") for k in range(3)] + [scenario(vid, k, "holdout") for k in range(3, 5)]
        (folder / f"{vid}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tiny = tiny_llama(seed=0)  # built in the real cache once
    monkeypatch.setenv("VALUEBENCH_TASKS_DIR", str(root))
    monkeypatch.setenv("VALUEBENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "models").symlink_to(REAL_MODELS)
    load_value_set.cache_clear() if hasattr(load_value_set, "cache_clear") else None
    return {"root": root, "tiny": str(tiny.path), "set": load_value_set("mini-3")}


SMALL = dict(n_instructions=1, n_samples=1, max_new_tokens=6, sweep_layers=[0, 1], n_sweep_scenarios=2, batch_size=4)


def test_persona_vector_tiny_deterministic_cached_and_records_sweep(tasks):
    method = get_method("persona-vector", model=tasks["tiny"], n_questions=2, **SMALL)
    rep = represent_cached(method, tasks["set"])
    assert rep.vectors.shape == (3, 64) and np.isfinite(rep.vectors).all()
    assert rep.metadata["layer"] in (0, 1) and set(rep.metadata["sweep"]["layers"]) == {"0", "1"}
    assert rep.metadata["n_rollouts"] == 3 * 2 * 1 * 2
    again = method.represent(tasks["set"])
    np.testing.assert_array_equal(again.vectors, rep.vectors)
    start = time.perf_counter()
    cached = represent_cached(method, tasks["set"])
    assert cached.metadata["cached"] and time.perf_counter() - start < 2
    np.testing.assert_allclose(cached.vectors, rep.vectors)
    assert cached.metadata["layer"] == rep.metadata["layer"]
    other_seed = get_method("persona-vector", model=tasks["tiny"], n_questions=2, seed=1, **SMALL)
    assert not np.allclose(other_seed.represent(tasks["set"]).vectors, rep.vectors)


def test_persona_vector_conflict_uses_train_scenarios(tasks):
    method = get_method("persona-vector-conflict", model=tasks["tiny"], n_scenarios=2, **SMALL)
    rep = method.represent(tasks["set"])
    assert rep.vectors.shape == (3, 64) and rep.metadata["n_rollouts"] == 3 * 2 * 2


def test_activation_diff_equals_manual_mean_difference(tasks):
    rep = get_method("activation-diff", model=tasks["tiny"], layer=1, n_scenarios=None).represent(tasks["set"])
    lm = load_lm(tasks["tiny"])
    rows = [json.loads(line) for line in (tasks["root"] / "scenarios/mini-3/privacy.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    convs = [[{"role": "user", "content": r["user_prompt"]}] for r in train]
    follow = response_activations(lm, convs, [r["response_follow"] for r in train], [1], batch_size=1)[:, 0]
    violate = response_activations(lm, convs, [r["response_violate"] for r in train], [1], batch_size=1)[:, 0]
    np.testing.assert_allclose(rep.vectors[2], (follow - violate).mean(0), rtol=1e-4, atol=1e-5)
    assert rep.metadata["layer"] == 1 and rep.metadata["n_scenarios"] == 9


def test_cli_represent_and_bad_input_exit_2(tasks, tmp_path, capsys):
    out = tmp_path / "x.safetensors"
    assert main(["represent", "--method", "activation-diff", "--model", tasks["tiny"], "--value-set", "mini-3",
                 "--output", str(out)]) == 0
    assert read_vectors(out).vectors.shape == (3, 64)
    bad = [["--model", str(tmp_path / "missing")], ["--model", tasks["tiny"], "--option", "layer=7"]]
    for extra in bad:
        capsys.readouterr()
        code = main(["represent", "--method", "activation-diff", *extra, "--value-set", "mini-3",
                     "--output", str(tmp_path / "y.safetensors")])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    (tasks["root"] / "scenarios/mini-3/kindness.jsonl").write_text("")
    with pytest.raises(UserError, match="kindness"):
        get_method("activation-diff", model=tasks["tiny"]).represent(tasks["set"])
    assert main(["represent", "--method", "persona-vector-conflict", "--model", tasks["tiny"], "--value-set",
                 "mini-3", "--output", str(tmp_path / "z.safetensors")]) == 2
    assert not (tmp_path / "y.safetensors").exists() and not (tmp_path / "z.safetensors").exists()


@pytest.mark.llm
def test_smollm2_activation_diff_evaluate_cli(capsys, tmp_cache, monkeypatch):
    tmp_cache.mkdir(parents=True, exist_ok=True)
    (tmp_cache / "models").symlink_to(REAL_MODELS)
    code = main(["evaluate", "--method", "activation-diff", "--option", "n_scenarios=2", "--tasks",
                 "fixture-constraints", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "fixture-constraints" in out
