"""DPO on SmolLM2 on this CPU: what each training choice costs, and where a run's time goes.

All rows come from one run on the same data (the first PAIRS train scenarios of one constraints-9 value,
EPOCHS epochs, batch BATCH) so they compare as ratios:

- LoRA (the recipe's choice) wall time, and the share of it inside TRL's training steps (forward, loss,
  backward): what is left is trainer overhead (tokenizing, reference log-probs, optimizer, logging);
- full fine-tuning / LoRA wall time, and both runs' margin shift on the value's holdout scenarios, so the
  choice of LoRA is made on cost *and* effect;
- two TRL defaults measured before being turned off: gradient checkpointing on / off, and reference
  log-probs recomputed every step / precomputed once.
"""

from __future__ import annotations

import dataclasses
import tempfile

import numpy as np
import torch

from valuebench.groundtruth.choice import scenario_margins
from valuebench.groundtruth.dpo import DPOSettings, train_dpo
from valuebench.lm import load_lm
from valuebench.scenarios import load_scenarios

VALUE = "no_white_lies"
PAIRS, EPOCHS, BATCH = 16, 2, 8
LR = 1e-3  # the shipped recipe's LoRA learning rate (the v2 pilot; v3 keeps it, see DPOSettings)


def _row(name, value, unit, reference=None, ratio=None, target=None, passed=None, note=""):
    return {"name": name, "value": value, "unit": unit, "reference": reference, "ratio": ratio, "target": target,
            "passed": passed, "note": note}


def _train(lm, data, **overrides):
    settings = dataclasses.replace(DPOSettings(epochs=EPOCHS, batch_size=BATCH, learning_rate=LR), **overrides)
    with tempfile.TemporaryDirectory() as tmp:
        return train_dpo(str(lm.path), lm.tokenizer, data, settings, seed=0, out_dir=tmp)


def _shift(lm, run, holdout, base) -> float:
    trained = scenario_margins(dataclasses.replace(lm, model=run.model), holdout, None)
    return float(np.mean(trained - base))


def run() -> list[dict]:
    torch.manual_seed(0)
    lm = load_lm()
    rows = load_scenarios("constraints-9", split=None)
    data = [s for s in rows if s.value_id == VALUE and s.split == "train"][:PAIRS]
    holdout = [s for s in rows if s.value_id == VALUE and s.split == "holdout"]
    base = scenario_margins(lm, holdout, None)
    lora = _train(lm, data)
    full = _train(lm, data, lora=False, learning_rate=5e-6)
    ckpt = _train(lm, data, gradient_checkpointing=True)
    per_step_ref = _train(lm, data, precompute_ref=False)
    lora_shift, full_shift = _shift(lm, lora, holdout, base), _shift(lm, full, holdout, base)
    what = f"{PAIRS} {VALUE} pairs x {EPOCHS} epochs, batch {BATCH}, LoRA lr {LR:g}"
    share = lora.step_s / lora.wall_s
    return [
        _row("DPO LoRA wall time", round(lora.wall_s, 1), "s", None, None, None, None,
             f"{what}; setup {lora.setup_s:.1f}s, train {lora.train_s:.1f}s"),
        _row("DPO LoRA share of wall in forward/loss/backward", round(share, 2), "share", None, None, ">= 0.8",
             share >= 0.8, "rest = tokenizing, reference log-probs (once), optimizer, logging"),
        _row("DPO full fine-tune / LoRA wall time", round(full.wall_s, 1), "s", round(lora.wall_s, 1),
             round(full.wall_s / lora.wall_s, 2), None, None,
             f"holdout margin shift: LoRA {lora_shift:+.3f}, full (lr 5e-6) {full_shift:+.3f} nats"),
        _row("DPO gradient checkpointing on / off", round(ckpt.wall_s, 1), "s", round(lora.wall_s, 1),
             round(ckpt.wall_s / lora.wall_s, 2), None, None, "TRL may enable it; off in the recipe"),
        _row("DPO reference log-probs every step / precomputed", round(per_step_ref.wall_s, 1), "s",
             round(lora.wall_s, 1), round(per_step_ref.wall_s / lora.wall_s, 2), None, None,
             "precomputed once in the recipe (precompute_ref_log_probs)"),
    ]
