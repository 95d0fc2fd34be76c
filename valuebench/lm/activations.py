"""Response-token mean activations at chosen decoder layers, computed inside forward hooks.

The published persona-vector code runs one item at a time with ``output_hidden_states=True`` (every layer's
full ``[T, d]`` tensor kept) and slices afterwards. Here only the requested layers are hooked; each hook
gathers the response positions of its layer output and adds them into a per-row running sum (and the count
is known from the mask), so nothing bigger than the response tokens of one layer is ever copied. The forward
runs on the decoder stack only (no LM head) and stops right after the deepest requested layer. Batches are
length-sorted and left-padded with explicit position ids. ``perf/bench_extraction.py`` measures it.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from valuebench.lm.batching import (
    base_model,
    decoder_layers,
    encode_pair,
    layer_hidden,
    left_pad,
    length_sorted_batches,
)
from valuebench.lm.loading import LM


class _StopForward(Exception):
    """Raised after the deepest requested layer: the rest of the network is not needed."""


class _MeanHooks:
    """Hooks that accumulate the masked sum of response-token activations per row and layer."""

    def __init__(self, layers: list[int], d: int):
        self.layers = layers
        self.deepest = max(layers)
        self.d = d
        self.rows = self.index = self.sums = None

    def start_batch(self, response_mask: torch.Tensor) -> None:
        self.index = response_mask.nonzero(as_tuple=True)  # (rows, cols) of response tokens
        self.rows = self.index[0]
        self.sums = torch.zeros((response_mask.shape[0], len(self.layers), self.d), dtype=torch.float32,
                                device=response_mask.device)

    def hook(self, slot: int, layer: int):
        def fn(module, args, output):
            picked = layer_hidden(output)[self.index].float()  # [n_response_tokens, d]
            self.sums[:, slot].index_add_(0, self.rows, picked)
            if layer == self.deepest:
                raise _StopForward
        return fn


@torch.inference_mode()
def response_activations(lm: LM, conversations: list[list[dict]], responses: list[str], layers: list[int],
                         batch_size: int = 16, progress: bool | str = False) -> np.ndarray:
    """Mean activation over response tokens, ``[n_items, len(layers), hidden]`` float32.

    ``layers`` are 0-based decoder blocks: layer ``l`` is the output of block ``l`` (``hidden_states[l + 1]``
    in transformers' numbering, except that transformers applies the final norm to its last entry; here the
    last block's output is the raw residual stream like every other layer). A response with no tokens gives a zero row.
    """
    if len(conversations) != len(responses):
        raise ValueError("conversations and responses differ in length")
    layers = [lm.check_layer(int(x)) for x in layers]
    pairs = [encode_pair(lm.tokenizer, c, r) for c, r in zip(conversations, responses)]
    out = np.zeros((len(pairs), len(layers), lm.hidden_size), dtype=np.float32)
    if not pairs:
        return out
    hooks = _MeanHooks(layers, lm.hidden_size)
    blocks = decoder_layers(lm.model)
    handles = [blocks[layer].register_forward_hook(hooks.hook(slot, layer)) for slot, layer in enumerate(layers)]
    decoder = base_model(lm.model)
    batches = length_sorted_batches([len(p) + len(r) for p, r in pairs], batch_size)
    bar = tqdm(total=len(pairs), desc=progress if isinstance(progress, str) else "activations",
               unit="item", disable=not progress, leave=False)
    try:
        for idx in batches:
            batch = left_pad([pairs[i] for i in idx], lm.tokenizer.pad_token_id).to(lm.device)
            hooks.start_batch(batch.response_mask)
            try:
                decoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                        position_ids=batch.position_ids, use_cache=False)
            except _StopForward:
                pass
            counts = torch.tensor(batch.lengths, dtype=torch.float32).clamp(min=1)
            out[idx] = (hooks.sums.cpu() / counts[:, None, None]).numpy()
            bar.update(len(idx))
    finally:
        for h in handles:
            h.remove()
        bar.close()
    return out
