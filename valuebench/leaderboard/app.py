"""valuebench leaderboard: a Gradio app over the data ``valuebench leaderboard build`` wrote.

The Space entry point ``leaderboard/app.py`` calls ``main`` with its own folder (``about.md``, ``data/``,
``pending/``). Run ``python leaderboard/app.py`` (honours GRADIO_SERVER_NAME / GRADIO_SERVER_PORT). Nothing is scored at
page load: the table, cards, heatmaps and maps are files; filters only re-aggregate stored scores. The
Submit tab validates uploads with the library's own checks and writes only under the pending folder.

Defences: uploads are rate-limited per client (``UPLOAD_LIMIT`` per ``UPLOAD_WINDOW`` s, and a global cap)
and processed one at a time; the pending queue is capped in entries and bytes; a name already on the board
is refused; an upload whose scores exceed a task's noise ceiling is refused (it was fitted to the published
matrices); Gradio deletes its cached uploads and files after ``CACHE_AGE`` s (``delete_cache``) and all of
them when the app stops (SIGTERM included); download files are content-addressed and bounded, so table
updates leave no temp folders behind.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from pathlib import Path

import gradio as gr

from valuebench.errors import UserError
from valuebench.leaderboard import tabs, view
from valuebench.leaderboard.submissions import MAX_FILE_BYTES, LeakRule, stage_upload

UPLOAD_LIMIT = int(os.environ.get("VALUEBENCH_UPLOAD_LIMIT", "5"))  # per client and window
UPLOAD_WINDOW = float(os.environ.get("VALUEBENCH_UPLOAD_WINDOW", "600"))
UPLOAD_GLOBAL_LIMIT = int(os.environ.get("VALUEBENCH_UPLOAD_GLOBAL_LIMIT", "60"))
MAX_UPLOAD_FILES = 8  # meta.yaml + one file per value set
CACHE_AGE = 1800  # seconds Gradio keeps uploaded and served temp files (checked every CACHE_SWEEP s)
CACHE_SWEEP = 600

CSS = """
.gradio-container {max-width: 1500px !important; margin: auto;}
#board table {font-variant-numeric: tabular-nums; font-size: 14px;}
#board th {word-break: normal; overflow-wrap: normal;}
#board th, #board .virtual-row > * {min-width: 9.5em !important;}
#board th:nth-child(1), #board .virtual-row > :nth-child(1) {position: sticky !important; left: 0; z-index: 3;
  width: 4.5em !important; min-width: 4.5em !important; max-width: 4.5em !important;
  background: var(--table-even-background-fill);}
#board th:nth-child(2), #board .virtual-row > :nth-child(2) {position: sticky !important; left: 4.5em; z-index: 3;
  width: 14em !important; min-width: 14em !important; max-width: 14em !important;
  background: var(--table-even-background-fill);
  box-shadow: 2px 0 0 var(--border-color-primary);}
#task-ranking th, #task-ranking .virtual-row > * {min-width: 5.5em;}
#vb-header h1 {margin-bottom: 0.1em;}
#vb-header p {color: var(--body-text-color-subdued); margin-top: 0;}
#submit-report {min-height: 2em;}
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
            f"{m['n_valid']} submissions · {len(data.tasks)} tasks in {len(data.benchmarks)} benchmarks · every score "
            f"recomputed from submitted "
            f"vectors (built {m['built']}, valuebench {m['valuebench_version']}, "
            f"{m['n_permutations']} permutations, {m['n_bootstrap']} bootstrap resamples).")


def _checker(tasks: list | None, private: list | None):
    """The score-based leakage check run on a valid upload before it is queued (None: no tasks to check)."""
    from valuebench.leaderboard import integrity

    if not tasks and not private:
        return None

    def check(sub) -> None:
        flags = integrity.score_flags(sub.similarities, tasks or []) + \
            integrity.score_flags(sub.similarities, private or [], private=True)
        if flags:
            raise UserError(flags[0])
    return check


