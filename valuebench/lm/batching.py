"""Token layout shared by extraction, log-probs and steering: chat-templated prompt + response, left-padded.

A (conversation, response) pair becomes ``prompt_ids + response_ids`` where the prompt is the chat template
with ``add_generation_prompt=True`` and the response is the assistant text, tokenised as it would be after
that prompt (split at the prompt boundary), so the response mask is exact. Batches are sorted by length
(little padding) and left-padded with explicit position ids, which makes a padded row compute exactly what
it would compute alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from valuebench.errors import UserError


def prompt_text(tokenizer, messages: list[dict]) -> str:
    if not getattr(tokenizer, "chat_template", None):
        raise UserError("the model's tokenizer has no chat template")
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of the chat-templated conversation, up to the assistant's turn."""
    return tokenizer(prompt_text(tokenizer, messages), add_special_tokens=False)["input_ids"]


def encode_pair(tokenizer, messages: list[dict], response: str) -> tuple[list[int], list[int]]:
    """Token ids of the templated prompt and of the response that follows it."""
    head = prompt_text(tokenizer, messages)
    prompt = tokenizer(head, add_special_tokens=False)["input_ids"]
    full = tokenizer(head + response, add_special_tokens=False)["input_ids"]
    if full[: len(prompt)] == prompt:
        resp = full[len(prompt):]
    else:  # a merge across the boundary: tokenise the response alone
        resp = tokenizer(response, add_special_tokens=False)["input_ids"]
    return prompt, resp


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Index batches, longest first (a memory problem shows up in the first batch, not the last)."""
    if batch_size < 1:
        raise UserError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


@dataclass
class Batch:
    """A left-padded batch: ids, attention mask, positions, and where each row's response starts."""

    input_ids: torch.Tensor  # [B, T]
    attention_mask: torch.Tensor  # [B, T]
    position_ids: torch.Tensor  # [B, T]
    response_mask: torch.Tensor  # [B, T] bool, True on response tokens
    starts: list[int]  # column of each row's first response token
    lengths: list[int]  # response lengths

    def to(self, device) -> "Batch":
        return Batch(self.input_ids.to(device), self.attention_mask.to(device), self.position_ids.to(device),
                     self.response_mask.to(device), self.starts, self.lengths)


def left_pad(pairs: list[tuple[list[int], list[int]]], pad_id: int) -> Batch:
    width = max(len(p) + len(r) for p, r in pairs)
    B = len(pairs)
    ids = torch.full((B, width), pad_id, dtype=torch.long)
    att = torch.zeros((B, width), dtype=torch.long)
    resp = torch.zeros((B, width), dtype=torch.bool)
    starts, lengths = [], []
    for row, (p, r) in enumerate(pairs):
        off = width - len(p) - len(r)
        ids[row, off:] = torch.tensor(p + r, dtype=torch.long)
        att[row, off:] = 1
        resp[row, off + len(p):] = True
        starts.append(off + len(p))
        lengths.append(len(r))
    pos = (att.cumsum(-1) - 1).clamp(min=0)
    return Batch(ids, att, pos, resp, starts, lengths)


def decoder_layers(model):
    """The decoder blocks of a causal LM (Llama/Qwen/Mistral style, GPT-2, GPT-NeoX)."""
    for path in ("model.layers", "model.model.layers", "transformer.h", "gpt_neox.layers"):
        obj = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    raise UserError(f"cannot find the decoder layers of {type(model).__name__}")


def base_model(model):
    """The decoder stack without the LM head: extraction never needs vocabulary logits."""
    return getattr(model, model.base_model_prefix, model)


def layer_hidden(output):
    """A decoder layer's hidden-state output, whether it returns a tensor or a tuple."""
    return output[0] if isinstance(output, tuple) else output


def replace_hidden(output, hidden):
    return (hidden, *output[1:]) if isinstance(output, tuple) else hidden
