"""What the app shows, as plain functions over the built data (testable without a browser).

Everything here reads ``leaderboard/data/`` (written by ``valuebench leaderboard build``; the Space folder
``leaderboard/`` at the top of the repository holds the entry point, ``about.md``, ``data/`` and
``pending/``); a filter only re-aggregates stored scores and stored bootstrap resamples, never rescores.
Entries the build flagged as exceeding a task's noise ceiling are left out of the ranking unless asked for.
The app's defences that need no browser live here too: a per-client upload rate limit and a bounded,
content-addressed download folder.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from valuebench.leaderboard.evidence import BENCHMARKS, Similarities, badge
from valuebench.leaderboard.table import aggregate_view
from valuebench.paths import REPO_ROOT

#: the Space folder of a checkout; ``leaderboard/app.py`` passes its own folder, so a Space works too
SPACE_DIR = REPO_ROOT / "leaderboard"


def data_dir(space: Path = SPACE_DIR) -> Path:
    return Path(os.environ.get("VALUEBENCH_LEADERBOARD_DATA", Path(space) / "data"))


def pending_dir(space: Path = SPACE_DIR) -> Path:
    return Path(os.environ.get("VALUEBENCH_PENDING_DIR", Path(space) / "pending"))


@dataclass
class BoardData:
    table: pd.DataFrame
    tasks: list[dict]
    cards: dict[str, dict]
    boot: np.ndarray
    boot_tasks: list[str]
    manifest: dict
    folder: Path
    benchmarks: list[dict]
    similarities: Similarities

    @property
    def valid(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "valid"]

    @property
    def invalid(self) -> pd.DataFrame:
        return self.table.loc[self.table["status"] != "valid", ["submission", "error"]]

    def choices(self, key: str) -> list[str]:
        return sorted({str(t[key]) for t in self.tasks})

    def benchmark(self, name: str | None) -> dict:
        """A benchmark by name (the build's ``benchmarks.json``); boards built before benchmarks existed
        have one, ``all``, over every task on the board."""
        for b in self.benchmarks:
            if b["name"] == (name or "default"):
                return b
        return self.benchmarks[0]

    def task(self, name: str) -> dict | None:
        return next((t for t in self.tasks if t["name"] == name), None)


def _load_once(folder: Path) -> BoardData:
    parquet = folder / "leaderboard.parquet"
    if not parquet.is_file():
        raise FileNotFoundError(f"{parquet} not found: run `valuebench leaderboard build` first")
    table = pd.read_parquet(parquet)
    for col in ("ceiling_flag", "leakage"):  # boards built before the flag existed
        if col not in table:
            table[col] = ""
    table["ceiling_flag"] = table["ceiling_flag"].fillna("")
    if "private_mean" not in table:
        table["private_mean"] = np.nan
    tasks = json.loads((folder / "tasks.json").read_text(encoding="utf-8"))
    cards = {c["name"]: c for c in json.loads((folder / "submissions.json").read_text(encoding="utf-8"))}
    with np.load(folder / "bootstrap.npz", allow_pickle=False) as npz:
        boot, boot_tasks = npz["boot"], [str(t) for t in npz["tasks"]]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    table["badge"] = [badge(m, bool(b)) for m, b in zip(table["method"], table["baseline"])]
    benches = (json.loads((folder / BENCHMARKS).read_text(encoding="utf-8")) if (folder / BENCHMARKS).is_file()
               else [])
    benches = [b for b in benches if b["tasks"]] or \
        [{"name": "all", "version": "", "description": "every task on the board", "tasks": [t["name"] for t in tasks]}]
    return BoardData(table, tasks, cards, boot, boot_tasks, manifest, folder, benches, Similarities(folder))


def load(folder: Path | None = None, attempts: int = 5) -> BoardData:
    """Read the built data once at start-up; a missing build is reported, not crashed on. A build swaps its
    whole folder in at once; if that happens while we read, the manifest read before and after differs and
    the read is repeated, so the app never mixes two builds."""
    folder = Path(folder or data_dir())
    for _ in range(attempts):
        before = (folder / "manifest.json").read_bytes() if (folder / "manifest.json").is_file() else b""
        try:
            data = _load_once(folder)
        except (FileNotFoundError, ValueError, OSError):
            if before and (folder / "manifest.json").is_file():  # a swap removed files mid-read: retry
                time.sleep(0.2)
                continue
            raise
        after = (folder / "manifest.json").read_bytes() if (folder / "manifest.json").is_file() else b""
        if before == after:
            return data
        time.sleep(0.2)
    return _load_once(folder)


def selected_tasks(data: BoardData, types=None, value_sets=None, models=None, benchmark: str | None = None
                   ) -> list[dict]:
    """Tasks of the benchmark passing the filters (an empty or None filter means 'all')."""
    allowed = set(data.benchmark(benchmark)["tasks"])

    def ok(task, key, chosen):
        return not chosen or str(task[key]) in chosen
    return [t for t in data.tasks if t["name"] in allowed and ok(t, "type", types) and
            ok(t, "value_set", value_sets) and ok(t, "model", models)]


#: rows sent to the browser at most; search narrows, the downloads hold every row of the view
MAX_ROWS = 500


def task_header(task: dict) -> str:
    """'ρ <task> · bound 0.91', with a zero-width break after each hyphen so the browser wraps a long name
    between words instead of widening the table (``plain_headers`` removes the breaks for downloads)."""
    bound = f" · bound {task['bound']:.2f}" if task.get("bound") is not None else ""
    return "ρ " + task["name"].replace("-", "-\u200b") + bound


def plain_headers(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=lambda c: str(c).replace("\u200b", ""))


def view(data: BoardData, types=None, value_sets=None, models=None, search: str = "",
         hide_leakage: bool = False, details: bool = False, show_flagged: bool = False,
         benchmark: str | None = None) -> pd.DataFrame:
    """The displayed table for the benchmark and filters, sorted by mean rho (best first). Entries with no score
    on any selected task are left out; entries whose scores exceed a task's noise ceiling are hidden (and so
    unranked) unless ``show_flagged``. Aggregate columns appear only where they differ from the mean (more than
    one task, more than one type)."""
    tasks = selected_tasks(data, types, value_sets, models, benchmark)
    valid = data.valid
    if hide_leakage:
        valid = valid[valid["leakage"] == ""]
    if not show_flagged:
        valid = valid[valid["ceiling_flag"] == ""]
    rho_cols = [f"rho:{t['name']}" for t in tasks]
    valid = valid[valid[rho_cols].notna().any(axis=1)] if rho_cols else valid.iloc[:0]
    agg = aggregate_view(valid, {t["name"]: t["type"] for t in tasks}, data.boot, data.boot_tasks)
    agg = agg.set_index("submission").loc[valid["submission"]]
    out = pd.DataFrame({"Rank": agg["rank"].to_numpy(), "Submission": valid["submission"].to_numpy(),
                        "Badge": valid["badge"].to_numpy(), "Method": valid["method"].to_numpy(),
                        "Mean ρ": agg["mean"].round(3).to_numpy()})
    if data.manifest.get("n_private_tasks"):  # public and private side by side: fitting the public matrices
        out.insert(5, "Mean ρ (private)", valid["private_mean"].round(3).to_numpy())  # does not win here
    types_here = sorted({t["type"] for t in tasks})
    if len(types_here) > 1:
        out["Mean by type"] = agg["mean_by_type"].round(3).to_numpy()
        for typ in types_here:
            col = f"mean[{typ}]"
            label = typ.replace("-", "-\u200b")
            out[f"Mean [{label}]"] = agg[col].round(3).to_numpy() if col in agg else np.nan
    if len(tasks) > 1:
        out["Borda rank"] = agg["borda_rank"].to_numpy()
    tied = agg["tied_with_leader"].to_numpy()
    out["Tied with leader"] = np.where(agg["rank"].to_numpy() == 1, "leader", np.where(tied, "yes", ""))
    for t in tasks:
        name = t["name"]
        out[task_header(t)] = valid[f"rho:{name}"].round(3).to_numpy()
        if details:
            lo, hi = valid[f"ci_low:{name}"].to_numpy(), valid[f"ci_high:{name}"].to_numpy()
            out[f"95% CI {name}"] = [f"[{a:+.2f}, {b:+.2f}]" if np.isfinite(a) else "" for a, b in zip(lo, hi)]
            out[f"p {name}"] = valid[f"p:{name}"].round(4).to_numpy()
            out[f"ρ/bound {name}"] = valid[f"norm:{name}"].round(3).to_numpy()
    out["Leakage flag"] = valid["leakage"].to_numpy()
    if show_flagged:
        out["Noise-ceiling flag"] = valid["ceiling_flag"].to_numpy()
    out["Subject models"] = valid["subject_models"].to_numpy()
    if search:  # after aggregation, so a search shows the entries' ranks on the whole board
        hay = (valid["submission"] + " " + valid["method"] + " " + valid["authors"]).str.lower()
        out = out[hay.str.contains(search.lower(), regex=False).to_numpy()]
    out = out.sort_values(["Rank", "Submission"], na_position="last", kind="stable")
    return out.reset_index(drop=True)


def styled(frame: pd.DataFrame, tasks: list[dict], limit: int = MAX_ROWS):
    """The first ``limit`` rows, ρ cells coloured by ρ/bound (white at 0, green towards the bound, red below 0)
    and badges shaded: what the browser gets."""
    head = frame.head(limit)
    bounds = {task_header(t): t.get("bound") for t in tasks}

    def colour(col: pd.Series) -> list[str]:
        bound = bounds.get(col.name)
        if not bound:
            return [""] * len(col)
        out = []
        for v in col.to_numpy(dtype=float):
            if not np.isfinite(v):
                out.append("")
                continue
            x = float(np.clip(v / bound, -1, 1))
            rgb = (255, int(255 + 120 * x), int(255 + 120 * x)) if x < 0 else \
                (int(255 - 150 * x), int(255 - 60 * x), int(255 - 150 * x))
            out.append(f"background-color: rgb{rgb}")
        return out

    def shade(col: pd.Series) -> list[str]:
        return ["background-color: #e2e8f0; font-weight: 600" if v else "" for v in col]

    styler = head.style.apply(colour, subset=[c for c in head.columns if c in bounds]).apply(shade, subset=["Badge"])
    formats = {c: ("{:.0f}" if c in ("Rank", "Borda rank") else "{:.3f}") for c in head.columns
               if pd.api.types.is_float_dtype(head[c])}
    return styler.format(formats, na_rep="")


def task_ranking(data: BoardData, task: str, show_flagged: bool = False) -> pd.DataFrame:
    """One task's own table: every entry with a score on it, by ρ, with CI, p and ρ/bound."""
    valid = data.valid if show_flagged else data.valid[data.valid["ceiling_flag"] == ""]
    valid = valid[valid[f"rho:{task}"].notna()].sort_values(f"rho:{task}", ascending=False, kind="stable")
    lo, hi = valid[f"ci_low:{task}"].to_numpy(), valid[f"ci_high:{task}"].to_numpy()
    return pd.DataFrame({"Rank": np.arange(1, len(valid) + 1), "Submission": valid["submission"].to_numpy(),
                         "Badge": valid["badge"].to_numpy(), "ρ": valid[f"rho:{task}"].round(3).to_numpy(),
                         "95% CI": [f"[{a:+.2f}, {b:+.2f}]" for a, b in zip(lo, hi)],
                         "p": valid[f"p:{task}"].round(4).to_numpy(),
                         "ρ/bound": valid[f"norm:{task}"].round(3).to_numpy()})


