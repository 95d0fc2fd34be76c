"""valuebench leaderboard: a Gradio app over the data ``valuebench leaderboard build`` wrote.

Run ``python leaderboard/app.py`` (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT). Nothing is scored at
page load: the table, cards, heatmaps and maps are files; filters only re-aggregate stored scores. The
Submit tab validates uploads with the library's own checks and writes only under the pending folder.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if importlib.util.find_spec("valuebench") is None:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(HERE.parent))

import gradio as gr  # noqa: E402

import board_view as view  # noqa: E402
from valuebench.errors import UserError  # noqa: E402
from valuebench.submissions import MAX_FILE_BYTES, stage_upload  # noqa: E402

ABOUT = (HERE / "about.md").read_text(encoding="utf-8")
CSS = """
.gradio-container {max-width: 1500px !important; margin: auto;}
#board table {font-variant-numeric: tabular-nums; font-size: 14px;}
#vb-header h1 {margin-bottom: 0.1em;}
#vb-header p {color: var(--body-text-color-subdued); margin-top: 0;}
#submit-report {min-height: 2em;}
"""
COLUMNS_HELP = """
**Mean ρ**: mean Spearman ρ over the selected tasks (empty if any is missing). **Mean by type**: mean of
per-type means. **Borda rank**: rank by summed per-task points (`n − rank`, missing task = 0).
**Tied with leader**: the 95% paired-bootstrap interval of (leader − entry) mean ρ contains 0.
**ρ task**: Spearman ρ between the submission's cosine similarities and the task's ground truth.
Tick *Show 95% CI …* for per-task bootstrap intervals (over values), permutation p-values and ρ/ceiling.
Click a column header to sort. Details: the **About** tab.
"""
SUBMIT_HELP = f"""
Upload **`meta.yaml`** and one file per value set: `<value_set>.safetensors`, `.npz` (no pickle), `.json`,
`.csv`, or a similarity matrix `<value_set>.similarity.csv`. Each file at most {MAX_FILE_BYTES // 1_000_000} MB.
The upload is validated exactly as `valuebench submissions check` does (ids, dimensions, NaN/inf, YAML); a
valid one is queued for review. Scores appear after a maintainer merges it and the board is rebuilt.
Example `meta.yaml`:
```yaml
name: my-persona-vectors        # must equal the submission name
method: persona-vectors
description: Mean residual-stream difference between value-following and value-violating answers.
authors: [Ada Lovelace]
subject_models: [HuggingFaceTB/SmolLM2-135M-Instruct]
code: https://example.org/my-code
license: CC-BY-4.0
date: 2026-11-23
derived_from: [value statements, tasks/scenarios/constraints-9 train split]
```
"""


def _header(data: view.BoardData) -> str:
    m = data.manifest
    return (f"# valuebench leaderboard\n"
            f"Which value representations predict how training a model on one value generalizes to the others? "
            f"{m['n_valid']} submissions · {len(data.tasks)} tasks · every score recomputed from submitted "
            f"vectors (built {m['built']}, valuebench {m['valuebench_version']}, "
            f"{m['n_permutations']} permutations, {m['n_bootstrap']} bootstrap resamples).")


def _leaderboard_tab(data: view.BoardData, downloads: Path) -> None:
    with gr.Row():
        types = gr.CheckboxGroup(data.choices("type"), label="Task type", info="none ticked = all")
        vsets = gr.CheckboxGroup(data.choices("value_set"), label="Value set", info="none ticked = all")
        models = gr.CheckboxGroup(data.choices("model"), label="Subject model (of the task)",
                                  info="none ticked = all")
    with gr.Row():
        search = gr.Textbox(label="Search", placeholder="submission, method or author", scale=2)
        hide = gr.Checkbox(label="Hide entries flagged for leakage", scale=1)
        details = gr.Checkbox(label="Show 95% CI, p-value and ρ/ceiling per task", scale=1)
    first = view.view(data)
    csv, js = view.export(first, downloads)
    table = gr.Dataframe(first, interactive=False, elem_id="board", max_height=640, pinned_columns=2,
                         show_label=False, wrap=False)
    with gr.Row():
        csv_btn = gr.DownloadButton("Download CSV", value=str(csv), size="sm", elem_id="dl-csv")
        json_btn = gr.DownloadButton("Download JSON", value=str(js), size="sm", elem_id="dl-json")
    with gr.Accordion("How to read the columns", open=False):
        gr.Markdown(COLUMNS_HELP)
    if len(data.invalid):
        with gr.Accordion(f"{len(data.invalid)} submission(s) failed validation (not ranked)", open=False):
            gr.Dataframe(data.invalid.rename(columns={"submission": "Submission", "error": "Error"}),
                         interactive=False, wrap=True, elem_id="invalid")

    def update(t, v, mo, s, h, d):
        frame = view.view(data, t, v, mo, s, h, d)
        c, j = view.export(frame, Path(tempfile.mkdtemp(dir=downloads)))
        return frame, str(c), str(j)

    inputs = [types, vsets, models, search, hide, details]
    for comp in (types, vsets, models, hide, details):
        comp.change(update, inputs, [table, csv_btn, json_btn], show_progress="minimal")
    search.submit(update, inputs, [table, csv_btn, json_btn], show_progress="minimal")


def _tasks_tab(data: view.BoardData) -> None:
    if not data.tasks:
        gr.Markdown("No tasks are registered yet.")
    for task in data.tasks:
        with gr.Group():
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    gr.Markdown(view.task_markdown(task), elem_classes=["task-card"])
                with gr.Column(scale=2):
                    if task.get("heatmap"):
                        gr.Image(str(data.folder / task["heatmap"]), label=f"{task['name']} ground truth",
                                 show_label=False, buttons=["download", "fullscreen"])
                    else:
                        gr.Markdown("*heatmap not built (the build ran with `--no-figures`)*")


def _card(data: view.BoardData, name: str):
    card = data.cards.get(name)
    if card is None:
        return "Pick a submission.", []
    maps = [(str(data.folder / rel), f"{name} on {vs}") for vs, rel in card["maps"].items()]
    note = "" if maps or card["status"] != "valid" else "\n\n*maps not built (build ran with `--no-figures`)*"
    return card["markdown"] + note, maps


def _methods_tab(data: view.BoardData) -> None:
    names = list(data.valid["submission"]) + list(data.invalid["submission"])
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Submission", elem_id="method-pick")
    md0, maps0 = _card(data, names[0]) if names else ("No submissions yet.", [])
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            card = gr.Markdown(md0, elem_id="method-card")
        with gr.Column(scale=3):
            gallery = gr.Gallery(maps0, label="MDS maps of the submission's value similarities (values coloured "
                                 "by category; closer = more similar)", columns=2, height=620,
                                 object_fit="contain", elem_id="method-maps")
    pick.change(lambda n: _card(data, n), pick, [card, gallery])


def submit_upload(name: str, files, pending: Path) -> str:
    """Validate an upload; on success it lands in ``pending/<name>/`` and nowhere else."""
    paths = [Path(f if isinstance(f, str) else f.name) for f in (files or [])]
    try:
        sub, _ = stage_upload(paths, (name or "").strip(), pending)
    except UserError as exc:
        return f"### ✗ Rejected\n\n{exc}\n\nNothing was stored. Fix the problem and upload again."
    except Exception as exc:  # a bug must not take the page down; report it instead
        return f"### ✗ Rejected\n\nunexpected error while validating ({type(exc).__name__}); nothing was stored."
    sets = ", ".join(f"`{k}` ({v})" for k, v in sub.kinds.items())
    leak = f"\n\n⚠ Flagged for possible leakage: {sub.leakage}" if sub.leakage else ""
    return (f"### ✓ Valid: queued for review as `{sub.name}`\n\nValue sets: {sets}. Method `{sub.meta.method}` "
            f"by {', '.join(sub.meta.authors)}.{leak}\n\nA maintainer will review it; the scores appear after the "
            "next build.")


def _submit_tab(pending: Path) -> None:
    gr.Markdown(SUBMIT_HELP)
    name = gr.Textbox(label="Submission name", placeholder="letters, digits, - _ . (no / or ..)",
                      elem_id="submit-name")
    files = gr.File(file_count="multiple", label="meta.yaml + vectors files", type="filepath",
                    elem_id="submit-files")
    button = gr.Button("Validate and submit", variant="primary", elem_id="submit-button")
    report = gr.Markdown(elem_id="submit-report")
    button.click(lambda n, f: submit_upload(n, f, pending), [name, files], report)


def build_app(data: view.BoardData | None = None, pending: Path | None = None) -> gr.Blocks:
    data = data or view.load()
    pending = Path(pending or view.pending_dir())
    downloads = Path(tempfile.mkdtemp(prefix="valuebench-downloads-"))
    with gr.Blocks(title="valuebench leaderboard") as demo:
        gr.Markdown(_header(data), elem_id="vb-header")
        with gr.Tabs():
            with gr.Tab("Leaderboard", id="leaderboard"):
                _leaderboard_tab(data, downloads)
            with gr.Tab("Tasks", id="tasks"):
                _tasks_tab(data)
            with gr.Tab("Methods", id="methods"):
                _methods_tab(data)
            with gr.Tab("Submit", id="submit"):
                _submit_tab(pending)
            with gr.Tab("About", id="about"):
                gr.Markdown(ABOUT)
    demo.allowed = [str(data.folder), str(downloads)]
    return demo


THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                       font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])

if __name__ == "__main__":
    app = build_app()
    app.launch(theme=THEME, css=CSS, allowed_paths=app.allowed, max_file_size=2 * MAX_FILE_BYTES,
               ssr_mode=False, show_error=False, footer_links=["api"])
