"""Sampling responses: batched transformers ``generate`` (KV cache, left padding), optionally steered.

Rollouts for persona vectors are many short samples from chat prompts. On CPU, transformers ``generate`` over
length-sorted, left-padded batches is the fast path; with vLLM installed and a GPU present, unsteered
generation goes to vLLM instead (same inputs, same outputs, untestable on this machine so kept minimal).
Steered generation adds ``coeff * vector`` at a layer on newly generated tokens only (see ``steering``).
Determinism: every batch is seeded from ``seed`` and its index, and batches are formed deterministically.
"""

from __future__ import annotations

import importlib.util

import torch
from tqdm.auto import tqdm

from valuebench.lm.batching import length_sorted_batches, prompt_text
from valuebench.lm.loading import LM
from valuebench.lm.steering import Steering, SteerSpec


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()


def _generate_vllm(lm: LM, prompts: list[str], max_new_tokens: int, temperature: float, top_p: float,
                   seed: int) -> list[str]:  # pragma: no cover - needs a GPU
    from vllm import LLM, SamplingParams

    engine = LLM(model=str(lm.path), seed=seed)
    params = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=seed)
    return [o.outputs[0].text for o in engine.generate(prompts, params)]


def _newline_ids(tok) -> list[int]:
    """Every token whose text contains a line break (byte-level BPE spells it 'Ċ'), cached per tokenizer."""
    cached = getattr(tok, "_valuebench_newline_ids", None)
    if cached is None:
        pieces = tok.convert_ids_to_tokens(list(range(len(tok))))
        cached = [i for i, piece in enumerate(pieces) if piece and ("\n" in piece or "Ċ" in piece)]
        tok._valuebench_newline_ids = cached
    return cached


def _hf_batch(lm: LM, prompts: list[list[int]], max_new_tokens: int, temperature: float, top_p: float,
              extra_stops: list[int] = ()) -> list[list[int]]:
    tok = lm.tokenizer
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), tok.pad_token_id, dtype=torch.long)
    att = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, width - len(p):] = torch.tensor(p)
        att[row, width - len(p):] = 1
    sample = temperature > 0
    out = lm.model.generate(input_ids=ids.to(lm.device), attention_mask=att.to(lm.device),
                            max_new_tokens=max_new_tokens, do_sample=sample,
                            temperature=temperature if sample else None, top_p=top_p if sample else None,
                            top_k=0 if sample else None, pad_token_id=tok.pad_token_id,
                            eos_token_id=[tok.eos_token_id, *extra_stops] if extra_stops else tok.eos_token_id)
    return [row[width:].tolist() for row in out]


@torch.inference_mode()
def generate(lm: LM, conversations: list[list[dict]], max_new_tokens: int = 48, temperature: float = 1.0,
             top_p: float = 1.0, seed: int = 0, batch_size: int = 16, steer: SteerSpec | None = None,
             progress: bool | str = False, prefill: str | list[str] = "", stop_at_newline: bool = False
             ) -> list[str]:
    """One sampled response per conversation (``temperature=0``: greedy), in input order.

    ``steer.vectors`` may be ``[d]`` or ``[n_items, d]`` (each conversation steered by its own vector).
    ``prefill`` (one string, or one per conversation) starts the assistant's reply: small models keep a
    format they are put into far more often than one they are asked for; the returned text is the
    continuation after it. ``stop_at_newline`` ends each sample at its first line break (one field at a time).
    """
    tok = lm.tokenizer
    prefills = [prefill] * len(conversations) if isinstance(prefill, str) else list(prefill)
    texts_in = [prompt_text(tok, c) + p for c, p in zip(conversations, prefills)]
    if steer is None and vllm_available():  # pragma: no cover - GPU only
        return _generate_vllm(lm, texts_in, max_new_tokens, temperature, top_p, seed)
    prompts = [tok(t, add_special_tokens=False)["input_ids"] for t in texts_in]
    texts = [""] * len(prompts)
    steering = None
    if steer is not None:
        steering = Steering(lm, steer.layer, steer.vectors, steer.coeff)
        steering.for_generation({tok.pad_token_id, tok.eos_token_id}).__enter__()
    bar = tqdm(total=len(prompts), desc=progress if isinstance(progress, str) else "generate", unit="item",
               disable=not progress, leave=False)
    try:
        for number, idx in enumerate(length_sorted_batches([len(p) for p in prompts], batch_size)):
            if steering is not None:
                steering.set_batch(idx if steer.per_item() else None, None)
            torch.manual_seed(seed * 1_000_003 + number)
            new = _hf_batch(lm, [prompts[i] for i in idx], max_new_tokens, temperature, top_p,
                            _newline_ids(tok) if stop_at_newline else [])
            for i, ids in zip(idx, new):
                text = tok.decode(ids, skip_special_tokens=True)
                texts[i] = (text.strip().split("\n")[0] if stop_at_newline else text).strip()
            bar.update(len(idx))
    finally:
        if steering is not None:
            steering.__exit__(None, None, None)
        bar.close()
    return texts
