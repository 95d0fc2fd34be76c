"""The board's evidence tabs: Leaderboard (a benchmark selector, filters, the ranked table), Tasks (one task at a
time: card, bound, gate verdict, heatmap, its own ranking and a ρ-with-CI chart) and Methods (one entry: card,
scores on every task, the similarity-vs-ground-truth scatter behind any of them, MDS maps).

Everything is read from the build; figures drawn here (chart, scatter) come from stored numbers, never a rescore.
"""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr
import numpy as np

from valuebench.leaderboard import view

COLUMNS_HELP = """
**Benchmark**: a named, versioned list of tasks (`valuebench benchmarks`); *default* holds the tasks whose ground
truth passes the validity gate. **Badge**: *null* = random vectors (what no information scores), *baseline* = a
reference method the maintainers submitted. **Mean ρ**: mean Spearman ρ over the selected tasks (empty if any is
missing). **Mean by type** and **Borda rank** appear when more than one type or task is selected.
**Tied with leader**: the 95% interval of (leader − entry) mean ρ contains 0.
**ρ task · bound b**: Spearman ρ between the submission's cosine similarities and the task's ground truth; *bound* is
what a perfect predictor reaches against the noisy published matrix, and the cell colour is ρ/bound (green towards
the bound, red below 0). Entries with no score on any selected task are left out. Tick *Show 95% CI …* for
intervals, permutation p-values and ρ/bound. The Tasks and Methods tabs show the evidence behind each number.
"""


def _bench_md(data: view.BoardData, name: str) -> str:
    b = data.benchmark(name)
    version = f" v{b['version']}" if b.get("version") else ""
    null = (f" · {b['n_pairs']} pairs; random vectors' mean ρ exceeds {b['random_null_p95']:.2f} one time in 20"
            if b.get("random_null_p95") is not None else "")  # boards built before the null was stored
    return f"**{b['name']}{version}** · {len(b['tasks'])} task(s){null} · {b['description']}"


def _count_md(frame, limit: int = view.MAX_ROWS) -> str:
    shown = min(len(frame), limit)
    more = f" (first {shown}; search or download for the rest)" if len(frame) > limit else ""
    return f"{len(frame)} entries{more}"


def leaderboard_tab(data: view.BoardData, downloads: Path) -> None:
    names = [b["name"] for b in data.benchmarks]
    start = "default" if "default" in names else names[0]
    with gr.Row(equal_height=True):
        bench = gr.Dropdown(names, value=start, label="Benchmark", elem_id="benchmark", scale=1)
        bench_md = gr.Markdown(_bench_md(data, start), elem_id="benchmark-info")
    with gr.Row():
        types = gr.CheckboxGroup(data.choices("type"), label="Task type", info="none ticked = all")
        vsets = gr.CheckboxGroup(data.choices("value_set"), label="Value set", info="none ticked = all")
        models = gr.CheckboxGroup(data.choices("model"), label="Subject model (of the task)", info="none ticked = all")
    with gr.Row():
        search = gr.Textbox(label="Search", placeholder="submission, method or author", scale=2)
        hide = gr.Checkbox(label="Hide entries flagged for leakage", scale=1)
        details = gr.Checkbox(label="Show 95% CI, p-value and ρ/bound per task", scale=1)
        flagged = gr.Checkbox(label="Show entries above the noise ceiling (likely fitted; unranked by default)",
                              scale=1, elem_id="show-flagged")
    first = view.view(data, benchmark=start)
    csv, js = view.cached_export(view.plain_headers(first), downloads)
    count = gr.Markdown(_count_md(first), elem_id="board-count")
    table = gr.Dataframe(view.styled(first, view.selected_tasks(data, benchmark=start)), interactive=False,
                         elem_id="board", max_height=640, pinned_columns=2, show_label=False, wrap=True)
    with gr.Row():
        csv_btn = gr.DownloadButton("Download CSV", value=str(csv), size="sm", elem_id="dl-csv")
        json_btn = gr.DownloadButton("Download JSON", value=str(js), size="sm", elem_id="dl-json")
    with gr.Accordion("How to read the columns", open=False):
        gr.Markdown(COLUMNS_HELP)
    if len(data.invalid):
        with gr.Accordion(f"{len(data.invalid)} submission(s) failed validation (not ranked)", open=False):
            gr.Dataframe(data.invalid.rename(columns={"submission": "Submission", "error": "Error"}),
                         interactive=False, wrap=True, elem_id="invalid")

    @functools.lru_cache(maxsize=16)
    def frame_for(b, t, v, mo, s, h, d, f):
        return view.view(data, list(t), list(v), list(mo), s, h, d, f, benchmark=b)

    def key(b, t, v, mo, s, h, d, f):
        return b, tuple(t or ()), tuple(v or ()), tuple(mo or ()), (s or "")[:200], bool(h), bool(d), bool(f)

    def update(*args):
        k = key(*args)
        frame = frame_for(*k)
        tasks = view.selected_tasks(data, list(k[1]), list(k[2]), list(k[3]), k[0])
        return view.styled(frame, tasks), _count_md(frame), _bench_md(data, k[0])

    def export(*args):  # after the table is on screen: writing 10,000 rows must not delay it
        c, j = view.cached_export(view.plain_headers(frame_for(*key(*args))), downloads)
        return str(c), str(j)

    inputs = [bench, types, vsets, models, search, hide, details, flagged]
    outputs = [table, count, bench_md]
    for event in [c.change for c in (bench, types, vsets, models, hide, details, flagged)] + [search.submit]:
        event(update, inputs, outputs, show_progress="minimal").then(export, inputs, [csv_btn, json_btn],
                                                                     show_progress="hidden")


