"""Analysis: hand-checkable numbers (silhouette, MDS, agreement), images written, command JSON shapes,
and bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text
from sklearn.metrics import silhouette_score

from valuebench.analysis.agreement import matrix_agreement
from valuebench.analysis.figures import figure_png, heatmap_figure, value_map_figure
from valuebench.analysis.mds import classical_mds, mds_coordinates, mds_from_dissimilarity, stress1, task_dissimilarity
from valuebench.analysis.silhouette import cosine_distances, encode_labels, silhouette_analysis, silhouettes
from valuebench.cli import main
from valuebench.io import sha256_file
from valuebench.values import load_value_set

FIXTURE = Path(__file__).parent / "fixtures" / "tasks" / "fixture-constraints"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def clusters(n_per: int = 7, k: int = 3, dim: int = 20, spread: float = 0.01, seed: int = 0):
    """k tight clusters around orthogonal directions: cosine silhouette ~ 1."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:k] * 10
    x = np.concatenate([c + rng.normal(0, spread, (n_per, dim)) for c in centres])
    return x, [f"c{i}" for i in range(k) for _ in range(n_per)]


# ---------------------------------------------------------------- silhouette


def test_silhouette_matches_sklearn_on_random_labelings():
    rng = np.random.default_rng(1)
    for _ in range(5):
        x = rng.normal(size=(21, 12))
        labels = list(rng.choice(["a", "b", "c"], 21))
        labels[0] = "d"  # a singleton cluster scores 0, as in scikit-learn
        codes = encode_labels(labels)
        ours = silhouettes(cosine_distances(x)[None], codes[None])[0]
        assert ours == pytest.approx(silhouette_score(x, codes, metric="cosine"), abs=1e-12)


def test_well_separated_clusters_score_near_one_and_null_near_zero():
    x, labels = clusters()
    r = silhouette_analysis(x, labels, "cluster", n_seeds=1000)
    assert r.silhouette > 0.99
    assert abs(r.random_mean) < 0.05 and r.random_p95 < 0.15
    assert r.p_value < 0.01 and r.n_values == 21 and r.dim == 20


def test_silhouette_of_unrelated_labels_is_not_significant():
    x, labels = clusters()
    shuffled = list(np.random.default_rng(3).permutation(labels))
    r = silhouette_analysis(x, shuffled, "cluster", n_seeds=1000)
    assert r.silhouette < 0.5 and r.p_value > 0.05


def test_silhouette_null_is_reproducible():
    x, labels = clusters(seed=2)
    a = silhouette_analysis(x, labels, "c", n_seeds=1000, seed=5)
    b = silhouette_analysis(x, labels, "c", n_seeds=1000, seed=5)
    assert a == b


# ---------------------------------------------------------------- MDS


def test_mds_recovers_a_known_planar_configuration():
    rng = np.random.default_rng(4)
    xy = rng.normal(size=(12, 2))
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    coords, stress = mds_from_dissimilarity(d)
    assert stress < 1e-6
    np.testing.assert_allclose(np.linalg.norm(coords[:, None] - coords[None], axis=-1), d, atol=1e-6)
    assert np.abs(classical_mds(d)[:, :2]).sum() > 0


def test_mds_of_cosine_similarity_and_stress_definition():
    vecs = np.random.default_rng(3).normal(size=(10, 8))
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    coords, stress = mds_coordinates(unit @ unit.T)
    d = 1 - unit @ unit.T
    np.fill_diagonal(d, 0)
    assert coords.shape == (10, 2) and 0 < stress < 1
    assert stress == pytest.approx(stress1(d, coords))
    assert stress <= stress1(d, classical_mds(d)) + 1e-9  # SMACOF never ends worse than its classical start
    assert stress1(d, coords * 3) > stress  # wrong scale, worse stress


