"""Results files have one writer (``results.write_result``) and one reader (``results.read_results``,
``valuebench results show``)."""

from __future__ import annotations

import json

from valuebench.cli import main


def test_results_show_reads_back_what_evaluate_wrote(tmp_path, capsys, tmp_cache):
    out = tmp_path / "results"
    assert main(["evaluate", "--method", "random", "--tasks", "fixture-constraints", "--output-dir", str(out),
                 "--format", "json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert main(["results", "show", str(out), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and "similarity" not in rows[0]
    summary = rows[0]["summary"]
    assert (summary["task"], summary["method"]) == ("fixture-constraints", "random")
    task_row = written["tasks"][0]
    assert [summary[k] for k in ("spearman", "p_value", "n_pairs", "normalized")] == \
        [task_row[k] for k in ("spearman", "p_value", "n_pairs", "normalized")]
    assert [summary["ci_low"], summary["ci_high"]] == task_row["ci"]
    assert main(["results", "show", str(next(out.rglob("*.json")))]) == 0
    assert "fixture-constraints" in capsys.readouterr().out


def test_results_show_bad_input_exit_2(tmp_path, capsys):
    assert main(["results", "show", str(tmp_path / "missing")]) == 2
    assert "no such results file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["results", "show", str(tmp_path / "empty")]) == 2
    assert "no results files" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"schema_version": 1, "method": 3}')
    assert main(["results", "show", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "invalid results file" in err and err.count("\n") == 1
