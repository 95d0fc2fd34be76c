"""Lexical baseline: TF-IDF of the value statements; shows how much word overlap alone predicts."""

from __future__ import annotations

import dataclasses

from valuebench.methods.base import Method
from valuebench.values import ValueSet
from valuebench.vectors import Representation


@dataclasses.dataclass
class TfidfStatements(Method):
    name = "tfidf"
    description = "TF-IDF (scikit-learn, English stop words removed) of each value's statement."
    sublinear_tf: bool = True
    ngram_max: int = 1

    def represent(self, value_set: ValueSet) -> Representation:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=self.sublinear_tf,
                                     ngram_range=(1, self.ngram_max))
        matrix = vectorizer.fit_transform(value_set.statements).toarray()
        return Representation(value_set.ids, matrix, {"vocabulary_size": int(matrix.shape[1])})