def test_task_dissimilarity_is_symmetric_and_order_preserving():
    m = np.array([[np.nan, 0.9, 0.1], [0.7, np.nan, 0.3], [0.2, np.nan, np.nan]])
    for how in ("rank", "max-minus"):
        d = task_dissimilarity(m, how)
        assert np.allclose(d, d.T) and np.all(np.diag(d) == 0)
        assert d[0, 1] < d[0, 2] and d[0, 1] < d[1, 2]  # most transfer = closest
    with pytest.raises(ValueError):
        task_dissimilarity(m, "bogus")


# ---------------------------------------------------------------- agreement


def test_agreement_with_itself_is_one_and_with_negative_is_minus_one():
    rng = np.random.default_rng(5)
    m = rng.normal(size=(9, 9))
    np.fill_diagonal(m, np.nan)
    ids = [f"v{i}" for i in range(9)]
    assert matrix_agreement(m, ids, m, ids) == (pytest.approx(1.0), 72)
    assert matrix_agreement(m, ids, -m, ids) == (pytest.approx(-1.0), 72)
    order = list(rng.permutation(9))  # aligned by id, not position
    assert matrix_agreement(m, ids, m[np.ix_(order, order)], [ids[i] for i in order])[0] == pytest.approx(1.0)


def test_agreement_uses_shared_values_and_respects_nan_and_symmetry():
    rng = np.random.default_rng(6)
    m = rng.normal(size=(6, 6))
    ids = list("abcdef")
    sub = m[:4, :4].copy()
    sub[0, 1] = np.nan
    rho, n = matrix_agreement(m, ids, sub, ids[:4])
    assert rho == pytest.approx(1.0) and n == 4 * 3 - 1
    upper = np.triu(m + m.T, 1)
    upper[np.tril_indices(6)] = np.nan
    rho, n = matrix_agreement(m + m.T, ids, upper, ids, "off-diagonal", "upper-triangle")
    assert rho == pytest.approx(1.0) and n == 15
    assert np.isnan(matrix_agreement(m, ids, m, ["x", "y", "z", "a", "w", "q"])[0])  # one shared value


# ---------------------------------------------------------------- figures


def test_figures_are_nonempty_pngs():
    vs = load_value_set("ccai-21")
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(len(vs), 16))
    sim = vecs @ vecs.T / np.outer(np.linalg.norm(vecs, axis=1), np.linalg.norm(vecs, axis=1))
    fig = value_map_figure(sim, vs.ids, vs.label_vector("polarity"), "t", label_name="polarity")
    png = figure_png(fig)
    assert png.startswith(PNG_MAGIC) and len(png) > 20_000
    assert fig.axes[0].get_legend() is not None and "stress" in fig.axes[0].get_title()
    texts = [t for t in fig.axes[0].texts]
    assert len(texts) == len(vs)
    m = rng.normal(size=(len(vs), len(vs)))
    np.fill_diagonal(m, np.nan)
    assert figure_png(heatmap_figure(m, vs.ids, "h", ceiling=0.8)).startswith(PNG_MAGIC)


def test_map_labels_do_not_overlap():
    vs = load_value_set("ccai-21")
    xy = np.concatenate([np.random.default_rng(8).normal(0, 0.02, (10, 2)), np.ones((11, 2))
                         + np.random.default_rng(9).normal(0, 0.02, (11, 2))])
    fig = value_map_figure(xy, vs.ids, None, "crowded", stress=0.1)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [Text.get_window_extent(t, renderer) for t in fig.axes[0].texts]  # the text, not its leader line
    overlaps = sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert overlaps == 0


# ---------------------------------------------------------------- commands


@pytest.fixture
def two_tasks(tmp_path, monkeypatch):
    """The fixture task plus a copy whose matrix is its negative (agreement -1 by construction)."""
    root = tmp_path / "tasks"
    neg = root / "fixture-negated"
    shutil.copytree(FIXTURE, neg)
    frame = pd.read_csv(FIXTURE / "matrix.csv", index_col=0)
    (-frame).to_csv(neg / "matrix.csv")
    card = (neg / "README.md").read_text()
    old_sha = sha256_file(FIXTURE / "matrix.csv")
    card = (card.replace("name: fixture-constraints", "name: fixture-negated")
            .replace(old_sha, sha256_file(neg / "matrix.csv")))
    (neg / "README.md").write_text(card)
    monkeypatch.setenv("VALUEBENCH_TASK_PATHS", os.pathsep.join([str(FIXTURE.parent), str(root)]))
    return ["fixture-constraints", "fixture-negated"]


