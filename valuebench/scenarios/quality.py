"""Quality checks on scenario data, run by the tests and by ``valuebench scenarios check``.

The checks guard the properties the ground truth depends on: enough data per value and split, no
near-duplicates (which would inflate agreement between train and holdout), balanced response lengths (so a
model cannot pick the follow response by length alone), no pasted value statements (which would make
the scenario a reading-comprehension test of the statement) and **surface balance**: no single surface cue of
a reply (its length, its question marks, its negations, ...; ``CUES``) tells the follow reply from the violate
reply (``surface_balance``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from valuebench.errors import UserError
from valuebench.io import safe_load_yaml
from valuebench.paths import tasks_dir
from valuebench.scenarios import Scenario, by_value, read_jsonl, scenarios_dir
from valuebench.values import ValueSet, load_value_set

NEAR_DUPLICATE = 0.9
LENGTH_RATIO = (0.8, 1.25)
PASTE_NGRAM = 6
LENGTH_SHARE = (0.35, 0.65)  # allowed share of pairs whose follow reply is longer in words
CUE_MAX = 0.65  # highest allowed holdout accuracy of the best single surface cue chosen on train


@dataclass
class Report:
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    balance: dict[str, dict[str, dict]] = field(default_factory=dict)
    versions: dict[str, int | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"value_sets": self.counts, "balance": self.balance, "data_versions": self.versions,
                "problems": self.problems}


def _requirements() -> dict:
    """``tasks/scenarios/requirements.yaml``: minimum counts per value set, and each value set's data version."""
    path = tasks_dir() / "scenarios" / "requirements.yaml"
    return safe_load_yaml(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}


def minimums(value_set: str) -> dict[str, int]:
    data = _requirements()
    return data.get(value_set) or data.get("default") or {"train": 1, "holdout": 1}


def data_version(value_set: str) -> int | None:
    """The scenario data version of a value set (bumped whenever its texts change; cards cite it)."""
    return (_requirements().get("version") or {}).get(value_set)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


# --- surface cues -----------------------------------------------------------------------------------------
# Each cue maps one reply to a number. A cue "predicts" the follow reply as the one with the higher value (or,
# in the other direction, the lower value); equal values are a coin flip (counted as 0.5).
NEGATIONS = {"not", "no", "never", "nothing", "none", "nobody", "nowhere", "neither", "nor", "cannot", "without"}
FIRST_PERSON = {"i", "i'm", "i'd", "i'll", "i've", "me", "my", "mine", "myself"}
SECOND_PERSON = {"you", "you're", "you'd", "you'll", "you've", "your", "yours", "yourself", "yourselves"}
HEDGES = {"may", "might", "could", "would", "should", "perhaps", "maybe", "probably", "possibly", "likely",
          "seems", "seem", "unsure", "uncertain"}
APOLOGIES = {"sorry", "apologies", "apologize", "apologise", "unfortunately", "afraid", "regret"}


def _tokens(text: str) -> list[str]:
    """Lower-case words; quote marks around a word ('Your ...') are not part of it."""
    return [w.strip("'") for w in _words(text.replace("\u2019", "'"))]


def _count_in(vocab: set[str]) -> Callable[[str], float]:
    return lambda text: sum(w in vocab for w in _tokens(text))


CUES: dict[str, Callable[[str], float]] = {
    "words": lambda t: len(t.split()),
    "characters": len,
    "sentences": lambda t: len(re.findall(r"[.!?]+(?:\s|$)", t.strip() + " ")),
    "question_marks": lambda t: t.count("?"),
    "exclamation_marks": lambda t: t.count("!"),
    "negations": lambda t: sum(w in NEGATIONS or w.endswith("n't") for w in _tokens(t)),
    "first_person": _count_in(FIRST_PERSON),
    "second_person": _count_in(SECOND_PERSON),
    "hedges": _count_in(HEDGES),
    "apologies": _count_in(APOLOGIES),
    "digits": lambda t: sum(c.isdigit() for c in t),
}


