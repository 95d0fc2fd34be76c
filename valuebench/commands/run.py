"""Running methods: ``represent`` (vectors to a file) and ``evaluate`` (scores on tasks).

Imports of the library happen inside the command functions, so ``valuebench evaluate --help`` is fast.
"""

from __future__ import annotations

from pathlib import Path

from valuebench.commands import add_task_options, select_tasks
from valuebench.display import Steps, add_format_option, fmt, print_json, print_table
from valuebench.errors import UserError


def add_method_options(p, *, required: bool = True) -> None:
    p.add_argument("--method", required=required,
                   help="method name (`valuebench methods` lists them), or vectors:<path> for a vectors file")
    p.add_argument("--model", help="model path or Hugging Face id for methods that use one (default: the "
                                   "method's own, SmolLM2-135M-Instruct for the activation methods)")
    p.add_argument("--seed", type=int, help="seed for methods that sample (default: the method's own)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="any other method option (repeatable), e.g. --option batch_size=8; checked against the "
                        "method's options (`valuebench methods` lists them)")
    p.add_argument("--no-cache", action="store_true", help="recompute cached representations (default: reuse)")


def method_from_args(args):
    from valuebench import methods
    from valuebench.io import safe_load_yaml

    options = {}
    if args.model is not None:
        options["model"] = args.model
    if args.seed is not None:
        options["seed"] = args.seed
    for item in args.option:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UserError(f"--option must look like KEY=VALUE, got {item!r}")
        options[key.strip()] = safe_load_yaml(raw, f"--option {key}")
    return methods.get_method(args.method, **options)


def _represent(args) -> int:
    from valuebench.methods.cache import represent_cached
    from valuebench.values import load_value_set
    from valuebench.vectors import WRITERS, validate

    out = Path(args.output)
    if out.suffix not in WRITERS:
        raise UserError(f"--output must end in {' or '.join(WRITERS)}, got {out.name}")
    method = method_from_args(args)
    value_set = load_value_set(args.value_set)
    with Steps(1, method.name) as steps:
        steps.step(f"represent {value_set.name} ({len(value_set)} values)")
        rep = validate(represent_cached(method, value_set, use_cache=not args.no_cache), value_set.ids,
                       f"method {method.name}")
        steps.done()
    WRITERS[out.suffix](out, type(rep)(value_set.ids, rep.aligned(value_set.ids),
                                       {"method": method.name, "config": method.config(),
                                        "value_set": value_set.name}))
    payload = {"output": str(out), "method": method.name, "value_set": value_set.name, "n_values": len(value_set),
               "dims": int(rep.vectors.shape[1]), "cached": bool(rep.metadata.get("cached", False))}
    if args.format == "json":
        print_json(payload)
    else:
        print(f"wrote {out} ({len(value_set)} values x {rep.vectors.shape[1]} dims)")
    return 0


def _evaluate(args) -> int:
    from valuebench.evaluate import evaluate, n_steps, summary

    method = method_from_args(args)
    selected, bench = select_tasks(args)
    with Steps(n_steps(selected), method.name) as steps:
        scores = evaluate(method, selected, output_dir=Path(args.output_dir) if args.output_dir else None,
                          n_permutations=args.permutations, n_bootstrap=args.bootstrap, seed=args.score_seed,
                          use_cache=not args.no_cache, steps=steps)
    payload = summary(args.method, scores, bench)
    if args.format == "json":
        print_json(payload)
        return 0
    rows = [{**r, "ci": f"[{fmt(r['ci'][0], 2)}, {fmt(r['ci'][1], 2)}]"} for r in payload["tasks"]]
    where = f"benchmark {bench['name']} v{bench['version']}" if bench else f"{len(rows)} named task(s)"
    print_table(rows, ["task", "type", "spearman", "ci", "p_value", "kendall", "n_pairs", "bound", "normalized",
                       "default"],
                title=f"{args.method} on {where}: mean rho {fmt(payload['mean'])} (normalized = rho / bound; "
                      "default = passes the validity gate)")
    return 0


def _rescore(args) -> int:
    from valuebench.evaluate import rescore_result

    result, again, task = rescore_result(Path(args.file))
    stored = result.scores
    keys = ("spearman", "kendall", "p_value", "ci", "normalized")
    same = {}
    for k in keys:
        a, b = stored.get(k), getattr(again, k)
        a, b = (list(a) if isinstance(a, (list, tuple)) else [a]), (list(b) if isinstance(b, (list, tuple)) else [b])
        same[k] = len(a) == len(b) and all((x is None and y is None) or (x is not None and y is not None and
                                            abs(float(x) - float(y)) <= 1e-12) for x, y in zip(a, b))
    if args.format == "json":
        print_json({"file": args.file, "task": task.name, "stored": {k: stored.get(k) for k in keys},
                    "recomputed": {k: getattr(again, k) for k in keys}, "identical": all(same.values())})
    else:
        rows = [{"score": k, "stored": str(stored.get(k)), "recomputed": str(getattr(again, k)), "identical": same[k]}
                for k in keys]
        print_table(rows, ["score", "stored", "recomputed", "identical"],
                    title=f"{result.method.name} on {task.name}: recomputed from {args.file}")
    return 0 if all(same.values()) else 1


def register(sub) -> None:
    p = sub.add_parser("represent", help="write a method's value vectors to a safetensors file")
    add_method_options(p)
    p.add_argument("--value-set", required=True, help="value set to represent (`valuebench value-sets`)")
    p.add_argument("--output", required=True, help="output path, .safetensors or .npz (both are read back by "
                                                    "evaluate --method vectors:PATH and submit --vectors)")
    add_format_option(p)
    p.set_defaults(func=_represent)

    p = sub.add_parser("evaluate", help="score a method on tasks")
    add_method_options(p)
    add_task_options(p)
    p.add_argument("--output-dir", help="write one results JSON per task under this folder (default: none)")
    p.add_argument("--permutations", type=int, default=1000, help="permutation-test draws (1-20,000; default 1000)")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="ignored: the CI is the deterministic value jackknife (kept for old scripts)")
    p.add_argument("--score-seed", type=int, default=0, help="seed of the permutation test (default 0)")
    add_format_option(p)
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("rescore", help="recompute a results file's score from its stored similarity matrix")
    p.add_argument("file", help="a results JSON written by `evaluate --output-dir`")
    add_format_option(p)
    p.set_defaults(func=_rescore)
