"""Quality checks on scenario data, run by the tests and by ``valuebench scenarios check``.

The checks guard the properties the ground truth depends on: enough data per value and split, no
near-duplicates (which would inflate agreement between train and holdout), balanced response lengths (so a
model cannot pick the follow response by length alone) and no pasted value statements (which would make
the scenario a reading-comprehension test of the statement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from valuebench.errors import UserError
from valuebench.io import safe_load_yaml
from valuebench.paths import tasks_dir
from valuebench.scenarios import Scenario, by_value, read_jsonl, scenarios_dir
from valuebench.values import ValueSet, load_value_set

NEAR_DUPLICATE = 0.9
LENGTH_RATIO = (0.8, 1.25)
PASTE_NGRAM = 6


@dataclass
class Report:
    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"value_sets": self.counts, "problems": self.problems}


def minimums(value_set: str) -> dict[str, int]:
    path = tasks_dir() / "scenarios" / "requirements.yaml"
    data = safe_load_yaml(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    return data.get(value_set) or data.get("default") or {"train": 1, "holdout": 1}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


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
