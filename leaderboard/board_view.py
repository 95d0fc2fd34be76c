"""What the app shows, as plain functions over the built data (testable without a browser).

Everything here reads ``leaderboard/data/`` (written by ``valuebench leaderboard build``); a filter only
re-aggregates stored scores and stored bootstrap resamples, never rescores.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from valuebench.board import aggregate_view

HERE = Path(__file__).resolve().parent


def data_dir() -> Path:
    return Path(os.environ.get("VALUEBENCH_LEADERBOARD_DATA", HERE / "data"))


def pending_dir() -> Path:
    return Path(os.environ.get("VALUEBENCH_PENDING_DIR", HERE / "pending"))


@dataclass
class BoardData:
    table: pd.DataFrame
    tasks: list[dict]
    cards: dict[str, dict]
    boot: np.ndarray
    boot_tasks: list[str]
    manifest: dict
    folder: Path

    @property
    def valid(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "valid"]

    @property
    def invalid(self) -> pd.DataFrame:
        return self.table.loc[self.table["status"] != "valid", ["submission", "error"]]

    def choices(self, key: str) -> list[str]:
        return sorted({str(t[key]) for t in self.tasks})


def load(folder: Path | None = None) -> BoardData:
    """Read the built data once at start-up; a missing build is reported, not crashed on."""
    folder = Path(folder or data_dir())
    parquet = folder / "leaderboard.parquet"
    if not parquet.is_file():
        raise FileNotFoundError(f"{parquet} not found: run `valuebench leaderboard build` first")
    table = pd.read_parquet(parquet)
    tasks = json.loads((folder / "tasks.json").read_text(encoding="utf-8"))
    cards = {c["name"]: c for c in json.loads((folder / "submissions.json").read_text(encoding="utf-8"))}
    with np.load(folder / "bootstrap.npz", allow_pickle=False) as npz:
        boot, boot_tasks = npz["boot"], [str(t) for t in npz["tasks"]]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return BoardData(table, tasks, cards, boot, boot_tasks, manifest, folder)


def selected_tasks(data: BoardData, types=None, value_sets=None, models=None) -> list[dict]:
    """Tasks passing the filters (an empty or None filter means 'all')."""
    def ok(task, key, allowed):
        return not allowed or str(task[key]) in allowed
    return [t for t in data.tasks if ok(t, "type", types) and ok(t, "value_set", value_sets) and ok(t, "model", models)]


def _fmt(x: float, digits: int = 3) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def view(data: BoardData, types=None, value_sets=None, models=None, search: str = "",
         hide_leakage: bool = False, details: bool = False) -> pd.DataFrame:
    """The displayed table for the current filters, sorted by mean rho (best first)."""
    tasks = selected_tasks(data, types, value_sets, models)
    valid = data.valid
    if hide_leakage:
        valid = valid[valid["leakage"] == ""]
    agg = aggregate_view(valid, {t["name"]: t["type"] for t in tasks}, data.boot, data.boot_tasks)
    agg = agg.set_index("submission").loc[valid["submission"]]
    out = pd.DataFrame({"Rank": agg["rank"].to_numpy(), "Submission": valid["submission"].to_numpy(),
                        "Method": valid["method"].to_numpy(),
                        "Mean ρ": agg["mean"].round(3).to_numpy(),
                        "Mean by type": agg["mean_by_type"].round(3).to_numpy()})
    for typ in sorted({t["type"] for t in tasks}):
        col = f"mean[{typ}]"
        out[f"Mean [{typ}]"] = agg[col].round(3).to_numpy() if col in agg else np.nan
    out["Borda rank"] = agg["borda_rank"].to_numpy()
    tied = agg["tied_with_leader"].to_numpy()
    out["Tied with leader"] = np.where(agg["rank"].to_numpy() == 1, "leader", np.where(tied, "yes", ""))
    for t in tasks:
        name = t["name"]
        out[f"ρ {name}"] = valid[f"rho:{name}"].round(3).to_numpy()
        if details:
            lo, hi = valid[f"ci_low:{name}"].to_numpy(), valid[f"ci_high:{name}"].to_numpy()
            out[f"95% CI {name}"] = [f"[{a:+.2f}, {b:+.2f}]" if np.isfinite(a) else "" for a, b in zip(lo, hi)]
            out[f"p {name}"] = valid[f"p:{name}"].round(4).to_numpy()
            out[f"ρ/ceiling {name}"] = valid[f"norm:{name}"].round(3).to_numpy()
    out["Leakage flag"] = valid["leakage"].to_numpy()
    out["Subject models"] = valid["subject_models"].to_numpy()
    if search:  # after aggregation, so a search shows the entries' ranks on the whole board
        hay = (valid["submission"] + " " + valid["method"] + " " + valid["authors"]).str.lower()
        out = out[hay.str.contains(search.lower(), regex=False).to_numpy()]
    out = out.sort_values(["Rank", "Borda rank", "Submission"], na_position="last", kind="stable")
    return out.reset_index(drop=True)


def task_markdown(task: dict) -> str:
    """A task card as the Tasks tab shows it: facts table first, then the card body."""
    ceiling = "not measured" if task["ceiling"] is None else f"{task['ceiling']:.2f} ({task['ceiling_method']})"
    rows = [("type", task["type"]), ("value set", f"{task['value_set']} ({task['n_values']} values)"),
            ("subject model", f"{task['model']} @ {task['model_revision']}"), ("noise ceiling", ceiling),
            ("scored pairs", task["pairs"]), ("version", task["version"]), ("license", task["license"])]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (f"## {task['pretty_name']} (`{task['name']}`)\n\n{task['description']}\n\n| field | value |\n|---|---|\n{table}\n\n"
            f"{task['card']}")


def export(frame: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """CSV and JSON of exactly what is on screen (the current filters), for download."""
    folder.mkdir(parents=True, exist_ok=True)
    csv, js = folder / "valuebench-leaderboard.csv", folder / "valuebench-leaderboard.json"
    frame.to_csv(csv, index=False)
    js.write_text(frame.to_json(orient="records", force_ascii=False, indent=1), encoding="utf-8")
    return csv, js
