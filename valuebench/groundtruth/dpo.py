"""DPO generalization: fine-tune on value i's scenarios (chosen = follow, rejected = violate) with TRL,
then measure a(i, j) on every value's holdout scenarios.

CPU choices that matter, each measured by ``benchmarks/bench_dpo.py`` (figures in the README and cards):
TRL's ``DPOConfig`` may turn on bf16 (no bf16 instructions on this CPU) and gradient checkpointing
(recomputes the forward during the backward, for memory a 135M model does not need); both are off.
With LoRA the reference model is the base with adapters disabled; its log-probs are computed once before
training (``precompute_ref_log_probs``) instead of once per epoch. Sequences are padded per batch, never
to a fixed max length. LoRA is the default (see ``DPOSettings.lora``).
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
    epochs: int = 2  # 22 pairs: reward accuracy is 1.0 after 2 epochs at this lr (bench_dpo log)
    batch_size: int = 8
    max_length: int = 512
    precompute_ref: bool = True
    gradient_checkpointing: bool = False


@dataclasses.dataclass
class DPORun:
    """A trained model plus where the time went: ``setup_s`` (tokenizing, reference log-probs),
    ``train_s`` (``trainer.train()``), ``step_s`` (inside training steps: forward, loss, backward)."""

    model: object
    log: list[dict]
    setup_s: float
    train_s: float
    step_s: float

    @property
    def wall_s(self) -> float:
        return self.setup_s + self.train_s


def _dataset(scenarios: list[Scenario]):
    from datasets import Dataset

    return Dataset.from_list([{"prompt": sc.messages(None),
                               "chosen": [{"role": "assistant", "content": sc.response_follow}],
                               "rejected": [{"role": "assistant", "content": sc.response_violate}]}
                              for sc in scenarios])


def _timed_steps(trainer) -> list[float]:
    """Wrap ``trainer.training_step`` so the time spent in forward/loss/backward is accumulated."""
    spent = [0.0]
    inner = trainer.training_step

    def step(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    trainer.training_step = step
    return spent


def train_dpo(model_path: str, tokenizer, train: list[Scenario], settings: DPOSettings, seed: int,
              out_dir: str) -> DPORun:
    """Train one DPO model (merged, in eval mode) on ``train``."""
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
    args = DPOConfig(output_dir=out_dir, bf16=False, fp16=False, use_cpu=True,
                     gradient_checkpointing=settings.gradient_checkpointing,
                     precompute_ref_log_probs=settings.precompute_ref,
                     learning_rate=settings.learning_rate, beta=settings.beta, num_train_epochs=settings.epochs,
                     per_device_train_batch_size=settings.batch_size, max_length=settings.max_length,
                     logging_steps=1, save_strategy="no", report_to="none", seed=seed, data_seed=seed,
                     dataloader_num_workers=0, disable_tqdm=True, lr_scheduler_type="constant")
    start = time.perf_counter()
    trainer = DPOTrainer(model=model, args=args, train_dataset=_dataset(train), processing_class=tokenizer,
                         peft_config=peft_config)
    setup = time.perf_counter() - start
    spent = _timed_steps(trainer)
    start = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - start
    trained = trainer.model
    if settings.lora:
        trained = trained.merge_and_unload()
    trained.eval()
    log = [{k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}
           for row in trainer.state.log_history]
    return DPORun(trained, log, setup, train_s, spent[0])
