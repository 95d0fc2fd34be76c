"""Baseline methods and the method registry (including third-party entry points)."""

from __future__ import annotations

import dataclasses
from importlib.metadata import EntryPoint

import numpy as np
import pytest

import valuebench.methods as registry
from valuebench.errors import UserError
from valuebench.methods import get_method
from valuebench.values import ValueSet, load_value_set
from valuebench.vectors import cosine_similarity


def test_random_is_deterministic_per_id_and_seed():
    vs = load_value_set("constraints-9")
    a = get_method("random", seed=1).represent(vs)
    b = get_method("random", seed=1).represent(vs)
    c = get_method("random", seed=2).represent(vs)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert not np.allclose(a.vectors, c.vectors)
    reordered = ValueSet.model_validate({**vs.model_dump(), "values": list(reversed(vs.model_dump()["values"]))})
    d = get_method("random", seed=1).represent(reordered)
    np.testing.assert_array_equal(d.aligned(vs.ids), a.vectors)


def test_tfidf_shares_words():
    vs = load_value_set("ccai-21")
    rep = get_method("tfidf").represent(vs)
    sim = cosine_similarity(rep.vectors)
    i, j = vs.ids.index("universal_equality"), vs.ids.index("human_rights")
    k = vs.ids.index("obedient")
    assert sim[i, j] > sim[i, k]


def test_sentence_embedding_offline_from_packaged_model():
    vs = load_value_set("constraints-9")
    rep = get_method("sentence-embedding").represent(vs)
    assert rep.vectors.shape == (9, 384)
    np.testing.assert_allclose(np.linalg.norm(rep.vectors, axis=1), 1.0, atol=1e-5)
    sim = cosine_similarity(rep.vectors)
    ids = vs.ids
    assert sim[ids.index("no_stereotypes"), ids.index("no_identity_attacks")] > \
        sim[ids.index("no_stereotypes"), ids.index("no_affirm_delusions")]


def test_reply_diff_is_the_mean_follow_minus_violate_embedding():
    from valuebench.methods.persona_prompts import value_scenarios
    from valuebench.methods.sentence_embedding import load_sentence_model

    vs = load_value_set("constraints-9")
    rep = get_method("reply-diff", n_scenarios=3).represent(vs)
    assert rep.vectors.shape == (9, 384) and rep.metadata["n_scenarios"] == 27
    found = value_scenarios(vs, "no_stereotypes", "train", 3)
    emb = load_sentence_model().encode([t for sc in found for t in (sc.response_follow, sc.response_violate)],
                                       normalize_embeddings=True)
    np.testing.assert_allclose(rep.vectors[vs.ids.index("no_stereotypes")], (emb[0::2] - emb[1::2]).mean(0),
                               atol=1e-5)


def test_sentence_embedding_bad_model_is_user_error():
    with pytest.raises(UserError, match="cannot load sentence-embedding model"):
        get_method("sentence-embedding", model="/nonexistent/model").represent(load_value_set("constraints-9"))


def test_third_party_entry_point(monkeypatch):
    ep = EntryPoint(name="plugin-random", value="valuebench.methods.random_vectors:RandomVectors",
                    group="valuebench.methods")
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == "valuebench.methods" else [])
    assert "plugin-random" in registry.available()
    assert get_method("plugin-random", seed=3).represent(load_value_set("constraints-9")).vectors.shape[0] == 9


def test_config_hash_changes_with_options():
    assert get_method("random", seed=1).config_hash() != get_method("random", seed=2).config_hash()
    assert get_method("random").config() == {"seed": 0, "dim": 256}
    assert dataclasses.is_dataclass(get_method("tfidf"))
