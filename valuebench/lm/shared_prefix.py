"""Scoring continuations that share a prompt: run each prompt once, then each continuation on its KV cache.

Every ground-truth measurement asks "given this prompt, how likely is each of a few continuations?":
a scenario's follow and violate replies after one conversation (``response_logprobs``), every value's judge
question after one reply (judges), the next token "A"/"B" after an MCQ question (the MCQ measure, the
scenario generator's filter). ``score_continuations`` is the one engine for all of them. The prompt is the
expensive part, so it is run once and every continuation is run on top of its cache, the cache cropped back
between continuations; only positions whose log-probs are asked for go through the LM head. Per
continuation it returns the summed log-prob of its tokens and their count, and optionally the next-token
log-probs after it (after the prompt alone for an empty continuation).

Prompts are left-padded with explicit positions and continuations right-padded on top of the cache, so each
row computes what it would alone (pads are never attended to by real tokens). With ``share_common``, a
beginning all prompts of a batch share (a steering system prompt, the template's default system prompt) is
run once and its cache repeated per row, which saves another ~25% of a steering condition (it changes float
rounding, so a caller keeps it fixed for the numbers it publishes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from valuebench.lm.batching import base_model
from valuebench.lm.loading import LM

HEAD_CHUNK = 512  # rows of the LM head computed at once (bounds the [rows, vocab] float32 buffer)
MIN_COMMON = 8  # shorter common prefixes are not worth a separate forward


@dataclass
class Scored:
    """Per prefix and continuation: summed log-prob of its tokens, their count, optional next-token log-probs."""

    sum_logprob: np.ndarray  # [N, K]
    n_tokens: np.ndarray  # [N, K]
    next_logprobs: np.ndarray | None  # [N, K, T]


def token_logprobs(lm: LM, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) from each row of final hidden states (LM head applied in chunks)."""
    head = lm.model.get_output_embeddings()
    out = torch.empty(len(targets), dtype=torch.float32, device=hidden.device)
    for i in range(0, len(targets), HEAD_CHUNK):
        logits = head(hidden[i:i + HEAD_CHUNK]).float()
        out[i:i + HEAD_CHUNK] = torch.log_softmax(logits, dim=-1).gather(1, targets[i:i + HEAD_CHUNK, None])[:, 0]
    return out


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


def common_prefix_len(prompts: list[list[int]]) -> int:
    """Length of the longest prefix all prompts share, leaving every prompt at least one token of its own."""
    shortest = min(len(p) for p in prompts)
    n = 0
    while n < shortest - 1 and all(p[n] == prompts[0][n] for p in prompts):
        n += 1
    return n


def _prefill(base, prompts: list[list[int]], pad: int, device, share_common: bool):
    """Run the prompts; returns (cache, attention mask [B, width], real lengths, hidden state of each
    prompt's last token [B, 1, d])."""
    common = common_prefix_len(prompts) if share_common and len(prompts) > 1 else 0
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


def _next(lm: LM, hidden: torch.Tensor, next_ids: list[int]) -> np.ndarray:
    """Next-token log-probs of ``next_ids`` from hidden states [B, 1, d]."""
    logits = lm.model.get_output_embeddings()(hidden).float()
    return torch.log_softmax(logits[:, -1], -1)[:, next_ids].cpu().numpy()


def _score_batch(lm: LM, prefixes, continuations, next_ids, want_tokens, share_common, steering, steer_rows):
    base, device = base_model(lm.model), lm.device
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else lm.tokenizer.eos_token_id
    B, K = len(prefixes), max(len(c) for c in continuations)
    sums, counts = np.zeros((B, K)), np.zeros((B, K), dtype=np.int64)
    nexts = np.zeros((B, K, len(next_ids))) if next_ids else None
    if steering is not None:
        steering.set_batch(None, None)  # the prompt is never steered
    cache, att, lengths, first = _prefill(base, prefixes, pad, device, share_common)
    width = att.shape[1]  # first is the hidden state that predicts every continuation's first token
    first_next = _next(lm, first, next_ids) if next_ids else None
    for k in range(K):
        conts = [c[k] if k < len(c) else [] for c in continuations]
        if not any(conts):
            if nexts is not None:
                nexts[:, k] = first_next
            continue
        cids, catt = _right(conts, pad, device)
        if steering is not None:
            rows = [r[k] if k < len(r) else 0 for r in steer_rows] if steer_rows is not None else None
            steering.set_batch(rows, catt.bool())
        h = base(input_ids=cids, attention_mask=torch.cat([att, catt], 1),
                 position_ids=lengths[:, None] + torch.arange(cids.shape[1], device=device)[None],
                 past_key_values=cache, use_cache=True).last_hidden_state
        if want_tokens:
            predictors = torch.cat([first, h[:, :-1]], 1)
            sel = catt.bool()
            lp = token_logprobs(lm, predictors[sel], cids[sel])
            sums[:, k] = torch.zeros(B, dtype=torch.float32).index_add_(0, sel.nonzero()[:, 0].cpu(), lp.cpu()).numpy()
            counts[:, k] = [len(c) for c in conts]
        if nexts is not None:
            lens = [len(c) for c in conts]
            if len(set(lens)) == 1:
                final = h[:, -1:]
            else:  # each row's last real token; a row without this continuation continues its prompt
                final = torch.where(torch.tensor(lens, device=device)[:, None, None] > 0,
                                    h[torch.arange(B, device=device), [max(n - 1, 0) for n in lens]][:, None], first)
            nexts[:, k] = _next(lm, final, next_ids)
        cache.crop(-(cache.get_seq_length() - width))  # negative: drop that many (transformers >= 4.4x, 5.x)
    return sums, counts, nexts


def prefix_batches(prefixes: list[list[int]], batch_size: int) -> list[list[int]]:
    """Index batches of prefixes, shortest first (the judges' and the MCQ measure's order)."""
    order = np.argsort([len(p) for p in prefixes], kind="stable")
    return [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]


@torch.inference_mode()
def score_continuations(lm: LM, prefixes: list[list[int]], continuations: list[list[list[int]]], *,
                        next_token_ids: list[int] | None = None, want_tokens: bool = True, batch_size: int = 8,
                        batches: list[list[int]] | None = None, share_common: bool = False, steering=None,
                        steer_rows: list[list[int]] | None = None,
                        progress: Callable[[list[int]], None] | None = None) -> Scored:
    """Score ``continuations[n][k]`` after ``prefixes[n]`` (rows may have different numbers of continuations;
    missing cells stay 0). ``batches``: index batches of prefixes (default ``prefix_batches``); ``steering``:
    an active ``Steering``, applied to continuation tokens only, row ``steer_rows[n][k]`` of its vectors (or
    its single vector); ``progress`` is called with each finished batch's prefix indices."""
    n, k = len(prefixes), max((len(c) for c in continuations), default=0)
    sums, counts = np.zeros((n, k)), np.zeros((n, k), dtype=np.int64)
    nexts = np.zeros((n, k, len(next_token_ids))) if next_token_ids else None
    for rows in batches if batches is not None else prefix_batches(prefixes, batch_size):
        s, c, x = _score_batch(lm, [prefixes[i] for i in rows], [continuations[i] for i in rows], next_token_ids,
                               want_tokens, share_common, steering,
                               [steer_rows[i] for i in rows] if steer_rows is not None else None)
        sums[rows, :s.shape[1]], counts[rows, :c.shape[1]] = s, c
        if nexts is not None:
            nexts[rows, :x.shape[1]] = x
        if progress is not None:
            progress(rows)
    return Scored(sums, counts, nexts)
