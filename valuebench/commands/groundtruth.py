"""``valuebench groundtruth steering|dpo|sft|judges|separation|all``: run a pipeline and publish its task folder."""

from __future__ import annotations

import re
from pathlib import Path

from valuebench.commands import split_list
from valuebench.errors import UserError
from valuebench.groundtruth.registry import kinds


def _check(args) -> None:
    if args.dpo_learning_rate is not None and not 0 < args.dpo_learning_rate < 1:
        raise UserError(f"--dpo-learning-rate must be in (0, 1), got {args.dpo_learning_rate}")
    if args.ray_address and args.executor != "ray":
        raise UserError("--ray-address applies to --executor ray")
    if args.unit_threads is not None and args.unit_threads < 1:
        raise UserError(f"--unit-threads must be at least 1, got {args.unit_threads}")
    if args.max_retries < 0:
        raise UserError(f"--max-retries must be at least 0, got {args.max_retries}")
    if args.unit_gpus is not None and not 0 <= args.unit_gpus <= 64:
        raise UserError(f"--unit-gpus must be between 0 and 64, got {args.unit_gpus}")
    if args.unit_gpus is not None and args.executor != "ray":
        raise UserError("--unit-gpus applies to --executor ray")
    if args.task_version is not None and not re.fullmatch(r"\d+\.\d+\.\d+", args.task_version):
        raise UserError(f"--task-version must look like MAJOR.MINOR.PATCH (e.g. 2.0.0), got {args.task_version!r}")


def _spec(args, kind: str, value_set: str, **overrides):
    from valuebench.groundtruth.pipelines import RunSpec

    settings = {"n_phrasings": args.phrasings} if args.phrasings else {}
    if args.placement:
        settings["placement"] = args.placement
    dpo = {k: v for k, v in (("learning_rate", args.dpo_learning_rate), ("epochs", args.dpo_epochs),
                             ("replicates", args.dpo_replicates), ("measure", args.dpo_measure),
                             ("gate_z", args.dpo_gate_z), ("eval_per_value", args.dpo_eval_per_value))
           if v is not None}
    if dpo:
        settings["dpo"] = dpo
    if args.task_version:
        settings["task_version"] = args.task_version
    if args.choice:
        settings["choice"] = args.choice  # a pipeline that cannot use it refuses it (pipelines.load_data)
    settings.update(overrides)
    return RunSpec(kind=kind, value_set=value_set, model=args.model, seed=args.seed, output=Path(args.output),
                   work_dir=Path(args.work_dir) if args.work_dir else None, batch_size=args.batch_size,
                   values=split_list(args.values),
                   max_holdout=args.max_holdout, max_train=args.max_train, **settings)


def _run_all(args) -> int:
    """Re-measure the default benchmark: every packaged task card that passes the validity gate, by the
    command recorded in its provenance (what ships is what the cards say, nothing else)."""
    import shlex

    from valuebench.cli import main
    from valuebench.paths import tasks_dir
    from valuebench.tasks import discover

    if args.work_dir:
        raise UserError("--work-dir applies to one pipeline; `all` keeps one work folder per task")
    shipped = sorted((t for t in discover().values() if t.folder.parent == tasks_dir() and t.in_default_benchmark),
                     key=lambda t: t.name)
    if not shipped:
        print("no task is in the default benchmark (none passes the validity gate): nothing to re-measure")
        return 0
    for task in shipped:
        argv = shlex.split(task.metadata.provenance.command or "")
        if argv[:2] != ["valuebench", "groundtruth"]:
            raise UserError(f"task {task.name} records no `valuebench groundtruth` command to re-run")
        print(f"{task.name}: {shlex.join(argv)}", flush=True)
        code = main([*argv[1:], "--output", args.output, *_executor_argv(args)])
        if code:
            return code
    return 0


def _executor_argv(args) -> list[str]:
    """The executor flags of ``args``, passed on to each command `all` runs."""
    out = ["--executor", args.executor, "--max-retries", str(args.max_retries)]
    out += ["--ray-address", args.ray_address] if args.ray_address else []
    out += ["--unit-threads", str(args.unit_threads)] if args.unit_threads else []
    return out + (["--unit-gpus", str(args.unit_gpus)] if args.unit_gpus is not None else [])