def method_scores(data: BoardData, submission: str) -> pd.DataFrame:
    """One entry's scores on every task on the board, with its rank on each."""
    rows = []
    row = data.table[data.table["submission"] == submission]
    if row.empty or row.iloc[0]["status"] != "valid":
        return pd.DataFrame(columns=["Task", "In default", "ρ", "95% CI", "p", "ρ/bound", "Rank on task"])
    r = row.iloc[0]
    for t in data.tasks:
        name = t["name"]
        rho = r.get(f"rho:{name}")
        if rho is None or not np.isfinite(rho):
            continue
        col = data.valid[f"rho:{name}"]
        lo, hi = r[f"ci_low:{name}"], r[f"ci_high:{name}"]
        rows.append({"Task": name, "In default": "yes" if t.get("default") else "", "ρ": round(float(rho), 3),
                     "95% CI": f"[{lo:+.2f}, {hi:+.2f}]", "p": round(float(r[f"p:{name}"]), 4),
                     "ρ/bound": round(float(r[f"norm:{name}"]), 3),
                     "Rank on task": f"{int((col > rho).sum()) + 1} of {int(col.notna().sum())}"})
    return pd.DataFrame(rows)


def task_markdown(task: dict, body: bool = True) -> str:
    """A task card as the Tasks tab shows it: facts table first, then (``body``) the card body."""
    ceiling = "not measured" if task["ceiling"] is None else f"{task['ceiling']:.2f} ({task['ceiling_method']})"
    bound = "–" if task.get("bound") is None else f"{task['bound']:.2f} (√reliability: ρ/bound is the normalized score)"
    gate = task.get("gate", "not gated")
    reasons = "; ".join(task.get("reasons") or []) or "all criteria met"
    rows = [("type", task["type"]), ("value set", f"{task['value_set']} ({task['n_values']} values)"),
            ("subject model", f"{task['model']} @ {task['model_revision']}"), ("noise ceiling", ceiling),
            ("bound", bound), ("validity gate", f"{gate} ({reasons})" if gate != "not gated" else gate),
            ("matrix", task.get("axes", "")),
            ("scored pairs", task["pairs"]), ("version", task["version"]), ("license", task["license"])]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (f"## {task['pretty_name']} (`{task['name']}`)\n\n{task['description']}\n\n"
            f"| field | value |\n|---|---|\n{table}\n\n"
            f"{task['card'] if body else ''}")