def submit_upload(name: str, files, pending: Path, *, limiter: view.RateLimiter | None = None, client: str = "local",
                  taken: set[str] | frozenset[str] = frozenset(), check=None, rule: LeakRule | None = None) -> str:
    """Validate an upload; on success it lands in ``pending/<name>/`` and nowhere else."""
    if limiter is not None:
        wait = limiter.check(client)
        if wait:
            return (f"### ✗ Rejected\n\nToo many uploads from your address: try again in {wait / 60:.0f} min."
                    "\n\nNothing was stored.")
    files = files or []
    if len(files) > MAX_UPLOAD_FILES:
        return (f"### ✗ Rejected\n\n{len(files)} files uploaded; a submission is meta.yaml and at most "
                f"{MAX_UPLOAD_FILES - 1} vectors or similarity files.\n\nNothing was stored.")
    paths = [Path(f if isinstance(f, str) else f.name) for f in files]
    try:
        sub, _ = stage_upload(paths, (name or "").strip()[:200], pending, rule, taken=taken, check=check)
    except UserError as exc:
        return f"### ✗ Rejected\n\n{exc}\n\nNothing was stored. Fix the problem and upload again."
    except Exception as exc:  # a bug must not take the page down; report it instead
        return f"### ✗ Rejected\n\nunexpected error while validating ({type(exc).__name__}); nothing was stored."
    sets = ", ".join(f"`{k}` ({v})" for k, v in sub.kinds.items())
    leak = f"\n\n⚠ Flagged for possible leakage: {sub.leakage}" if sub.leakage else ""
    return (f"### ✓ Valid: queued for review as `{sub.name}`\n\nValue sets: {sets}. Method `{sub.meta.method}` "
            f"by {', '.join(sub.meta.authors)}.{leak}\n\nA maintainer will review it; the scores appear after the "
            "next build.")


def _submit_tab(pending: Path, taken: set[str], check, rule: LeakRule) -> None:
    gr.Markdown(SUBMIT_HELP)
    name = gr.Textbox(label="Submission name", placeholder="letters, digits, - _ . (no / or ..)",
                      elem_id="submit-name")
    files = gr.File(file_count="multiple", label="meta.yaml + vectors files", type="filepath",
                    elem_id="submit-files")
    button = gr.Button("Validate and submit", variant="primary", elem_id="submit-button")
    report = gr.Markdown(elem_id="submit-report")
    limiter = view.RateLimiter(UPLOAD_LIMIT, UPLOAD_WINDOW, UPLOAD_GLOBAL_LIMIT)

    def on_submit(n, f, request: gr.Request):
        return submit_upload(n, f, pending, limiter=limiter, client=view.client_key(request), taken=taken,
                             check=check, rule=rule)

    button.click(on_submit, [name, files], report, concurrency_limit=1, concurrency_id="submit")


def _tasks_for_checks():
    """Public and private tasks for the Submit tab's score check; none if the registry cannot load them."""
    try:
        from valuebench.leaderboard import integrity
        from valuebench.tasks import discover

        private, _ = integrity.load_private_tasks(integrity.private_task_dirs())
        # every published matrix, on the board or not: copying any of them is fitting, not predicting
        return [t for t in discover().values() if t.metadata.superseded_by is None], private
    except Exception:  # noqa: BLE001 - the board still serves; uploads then skip the score check
        return [], []


def build_app(data: view.BoardData | None = None, pending: Path | None = None,
              space: Path = view.SPACE_DIR) -> gr.Blocks:
    """The app over ``space`` (the Space folder: ``about.md``, ``data/``, ``pending/``; environment overrides
    in ``view.data_dir``/``view.pending_dir``)."""
    data = data or view.load(view.data_dir(space))
    pending = Path(pending or view.pending_dir(space))
    about = (Path(space) / "about.md").read_text(encoding="utf-8")
    downloads = Path(tempfile.mkdtemp(prefix="valuebench-downloads-"))
    atexit.register(shutil.rmtree, downloads, True)
    taken = set(data.table["submission"])
    tasks, private = _tasks_for_checks()
    check, rule = _checker(tasks, private), LeakRule.for_tasks(tasks)
    with gr.Blocks(title="valuebench leaderboard", delete_cache=(CACHE_SWEEP, CACHE_AGE)) as demo:
        gr.Markdown(_header(data), elem_id="vb-header")
        with gr.Tabs():
            with gr.Tab("Leaderboard", id="leaderboard"):
                tabs.leaderboard_tab(data, downloads)
            with gr.Tab("Tasks", id="tasks"):
                tabs.tasks_tab(data)
            with gr.Tab("Methods", id="methods"):
                tabs.methods_tab(data)
            with gr.Tab("Submit", id="submit"):
                _submit_tab(pending, taken, check, rule)
            with gr.Tab("About", id="about"):
                gr.Markdown(about)
    demo.allowed = [str(data.folder), str(downloads)]
    return demo


THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate",
                       font=["system-ui", "Segoe UI", "Helvetica", "Arial", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "monospace"])

def _stop_on_sigterm(signum, frame):
    """A Space (or any supervisor) stops the app with SIGTERM; turning it into KeyboardInterrupt lets Gradio
    shut down cleanly, which deletes every upload and cached file of this app (and atexit our downloads)."""
    raise KeyboardInterrupt


def main(space: Path = view.SPACE_DIR) -> None:
    """Serve the app until stopped (what ``leaderboard/app.py`` runs)."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    app = build_app(space=space)
    app.queue(max_size=64, default_concurrency_limit=2)
    app.launch(theme=THEME, css=CSS, allowed_paths=app.allowed, max_file_size=2 * MAX_FILE_BYTES,
               ssr_mode=False, show_error=False, footer_links=["api"])