def test_silhouette_command_json_shape(capsys):
    code, out, err = run(capsys, "silhouette", "--method", "random", "--value-set", "constraints-9",
                         "--label", "category", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"method", "value_set", "silhouette", "random_mean", "random_p95", "p_value", "label",
                         "n_values"}
    assert data["label"] == "category" and data["n_values"] == 9 and 0 < data["p_value"] <= 1


def test_agreement_command_json_and_png(capsys, tmp_path, two_tasks):
    out_png = tmp_path / "agree.png"
    code, out, err = run(capsys, "agreement", "--tasks", ",".join(two_tasks), "--format", "json",
                         "--output", str(out_png))
    assert code == 0, err
    data = json.loads(out)
    assert data["tasks"] == two_tasks
    assert data["spearman"][0][0] == pytest.approx(1.0) and data["spearman"][0][1] == pytest.approx(-1.0)
    assert data["n_pairs"][0][1] == 72
    assert data["pairs"] == [{"task_a": two_tasks[0], "task_b": two_tasks[1], "spearman": pytest.approx(-1.0),
                              "n_pairs": 72}]
    assert out_png.read_bytes().startswith(PNG_MAGIC)


def test_map_commands_write_png_and_html(capsys, tmp_path):
    png = tmp_path / "task.png"
    code, out, err = run(capsys, "map", "--task", "fixture-constraints", "--output", str(png), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"output", "stress", "what"} and 0 <= data["stress"] < 1
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 20_000
    page = tmp_path / "m.html"
    code, out, err = run(capsys, "map", "--method", "random", "--value-set", "ccai-21", "--label", "scope",
                         "--output", str(page))
    assert code == 0, err
    assert "stress-1" in out
    text = page.read_text()
    assert "data:image/png;base64," in text and "be_helpful" in text


def test_report_command_writes_self_contained_html(capsys, tmp_path, two_tasks):
    out_dir = tmp_path / "report"
    code, out, err = run(capsys, "report", "--output", str(out_dir), "--methods", "random,tfidf",
                         "--value-sets", "constraints-9")
    assert code == 0, err
    text = (out_dir / "index.html").read_text()
    assert text.count("data:image/png;base64,") >= 6  # 2 heatmaps, 2 task maps, agreement, 2 method maps
    for needle in ("fixture-negated", "Task agreement", "Silhouette", "tfidf", "random_p95"):
        assert needle in text
    assert "<script" not in text and "http://" not in text.split("<body>")[1].split("noise ceiling")[0]


@pytest.mark.parametrize("argv, message", [
    (["silhouette", "--method", "random", "--value-set", "ccai-21", "--label", "category"], "unknown label"),
    (["silhouette", "--method", "random", "--value-set", "ccai-21", "--label", "scope", "--seeds", "10"], "--seeds"),
    (["map", "--task", "fixture-constraints", "--label", "nope", "--output", "{tmp}/a.png"], "unknown label"),
    (["map", "--task", "fixture-constraints", "--output", "{tmp}/a.jpg"], "unsupported output extension"),
    (["map", "--task", "fixture-constraints", "--output", "{tmp}/file.txt/a.png"], "cannot write"),
    (["map", "--method", "random", "--task", "fixture-constraints", "--output", "{tmp}/a.png"], "exactly one"),
    (["map", "--method", "random", "--output", "{tmp}/a.png"], "--value-set"),
    (["map", "--task", "no-such-task", "--output", "{tmp}/a.png"], "unknown task"),
    (["agreement", "--tasks", "fixture-constraints"], "at least two tasks"),
    (["agreement", "--output", "{tmp}/a.svg"], "unsupported output extension"),
    (["report", "--output", "{tmp}/file.txt"], "not a directory"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(capsys, tmp_path, argv, message):
    (tmp_path / "file.txt").write_text("x")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, out, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
