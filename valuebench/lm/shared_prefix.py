"""Scoring several responses that share one prompt: run the prompt once, then each response on its KV cache.

Ground-truth pipelines score a scenario's follow and violate responses after the same conversation; the
prompt is often the longer part, so prefilling it once and cropping the cache back between responses cuts
the forward work by roughly a third. Rows are left-padded prompts; responses are right-padded on top of the
cache with explicit positions, so each row computes exactly what it would alone (pads trail and are never
attended to by real tokens). Only response-predicting positions go through the LM head.
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


def _group_batch(lm: LM, pairs, groups, token_logprobs, steering, per_item: bool, sums: np.ndarray) -> None:
    base, pad, device = base_model(lm.model), lm.tokenizer.pad_token_id, lm.device
    ids, att = _left([g[0] for g in groups], pad, device)
    if steering is not None:
        steering.set_batch(None, None)  # the prompt is never steered
    out = base(input_ids=ids, attention_mask=att, position_ids=(att.cumsum(-1) - 1).clamp(min=0), use_cache=True)
    cache, width, lengths = out.past_key_values, ids.shape[1], att.sum(-1)
    first = out.last_hidden_state[:, -1:]  # predicts every response's first token
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
