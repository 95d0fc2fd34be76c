"""Listing commands: ``benchmarks``, ``value-sets``, ``tasks``, ``task show``, ``methods``.

Library imports happen inside the command functions, so ``--help`` stays fast.
"""

from __future__ import annotations

from valuebench.display import add_format_option, fmt, print_json, print_table


def _benchmarks(args) -> int:
    from valuebench import benchmarks

    if args.name:
        from valuebench.validity import benchmark_null

        bench = benchmarks.get_benchmark(args.name)
        null = benchmark_null(bench.tasks)
        if args.format == "json":
            print_json({**bench.summary(), **null, "task_summaries": [t.summary() for t in bench.tasks]})
            return 0
        rows = [{"task": t.name, "version": t.metadata.version, "type": t.metadata.type,
                 "value_set": t.metadata.value_set, "bound": t.bound, "gate": t.summary()["gate"]}
                for t in bench.tasks]
        print_table(rows, ["task", "version", "type", "value_set", "bound", "gate"],
                    title=f"benchmark {bench.name} v{bench.version}: {bench.description}")
        if null["random_null_p95"] is not None:
            print(f"{null['n_pairs']} scored pairs; random vectors' mean ρ over these tasks exceeds "
                  f"{fmt(null['random_null_p95'])} in 5% of {null['random_null_draws']:,} draws (one draw per value "
                  "set)")
        print(f"evaluate on it: valuebench evaluate --method NAME --benchmark {bench.name}")
        return 0
    found = benchmarks.list_benchmarks()
    if args.format == "json":
        print_json([b.summary() for b in found])
        return 0
    rows = [{"name": b.name, "version": b.version, "n_tasks": len(b.tasks), "types": ", ".join(b.summary()["types"]),
             "description": b.description} for b in found]
    print_table(rows, ["name", "version", "n_tasks", "types", "description"],
                title="benchmarks (version = task count . hash of task versions; `valuebench benchmarks NAME` "
                      "lists one's tasks)")
    return 0


def _value_sets(args) -> int:
    from valuebench import values

    sets = [values.load_value_set(n) for n in values.list_value_sets()]
    if args.format == "json":
        print_json([{"name": s.name, "description": s.description, "labels": s.labels,
                     "values": [v.model_dump() for v in s.values]} for s in sets])
        return 0
    for s in sets:
        rows = [{"id": v.id, **v.labels, "statement": v.statement} for v in s.values]
        print_table(rows, ["id", *s.labels, "statement"], title=f"{s.name} ({len(s)} values)")
    return 0


def _tasks(args) -> int:
    from valuebench import tasks

    rows = [t.summary() for t in tasks.discover().values() if t.metadata.superseded_by is None]
    if args.format == "json":
        print_json(rows)
    else:
        table = [{**r, "independent": (r["ceilings"] or {}).get("independent", {}).get("value"),
                  "bound": (r["ceilings"] or {}).get("bound")} for r in rows]
        print_table(table, ["name", "type", "value_set", "n_values", "ceiling", "independent", "bound", "gate",
                            "default"],
                    title="tasks (default = in the default benchmark: passes the validity gate, "
                          "`valuebench task gate NAME` says why)")
    return 0


def _gate_target(name: str):
    """A task folder (path) or a registered name, loaded *without* the ceilings check (that is what the gate
    recomputes); its data files are still sha256-verified."""
    from pathlib import Path

    from valuebench import tasks
    from valuebench.errors import UserError

    path = Path(name)
    if (path / "README.md").is_file():
        task = tasks.load_task_card(path / "README.md", check_folder_name=False)
    else:
        found = tasks.discover()
        if name in found:
            task = found[name]
        elif "@" in name or "/" in name:
            raise UserError(f"{name}: the gate rewrites cards of local task folders only; pull it and pass its "
                            "folder, or name a packaged task")
        else:
            broken = tasks.BROKEN.get(name)
            if broken:
                raise UserError(f"task {name}: card does not load ({broken})")
            from valuebench.errors import did_you_mean

            raise did_you_mean("task", name, list(found))
    task.verify_files()
    return task


def _task_gate(args) -> int:
    from pathlib import Path

    from valuebench.groundtruth.publish import rewrite_card

    task = _gate_target(args.name)
    work = Path(args.work_dir) if args.work_dir else task.folder.parent / ".work" / task.folder.name
    work = work if work.is_dir() else None
    if args.work_dir and work is None:
        from valuebench.errors import UserError

        raise UserError(f"--work-dir {args.work_dir} is not a folder")
    verdict, text = rewrite_card(task, work_dir=work, write=args.write)
    current = (task.folder / "README.md").read_text(encoding="utf-8")
    up_to_date = args.write or current == text
    c, v = verdict.ceilings, verdict.validity
    if args.format == "json":
        print_json({"name": task.name, "folder": str(task.folder), "verdict": v.verdict, "default": v.default,
                    "reasons": v.reasons, "ceilings": c.model_dump(mode="json"),
                    "validity": v.model_dump(mode="json"), "work_dir": str(work) if work else None,
                    "card_up_to_date": up_to_date, "written": bool(args.write)})
    else:
        rows = [{"check": f"{v.ceiling_used or 'independent'} ceiling >= {v.min_ceiling}",
                 "value": v.ceiling_value, "passes": v.ceiling_value is not None and v.ceiling_value >= v.min_ceiling}]
        rows += [{"check": f"{b.method}: p >= 0.05 and rho < bound/2", "value": b.spearman, "p": b.p_value,
                  "passes": b.passed} for b in v.baselines]
        print_table(rows, ["check", "value", "p", "passes"],
                    title=f"{task.name}: gate {v.verdict.upper()} (default: {v.default}); bound {c.bound}, "
                          f"split-half {c.split_half.value}, independent {c.independent.value}")
        for reason in v.reasons:
            print(f"- {reason}")
        if args.write:
            print(f"wrote {task.folder / 'README.md'}")
        elif not up_to_date:
            print(f"the card is not up to date with this verdict; "
                  f"`valuebench task gate {args.name} --write` rewrites it")
    return 0 if up_to_date else 1


