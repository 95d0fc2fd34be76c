"""One static, self-contained HTML report: every registered task and (by default) every non-LLM method.

A researcher should be able to open it offline or attach it to a paper, so figures are embedded as
base64 PNGs and there is no script, stylesheet or font fetched from anywhere. Methods that cannot run
here (e.g. a model that is not installed) are listed as skipped with the reason, not silently dropped.
"""

from __future__ import annotations

import datetime as dt
import html
import math

from valuebench import __version__, methods
from valuebench.analysis.agreement import agreement_rows, task_agreement
from valuebench.analysis.figures import figure_png, heatmap_figure, value_map_figure
from valuebench.analysis.inputs import method_vectors, png_data_uri
from valuebench.analysis.mds import mds_coordinates, mds_from_dissimilarity, task_dissimilarity
from valuebench.analysis.silhouette import silhouette_analysis
from valuebench.errors import UserError
from valuebench.evaluate import evaluate
from valuebench.tasks import Task
from valuebench.values import ValueSet
from valuebench.vectors import cosine_similarity

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
.note{color:#555;font-size:.9em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}"""


def _cell(value) -> str:
    if isinstance(value, float):
        return "–" if not math.isfinite(value) else f"{value:.3f}"
    return html.escape(str(value))


def html_table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_figure(fig, caption: str) -> str:
    return (f'<figure><img alt="{html.escape(caption)}" src="{png_data_uri(figure_png(fig))}">'
            f'<figcaption class="note">{html.escape(caption)}</figcaption></figure>')


def html_page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n")


def task_map_figure(task: Task, how: str = "rank", label: str | None = None):
    """MDS map of a task's symmetrised ground truth; returns (figure, stress)."""
    coords, stress = mds_from_dissimilarity(task_dissimilarity(task.matrix, how))
    vs = task.value_set
    label = label or next(iter(vs.labels), None)
    labels = vs.label_vector(label) if label else None
    title = f"{task.name}: ground-truth map ({how} dissimilarity of (M+Mᵀ)/2)"
    return value_map_figure(coords, vs.ids, labels, title, stress, label_name=label), stress


def _tasks_section(tasks: list[Task]) -> str:
    rows = [t.summary() for t in tasks]
    parts = ["<h2>Tasks</h2>", html_table(rows, ["name", "type", "value_set", "n_values", "model", "ceiling"])]
    for task in tasks:
        parts.append(f"<h3>{html.escape(task.name)}</h3><p class=\"note\">{html.escape(task.metadata.description)}</p>")
        parts.append(html_figure(heatmap_figure(task.matrix, task.value_set.ids, f"{task.name}: ground truth M[i, j]",
                                                ceiling=task.ceiling, colorbar_label="M[i, j]"),
                                 f"Ground-truth matrix of {task.name}."))
        fig, stress = task_map_figure(task)
        parts.append(html_figure(fig, f"MDS map of {task.name} (stress-1 {stress:.3f})."))
    return "".join(parts)


def _agreement_section(tasks: list[Task]) -> str:
    if len(tasks) < 2:
        return "<h2>Task agreement</h2><p class=\"note\">Needs at least two tasks.</p>"
    rho, n_pairs = task_agreement(tasks)
    note = "Spearman rho between tasks over shared values and pairs · grey: no shared pairs"
    fig = heatmap_figure(rho.to_numpy(), list(rho.index), "Task-by-task agreement", colorbar_label="Spearman rho",
                         note=note)
    return ("<h2>Task agreement</h2>"
            + html_table(agreement_rows(rho, n_pairs), ["task_a", "task_b", "spearman", "n_pairs"])
            + html_figure(fig, note))


def _method_section(name: str, value_sets: list[ValueSet], n_seeds: int) -> str:
    """Maps (one per label) and silhouettes of one method on every value set."""
    parts = [f"<h3>{html.escape(name)}</h3>"]
    method = methods.get_method(name)
    rows = []
    for vs in value_sets:
        vectors = method_vectors(method, vs)
        coords, stress = mds_coordinates(cosine_similarity(vectors))
        for label in vs.labels or [None]:
            labels = vs.label_vector(label) if label else None
            fig = value_map_figure(coords, vs.ids, labels, f"{name} on {vs.name}", stress, label_name=label)
            parts.append(html_figure(fig, f"{name} on {vs.name}, coloured by {label or 'nothing'}."))
            if label:
                sil = silhouette_analysis(vectors, labels, label, n_seeds=n_seeds)
                rows.append({"value_set": vs.name, **sil.to_dict()})
    cols = ["value_set", "label", "n_values", "silhouette", "random_mean", "random_p95", "p_value"]
    return "".join(parts[:1]) + html_table(rows, cols) + "".join(parts[1:])


def _scores_section(names: list[str], tasks: list[Task]) -> str:
    rows = []
    for name in names:
        for s in evaluate(methods.get_method(name), tasks):
            rows.append({"method": name, "task": s.task.name, "spearman": s.score.spearman, "p_value": s.score.p_value,
                         "ci_low": s.score.ci[0], "ci_high": s.score.ci[1], "ceiling": s.score.ceiling})
    cols = ["method", "task", "spearman", "ci_low", "ci_high", "p_value", "ceiling"]
    return "<h2>Scores</h2>" + html_table(rows, cols)


def default_methods() -> list[str]:
    return [r["name"] for r in methods.describe_all() if not r["needs_llm"]]


def build_report(tasks: list[Task], value_sets: list[ValueSet], method_names: list[str], *,
                 n_seeds: int = 1000, progress=lambda msg: None) -> str:
    """The whole report as one HTML string."""
    ran, skipped, method_html = [], [], []
    for name in method_names:
        progress(f"method {name}")
        try:
            method_html.append(_method_section(name, value_sets, n_seeds))
            ran.append(name)
        except UserError as exc:
            skipped.append({"method": name, "reason": str(exc)})
    progress("tasks")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [f"<p class=\"note\">valuebench {__version__} · generated {stamp} · tasks: {len(tasks)} · "
            f"methods: {', '.join(ran) or 'none'}</p>",
            _scores_section(ran, tasks) if tasks and ran else "",
            _tasks_section(tasks) if tasks else "<h2>Tasks</h2><p>No tasks registered.</p>",
            _agreement_section(tasks), "<h2>Methods</h2>",
            "<p class=\"note\">Silhouette: cosine, against each value-set label; random = Gaussian vectors of the "
            f"same number and dimension ({n_seeds} seeds) — in high dimension these are nearly orthogonal, so this "
            "null sits near 0 with a narrow spread; p = label-permutation test on the method's own distances, "
            "the sharper question (is this grouping tighter than an arbitrary one of the same sizes?).</p>",
            *method_html]
    if skipped:
        body.append("<h3>Skipped methods</h3>" + html_table(skipped, ["method", "reason"]))
    return html_page("valuebench report: value maps and analysis", "".join(body))
