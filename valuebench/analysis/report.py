"""One static, self-contained HTML report: every registered task and (by default) every non-LLM method.

A researcher should be able to open it offline or attach it to a paper, so figures are embedded as
base64 PNGs and there is no script, stylesheet or font fetched from anywhere. Methods that cannot run
here (e.g. a model that is not installed) are listed as skipped with the reason, not silently dropped.
"""

from __future__ import annotations

import datetime as dt
import html
import math

import numpy as np

from valuebench import __version__, methods
from valuebench.analysis.agreement import agreement_rows, task_agreement
from valuebench.analysis.figures import figure_png, value_map_figure
from valuebench.analysis.inputs import method_vectors, png_data_uri
from valuebench.analysis.mds import mds_coordinates, mds_from_dissimilarity, task_dissimilarity
from valuebench.analysis.plots import agreement_figure, rho_ci_figure, scatter_figure, task_heatmap
from valuebench.analysis.silhouette import silhouette_analysis
from valuebench.errors import UserError
from valuebench.evaluate import evaluate
from valuebench.tasks import Task
from valuebench.values import ValueSet
from valuebench.vectors import cosine_similarity

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}
.note{color:#555;font-size:.9em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
nav ol{columns:2;font-size:.95em}nav li.sub{list-style:none;margin-left:1.2em}
.badge{font-size:.75em;background:#e2e8f0;border-radius:.6em;padding:0 .4em;margin-left:.3em}"""
#: methods that are the null hypothesis, marked as such wherever they are ranked
NULL_METHODS = {"random"}


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


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())


def _tasks_section(tasks: list[Task]) -> str:
    rows = [{**t.summary(), "bound": t.bound} for t in tasks]
    parts = ["<h2 id=\"tasks\">Tasks</h2>",
             html_table(rows, ["name", "type", "value_set", "n_values", "model", "ceiling", "bound", "gate"])]
    for task in tasks:
        parts.append(f"<h3 id=\"task-{_anchor(task.name)}\">{html.escape(task.name)}</h3>"
                     f"<p class=\"note\">{html.escape(task.metadata.description)}</p>")
        parts.append(html_figure(task_heatmap(task), f"Ground-truth matrix of {task.name}."))
        fig, stress = task_map_figure(task)
        parts.append(html_figure(fig, f"MDS map of {task.name} (stress-1 {stress:.3f})."))
    return "".join(parts)


def _agreement_section(tasks: list[Task]) -> str:
    if len(tasks) < 2:
        return "<h2 id=\"agreement\">Task agreement</h2><p class=\"note\">Needs at least two tasks.</p>"
    rho, n_pairs = task_agreement(tasks)
    fig = agreement_figure(rho, {t.name: t.bound for t in tasks})
    return ("<h2 id=\"agreement\">Task agreement</h2>"
            + html_figure(fig, "Spearman ρ between tasks over shared values and pairs; diagonal: each task's bound")
            + html_table(agreement_rows(rho, n_pairs), ["task_a", "task_b", "spearman", "n_pairs"]))


def _method_section(name: str, value_sets: list[ValueSet], n_seeds: int) -> str:
    """One MDS map per value set (coloured by its first label, the legend naming it) and the silhouette of
    every label."""
    parts = [f"<h3 id=\"method-{_anchor(name)}\">{html.escape(name)}</h3>"]
    method = methods.get_method(name)
    rows, maps = [], []
    for vs in value_sets:
        vectors = method_vectors(method, vs)
        coords, stress = mds_coordinates(cosine_similarity(vectors))
        first = next(iter(vs.labels), None)
        fig = value_map_figure(coords, vs.ids, vs.label_vector(first) if first else None, f"{name} on {vs.name}",
                               stress, label_name=first)
        maps.append(html_figure(fig, f"{name} on {vs.name}, coloured by {first or 'nothing'}."))
        for label in vs.labels:
            sil = silhouette_analysis(vectors, vs.label_vector(label), label, n_seeds=n_seeds)
            rows.append({"value_set": vs.name, **sil.to_dict()})
    cols = ["value_set", "label", "n_values", "silhouette", "random_mean", "random_p95", "p_value"]
    return "".join(parts) + html_table(rows, cols) + "".join(maps)


def _scores_section(names: list[str], tasks: list[Task]) -> str:
    """Methods × tasks: ρ [CI] and ρ/bound per cell, the mean and the rank; then each task's ρ-with-CI chart
    and the similarity-vs-ground-truth scatter behind every score."""
    scores = {name: {s.task.name: s for s in evaluate(methods.get_method(name), tasks)} for name in names}
    means = {n: sum(s.score.spearman for s in row.values()) / len(row) for n, row in scores.items()}
    order = sorted(names, key=lambda n: -means[n])
    head = "".join(f"<th>{html.escape(t.name)}<br><span class=\"note\">bound {_cell(t.bound)}</span></th>"
                   for t in tasks)
    body = []
    for rank, name in enumerate(order, 1):
        cells = []
        for t in tasks:
            sc = scores[name][t.name].score
            norm = f" · ρ/bound {sc.spearman / t.bound:.2f}" if t.bound else ""
            cells.append(f"<td>{sc.spearman:.3f}{'*' if sc.p_value < 0.05 else ''}<br><span class=\"note\">"
                         f"[{sc.ci[0]:.2f}, {sc.ci[1]:.2f}]{norm}</span></td>")
        badge = '<span class="badge">null</span>' if name in NULL_METHODS else ""
        body.append(f"<tr><td>{html.escape(name)}{badge}</td><td>{rank}</td><td>{means[name]:.3f}</td>"
                    f"{''.join(cells)}</tr>")
    table = (f"<table><thead><tr><th>method</th><th>rank</th><th>mean ρ</th>{head}</tr></thead>"
             f"<tbody>{''.join(body)}</tbody></table><p class=\"note\">ρ = Spearman between the method's cosine "
             "similarities and the task's ground truth; [95% CI over values]; * permutation p &lt; 0.05.</p>")
    figures = []
    for t in tasks:
        rows = [{"name": n, "rho": scores[n][t.name].score.spearman, "ci_low": scores[n][t.name].score.ci[0],
                 "ci_high": scores[n][t.name].score.ci[1], "baseline": n in NULL_METHODS} for n in names]
        figures.append(f"<h3 id=\"scores-{_anchor(t.name)}\">{html.escape(t.name)}</h3>")
        figures.append(html_figure(rho_ci_figure(rows, task=t.name, bound=t.bound), f"ρ with 95% CI on {t.name}."))
        for n in order:
            s = scores[n][t.name]
            sim = [[math.nan if x is None else x for x in row] for row in s.result.similarity]
            fig = scatter_figure(np.array(sim, float), t.matrix, t.metadata.pairs, t.value_set.ids, method=n,
                                 task=t.name, rho=s.score.spearman, ci=s.score.ci, p=s.score.p_value, bound=t.bound)
            figures.append(html_figure(fig, f"{n} on {t.name}: cosine similarity against ground truth per pair."))
    return "<h2 id=\"scores\">Scores</h2>" + table + "".join(figures)


def _contents(tasks: list[Task], names: list[str]) -> str:
    items = [("scores", "Scores (table, ρ with CI, scatter per method)"), ("tasks", "Tasks")]
    items += [(f"task-{_anchor(t.name)}", html.escape(t.name)) for t in tasks]
    items += [("agreement", "Task agreement"), ("methods", "Methods: maps and silhouettes")]
    items += [(f"method-{_anchor(n)}", html.escape(n)) for n in names]
    lis = "".join(f'<li{" class=sub" if a.startswith(("task-", "method-")) else ""}><a href="#{a}">{t}</a></li>'
                  for a, t in items)
    return f"<nav><h2>Contents</h2><ol>{lis}</ol></nav>"


def default_methods() -> list[str]:
    return [r["name"] for r in methods.describe_all() if not r["needs_llm"]]


def build_report(tasks: list[Task], value_sets: list[ValueSet], method_names: list[str], *,
                 n_seeds: int = 1000, progress=lambda msg: None) -> str:
    """The whole report as one HTML string."""
    ran, skipped, method_html = [], [], []
    for k, name in enumerate(method_names, 1):
        progress(f"method {name} ({k} of {len(method_names)}): maps and silhouettes")
        try:
            method_html.append(_method_section(name, value_sets, n_seeds))
            ran.append(name)
        except UserError as exc:
            skipped.append({"method": name, "reason": str(exc)})
    progress("tasks")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    progress("scores")
    body = [f"<p class=\"note\">valuebench {__version__} · generated {stamp} · tasks: {len(tasks)} · "
            f"methods: {', '.join(ran) or 'none'}</p>", _contents(tasks, ran),
            _scores_section(ran, tasks) if tasks and ran else "",
            _tasks_section(tasks) if tasks else "<h2 id=\"tasks\">Tasks</h2><p>No tasks registered.</p>",
            _agreement_section(tasks), "<h2 id=\"methods\">Methods</h2>",
            "<p class=\"note\">Silhouette: cosine, against each value-set label; random = Gaussian vectors of the "
            f"same number and dimension ({n_seeds} seeds) — in high dimension these are nearly orthogonal, so this "
            "null sits near 0 with a narrow spread; p = label-permutation test on the method's own distances, "
            "the sharper question (is this grouping tighter than an arbitrary one of the same sizes?).</p>",
            *method_html]
    if skipped:
        body.append("<h3>Skipped methods</h3>" + html_table(skipped, ["method", "reason"]))
    return html_page("valuebench report: value maps and analysis", "".join(body))
