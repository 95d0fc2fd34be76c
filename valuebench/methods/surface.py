"""Surface baseline: shallow counts of the statement's wording (length, negations, questions, modal verbs,
polarity words). What a task that these rank well measures is the prompt text, not the model (the gate)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from valuebench.methods.base import Method
from valuebench.values import ValueSet
from valuebench.vectors import Representation

NEGATIONS = {"not", "no", "never", "nor", "none", "nothing", "without", "cannot"}
MODALS = {"should", "must", "may", "might", "can", "could", "would", "will", "shall", "ought"}
POSITIVE = {"good", "helpful", "respect", "respectful", "support", "protect", "fair", "care", "careful", "honest",
            "equality", "rights", "freedom", "confident", "benefit", "meaningful", "welfare", "needs", "democracy"}
NEGATIVE = {"harm", "harmful", "lie", "lies", "mislead", "deceptive", "false", "cruelty", "torture", "racist",
            "sexist", "threatening", "aggressive", "exploit", "weaknesses", "biases", "delusion", "attack",
            "attacks", "discrimination", "injustices", "offensive", "censorship", "conspiracy", "slavery"}
FEATURES = ("words", "negations", "questions", "modals", "positive", "negative")


def counts(statement: str) -> list[float]:
    tokens = re.findall(r"[a-z]+(?:['’][a-z]+)?", statement.lower())
    neg = sum(t in NEGATIONS or t.endswith(("n't", "n’t")) for t in tokens)
    return [len(tokens), neg, statement.count("?"), sum(t in MODALS for t in tokens),
            sum(t in POSITIVE for t in tokens), sum(t in NEGATIVE for t in tokens)]


@dataclasses.dataclass
class SurfaceFeatures(Method):
    name = "surface"
    description = ("Standardized counts of words, negations, question marks, modal verbs and polarity words of "
                   "the statement, plus a constant axis. Statement text only.")

    def represent(self, value_set: ValueSet) -> Representation:
        raw = np.array([counts(s) for s in value_set.statements], dtype=float)
        sd = raw.std(axis=0)
        z = np.where(sd > 0, (raw - raw.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
        return Representation(value_set.ids, np.hstack([np.ones((len(raw), 1)), z]),
                              {"features": ["constant", *FEATURES]})
