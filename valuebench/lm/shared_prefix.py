"""Scoring several responses that share one prompt: run the prompt once, then each response on its KV cache.

Ground-truth pipelines score a scenario's follow and violate responses after the same conversation; the
prompt is often the longer part, so prefilling it once and cropping the cache back between responses cuts
the forward work by roughly a third. Prompts in a batch often also share a beginning (a steering system
prompt, the template's default system prompt): that common prefix is run once for the whole batch and its
cache repeated per row, which saves another ~25% of a steering condition. Prompt tails and responses are
right-padded on top of the cache with explicit positions and masks, so each row computes exactly what it
would alone (pads are never attended to by real tokens). Only response-predicting positions go through the
LM head.
"""

from __future__ import annotations

import numpy as np
import torch

from valuebench.lm.batching import base_model, length_sorted_batches
from valuebench.lm.loading import LM


def group_by_prompt(pairs: list[tuple[list[int], list[int]]]) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, indices of the items that use it), in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for i, (prompt, _) in enumerate(pairs):
        groups.setdefault(tuple(prompt), []).append(i)
    return [(list(k), v) for k, v in groups.items()]


def _left(prompts: list[list[int]], pad: int, device):
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad, dtype=torch.long)
    att = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, width - len(p):] = torch.tensor(p)
        att[row, width - len(p):] = 1
    return ids.to(device), att.to(device)


def _right(conts: list[list[int]], pad: int, device):
    width = max(len(c) for c in conts)
    ids = torch.full((len(conts), width), pad, dtype=torch.long)
    att = torch.zeros_like(ids)
    for row, c in enumerate(conts):
        ids[row, :len(c)] = torch.tensor(c, dtype=torch.long)
        att[row, :len(c)] = 1
    return ids.to(device), att.to(device)


MIN_COMMON = 8  # shorter common prefixes are not worth a separate forward


def common_prefix_len(prompts: list[list[int]]) -> int:
    """Length of the longest prefix all prompts share, leaving every prompt at least one token of its own."""
    shortest = min(len(p) for p in prompts)
    n = 0
    while n < shortest - 1 and all(p[n] == prompts[0][n] for p in prompts):
        n += 1
    return n


def _prefill(base, prompts: list[list[int]], pad: int, device):
    """Run the prompts; returns (cache, attention mask [B, width], real lengths, hidden state of each
    prompt's last token [B, 1, d])."""
    common = common_prefix_len(prompts) if len(prompts) > 1 else 0
    if common < MIN_COMMON:
        ids, att = _left(prompts, pad, device)
        out = base(input_ids=ids, attention_mask=att, position_ids=(att.cumsum(-1) - 1).clamp(min=0),
                   use_cache=True)
        return out.past_key_values, att, att.sum(-1), out.last_hidden_state[:, -1:]
    head = torch.tensor([prompts[0][:common]], dtype=torch.long, device=device)
    cache = base(input_ids=head, position_ids=torch.arange(common, device=device)[None], use_cache=True
                 ).past_key_values
    cache.batch_repeat_interleave(len(prompts))
    tids, tatt = _right([p[common:] for p in prompts], pad, device)
    att = torch.cat([torch.ones((len(prompts), common), dtype=tatt.dtype, device=device), tatt], 1)
    out = base(input_ids=tids, attention_mask=att, past_key_values=cache, use_cache=True,
               position_ids=common + torch.arange(tids.shape[1], device=device)[None].expand(len(prompts), -1))
    last = tatt.sum(-1) - 1
    first = out.last_hidden_state[torch.arange(len(prompts), device=device), last][:, None]
    return out.past_key_values, att, att.sum(-1), first


def _group_batch(lm: LM, pairs, groups, token_logprobs, steering, per_item: bool, sums: np.ndarray) -> None:
    base, pad, device = base_model(lm.model), lm.tokenizer.pad_token_id, lm.device
    if steering is not None:
        steering.set_batch(None, None)  # the prompt is never steered
    cache, att, lengths, first = _prefill(base, [g[0] for g in groups], pad, device)
    width = att.shape[1]  # first is the hidden state that predicts every response's first token
    for k in range(max(len(g[1]) for g in groups)):
        items = [g[1][k] if k < len(g[1]) else None for g in groups]
        conts = [pairs[i][1] if i is not None else [] for i in items]
        if not any(conts):
            continue
        cids, catt = _right(conts, pad, device)
        if steering is not None:
            rows = [i if i is not None else 0 for i in items] if per_item else None
            steering.set_batch(rows, catt.bool())
        h = base(input_ids=cids, attention_mask=torch.cat([att, catt], 1),
                 position_ids=lengths[:, None] + torch.arange(cids.shape[1], device=device)[None],
                 past_key_values=cache, use_cache=True).last_hidden_state
        predictors = torch.cat([first, h[:, :-1]], 1)
        sel = catt.bool()
        lp = token_logprobs(lm, predictors[sel], cids[sel])
        row_sums = torch.zeros(len(groups), dtype=torch.float32).index_add_(0, sel.nonzero()[:, 0].cpu(), lp.cpu())
        for row, i in enumerate(items):
            if i is not None:
                sums[i] = row_sums[row].item()
        cache.crop(-(cache.get_seq_length() - width))  # negative: drop that many (transformers >= 4.4x, 5.x)


def shared_prefix_sums(lm: LM, pairs, batch_size: int, token_logprobs, steering=None, per_item=False,
                       bar=None) -> np.ndarray:
    """Summed response log-probs for every pair, prompts shared across the pairs that repeat them."""
    groups = group_by_prompt(pairs)
    sums = np.zeros(len(pairs))
    sizes = [len(p) + sum(len(pairs[i][1]) for i in members) for p, members in groups]
    for idx in length_sorted_batches(sizes, batch_size):
        batch = [groups[i] for i in idx]
        _group_batch(lm, pairs, batch, token_logprobs, steering, per_item, sums)
        if bar is not None:
            bar.update(sum(len(g[1]) for g in batch))
    return sums
