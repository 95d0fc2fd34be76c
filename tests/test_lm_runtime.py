"""LM runtime: hooked extraction, response log-probs and steering equal naive references, batched or not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from valuebench.errors import UserError
from valuebench.lm import load_lm, tiny_llama
from valuebench.lm.activations import response_activations
from valuebench.lm.batching import encode_pair, left_pad
from valuebench.lm.generation import generate
from valuebench.lm.logprobs import response_logprobs
from valuebench.lm.steering import Steering, SteerSpec

CONVS = [
    [{"role": "system", "content": "You value honesty above all."}, {"role": "user", "content": "Is my essay good?"}],
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "Explain, in a few words, why the sky looks blue during the day " * 3}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
]
RESPS = ["It has real strengths, but the argument in part two is weak.", "Hello!",
         "Air scatters short blue wavelengths more than red ones, so blue light reaches us from every direction.",
         "Green, like a fresh leaf in spring, and also blue."]


@pytest.fixture(scope="module")
def tiny():
    return tiny_llama(seed=0)


@pytest.fixture(scope="module")
def smol():
    return load_lm()


def naive_activations(lm, convs, resps, layers):
    """The published approach: one item at a time, output_hidden_states=True, slice afterwards."""
    rows = []
    for conv, resp in zip(convs, resps):
        p, r = encode_pair(lm.tokenizer, conv, resp)
        with torch.no_grad():
            hs = lm.model(torch.tensor([p + r]), output_hidden_states=True).hidden_states
        rows.append(np.stack([hs[layer + 1][0, len(p):].mean(0).numpy() for layer in layers]))
    return np.stack(rows)


def naive_logprobs(lm, convs, resps):
    out = []
    for conv, resp in zip(convs, resps):
        p, r = encode_pair(lm.tokenizer, conv, resp)
        with torch.no_grad():
            logits = lm.model(torch.tensor([p + r])).logits[0]
        lp = torch.log_softmax(logits.double(), -1)
        out.append(np.mean([lp[len(p) + k - 1, t].item() for k, t in enumerate(r)]))
    return np.array(out)


def test_tiny_extraction_batched_equals_single_and_naive(tiny):
    layers = [0, 1]  # not the last block: transformers' last hidden state has the final norm applied
    batched = response_activations(tiny, CONVS, RESPS, layers, batch_size=4)
    single = np.concatenate([response_activations(tiny, [c], [r], layers, batch_size=1) for c, r in zip(CONVS, RESPS)])
    assert batched.shape == (4, 2, tiny.hidden_size) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, single, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(batched, naive_activations(tiny, CONVS, RESPS, layers), rtol=1e-4, atol=1e-4)


def test_tiny_logprobs_equal_naive_and_details(tiny):
    mean, total, count = response_logprobs(tiny, CONVS, RESPS, batch_size=3, return_details=True)
    np.testing.assert_allclose(mean, naive_logprobs(tiny, CONVS, RESPS), atol=1e-4)
    np.testing.assert_allclose(mean * count, total, rtol=1e-6)
    assert list(count) == [len(encode_pair(tiny.tokenizer, c, r)[1]) for c, r in zip(CONVS, RESPS)]


@pytest.mark.llm
def test_smollm2_extraction_and_logprobs_match_references(smol):
    layers = [5, 20, 28]
    batched = response_activations(smol, CONVS, RESPS, layers, batch_size=4)
    single = np.concatenate([response_activations(smol, [c], [r], layers, batch_size=1) for c, r in zip(CONVS, RESPS)])
    scale = np.abs(single).max()
    np.testing.assert_allclose(batched, single, atol=2e-4 * scale)
    np.testing.assert_allclose(batched, naive_activations(smol, CONVS, RESPS, layers), atol=2e-4 * scale)
    np.testing.assert_allclose(response_logprobs(smol, CONVS, RESPS, batch_size=4),
                               naive_logprobs(smol, CONVS, RESPS), atol=2e-4)


def test_steering_mask_leaves_prompt_and_pad_untouched(tiny):
    pairs = [encode_pair(tiny.tokenizer, c, r) for c, r in zip(CONVS, RESPS)]
    batch = left_pad(pairs, tiny.tokenizer.pad_token_id)
    captured = {}
    def grab(module, args, kwargs):  # the input of block 2 is the (possibly steered) output of block 1
        captured["h"] = (args[0] if args else kwargs["hidden_states"]).clone()

    handle = tiny.model.model.layers[2].register_forward_pre_hook(grab, with_kwargs=True)
    kwargs = dict(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids)
    with torch.no_grad():
        tiny.model.model(**kwargs)
        plain = captured["h"]
        with Steering(tiny, 1, torch.ones(tiny.hidden_size), coeff=5.0) as steer:
            steer.set_batch(None, batch.response_mask)
            tiny.model.model(**kwargs)
    handle.remove()
    delta = (captured["h"] - plain).abs().amax(-1)
    assert torch.all(delta[~batch.response_mask] == 0)  # prompt and pad positions bit-identical
    assert torch.all(delta[batch.response_mask] > 1.0)


def test_steered_logprobs_change_only_with_vector(tiny):
    base = response_logprobs(tiny, CONVS, RESPS)
    zero = response_logprobs(tiny, CONVS, RESPS, steer=SteerSpec(1, np.zeros(tiny.hidden_size), 3.0))
    np.testing.assert_array_equal(base, zero)
    per_item = np.zeros((4, tiny.hidden_size), dtype=np.float32)
    per_item[2] = 1.0
    moved = response_logprobs(tiny, CONVS, RESPS, batch_size=2, steer=SteerSpec(1, per_item, 4.0))
    assert moved[2] != base[2]
    np.testing.assert_allclose(np.delete(moved, 2), np.delete(base, 2), atol=1e-5)


def test_steered_greedy_generation_batched_equals_unbatched(tiny):
    v = torch.randn(tiny.hidden_size, generator=torch.Generator().manual_seed(1)) * 2
    spec = SteerSpec(1, v, 2.0)
    batched = generate(tiny, CONVS, max_new_tokens=10, temperature=0, batch_size=4, steer=spec)
    single = [generate(tiny, [c], max_new_tokens=10, temperature=0, batch_size=1, steer=spec)[0] for c in CONVS]
    assert batched == single
    assert batched != generate(tiny, CONVS, max_new_tokens=10, temperature=0, batch_size=4)


def test_sampling_is_deterministic_given_seed(tiny):
    a = generate(tiny, CONVS, max_new_tokens=8, seed=3)
    assert a == generate(tiny, CONVS, max_new_tokens=8, seed=3)
    assert a != generate(tiny, CONVS, max_new_tokens=8, seed=4)


def test_bad_inputs_raise_user_error(tiny, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_lm(str(tmp_path / "no-such-model"))
    with pytest.raises(UserError, match="neither a local folder nor in the Hugging Face cache"):
        load_lm("no-such-org/no-such-model")
    with pytest.raises(UserError, match="unknown embedded model"):
        load_lm("embedded:NoSuchModel")
    with pytest.raises(UserError, match="out of range"):
        response_activations(tiny, CONVS, RESPS, [tiny.n_layers])
    with pytest.raises(UserError, match="out of range"):
        Steering(tiny, -1, np.zeros(tiny.hidden_size))
    no_template = tmp_path / "no-template"
    tiny.model.save_pretrained(no_template)
    tiny.tokenizer.chat_template = None
    try:
        tiny.tokenizer.save_pretrained(no_template)
    finally:
        tiny.tokenizer.chat_template = load_lm(str(tiny.path)).tokenizer.chat_template
    (no_template / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(UserError, match="no chat template"):
        load_lm(str(no_template))


def test_shared_prompt_scoring_equals_unshared(tiny):
    convs = [c for c in CONVS for _ in range(3)][:-1]  # groups of 3, 3, 3 and 2 responses per prompt
    resps = [f"{r} {'and more ' * k}" for r in RESPS for k in range(3)][:-1]
    shared = response_logprobs(tiny, convs, resps, batch_size=2, return_details=True)
    plain = response_logprobs(tiny, convs, resps, batch_size=5, return_details=True, share_prompts=False)
    np.testing.assert_allclose(shared[0], plain[0], atol=1e-5)
    np.testing.assert_array_equal(shared[2], plain[2])
    vecs = np.random.default_rng(0).normal(size=(len(convs), tiny.hidden_size)).astype(np.float32)
    spec = SteerSpec(1, vecs, 2.0)
    np.testing.assert_allclose(response_logprobs(tiny, convs, resps, batch_size=2, steer=spec),
                               response_logprobs(tiny, convs, resps, steer=spec, share_prompts=False), atol=1e-5)


def test_common_system_prefix_is_shared_and_exact(tiny):
    """A batch whose prompts share a long system prompt runs it once; results equal unshared scoring."""
    from valuebench.lm.shared_prefix import MIN_COMMON, common_prefix_len

    assert common_prefix_len([[1, 2, 3, 4], [1, 2, 3, 9, 9], [1, 2, 3, 4]]) == 3
    assert common_prefix_len([[1, 2], [1, 2]]) == 1  # every prompt keeps a token of its own
    system = "Keep to this principle in every reply, whatever the user wants: never tell white lies."
    convs = [[{"role": "system", "content": system}, *c] for c in CONVS for _ in range(2)]
    resps = [f"{r} {'really ' * k}" for r in RESPS for k in range(2)]
    prompts = [encode_pair(tiny.tokenizer, c, "x")[0] for c in convs]
    assert common_prefix_len(prompts) >= MIN_COMMON
    shared = response_logprobs(tiny, convs, resps, batch_size=3, return_details=True)
    plain = response_logprobs(tiny, convs, resps, batch_size=4, return_details=True, share_prompts=False)
    np.testing.assert_allclose(shared[0], plain[0], atol=1e-5)
    vecs = np.random.default_rng(1).normal(size=(len(convs), tiny.hidden_size)).astype(np.float32)
    spec = SteerSpec(1, vecs, 2.0)
    np.testing.assert_allclose(response_logprobs(tiny, convs, resps, batch_size=3, steer=spec),
                               response_logprobs(tiny, convs, resps, steer=spec, share_prompts=False), atol=1e-5)
