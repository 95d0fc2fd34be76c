"""``valuebench compare``: evaluate several methods on every task and print the leaderboard-style table.

This is what ``make demo`` runs. It is a local, quick view; the published leaderboard is built from
submissions by ``valuebench leaderboard build``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from valuebench import benchmarks, methods
from valuebench.commands import split_list
from valuebench.display import add_format_option, fmt, print_json, print_table
from valuebench.errors import UserError
from valuebench.evaluate import evaluate
from valuebench.scoring import aggregate


def _compare(args) -> int:
    names = split_list(args.methods) or \
        [r["name"] for r in methods.describe_all() if not (args.no_llm and r["needs_llm"])]
    task_names = split_list(args.tasks)
    selected = benchmarks.get_tasks(task_names)
    if not selected:
        raise UserError("no tasks registered; see `valuebench tasks`")
    per_task, cells = {}, {}
    for name in names:
        scores = evaluate(methods.get_method(name), selected,
                          output_dir=Path(args.output_dir) if args.output_dir else None,
                          n_permutations=args.permutations, n_bootstrap=args.bootstrap)
        per_task[name] = {s.task.name: s.score.spearman for s in scores}
        cells[name] = {s.task.name: s for s in scores}
    table = pd.DataFrame(per_task).T[[t.name for t in selected]]
    agg = aggregate(table, {t.name: t.metadata.type for t in selected}).sort_values("borda_rank")
    rows = []
    for name in agg.index:
        row = {"method": name, "borda_rank": int(agg.loc[name, "borda_rank"]), "mean": agg.loc[name, "mean"],
               "mean_by_type": agg.loc[name, "mean_by_type"]}
        for t in selected:
            s = cells[name][t.name].score
            row[t.name] = s.spearman if args.format == "json" else \
                f"{fmt(s.spearman, 2)} [{fmt(s.ci[0], 2)},{fmt(s.ci[1], 2)}]{'*' if s.p_value < 0.05 else ''}"
        rows.append(row)
    if args.format == "json":
        print_json({"tasks": [t.summary() for t in selected], "rows": rows})
        return 0
    print_table(rows, ["method", "borda_rank", "mean", "mean_by_type", *[t.name for t in selected]],
                title="valuebench: Spearman rho [95% CI over values], * = permutation p < 0.05")
    ceilings = ", ".join(f"{t.name}={fmt(t.ceiling, 2)}" for t in selected)
    print(f"noise ceilings: {ceilings}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("compare", help="evaluate several methods on all tasks, one table")
    p.add_argument("--methods", help="comma-separated method names (default: all registered)")
    p.add_argument("--no-llm", action="store_true", help="skip methods that need a language model")
    p.add_argument("--tasks", help="comma-separated task names (default: all registered)")
    p.add_argument("--output-dir", help="also write results JSON files under this folder")
    p.add_argument("--permutations", type=int, default=1000, help="permutation-test draws (1-20,000)")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples over values (1-20,000)")
    add_format_option(p)
    p.set_defaults(func=_compare)