def _task_show(args) -> int:
    import numpy as np

    from valuebench import benchmarks

    task = benchmarks.get_task(args.name)
    matrix = task.matrix
    payload = task.metadata.model_dump(mode="json")
    payload["value_ids"] = task.value_set.ids
    payload["matrix"] = [[None if np.isnan(x) else float(x) for x in row] for row in matrix]
    if args.format == "json":
        print_json(payload)
        return 0
    print(f"# {task.name} (v{task.metadata.version}, {task.metadata.type})\n")
    print(task.metadata.description.strip(), "\n")
    ids = task.value_set.ids
    rows = [{"value": vid, **{ids[j]: matrix[i, j] for j in range(len(ids))}} for i, vid in enumerate(ids)]
    print_matrix(rows, ["value", *ids], title=f"ground truth M[i, j] ({_axes(task.metadata.type)})")
    print(f"noise ceiling (split-half): {task.ceiling} ({task.metadata.noise_ceiling.method})")
    c, v = task.metadata.ceilings, task.metadata.validity
    if c is not None:
        print(f"independent: {c.independent.value if c.independent.value is not None else c.independent.reason}; "
              f"reliability {c.reliability}, bound {c.bound} (normalized = rho / bound), symmetric bound "
              f"{c.symmetric_bound.value}, main effects R² {c.main_effects_r2}, antisymmetric share "
              f"{c.antisymmetric_share}")
    print(f"validity gate: {v.verdict if v else 'not gated'}; default benchmark: {task.in_default_benchmark}")
    for reason in (v.reasons if v else []):
        print(f"- {reason}")
    return 0


def _axes(task_type: str) -> str:
    from valuebench.analysis.labels import axes

    return axes(task_type)


def print_matrix(rows: list[dict], columns: list[str], title: str) -> None:
    """A labelled matrix with the full value ids as headers, broken into lines after each '_' or '-' (never
    mid-word), so a column is as wide as its longest id part."""
    import re

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))
    table.add_column(columns[0], no_wrap=True)
    widths = [max(len(r[columns[0]]) for r in rows)]
    for col in columns[1:]:
        parts = re.findall(r"[^_-]+[_-]?|[_-]", col)
        width = max(5, *(len(p) for p in parts))
        widths.append(width)
        table.add_column("\n".join(parts), justify="right", no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(str(row[columns[0]]), *(fmt(row.get(c), 2) for c in columns[1:]))
    Console(width=max(100, sum(widths) + 3 * len(widths) + 1)).print(table)


def _methods(args) -> int:
    from valuebench import methods

    rows = methods.describe_all()
    if args.format == "json":
        print_json([{k: r[k] for k in ("name", "description", "needs_llm", "options")} for r in rows])
    else:
        print_table([{**r, "options": ", ".join(r["options"])} for r in rows],
                    ["name", "needs_llm", "options", "description"], title="methods")
    return 0


def register(sub) -> None:
    p = sub.add_parser("benchmarks", help="list named benchmarks (versioned task lists) or show one")
    p.add_argument("name", nargs="?", help="a benchmark to show with its tasks and their versions")
    add_format_option(p)
    p.set_defaults(func=_benchmarks)
    p = sub.add_parser("value-sets", help="list value sets and their values")
    add_format_option(p)
    p.set_defaults(func=_value_sets)
    p = sub.add_parser("tasks", help="list registered tasks")
    add_format_option(p)
    p.set_defaults(func=_tasks)
    p = sub.add_parser("task", help="inspect one task")
    tsub = p.add_subparsers(dest="task_command", metavar="ACTION", parser_class=p.__class__)
    show = tsub.add_parser("show", help="metadata and ground-truth matrix of a task")
    show.add_argument("name", help="a task name (`valuebench tasks`) or a Hub reference ORG/NAME@REVISION")
    add_format_option(show)
    show.set_defaults(func=_task_show)
    gate = tsub.add_parser("gate", help="recompute a task's ceilings and validity verdict; --write rewrites its card")
    gate.add_argument("name", help="a packaged task name or a task folder")
    gate.add_argument("--write", action="store_true", help="rewrite the card's front matter and Validity section")
    gate.add_argument("--work-dir", help="work-unit folder to recompute the independent ceiling from "
                                         "(default: tasks/.work/NAME when it exists)")
    add_format_option(gate)
    gate.set_defaults(func=_task_gate)
    p = sub.add_parser("methods", help="list available methods")
    add_format_option(p)
    p.set_defaults(func=_methods)
