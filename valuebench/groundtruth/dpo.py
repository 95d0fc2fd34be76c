"""DPO generalization: fine-tune on value i's scenarios (chosen = follow, rejected = violate) with TRL,
then measure a(i, j) on every value's holdout scenarios.

CPU defaults that matter (each measured, see the task card and ``make bench``): TRL's ``DPOConfig``
turns on bf16 (no bf16 instructions here: minutes per step) and gradient checkpointing (recomputes the
forward in the backward: ~30% slower for a model that fits in memory anyway); both are off. Sequences are
padded per batch, never to a fixed max length. LoRA is the default (see ``DPOSettings.lora``).
"""

from __future__ import annotations

import dataclasses
import time

from valuebench.scenarios import Scenario


@dataclasses.dataclass
class DPOSettings:
    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    learning_rate: float = 2e-4
    beta: float = 0.1
    epochs: int = 3
    batch_size: int = 8
    max_length: int = 512


def _dataset(scenarios: list[Scenario]):
    from datasets import Dataset

    return Dataset.from_list([{"prompt": sc.messages(None),
                               "chosen": [{"role": "assistant", "content": sc.response_follow}],
                               "rejected": [{"role": "assistant", "content": sc.response_violate}]}
                              for sc in scenarios])


def train_dpo(model_path: str, tokenizer, train: list[Scenario], settings: DPOSettings, seed: int, out_dir: str):
    """Return (trained model ready for inference, training log, wall seconds)."""
    import torch
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32)
    peft_config = None
    if settings.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
    args = DPOConfig(output_dir=out_dir, bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True,
                     learning_rate=settings.learning_rate, beta=settings.beta, num_train_epochs=settings.epochs,
                     per_device_train_batch_size=settings.batch_size, max_length=settings.max_length,
                     logging_steps=1, save_strategy="no", report_to="none", seed=seed, data_seed=seed,
                     dataloader_num_workers=0, disable_tqdm=True, lr_scheduler_type="constant")
    trainer = DPOTrainer(model=model, args=args, train_dataset=_dataset(train), processing_class=tokenizer,
                         peft_config=peft_config)
    start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - start
    trained = trainer.model
    if settings.lora:
        trained = trained.merge_and_unload()
    trained.eval()
    log = [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
           for row in trainer.state.log_history]
    return trained, log, wall
