"""Measuring a model's choice: log-probabilities of continuations that share a prompt.

Every ground-truth pipeline asks the same question thousands of times: given this conversation, how
likely is each of a few continuations? Scenario margins go through ``valuebench.lm.response_logprobs``;
judges need something it does not do: many different questions after one shared reply, and the
next-token distribution ("Yes"/"No") after each. The prompt is the expensive part and is shared, so it is run once with a KV cache and every
continuation is run on top of it, the cache cropped back between continuations. On this CPU that saves
40-80% of the forward work over scoring each full sequence; ``tests/test_groundtruth.py`` checks the result
equals the plain full-sequence computation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from valuebench.scenarios import Scenario


@dataclass
class Scored:
    """Per prefix and continuation: summed log-prob of its tokens, their count, optional next-token log-probs."""

    sum_logprob: np.ndarray  # [N, K]
    n_tokens: np.ndarray  # [N, K]
    next_logprobs: np.ndarray | None  # [N, K, T]


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _left_pad(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, width - len(s):] = torch.tensor(s)
        mask[r, width - len(s):] = 1
    return ids, mask


@torch.inference_mode()
def _score_batch(model, prefixes, continuations, next_ids, pad, want_tokens: bool):
    device = next(model.parameters()).device
    ids, mask = _left_pad(prefixes, pad)
    ids, mask = ids.to(device), mask.to(device)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1)
    first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
    cache, width = out.past_key_values, ids.shape[1]
    lengths = mask.sum(-1)
    B, K = len(prefixes), len(continuations[0])
    sums, counts = np.zeros((B, K)), np.zeros((B, K))
    nexts = np.zeros((B, K, len(next_ids))) if next_ids else None
    for k in range(K):
        conts = [c[k] for c in continuations]
        L = max(len(c) for c in conts)
        if L == 0:
            if nexts is not None:
                nexts[:, k] = first[:, next_ids].cpu().numpy()
            continue
        cids = torch.full((B, L), pad, dtype=torch.long, device=device)
        cmask = torch.zeros((B, L), dtype=torch.long, device=device)
        for r, c in enumerate(conts):
            cids[r, : len(c)] = torch.tensor(c, device=device)
            cmask[r, : len(c)] = 1
        cpos = lengths[:, None] + torch.arange(L, device=device)[None]
        keep = None if (want_tokens or len({len(c) for c in conts}) > 1) else 1
        out = model(input_ids=cids, attention_mask=torch.cat([mask, cmask], 1), position_ids=cpos,
                    past_key_values=cache, use_cache=True, logits_to_keep=keep or 0)
        logits = out.logits.float()
        if want_tokens:
            lp = torch.log_softmax(logits[:, :-1], dim=-1) if L > 1 else logits[:, :0]
            tok_lp = torch.cat([first.gather(1, cids[:, :1]),
                                lp.gather(2, cids[:, 1:, None])[..., 0]], dim=1) if L > 1 else first.gather(1, cids[:, :1])
            tok_lp = tok_lp * cmask
            sums[:, k] = tok_lp.sum(1).cpu().numpy()
            counts[:, k] = cmask.sum(1).cpu().numpy()
        if nexts is not None:
            last = torch.tensor([len(c) - 1 for c in conts], device=device)
            final = logits[torch.arange(B), last] if keep is None else logits[:, -1]
            nexts[:, k] = torch.log_softmax(final, -1)[:, next_ids].cpu().numpy()
        cache.crop(-L)  # drop this continuation, keep the shared prompt
    return sums, counts, nexts


def score_continuations(model, tokenizer, prefixes: list[list[int]], continuations: list[list[list[int]]], *,
                        next_token_ids: list[int] | None = None, want_tokens: bool = True,
                        batch_size: int = 8, progress=None) -> Scored:
    """Score ``continuations[n][k]`` after ``prefixes[n]``; prefixes are sorted by length into batches."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    n, k = len(prefixes), len(continuations[0]) if continuations else 0
    sums, counts = np.zeros((n, k)), np.zeros((n, k))
    nexts = np.zeros((n, k, len(next_token_ids))) if next_token_ids else None
    order = np.argsort([len(p) for p in prefixes], kind="stable")
    for start in range(0, n, batch_size):
        rows = order[start:start + batch_size]
        s, c, x = _score_batch(model, [prefixes[i] for i in rows], [continuations[i] for i in rows],
                               next_token_ids, pad, want_tokens)
        sums[rows], counts[rows] = s, c
        if nexts is not None:
            nexts[rows] = x
        if progress is not None:
            progress.update(len(rows))
    return Scored(sums, counts, nexts)


def scenario_margins(lm, scenarios: list[Scenario], system: str | None, *, user_prefix: str | None = None,
                     batch_size: int = 8, progress=None) -> np.ndarray:
    """Per scenario: mean per-token log-prob of ``response_follow`` minus that of ``response_violate``
    (``valuebench.lm.response_logprobs`` shares each scenario's prompt between the two replies).
    ``user_prefix`` starts the user's message (steering placed in the user turn)."""
    from valuebench.lm import response_logprobs

    convs = [sc.messages(system) for sc in scenarios]
    if user_prefix:
        convs = [[*c[:-1], {"role": "user", "content": f"{user_prefix}\n\n{c[-1]['content']}"}] for c in convs]
    means = response_logprobs(lm, convs + convs, [s.response_follow for s in scenarios]
                              + [s.response_violate for s in scenarios], batch_size=batch_size)
    if progress is not None:
        progress.update(len(scenarios))
    n = len(scenarios)
    return means[:n] - means[n:]
