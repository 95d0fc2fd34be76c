"""CLI sub-commands; each module registers its own parsers (see ``valuebench.cli``).

``COMMANDS`` names every top-level command, the module that registers it and its one-line help, so
``valuebench --help`` lists them all and ``valuebench CMD ...`` imports only CMD's module (the heavy libraries
load only for the command that needs them). ``tests/test_cli.py`` checks the table against what each module
registers.
"""

#: command -> (module under valuebench.commands, help line), in the order ``--help`` lists them
COMMANDS: dict[str, tuple[str, str]] = {
    "benchmarks": ("catalog", "list named benchmarks (versioned task lists) or show one"),
    "tasks": ("catalog", "list registered tasks"),
    "task": ("catalog", "inspect one task"),
    "value-sets": ("catalog", "list value sets and their values"),
    "methods": ("catalog", "list available methods"),
    "evaluate": ("run", "score a method on tasks"),
    "compare": ("compare", "evaluate several methods on all tasks, one table"),
    "represent": ("run", "write a method's value vectors to a safetensors file"),
    "rescore": ("run", "recompute a results file's score from its stored similarity matrix"),
    "results": ("results", "read results files written by evaluate/compare --output-dir"),
    "map": ("analysis", "2-D MDS value map of a method's vectors or a task's ground truth"),
    "silhouette": ("analysis", "silhouette of a method's vectors against a value-set label, with nulls"),
    "agreement": ("analysis", "Spearman agreement between every pair of tasks' ground truths"),
    "report": ("analysis", "static self-contained HTML report of tasks, maps and silhouettes"),
    "submit": ("submit", "validate and write a submission folder (optionally open a Hub PR)"),
    "submissions": ("submit", "validate submission folders"),
    "leaderboard": ("leaderboard", "build the leaderboard data the Gradio app serves"),
    "groundtruth": ("groundtruth", "measure a ground-truth matrix and write it as a task"),
    "scenarios": ("scenarios", "check or generate value-conflict scenarios"),
    "hub": ("hub", "push task folders to / pull them from the Hugging Face Hub"),
}


def split_list(raw: str | None) -> list[str] | None:
    """A comma-separated flag value as a list (blanks dropped); None when the flag was not given."""
    return [x.strip() for x in raw.split(",") if x.strip()] if raw else None


def add_task_options(p, *, what: str = "tasks") -> None:
    """``--benchmark NAME`` or ``--tasks NAME[,NAME]`` (one of them; neither = the default benchmark)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--benchmark", metavar="NAME",
                   help="a named benchmark (`valuebench benchmarks` lists them; default: the default benchmark, "
                        "the tasks that pass the validity gate)")
    g.add_argument("--tasks", help=f"comma-separated task names instead of a benchmark ({what}; `all` = every "
                                   "current task)")


def select_tasks(args) -> tuple[list, dict | None]:
    """The tasks ``--benchmark``/``--tasks`` name, and the benchmark's summary (None for a hand-picked list).
    A task outside the default benchmark gets one warning line on stderr."""
    import sys

    from valuebench import benchmarks
    from valuebench.errors import UserError

    names = split_list(getattr(args, "tasks", None))
    bench = None
    if names is None or names == [benchmarks.ALL]:
        bench = benchmarks.get_benchmark(getattr(args, "benchmark", None) or
                                         (benchmarks.ALL if names else benchmarks.DEFAULT))
        selected = bench.tasks
    else:
        selected = benchmarks.get_tasks(names)
    if not selected:
        raise UserError(f"benchmark {bench.name} has no tasks" + (
            " (none passes the validity gate; `valuebench tasks` lists them and why); name tasks with "
            "--tasks NAME[,NAME], --tasks all or --benchmark all" if bench.name == benchmarks.DEFAULT else ""))
    if bench is None or bench.name != benchmarks.DEFAULT:
        for line in benchmarks.outside_default(selected):
            print(line, file=sys.stderr)
    return selected, (bench.summary() if bench is not None else None)