def _executor(args):
    """The executor ``--executor`` names."""
    if args.executor == "ray":
        from valuebench.groundtruth.ray_executor import RayExecutor

        return RayExecutor(address=args.ray_address, threads=args.unit_threads or 1, gpus=args.unit_gpus,
                           max_retries=args.max_retries)
    from valuebench.groundtruth.executors import LocalExecutor

    return LocalExecutor(threads=args.unit_threads)


def _run(args) -> int:
    from valuebench.groundtruth.pipelines import run

    _check(args)
    if args.kind == "all":
        return _run_all(args)
    if not args.value_set:
        raise UserError(f"groundtruth {args.kind} needs --value-set")
    from valuebench.groundtruth.steering import PHRASINGS

    if args.phrasings is not None and not 1 <= args.phrasings <= len(PHRASINGS):
        raise UserError(f"--phrasings must be between 1 and {len(PHRASINGS)}")
    print(f"wrote {run(_spec(args, args.kind, args.value_set), executor=_executor(args))}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("groundtruth", help="measure a ground-truth matrix and write it as a task")
    p.add_argument("kind", choices=[*kinds(), "all"])
    p.add_argument("--value-set")
    p.add_argument("--model", default="embedded:SmolLM2-135M-Instruct",
                   help="model path or id; tiny-random = a tiny random Llama for smoke runs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default="tasks", help="folder the task folder is written into")
    p.add_argument("--work-dir", help="resumable work folder (default: <output>/.work/<task>)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--values", help="only these value ids (smoke runs)")
    p.add_argument("--max-holdout", type=int, help="at most this many holdout scenarios per value (smoke runs)")
    p.add_argument("--phrasings", type=int, help="steering: system-prompt phrasings per value (default 2; "
                                                "ccai-21 ships with 1)")
    p.add_argument("--placement", choices=["system", "user"],
                   help="steering: put the steering text in the system prompt (default) or the user turn")
    p.add_argument("--max-train", type=int, help="at most this many train scenarios per value (smoke runs)")
    p.add_argument("--dpo-learning-rate", type=float, help="dpo, sft: learning rate (default: DPOSettings)")
    p.add_argument("--dpo-epochs", type=int, help="dpo, sft: training epochs (default: DPOSettings)")
    p.add_argument("--dpo-replicates", type=int,
                   help="dpo, sft: replicates = disjoint folds of every value's scenarios (default 3)")
    p.add_argument("--dpo-measure", choices=["margin", "sigmoid", "rate_logit"],
                   help="dpo, sft: the published measure (default margin: mean change of the follow-minus-violate "
                        "margin); the others are written as companions")
    p.add_argument("--dpo-eval-per-value", type=int,
                   help="dpo, sft: scenarios of each other value scored per unit (default: its whole fold); "
                        "a compute budget")
    p.add_argument("--dpo-gate-z", type=float, help="dpo, sft: a row is kept only if the trained value's own shift is "
                                                    "this many standard errors above 0 (default 2; 0 turns the "
                                                    "gate off, for smoke runs)")
    p.add_argument("--choice", choices=["logprob", "mcq"],
                   help="steering, dpo, sft: logprob = mean token log-prob of the upholding minus the violating reply "
                        "(default); mcq = both replies as (A)/(B) in random order, log p(letter) difference "
                        "(ConflictScope's MCQ mode, for models that follow the format)")
    p.add_argument("--task-version", help="version written into the task card (default 1.0.0); bump it when a new "
                                          "recipe replaces a shipped matrix")
    e = p.add_argument_group("execution (where the work units run; the bytes written do not depend on it)")
    e.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: every unit in this process (default); ray: every unfinished unit as a Ray task, "
                        "results written here (pip install 'valuebench[ray]')")
    e.add_argument("--ray-address", help="ray: a running cluster ('auto', or HOST:PORT of its head); default: "
                                         "start a local one on this machine's cores")
    e.add_argument("--unit-threads", type=int, help="torch threads per unit (default: local all cores, ray 1 = the "
                                                    "CPUs a unit reserves); the last digits of a margin depend on "
                                                    "it, so compare runs with the same value")
    e.add_argument("--unit-gpus", type=float, help="ray: GPUs a unit reserves (default: 1 when the cluster has "
                                                   "GPUs, else 0)")
    e.add_argument("--max-retries", type=int, default=2, help="ray: re-runs of a unit whose worker died before "
                                                              "the run stops and names it (default 2)")
    p.set_defaults(func=_run)
