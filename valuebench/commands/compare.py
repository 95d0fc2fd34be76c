"""``valuebench compare``: several methods on a benchmark, one leaderboard-style table.

This is what ``make demo`` runs. It never starts a long computation unasked: each method's vectors come from
the representation cache (a previous run) or from its baseline submission (``submissions/<name>/``, written by
``valuebench submit``); a method with neither is listed as skipped, with the command that computes it, unless
``--compute`` is given (then what will be computed is printed first). The published leaderboard is built from
submissions by ``valuebench leaderboard build``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from valuebench.commands import add_task_options, select_tasks, split_list
from valuebench.display import Steps, add_format_option, fmt, print_json, print_table
from valuebench.errors import UserError
from valuebench.paths import REPO_ROOT

#: what --compute says about LLM methods before it starts (measured, see perf/measured/)
LLM_COST = "LLM methods take minutes per value set on a CPU (persona-vector on ccai-21: 542 s on 2 cores)"


def submissions_root() -> Path:
    """``./submissions`` when the current folder has one, else the package checkout's."""
    here = Path.cwd() / "submissions"
    return here if here.is_dir() else REPO_ROOT / "submissions"


def baseline_folder(name: str, root: Path, value_sets: set[str]) -> Path | None:
    """The baseline submission of method ``name`` (meta ``method: name``, ``baseline: true``) covering every
    value set in ``value_sets``, if there is one."""
    from valuebench.leaderboard.submissions import discover, read_meta, split_filename

    for folder in discover(root):
        try:
            meta = read_meta(folder / "meta.yaml")
            covered = {split_filename(f.name)[0] for f in folder.iterdir() if f.name != "meta.yaml"}
        except UserError:
            continue
        if meta.method == name and meta.baseline and value_sets <= covered:
            return folder
    return None


def _sources(names: list[str], tasks: list, compute: bool, root: Path) -> tuple[dict, list[dict]]:
    """method -> (Method to evaluate, where its vectors come from), and the skipped methods with the reason."""
    from valuebench import methods
    from valuebench.methods.cache import cache_path

    value_sets = {t.metadata.value_set: t.value_set for t in tasks}
    chosen, skipped = {}, []
    for name in names:
        method = methods.get_method(name)
        cached = not method.cacheable or all(cache_path(method, vs).is_file() for vs in value_sets.values())
        folder = baseline_folder(name, root, set(value_sets))
        if method.cacheable and cached:
            chosen[name] = (method, "cache")
        elif not method.cacheable:
            chosen[name] = (method, "computed (fast)")
        elif folder is not None:
            chosen[name] = (methods.get_method(f"vectors:{folder}"), f"submitted ({folder.name}/)")
        elif compute:
            chosen[name] = (method, "computed now")
        else:
            skipped.append({"method": name, "reason": "no cached or submitted vectors",
                            "compute": f"valuebench compare --methods {name} --compute  (maintainers: `valuebench "
                                       f"submit --method {name} --name {name} --baseline` submits them once)"})
    return chosen, skipped


def _announce(chosen: dict, tasks: list) -> None:
    todo = [n for n, (_, src) in chosen.items() if src == "computed now"]
    if not todo:
        return
    sets = sorted({f"{t.metadata.value_set} ({len(t.value_set)} values)" for t in tasks})
    print(f"computing {', '.join(todo)} on {', '.join(sets)}: {LLM_COST}; the vectors are cached, so a rerun "
          "is a file read", file=sys.stderr)


def _compare(args) -> int:
    import pandas as pd

    from valuebench import methods
    from valuebench.evaluate import evaluate, n_steps
    from valuebench.scoring import aggregate

    names = split_list(args.methods) or \
        [r["name"] for r in methods.describe_all() if not (args.no_llm and r["needs_llm"])]
    selected, bench = select_tasks(args)
    chosen, skipped = _sources(names, selected, args.compute, submissions_root())
    if not chosen:
        raise UserError("no method has cached or submitted vectors; add --compute to compute them")
    _announce(chosen, selected)
    per_task, cells = {}, {}
    with Steps(len(chosen) * n_steps(selected), f"compare ({len(chosen)} methods)") as steps:
        for name, (method, _) in chosen.items():
            steps.what = f"{name} ({list(chosen).index(name) + 1} of {len(chosen)})"
            scores = evaluate(method, selected, output_dir=Path(args.output_dir) if args.output_dir else None,
                              n_permutations=args.permutations, n_bootstrap=args.bootstrap, steps=steps)
            per_task[name] = {s.task.name: s.score.spearman for s in scores}
            cells[name] = {s.task.name: s for s in scores}
    table = pd.DataFrame(per_task).T[[t.name for t in selected]]
    agg = aggregate(table, {t.name: t.metadata.type for t in selected}).sort_values("borda_rank")
    rows = []
    for name in agg.index:
        row = {"method": name, "vectors": chosen[name][1], "borda_rank": int(agg.loc[name, "borda_rank"]),
               "mean": agg.loc[name, "mean"], "mean_by_type": agg.loc[name, "mean_by_type"]}
        evidence = {}  # json: the evidence behind each rho, as `evaluate --format json` gives it
        for t in selected:
            s = cells[name][t.name].score
            row[t.name] = s.spearman if args.format == "json" else \
                f"{fmt(s.spearman, 2)} [{fmt(s.ci[0], 2)},{fmt(s.ci[1], 2)}]{'*' if s.p_value < 0.05 else ''}"
            evidence[t.name] = {"spearman": s.spearman, "ci": list(s.ci), "p_value": s.p_value}
        if args.format == "json":
            row["evidence"] = evidence
        rows.append(row)
    if args.format == "json":
        print_json({"benchmark": bench, "tasks": [t.summary() for t in selected], "rows": rows, "skipped": skipped})
        return 0
    means = ["mean"] if len(selected) == 1 else ["mean", "mean_by_type"]
    where = f"benchmark {bench['name']} v{bench['version']}" if bench else f"{len(selected)} named task(s)"
    print_table(rows, ["method", "vectors", "borda_rank", *means, *[t.name for t in selected]],
                title=f"valuebench on {where}: Spearman rho [95% CI over values], * = permutation p < 0.05")
    print("bounds (rho / bound = normalized): " + ", ".join(f"{t.name}={fmt(t.bound, 2)}" for t in selected))
    for name, (_, source) in chosen.items():
        if source.startswith("submitted"):
            print(f"{name}: scored from its submitted vectors ({source[11:-1]}); recompute them with "
                  f"`valuebench compare --methods {name} --compute` ({LLM_COST})")
    for s in skipped:
        print(f"skipped {s['method']}: {s['reason']}; compute with: {s['compute']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("compare", help="evaluate several methods on all tasks, one table")
    p.add_argument("--methods", help="comma-separated method names (default: every registered method)")
    p.add_argument("--no-llm", action="store_true", help="leave out methods that need a language model")
    p.add_argument("--compute", action="store_true",
                   help="compute methods that have no cached or submitted vectors (default: skip them and say how; "
                        "LLM methods take minutes on a CPU)")
    add_task_options(p)
    p.add_argument("--output-dir", help="also write results JSON files under this folder (default: none)")
    p.add_argument("--permutations", type=int, default=1000, help="permutation-test draws (1-20,000; default 1000)")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="ignored: the CI is the deterministic value jackknife (kept for old scripts)")
    add_format_option(p)
    p.set_defaults(func=_compare)
