"""SFT generalization: supervised fine-tuning on value i's upholding replies, then the same measurement as DPO
generalization (recipe v3 of ``groundtruth.dpo``: disjoint folds, per-scenario margin shifts, a gate per row).

Only the training objective differs. DPO pushes the upholding reply up *relative to* the violating one; SFT
only raises the likelihood of the upholding reply (loss on the completion tokens), never sees the violating
reply, and so measures how imitation of one value's behaviour spreads. Settings are ``DPOSettings`` (``beta``
and the reference-model fields do not apply) and the CLI's ``--dpo-*`` flags set them.
"""

from __future__ import annotations

from valuebench.groundtruth.dpo import DPO, DPORun, DPOSettings, fine_tune
from valuebench.scenarios import Scenario


def _dataset(scenarios: list[Scenario]):
    from datasets import Dataset

    return Dataset.from_list([{"prompt": sc.messages(None),
                               "completion": [{"role": "assistant", "content": sc.response_follow}]}
                              for sc in scenarios])


def train_sft(model_path: str, tokenizer, train: list[Scenario], settings: DPOSettings, seed: int,
              out_dir: str) -> DPORun:
    """Train one SFT model (merged, in eval mode) on the upholding replies of ``train`` (loss on the reply only)."""
    from trl import SFTConfig, SFTTrainer

    return fine_tune(model_path, tokenizer, _dataset(train), settings, seed, out_dir, SFTTrainer, SFTConfig,
                     completion_only_loss=True)


class SFT(DPO):
    """Units: ``sft-base`` and ``sft-r<r>-<value>``, laid out as DPO's."""

    kind, task_type = "sft", "sft-generalization"
    train = staticmethod(train_sft)  # DPO's v2-unit reader finds no ``dpo-`` units here: v3 folds only
