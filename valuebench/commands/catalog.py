"""Listing commands: ``value-sets``, ``tasks``, ``task show``, ``methods``."""

from __future__ import annotations

import numpy as np

from valuebench import methods, tasks, values
from valuebench.display import add_format_option, print_json, print_table


def _value_sets(args) -> int:
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
    rows = [t.summary() for t in tasks.discover().values() if t.metadata.superseded_by is None]
    if args.format == "json":
        print_json(rows)
    else:
        print_table(rows, ["name", "type", "value_set", "n_values", "model", "ceiling", "default"],
                    title=f"tasks (default = in the default benchmark: ceiling >= {tasks.MIN_CEILING} or none)")
    return 0


def _task_show(args) -> int:
    task = tasks.get_task(args.name)
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
    rows = [{"value": vid, **{str(j): matrix[i, j] for j in range(len(ids))}} for i, vid in enumerate(ids)]
    print_table(rows, ["value", *(str(j) for j in range(len(ids)))], title="ground truth M[i, j] (columns in row order)")
    print(f"noise ceiling: {task.ceiling} ({task.metadata.noise_ceiling.method})")
    return 0


def _methods(args) -> int:
    rows = methods.describe_all()
    if args.format == "json":
        print_json([{k: r[k] for k in ("name", "description", "needs_llm", "options")} for r in rows])
    else:
        print_table([{**r, "options": ", ".join(r["options"])} for r in rows],
                    ["name", "needs_llm", "options", "description"], title="methods")
    return 0


def register(sub) -> None:
    p = sub.add_parser("value-sets", help="list value sets and their values")
    add_format_option(p)
    p.set_defaults(func=_value_sets)
    p = sub.add_parser("tasks", help="list registered tasks")
    add_format_option(p)
    p.set_defaults(func=_tasks)
    p = sub.add_parser("task", help="inspect one task")
    tsub = p.add_subparsers(dest="task_command", metavar="ACTION", parser_class=p.__class__)
    show = tsub.add_parser("show", help="metadata and ground-truth matrix of a task")
    show.add_argument("name")
    add_format_option(show)
    show.set_defaults(func=_task_show)
    p = sub.add_parser("methods", help="list available methods")
    add_format_option(p)
    p.set_defaults(func=_methods)