def _cue_hits(rows: list[Scenario], cue: Callable[[str], float]) -> np.ndarray:
    """Per pair: 1 if the follow reply has the higher cue value, 0 if lower, 0.5 if equal."""
    diff = np.array([cue(r.response_follow) - cue(r.response_violate) for r in rows], dtype=float)
    return (diff > 0) + 0.5 * (diff == 0)


def surface_balance(rows: list[Scenario]) -> dict:
    """How far surface features alone tell the follow reply from the violate reply.

    ``follow_longer``: share of pairs whose follow reply has more words (equal = 0.5). ``best_cue``: the cue
    and direction ("higher"/"lower" = follow is the reply with the higher/lower value) with the best train
    accuracy (first in ``CUES`` order on ties), with its train and holdout accuracy.
    """
    train = [r for r in rows if r.split == "train"]
    hold = [r for r in rows if r.split == "holdout"]
    out = {"follow_longer": float(_cue_hits(rows, CUES["words"]).mean()) if rows else None,
           "best_cue": None, "cue_train": None, "cue_holdout": None}
    if not train or not hold:
        return out
    best = None
    for name, cue in CUES.items():
        h_train, h_hold = _cue_hits(train, cue), _cue_hits(hold, cue)
        for direction, tr, ho in (("higher", h_train, h_hold), ("lower", 1 - h_train, 1 - h_hold)):
            if best is None or tr.mean() > best[2]:
                best = (name, direction, float(tr.mean()), float(ho.mean()))
    out.update(best_cue=f"{best[0]}:{best[1]}", cue_train=best[2], cue_holdout=best[3])
    return out


def pasted_statement(statement: str, prompt: str, n: int = PASTE_NGRAM) -> bool:
    """True if the prompt contains the statement or any run of ``n`` of its words."""
    s, p = _words(statement), " ".join(_words(prompt))
    if len(s) < n:
        return " ".join(s) in p
    return any(" ".join(s[i:i + n]) in p for i in range(len(s) - n + 1))


def embed_prompts(texts: list[str]) -> np.ndarray:
    from valuebench.methods.sentence_embedding import load_sentence_model

    return load_sentence_model().encode(texts, normalize_embeddings=True, convert_to_numpy=True, batch_size=64)


def _near_pairs(emb_a: np.ndarray, emb_b: np.ndarray, same: bool) -> list[tuple[int, int, float]]:
    sim = emb_a @ emb_b.T
    if same:
        sim = np.triu(sim, k=1)
    rows, cols = np.where(sim >= NEAR_DUPLICATE)
    return [(int(i), int(j), float(sim[i, j])) for i, j in zip(rows, cols)]


def check_value_set(vs: ValueSet, folder: Path | None = None, report: Report | None = None,
                    embed=embed_prompts) -> Report:
    report = report or Report()
    folder = Path(folder) if folder else scenarios_dir(vs.name)
    need = minimums(vs.name)
    report.versions[vs.name] = data_version(vs.name)
    scenarios: list[Scenario] = []
    for vid in vs.ids:
        path = folder / f"{vid}.jsonl"
        if not path.is_file():
            report.problems.append(f"{vs.name}/{vid}: no scenario file {path}")
            continue
        try:
            rows = read_jsonl(path)
        except UserError as exc:
            report.problems.append(str(exc))
            continue
        wrong = [r.id for r in rows if r.value_id != vid]
        if wrong:
            report.problems.append(f"{vs.name}/{vid}: scenarios with another value_id: {wrong[:5]}")
        scenarios += rows
    unknown = sorted({p.stem for p in folder.glob("*.jsonl")} - set(vs.ids))
    if unknown:
        report.problems.append(f"{vs.name}: scenario files for unknown value ids {unknown}; valid ids: {vs.ids}")
    seen: dict[str, int] = {}
    for sc in scenarios:
        seen[sc.id] = seen.get(sc.id, 0) + 1
    dupes = sorted(k for k, c in seen.items() if c > 1)
    if dupes:
        report.problems.append(f"{vs.name}: duplicate scenario ids {dupes[:10]}")
    grouped = by_value(scenarios)
    report.counts[vs.name] = {}
    for vid in vs.ids:
        rows = grouped.get(vid, [])
        counts = {s: sum(r.split == s for r in rows) for s in ("train", "holdout")}
        report.counts[vs.name][vid] = counts
        for split, minimum in need.items():
            if counts.get(split, 0) < minimum:
                report.problems.append(f"{vs.name}/{vid}: {counts.get(split, 0)} {split} scenarios, need {minimum}")
        if rows:
            _check_lengths(vs.name, vid, rows, report)
            _check_balance(vs.name, vid, rows, report)
            statement = vs.get(vid).statement
            for r in rows:
                if pasted_statement(statement, r.user_prompt):
                    report.problems.append(f"{vs.name}/{r.id}: user prompt pastes the value statement")
    if scenarios:
        _check_duplicates(vs.name, scenarios, embed([s.user_prompt for s in scenarios]), report)
    return report


