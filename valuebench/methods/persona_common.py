"""Shared machinery of the activation methods: prompts, rollouts → pro − anti vectors, and the layer sweep.

Persona vectors (research notes §1): for each value, pro-value and anti-value system prompts, sampled
responses to a set of prompts, the mean activation over response tokens, and the pro − anti difference per
layer. One layer is then chosen for all values by steering effectiveness: add each value's own vector at a
candidate layer while scoring that value's held-out scenarios, and keep the layer where the
follow-minus-violate log-prob margin rises most over the unsteered model. Prompts: ``persona_prompts``.
"""

from __future__ import annotations

import numpy as np

from valuebench.errors import UserError
from valuebench.lm.activations import response_activations
from valuebench.lm.generation import generate
from valuebench.lm.loading import LM
from valuebench.lm.logprobs import response_logprobs
from valuebench.lm.steering import SteerSpec
from valuebench.methods.persona_prompts import system_prompts
from valuebench.scenarios import load_scenarios
from valuebench.values import ValueSet


def candidate_layers(lm: LM, layers: list[int] | None) -> list[int]:
    """The sweep's layers: the option, or four between 40% and 85% of depth (where steering usually works)."""
    if layers:
        return sorted({lm.check_layer(int(x)) for x in layers})
    n = lm.n_layers
    return sorted({min(n - 1, max(0, round(f * n))) for f in (0.4, 0.55, 0.7, 0.85)})


def pro_anti_vectors(lm: LM, value_set: ValueSet, user_turns: dict[str, list[list[dict]]], layers: list[int],
                     opts) -> tuple[np.ndarray, dict]:
    """Sample pro/anti rollouts for every value in one batched run; return ``[n_values, n_layers, d]`` diffs."""
    convs, owner = [], []  # owner: (value index, +1 pro / -1 anti)
    for vi, value in enumerate(value_set.values):
        pro, anti = system_prompts(value.statement, opts.n_instructions)
        for sign, prompts in ((1, pro), (-1, anti)):
            for system in prompts:
                for turns in user_turns[value.id]:
                    for _ in range(opts.n_samples):
                        convs.append([{"role": "system", "content": system}, *turns])
                        owner.append((vi, sign))
    texts = generate(lm, convs, max_new_tokens=opts.max_new_tokens, temperature=opts.temperature, seed=opts.seed,
                     batch_size=opts.batch_size, progress="rollouts")
    keep = [i for i, t in enumerate(texts) if t.strip()]
    acts = response_activations(lm, [convs[i] for i in keep], [texts[i] for i in keep], layers,
                                batch_size=lm.forward_batch_size(opts.batch_size), progress="activations")
    diffs = np.zeros((len(value_set), len(layers), lm.hidden_size), dtype=np.float32)
    for vi, value in enumerate(value_set.values):
        pos = [k for k, i in enumerate(keep) if owner[i] == (vi, 1)]
        neg = [k for k, i in enumerate(keep) if owner[i] == (vi, -1)]
        if not pos or not neg:
            raise UserError(f"value {value.id!r}: the model produced no non-empty pro or anti response; "
                            "raise max_new_tokens or n_samples")
        diffs[vi] = acts[pos].mean(0) - acts[neg].mean(0)
    return diffs, {"n_rollouts": len(convs), "n_empty_rollouts": len(convs) - len(keep)}


def select_layer(lm: LM, value_set: ValueSet, diffs: np.ndarray, layers: list[int], opts) -> tuple[int, dict]:
    """Pick the layer whose vectors most raise the follow − violate margin on each value's holdout scenarios."""
    convs, resps, owner = [], [], []
    for vi, value in enumerate(value_set.values):
        found = load_scenarios(value_set, value_id=value.id, split="holdout")[: opts.n_sweep_scenarios]
        for sc in found:
            convs += [sc.messages(), sc.messages()]
            resps += [sc.response_follow, sc.response_violate]
            owner += [vi, vi]
    if not convs:  # nothing to sweep on: fall back to the middle candidate and say so
        return layers[len(layers) // 2], {"reason": "no holdout scenarios; middle candidate layer used"}
    owner = np.array(owner)

    def margins(lp):
        return lp[0::2] - lp[1::2]

    batch = lm.forward_batch_size(opts.batch_size)
    base = margins(response_logprobs(lm, convs, resps, batch_size=batch, progress="sweep: unsteered"))
    table = {}
    for j, layer in enumerate(layers):
        steer = SteerSpec(layer, diffs[owner, j], opts.steer_coeff)
        lp = response_logprobs(lm, convs, resps, batch_size=batch, steer=steer,
                               progress=f"sweep: layer {layer}")
        rise = margins(lp) - base
        per_value = {value_set.ids[vi]: float(rise[owner[0::2] == vi].mean()) for vi in np.unique(owner)}
        table[str(layer)] = {"mean_rise": float(np.mean(list(per_value.values()))), "per_value": per_value}
    chosen = max(layers, key=lambda layer: table[str(layer)]["mean_rise"])
    # control: the same steering with the next value's vector; a value-specific vector should beat it
    other = diffs[(owner + 1) % len(value_set), layers.index(chosen)]
    lp = response_logprobs(lm, convs, resps, batch_size=batch, steer=SteerSpec(chosen, other, opts.steer_coeff),
                           progress="sweep: control")
    return chosen, {"metric": "mean over values of (steered - unsteered) follow-violate mean log-prob margin",
                    "coeff": opts.steer_coeff, "n_scenarios": int(len(convs) // 2), "layers": table,
                    "control_other_value_rise": float((margins(lp) - base).mean())}