def export(frame: pd.DataFrame, folder: Path) -> tuple[Path, Path]:
    """CSV and JSON of exactly what is on screen (the current filters), for download."""
    folder.mkdir(parents=True, exist_ok=True)
    csv, js = folder / "valuebench-leaderboard.csv", folder / "valuebench-leaderboard.json"
    frame.to_csv(csv, index=False)
    js.write_text(frame.to_json(orient="records", force_ascii=False, indent=1), encoding="utf-8")
    return csv, js


#: distinct filtered views kept as download files; the least recently used beyond this are deleted
MAX_EXPORTS = 32
_export_lock = threading.Lock()


def cached_export(frame: pd.DataFrame, root: Path, keep: int = MAX_EXPORTS) -> tuple[Path, Path]:
    """``export`` into ``root/<hash of the table>/``: the same view reuses its files, and at most ``keep``
    views are kept (a table update no longer leaves a new temp folder behind every time)."""
    digest = hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()[:16]
    folder = Path(root) / digest
    with _export_lock:
        if (folder / "valuebench-leaderboard.json").is_file():
            os.utime(folder)
            paths = folder / "valuebench-leaderboard.csv", folder / "valuebench-leaderboard.json"
        else:
            tmp = Path(root) / f".{digest}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            export(frame, tmp)
            os.replace(tmp, folder) if not folder.exists() else shutil.rmtree(tmp, ignore_errors=True)
            paths = folder / "valuebench-leaderboard.csv", folder / "valuebench-leaderboard.json"
        views = sorted((p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime, reverse=True)
        for old in views[keep:]:
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    return paths


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds per client (sliding window), and at most
    ``global_limit`` per window over all clients; thread-safe. ``check`` records the event when allowed
    and returns 0, else the seconds until the client may try again."""

    def __init__(self, limit: int = 5, window: float = 600.0, global_limit: int = 60, max_clients: int = 10_000):
        self.limit, self.window, self.global_limit, self.max_clients = limit, window, global_limit, max_clients
        self._events: dict[str, collections.deque] = {}
        self._all: collections.deque = collections.deque()
        self._lock = threading.Lock()

    def _prune(self, q: collections.deque, now: float) -> None:
        while q and now - q[0] >= self.window:
            q.popleft()

    def check(self, client: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._prune(self._all, now)
            q = self._events.setdefault(client, collections.deque())
            self._prune(q, now)
            if len(q) >= self.limit:
                return max(0.0, self.window - (now - q[0]))
            if len(self._all) >= self.global_limit:
                return max(0.0, self.window - (now - self._all[0]))
            q.append(now)
            self._all.append(now)
            if len(self._events) > self.max_clients:  # forget idle clients, so the table stays bounded
                for key in [k for k, v in self._events.items() if not v or now - v[-1] >= self.window]:
                    del self._events[key]
            return 0.0


def client_key(request) -> str:
    """Who is uploading: the connecting address; behind a trusted proxy (``VALUEBENCH_TRUST_PROXY=1``, as on
    a Hugging Face Space) the first X-Forwarded-For address, which a direct client could otherwise forge."""
    if request is None:
        return "local"
    if os.environ.get("VALUEBENCH_TRUST_PROXY") == "1":
        forwarded = (request.headers.get("x-forwarded-for") or "").split(",")[0].strip()
        if forwarded:
            return forwarded
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"
