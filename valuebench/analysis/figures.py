"""Figures for value maps and matrices (matplotlib, Agg backend: no display, safe in servers and CI).

The leaderboard imports ``value_map_figure`` and ``heatmap_figure``; the CLI and the HTML report use
the same functions, so every surface shows the same picture. Labels are short value names, nudged
apart until their boxes no longer overlap (a small built-in version of what adjustText does, to avoid
a dependency), with a thin leader line back to the point when a label had to move.
"""

from __future__ import annotations

import io
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import Normalize, TwoSlopeNorm  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

AXIS_NOTE = ("MDS axes have no units and no meaning of their own: only the distances between points "
             "carry information (closer = more similar).")
PALETTE = plt.get_cmap("tab10").colors


def short_name(value_id: str, width: int = 16) -> str:
    """A readable label from a value id: underscores to spaces, wrapped onto at most two lines."""
    words = value_id.replace("_", " ").replace("-", " ")
    lines = textwrap.wrap(words, width=width) or [value_id]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), width=width, placeholder="…")]
    return "\n".join(lines)


def _as_coords(data: np.ndarray) -> tuple[np.ndarray, float | None]:
    """Accept either 2-D coordinates [n, 2] or a square similarity matrix (then run MDS here)."""
    arr = np.asarray(data, dtype=float)
    square = arr.ndim == 2 and arr.shape[0] == arr.shape[1]
    is_similarity = square and (arr.shape[0] != 2 or np.allclose(np.diag(arr), 1.0))
    if is_similarity:
        from valuebench.analysis.mds import mds_coordinates

        return mds_coordinates(arr)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"expected coordinates [n, 2] or a similarity matrix [n, n], got shape {arr.shape}")
    return arr, None


def _overlap_area(box: np.ndarray, others: np.ndarray) -> float:
    """Total overlap area (pixels^2) of one box (x0, y0, x1, y1) with many boxes [k, 4]."""
    if len(others) == 0:
        return 0.0
    w = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    return float((w * h).sum())


def _candidate_offsets(size: np.ndarray, unit: float) -> np.ndarray:
    """Offsets (pixels, label centre minus point) on rings of growing radius: above first, then the sides
    and below, then further out, so a label stays as close to its point as the crowd allows."""
    angles = np.deg2rad([90, 270, 0, 180, 45, 135, 315, 225, 67, 113, 293, 247, 22, 158, 338, 202])
    rings = []
    for r in (1.0, 1.8, 2.8, 4.0, 5.5, 7.5, 10.0):
        dx = np.cos(angles) * (size[0] / 2 + unit * r)
        dy = np.sin(angles) * (size[1] / 2 + unit * r)
        rings.append(np.stack([dx, dy], axis=1))
    return np.concatenate(rings)


def _choose_boxes(anchors: np.ndarray, sizes: np.ndarray, frame: np.ndarray, unit: float) -> np.ndarray:
    """Greedy placement: most crowded points first, each label at the cheapest candidate position.
    Cost = overlap with placed labels and with point markers, area outside the axes, then distance."""
    n = len(anchors)
    dist = np.linalg.norm(anchors[:, None] - anchors[None], axis=-1) + np.eye(n) * 1e9
    order = np.argsort(dist.min(axis=1))
    marker = np.concatenate([anchors - unit * 0.7, anchors + unit * 0.7], axis=1)
    placed = np.zeros((0, 4))
    chosen = np.zeros((n, 4))
    for i in order:
        best, best_cost = None, np.inf
        for k, off in enumerate(_candidate_offsets(sizes[i], unit)):
            c = anchors[i] + off
            box = np.concatenate([c - sizes[i] / 2, c + sizes[i] / 2])
            inside = (min(box[2], frame[2]) - max(box[0], frame[0])) * (min(box[3], frame[3]) - max(box[1], frame[1]))
            outside = sizes[i].prod() - max(inside, 0.0)
            cost = (10 * _overlap_area(box, placed) + 5 * _overlap_area(box, marker) + 10 * outside
                    + 0.5 * np.hypot(*off) + 0.01 * k)
            if cost < best_cost:
                best, best_cost = box, cost
        chosen[i] = best
        placed = np.vstack([placed, best])
    return chosen


def place_labels(ax, xy: np.ndarray, texts: list[str], fontsize: float = 8.0) -> list:
    """Draw labels next to points without overlapping each other or the points; a thin leader line
    joins a label to its point when it had to sit further away. Returns the Annotation artists."""
    fig = ax.figure
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()  # fixes the layout, so pixel positions below are final
    renderer = canvas.get_renderer()
    to_pt = 72.0 / fig.dpi
    artists = [ax.annotate(t, xy=tuple(p), xytext=(0, 0), textcoords="offset points", ha="center",
                           va="center", fontsize=fontsize, linespacing=0.95, zorder=4,
                           bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8),
                           arrowprops=dict(arrowstyle="-", color="0.55", lw=0.6, shrinkA=0, shrinkB=4))
               for t, p in zip(texts, xy)]
    sizes = np.array([[b.width, b.height] for b in (a.get_window_extent(renderer) for a in artists)])
    anchors = ax.transData.transform(xy)
    frame = np.array(ax.get_window_extent(renderer).extents)
    unit = fontsize / to_pt * 0.8
    boxes = _choose_boxes(anchors, sizes, frame, unit)
    for a, box, anchor, size in zip(artists, boxes, anchors, sizes):
        off = (box[:2] + box[2:]) / 2 - anchor
        a.set_position(tuple(off * to_pt))
        near = abs(off[0]) <= size[0] / 2 + 2.2 * unit and abs(off[1]) <= size[1] / 2 + 2.2 * unit
        a.arrow_patch.set_visible(not near)
    return artists