def _rho_chart(data: view.BoardData, task: dict):
    from valuebench.analysis.plots import rho_ci_figure

    ranking = view.task_ranking(data, task["name"]).head(30)
    rows = [{"name": r["Submission"], "rho": r["ρ"], "ci_low": float(r["95% CI"][1:-1].split(",")[0]),
             "ci_high": float(r["95% CI"][1:-1].split(",")[1]), "baseline": bool(r["Badge"])}
            for _, r in ranking.iterrows()]
    return rho_ci_figure(rows, task=f"{task['name']} (top {len(rows)})", bound=task.get("bound"))


def _task_view(data: view.BoardData, name: str):
    task = data.task(name)
    if task is None:
        return "Pick a task.", None, None, None, ""
    image = str(data.folder / task["heatmap"]) if task.get("heatmap") else None
    return (view.task_markdown(task, body=False), image, view.task_ranking(data, name).head(view.MAX_ROWS),
            _rho_chart(data, task), task["card"])


def tasks_tab(data: view.BoardData) -> None:
    if not data.tasks:
        gr.Markdown("No tasks are registered yet.")
        return
    default = [t["name"] for t in data.tasks if t.get("default")]
    start = (default or [data.tasks[0]["name"]])[0]
    pick = gr.Dropdown([t["name"] for t in data.tasks], value=start, label="Task", elem_id="task-pick")
    md0, img0, rank0, chart0, body0 = _task_view(data, start)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            card = gr.Markdown(md0, elem_classes=["task-card"], elem_id="task-card")
        with gr.Column(scale=2):
            image = gr.Image(img0, label="ground truth", show_label=False, buttons=["download", "fullscreen"],
                             elem_id="task-heatmap")
    ranking = gr.Dataframe(rank0, interactive=False, elem_id="task-ranking", max_height=420,
                           label=f"Entries on this task, best first (ρ, 95% CI over values, permutation p, ρ/bound; "
                                 f"top {view.MAX_ROWS})")
    chart = gr.Plot(chart0, elem_id="task-chart", show_label=False)
    with gr.Accordion("The task card: how it was measured, ceilings, validity, caveats", open=False):
        body = gr.Markdown(body0, elem_classes=["task-card"], elem_id="task-body")
    pick.change(lambda n: _task_view(data, n), pick, [card, image, ranking, chart, body])


def _scatter(data: view.BoardData, submission: str, task_name: str | None):
    from valuebench.analysis.plots import scatter_figure

    task = data.task(task_name or "")
    if task is None:
        return None
    sim = data.similarities.get(submission, task["value_set"])
    row = data.table[data.table["submission"] == submission]
    if sim is None or row.empty or not np.isfinite(row.iloc[0][f"rho:{task['name']}"]):
        return None
    r = row.iloc[0]
    matrix = np.array([[np.nan if x is None else x for x in line] for line in task["matrix"]], dtype=float)
    return scatter_figure(sim, matrix, task["pairs"], task["value_ids"], method=submission, task=task["name"],
                          rho=float(r[f"rho:{task['name']}"]),
                          ci=(float(r[f"ci_low:{task['name']}"]), float(r[f"ci_high:{task['name']}"])),
                          p=float(r[f"p:{task['name']}"]), bound=task.get("bound"),
                          y_label=task.get("measure", "ground truth M[i, j]"))


def _method_view(data: view.BoardData, name: str):
    card = data.cards.get((name or "").strip())
    if card is None:
        text = f"No submission is named `{name}`." if name else "Pick a submission."
        return text, None, gr.update(choices=[], value=None), None, []
    name = card["name"]
    scores = view.method_scores(data, name)
    maps = [(str(data.folder / rel), f"{name} on {vs}") for vs, rel in card["maps"].items()]
    note = "" if maps or card["status"] != "valid" else "\n\n*maps not built (build ran with `--no-figures`)*"
    tasks = list(scores["Task"]) if len(scores) else []
    first = next((t for t in tasks if data.task(t).get("default")), tasks[0] if tasks else None)
    return (card["markdown"] + note, scores, gr.update(choices=tasks, value=first), _scatter(data, name, first), maps)


def methods_tab(data: view.BoardData) -> None:
    # the best entries and the invalid ones are listed; any other name can be typed (a 10,000-name list would
    # make every page load parse it)
    names = list(data.valid["submission"][:view.MAX_ROWS]) + list(data.invalid["submission"])
    start = names[0] if names else None
    md0, scores0, task0, scatter0, maps0 = _method_view(data, start) if start else ("No submissions yet.", None,
                                                                                    gr.update(), None, [])
    pick = gr.Dropdown(names, value=start, label="Submission", elem_id="method-pick", allow_custom_value=True,
                       info=f"the top {view.MAX_ROWS} and any invalid ones are listed; type any other name"
                       if len(data.valid) > view.MAX_ROWS else None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            card = gr.Markdown(md0, elem_id="method-card")
        with gr.Column(scale=3):
            task = gr.Dropdown(label="Cosine similarity vs ground truth, per scored pair, on task",
                               elem_id="scatter-task", **{k: v for k, v in task0.items() if k in ("choices", "value")})
            scatter = gr.Plot(scatter0, elem_id="method-scatter", show_label=False)
    scores = gr.Dataframe(scores0, interactive=False, elem_id="method-scores", label="Scores on every task")
    gallery = gr.Gallery(maps0, label="MDS maps of the submission's value similarities (values coloured by category; "
                         "closer = more similar)", columns=2, height=520, object_fit="contain", elem_id="method-maps")
    pick.change(lambda n: _method_view(data, n), pick, [card, scores, task, scatter, gallery])
    task.change(lambda n, t: _scatter(data, n, t), [pick, task], scatter)