def _check_lengths(vs_name: str, vid: str, rows: list[Scenario], report: Report) -> None:
    follow = np.mean([len(r.response_follow.split()) for r in rows])
    violate = np.mean([len(r.response_violate.split()) for r in rows])
    ratio = follow / violate
    if not LENGTH_RATIO[0] <= ratio <= LENGTH_RATIO[1]:
        report.problems.append(f"{vs_name}/{vid}: mean follow/violate length ratio {ratio:.2f} outside "
                               f"{LENGTH_RATIO[0]}-{LENGTH_RATIO[1]}")


def _check_balance(vs_name: str, vid: str, rows: list[Scenario], report: Report) -> None:
    bal = surface_balance(rows)
    report.balance.setdefault(vs_name, {})[vid] = bal
    share = bal["follow_longer"]
    if not LENGTH_SHARE[0] <= share <= LENGTH_SHARE[1]:
        report.problems.append(f"{vs_name}/{vid}: follow reply is longer in {share:.0%} of pairs, outside "
                               f"{LENGTH_SHARE[0]:.0%}-{LENGTH_SHARE[1]:.0%}")
    if bal["cue_holdout"] is not None and bal["cue_holdout"] > CUE_MAX:
        report.problems.append(f"{vs_name}/{vid}: surface cue '{bal['best_cue']}' (chosen on train, "
                               f"{bal['cue_train']:.2f}) picks the follow reply on {bal['cue_holdout']:.2f} of "
                               f"holdout pairs, above {CUE_MAX}")


def _check_duplicates(vs_name: str, scenarios: list[Scenario], emb: np.ndarray, report: Report) -> None:
    """Near-duplicates within a value, and any train/holdout pair across the whole value set."""
    idx_by_value: dict[str, list[int]] = {}
    for k, sc in enumerate(scenarios):
        idx_by_value.setdefault(sc.value_id, []).append(k)
    for vid, idx in idx_by_value.items():
        for i, j, s in _near_pairs(emb[idx], emb[idx], same=True):
            a, b = scenarios[idx[i]], scenarios[idx[j]]
            report.problems.append(f"{vs_name}/{vid}: near-duplicate prompts {a.id} and {b.id} (cosine {s:.2f})")
    train = [k for k, s in enumerate(scenarios) if s.split == "train"]
    hold = [k for k, s in enumerate(scenarios) if s.split == "holdout"]
    if train and hold:
        for i, j, s in _near_pairs(emb[train], emb[hold], same=False):
            a, b = scenarios[train[i]], scenarios[hold[j]]
            report.problems.append(f"{vs_name}: train {a.id} and holdout {b.id} overlap (cosine {s:.2f})")


def check_all(names: list[str] | None = None) -> Report:
    from valuebench.values import list_value_sets

    report = Report()
    for name in names or [n for n in list_value_sets() if scenarios_dir(n).is_dir()]:
        check_value_set(load_value_set(name), report=report)
    return report