def value_map_figure(coords_or_similarity, value_ids: list[str], labels: list[str] | None = None,
                     title: str = "Value map", stress: float | None = None, label_name: str | None = None) -> Figure:
    """A 2-D value map: one point per value, coloured by ``labels`` (one category per value) with a
    legend, short readable names, the stress in the subtitle and a note that MDS axes have no units."""
    coords, computed = _as_coords(coords_or_similarity)
    stress = computed if stress is None else stress
    if len(coords) != len(value_ids) or (labels is not None and len(labels) != len(value_ids)):
        raise ValueError("coords, value_ids and labels must have one entry per value")
    fig = Figure(figsize=(9.5, 7.5), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    cats = list(dict.fromkeys(labels)) if labels is not None else [None]
    for k, cat in enumerate(cats):
        idx = [i for i in range(len(value_ids)) if labels is None or labels[i] == cat]
        ax.scatter(coords[idx, 0], coords[idx, 1], s=55, color=PALETTE[k % len(PALETTE)], zorder=3,
                   edgecolor="white", linewidth=0.8, label=cat)
    ax.margins(x=0.16, y=0.2)  # room for labels at the edges
    ax.set_aspect("equal", adjustable="datalim")  # equal scales: distances on the page are map distances
    if labels is not None:
        ax.legend(title=label_name, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9,
                  title_fontsize=9, frameon=False)
    sub = ""
    if stress is not None:
        sub = f"Kruskal stress-1 = {stress:.3f} (0 = distances kept exactly; < 0.1 fair, > 0.2 poor)"
    fig.suptitle(title, fontsize=13, fontweight="bold")
    ax.set_title(sub, fontsize=9, color="0.3")
    ax.set_xlabel("MDS dimension 1 (no units)", fontsize=9)
    ax.set_ylabel("MDS dimension 2 (no units)", fontsize=9)
    ax.tick_params(labelbottom=False, labelleft=False, length=0)
    ax.grid(True, color="0.92", zorder=0)
    fig.supxlabel(AXIS_NOTE, fontsize=8, color="0.35", style="italic")
    place_labels(ax, coords, [short_name(v) for v in value_ids], fontsize=8 if len(value_ids) > 12 else 9)
    return fig


TASK_NOTE = "rows: trained/steered value i · columns: affected value j · grey: not measured (diagonal/missing)"


def _norm(m: np.ndarray):
    """Colour from the data's own range: diverging around 0 when the values have both signs, else a sequential
    map from min to max (a judge matrix of 0.88-0.97 is not 'uniformly high' on a ±1 scale: only ranks count)."""
    finite = m[np.isfinite(m)]
    if not len(finite):
        return plt.get_cmap("RdBu_r"), TwoSlopeNorm(0.0, -1.0, 1.0)
    lo, hi = float(finite.min()), float(finite.max())
    if lo < 0 < hi:
        limit = max(-lo, hi)
        return plt.get_cmap("RdBu_r"), TwoSlopeNorm(0.0, -limit, limit)
    hi = hi if hi > lo else lo + 1e-9
    return plt.get_cmap("viridis"), Normalize(lo, hi)


def heatmap_figure(matrix, value_ids: list[str], title: str = "Matrix", ceiling: float | None = None,
                   colorbar_label: str = "value", note: str = TASK_NOTE, diagonal: list[str] | None = None) -> Figure:
    """A labelled matrix coloured by its own range (``_norm``), missing cells (the diagonal, NaN) in grey, a colour
    bar and the full labels; ``diagonal`` writes a text (e.g. a ceiling) into each diagonal cell."""
    m = np.asarray(matrix, dtype=float)
    n = len(value_ids)
    if m.shape != (n, n):
        raise ValueError(f"matrix shape {m.shape} does not match {n} value ids")
    cmap, norm = _norm(m)
    cmap = cmap.with_extremes(bad="0.82")
    side = 5.5 + 0.28 * n
    fig = Figure(figsize=(side + 1.5, side), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, norm=norm)
    size = 9 if n <= 12 else 7.5
    ax.set_xticks(range(n), value_ids, rotation=60, ha="right", rotation_mode="anchor", fontsize=size)
    ax.set_yticks(range(n), value_ids, fontsize=size)
    ax.set_xticks(np.arange(-0.5, n), minor=True)
    ax.set_yticks(np.arange(-0.5, n), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    if n <= 12:
        for i, j in zip(*np.where(np.isfinite(m))):
            dark = np.mean(cmap(norm(m[i, j]))[:3]) < 0.5
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white" if dark else "black")
    for i, text in enumerate(diagonal or []):
        ax.text(i, i, text, ha="center", va="center", fontsize=6.5, color="0.15")
    fig.colorbar(image, ax=ax, shrink=0.8, label=colorbar_label)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    if ceiling is not None:
        note = f"{note}\nnoise ceiling = {ceiling:.2f}".strip()
    ax.set_title(note, fontsize=8, color="0.3")
    return fig


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of a figure (for atomic file writes and base64 embedding in HTML)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
