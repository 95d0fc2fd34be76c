"""The evidence figures: a task's ground truth labelled by its type, task agreement with ceilings on the
diagonal, the similarity-vs-ground-truth scatter behind one score, and ρ with its CI per method on one task.

Shared by the HTML report and the leaderboard build/app, so every surface shows the same picture.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from valuebench.analysis.figures import heatmap_figure
from valuebench.analysis.labels import axes, colorbar_label


def task_heatmap(task) -> Figure:
    """A task's ground truth: colour from its range, rows/columns and colour bar named for its type."""
    note = f"{axes(task.metadata.type)} · grey: not measured (diagonal/missing)"
    bound = f" · bound {task.bound:.2f}" if task.bound is not None else ""
    return heatmap_figure(task.matrix, task.value_set.ids, f"{task.name}: ground truth{bound}",
                          colorbar_label=colorbar_label(task.metadata.type), note=note)


def agreement_figure(rho, bounds: dict[str, float | None]) -> Figure:
    """Task-by-task Spearman agreement (a DataFrame over task names), full names, each task's bound on the
    diagonal: two tasks can agree at most about as well as each agrees with itself."""
    names = list(rho.index)
    diagonal = [f"bound\n{bounds[n]:.2f}" if bounds.get(n) is not None else "" for n in names]
    m = rho.to_numpy(dtype=float).copy()
    np.fill_diagonal(m, np.nan)
    return heatmap_figure(m, names, "Task-by-task agreement (Spearman ρ over shared pairs)",
                          colorbar_label="Spearman ρ between tasks", diagonal=diagonal,
                          note="diagonal: the task's bound (√reliability) · grey: no shared pairs")


def pair_points(similarity: np.ndarray, matrix: np.ndarray, pairs: str, ids: list[str]):
    """(cosine, ground truth, 'i → j' labels) over the scored pairs of a task."""
    n = len(ids)
    mask = ~np.eye(n, dtype=bool) if pairs == "off-diagonal" else np.triu(np.ones((n, n), dtype=bool), 1)
    mask &= np.isfinite(matrix) & np.isfinite(similarity)
    i, j = np.nonzero(mask)
    return similarity[i, j], matrix[i, j], [f"{ids[a]} → {ids[b]}" for a, b in zip(i, j)]


def scatter_figure(similarity, matrix, pairs: str, ids: list[str], *, method: str, task: str,
                   rho: float, ci: tuple[float, float], p: float, bound: float | None,
                   y_label: str = "ground truth M[i, j]") -> Figure:
    """Cosine similarity against ground truth for every scored pair, with ρ, its CI, p and the task's bound:
    the plot behind a rank-correlation score. Ranks are what is scored, so both axes are shown as ranks
    (right) beside the raw values (left)."""
    from scipy.stats import rankdata

    x, y, _ = pair_points(np.asarray(similarity, float), np.asarray(matrix, float), pairs, ids)
    fig = Figure(figsize=(9.6, 4.4), dpi=110, layout="constrained")
    raw, ranked = fig.subplots(1, 2)
    for ax, (xs, ys, kind) in ((raw, (x, y, "")), (ranked, (rankdata(x), rankdata(y), "rank of "))):
        ax.scatter(xs, ys, s=14 if len(xs) > 100 else 22, alpha=0.65, color="#4c51bf", edgecolor="none")
        if len(xs) > 1 and np.ptp(xs) > 0:
            slope, icpt = np.polyfit(xs, ys, 1)
            grid = np.linspace(xs.min(), xs.max(), 2)
            ax.plot(grid, slope * grid + icpt, color="#c53030", linewidth=1.2)
        ax.set_xlabel(f"{kind}cosine similarity of the method's vectors", fontsize=9)
        ax.set_ylabel(f"{kind}{y_label}", fontsize=9)
        ax.grid(True, color="0.92")
    bound_text = f" · bound {bound:.2f} (ρ/bound {rho / bound:.2f})" if bound else ""
    fig.suptitle(f"{method} on {task}", fontsize=12, fontweight="bold")
    raw.set_title(f"ρ = {rho:.3f} [95% CI {ci[0]:.2f}, {ci[1]:.2f}] · p = {p:.3g} · {len(x)} pairs{bound_text}",
                  fontsize=9, color="0.25", loc="left")
    return fig


def rho_ci_figure(rows: list[dict], *, task: str, bound: float | None) -> Figure:
    """One task: each entry's ρ with its 95% CI (rows: name, rho, ci_low, ci_high, baseline), best first, the
    task's bound as a dashed line, 0 as the null, baselines in grey."""
    rows = sorted((r for r in rows if np.isfinite(r["rho"])), key=lambda r: -r["rho"])[:40]
    fig = Figure(figsize=(8.5, 1.2 + 0.32 * max(len(rows), 1)), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    for k, r in enumerate(rows):
        colour = "0.55" if r.get("baseline") else "#4c51bf"
        ax.plot([r["ci_low"], r["ci_high"]], [k, k], color=colour, linewidth=2)
        ax.plot(r["rho"], k, "o", color=colour)
    ax.set_yticks(range(len(rows)), [r["name"] for r in rows], fontsize=8.5)
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", linewidth=0.8)
    if bound:
        ax.axvline(bound, color="#c53030", linestyle="--", linewidth=1, label=f"bound {bound:.2f}")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_xlabel("Spearman ρ with 95% CI (grey: baselines and the random null; 0: no relation)", fontsize=9)
    ax.set_title(task, fontsize=10, fontweight="bold", loc="left")
    ax.grid(True, axis="x", color="0.92")
    return fig
