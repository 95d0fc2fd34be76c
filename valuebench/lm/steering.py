"""Activation steering: add ``coeff * vector`` to one decoder layer's output, only where a mask says so.

Steering libraries commonly steer every position of every forward (left pads and the prompt included), or
select positions relative to the current forward, which breaks under KV-cached decoding (research notes §3).
Here the mask is explicit and per row: for teacher-forced scoring it is the response-token mask; during
generation a pre-forward hook on the decoder marks, per forward, which positions hold newly generated tokens
(none during prefill; during decoding every row whose input is not pad/end-of-turn). Vectors can differ per
row (``[B, d]``), so one batch can steer each value's scenarios with that value's own vector.
"""

from __future__ import annotations

import torch

from valuebench.lm.batching import base_model, decoder_layers, layer_hidden, replace_hidden
from valuebench.lm.loading import LM


class Steering:
    """Context manager: while active, layer ``layer`` outputs ``h + coeff * v[row] * mask[row, pos]``."""

    def __init__(self, lm: LM, layer: int, vectors, coeff: float = 1.0):
        self.lm = lm
        self.layer = lm.check_layer(int(layer))
        v = torch.as_tensor(vectors, dtype=lm.model.dtype, device=lm.device)
        self.vectors = v if v.ndim == 2 else v[None]  # [1 or B, d]
        self.coeff = float(coeff)
        self.rows: torch.Tensor | None = None  # which vector each batch row uses
        self.mask: torch.Tensor | None = None  # [B, T] bool for the current forward; None = no steering
        self._handles: list = []

    def set_batch(self, rows=None, mask: torch.Tensor | None = None) -> None:
        """Choose the vector of each row (indices into ``vectors``) and the positions to steer."""
        self.rows = None if rows is None else torch.as_tensor(rows, device=self.lm.device)
        self.mask = mask

    def _vectors_for_rows(self, B: int) -> torch.Tensor:
        if self.rows is not None:
            return self.vectors[self.rows]
        return self.vectors.expand(B, -1) if self.vectors.shape[0] == 1 else self.vectors

    def _hook(self, module, args, output):
        if self.mask is None or self.coeff == 0.0:
            return None
        h = layer_hidden(output)
        add = self._vectors_for_rows(h.shape[0])[:, None, :] * (self.coeff * self.mask[..., None].to(h.dtype))
        return replace_hidden(output, h + add)

    def for_generation(self, pad_ids: set[int]) -> "Steering":
        """Steer only newly generated tokens: the mask is rebuilt from each forward's input ids."""
        pads = torch.tensor(sorted(pad_ids), device=self.lm.device)

        def pre(module, args, kwargs):
            ids = kwargs.get("input_ids", args[0] if args else None)
            if ids is None or ids.shape[1] > 1:  # prefill: the prompt is never steered
                self.mask = None
            else:  # one new token per row; rows already finished feed pad / end-of-turn
                self.mask = ~torch.isin(ids, pads)
            return None

        self._handles.append(base_model(self.lm.model).register_forward_pre_hook(pre, with_kwargs=True))
        return self

    def __enter__(self) -> "Steering":
        self._handles.append(decoder_layers(self.lm.model)[self.layer].register_forward_hook(self._hook))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.mask = self.rows = None


class SteerSpec:
    """What to steer with during scoring: ``vectors`` is ``[d]`` (all items) or ``[n_items, d]`` (one per item)."""

    def __init__(self, layer: int, vectors, coeff: float = 1.0):
        self.layer, self.vectors, self.coeff = int(layer), vectors, float(coeff)

    def per_item(self) -> bool:
        return getattr(self.vectors, "ndim", 1) == 2
