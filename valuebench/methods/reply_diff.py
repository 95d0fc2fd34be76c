"""``reply-diff``: the model-free twin of ``activation-diff``: sentence embeddings of the follow and violate replies.

Same scenarios, same difference (follow - violate, mean over a value's train scenarios), but the vectors come
from a sentence encoder reading the reply texts instead of the subject model reading the conversation. What
activation-diff adds over this is what the subject model's own activations know beyond the replies' wording.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from valuebench.methods.base import Method
from valuebench.methods.persona_prompts import value_scenarios
from valuebench.methods.sentence_embedding import EMBEDDED, load_sentence_model
from valuebench.values import ValueSet
from valuebench.vectors import Representation


@dataclasses.dataclass
class ReplyDiff(Method):
    name = "reply-diff"
    description = ("Sentence embedding of response_follow minus response_violate, mean over each value's train "
                   "scenarios (activation-diff's scenarios, read by a sentence encoder instead of the model).")
    model: str = EMBEDDED
    n_scenarios: int | None = 20

    def represent(self, value_set: ValueSet) -> Representation:
        found = {vid: value_scenarios(value_set, vid, "train", self.n_scenarios) for vid in value_set.ids}
        texts = [t for vid in value_set.ids for sc in found[vid] for t in (sc.response_follow, sc.response_violate)]
        emb = load_sentence_model(self.model).encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        diff, start, rows = emb[0::2] - emb[1::2], 0, []
        for vid in value_set.ids:
            rows.append(diff[start:start + len(found[vid])].mean(0))
            start += len(found[vid])
        return Representation(value_set.ids, np.stack(rows).astype("float64"),
                              {"model": self.model, "n_scenarios": start})
