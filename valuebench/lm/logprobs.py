"""Mean per-token log-probability of responses given conversations: the measurement every pipeline repeats.

Stable signature (the ground-truth pipelines call it on thousands of pairs)::

    response_logprobs(lm, conversations, responses, batch_size=16, steer=None, return_details=False,
                      progress=False, share_prompts=True)
        conversations: list of chat message lists (``[{"role", "content"}, ...]``, up to the user turn)
        responses:     list of assistant texts, one per conversation
        -> np.ndarray [n]                      mean log-prob per response token (nats)
        -> (mean [n], sum [n], count [n])      with return_details=True (count = response tokens)

Speed: batches are length-sorted and left-padded; the forward runs the decoder stack only and the LM head
(49k-way for SmolLM2) is applied just to the positions that predict response tokens, so no vocabulary
log-softmax is ever computed for prompt positions. Items that repeat a prompt (follow and violate after the
same scenario) share one prompt forward through its KV cache. ``steer`` (a ``SteerSpec``) adds a vector at a layer on
the response positions, which is how the persona-vector layer sweep asks "does this vector move the model?".
An empty response has mean 0 and count 0.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from valuebench.lm.batching import base_model, encode_pair, left_pad, length_sorted_batches
from valuebench.lm.loading import LM
from valuebench.lm.shared_prefix import group_by_prompt, score_continuations, token_logprobs
from valuebench.lm.steering import Steering, SteerSpec


def _batch_sums(lm: LM, batch, steering: Steering | None, rows) -> torch.Tensor:
    if steering is not None:
        steering.set_batch(rows, batch.response_mask)
    hidden = base_model(lm.model)(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                                  position_ids=batch.position_ids, use_cache=False).last_hidden_state
    predictors = torch.zeros_like(batch.response_mask)
    predictors[:, :-1] = batch.response_mask[:, 1:]  # position t predicts token t+1
    row_of = predictors.nonzero(as_tuple=True)[0]
    token_lp = token_logprobs(lm, hidden[predictors], batch.input_ids[batch.response_mask])
    return torch.zeros(len(batch.lengths), dtype=torch.float32).index_add_(0, row_of.cpu(), token_lp.cpu())


def _shared_sums(lm: LM, pairs, batch_size: int, steering, per_item: bool, bar) -> np.ndarray:
    """Summed response log-probs, each distinct prompt run once (``shared_prefix.score_continuations``)."""
    groups = group_by_prompt(pairs)
    sizes = [len(p) + sum(len(pairs[i][1]) for i in members) for p, members in groups]
    scored = score_continuations(
        lm, [p for p, _ in groups], [[pairs[i][1] for i in members] for _, members in groups],
        batches=length_sorted_batches(sizes, batch_size), share_common=True, steering=steering,
        steer_rows=[members for _, members in groups] if per_item else None,
        progress=lambda rows: bar.update(sum(len(groups[g][1]) for g in rows)))
    sums = np.zeros(len(pairs))
    for g, (_, members) in enumerate(groups):
        sums[members] = scored.sum_logprob[g, :len(members)]
    return sums


@torch.inference_mode()
def response_logprobs(lm: LM, conversations: list[list[dict]], responses: list[str], batch_size: int = 16,
                      steer: SteerSpec | None = None, return_details: bool = False, progress: bool | str = False,
                      share_prompts: bool = True):
    """Mean per-token log-prob of each response after its chat-templated conversation (see module doc).

    With ``share_prompts`` (default) items whose templated prompts are identical (a scenario's follow and
    violate responses) share one prompt forward and its KV cache (``shared_prefix``); ``batch_size`` then
    counts prompts. Results equal the unshared computation up to float rounding (tests check it).
    """
    if len(conversations) != len(responses):
        raise ValueError("conversations and responses differ in length")
    pairs = [encode_pair(lm.tokenizer, c, r) for c, r in zip(conversations, responses)]
    sums = np.zeros(len(pairs))
    counts = np.array([len(r) for _, r in pairs], dtype=np.int64)
    steering = Steering(lm, steer.layer, steer.vectors, steer.coeff) if steer is not None else None
    bar = tqdm(total=len(pairs), desc=progress if isinstance(progress, str) else "log-probs", unit="item",
               disable=not progress, leave=False)
    try:
        if steering is not None:
            steering.__enter__()
        if share_prompts and len({tuple(p) for p, _ in pairs}) < len(pairs):
            sums = _shared_sums(lm, pairs, batch_size, steering, steer is not None and steer.per_item(), bar)
            idx_batches = []
        else:
            idx_batches = length_sorted_batches([len(p) + len(r) for p, r in pairs], batch_size)
        for idx in idx_batches:
            batch = left_pad([pairs[i] for i in idx], lm.tokenizer.pad_token_id).to(lm.device)
            rows = idx if steer is not None and steer.per_item() else None
            sums[idx] = _batch_sums(lm, batch, steering, rows).numpy()
            bar.update(len(idx))
    finally:
        if steering is not None:
            steering.__exit__(None, None, None)
        bar.close()
    means = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    return (means, sums, counts) if return_details else means
