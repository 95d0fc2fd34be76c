"""Running methods: ``represent`` (vectors to a file) and ``evaluate`` (scores on tasks)."""

from __future__ import annotations

from pathlib import Path

from valuebench import methods, tasks
from valuebench.display import add_format_option, fmt, print_json, print_table
from valuebench.errors import UserError
from valuebench.evaluate import evaluate, summary
from valuebench.io import safe_load_yaml
from valuebench.methods.cache import represent_cached
from valuebench.values import load_value_set
from valuebench.vectors import validate, write_safetensors


def add_method_options(p) -> None:
    p.add_argument("--method", required=True, help="method name, or vectors:<path> for a vectors file")
    p.add_argument("--model", help="model path or Hugging Face id for methods that use one")
    p.add_argument("--seed", type=int, help="seed for methods that sample")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="any other method option (repeatable), e.g. --option batch_size=8")
    p.add_argument("--no-cache", action="store_true", help="recompute cached representations")


def method_from_args(args):
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
    method = method_from_args(args)
    value_set = load_value_set(args.value_set)
    out = Path(args.output)
    if out.suffix != ".safetensors":
        raise UserError(f"--output must end in .safetensors, got {out.name}")
    rep = validate(represent_cached(method, value_set, use_cache=not args.no_cache), value_set.ids,
                   f"method {method.name}")
    write_safetensors(out, type(rep)(value_set.ids, rep.aligned(value_set.ids),
                                     {"method": method.name, "config": method.config(),
                                      "value_set": value_set.name}))
    print(f"wrote {out} ({len(value_set)} values x {rep.vectors.shape[1]} dims)")
    return 0


def _evaluate(args) -> int:
    method = method_from_args(args)
    names = [n.strip() for n in args.tasks.split(",") if n.strip()] if args.tasks else None
    selected = tasks.get_tasks(names)
    if not selected:
        raise UserError("no tasks registered; see `valuebench tasks`")
    scores = evaluate(method, selected, output_dir=Path(args.output_dir) if args.output_dir else None,
                      n_permutations=args.permutations, n_bootstrap=args.bootstrap, seed=args.score_seed,
                      use_cache=not args.no_cache)
    payload = summary(args.method, scores)
    if args.format == "json":
        print_json(payload)
        return 0
    rows = [{**r, "ci": f"[{fmt(r['ci'][0], 2)}, {fmt(r['ci'][1], 2)}]"} for r in payload["tasks"]]
    print_table(rows, ["task", "type", "spearman", "ci", "p_value", "kendall", "n_pairs", "ceiling", "normalized"],
                title=f"{args.method}: mean rho {fmt(payload['mean'])}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("represent", help="write a method's value vectors to a safetensors file")
    add_method_options(p)
    p.add_argument("--value-set", required=True)
    p.add_argument("--output", required=True, help="output .safetensors path")
    p.set_defaults(func=_represent)

    p = sub.add_parser("evaluate", help="score a method on tasks")
    add_method_options(p)
    p.add_argument("--tasks", help="comma-separated task names (default: all registered)")
    p.add_argument("--output-dir", help="write one results JSON per task under this folder")
    p.add_argument("--permutations", type=int, default=1000)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--score-seed", type=int, default=0, help="seed of the permutation test and bootstrap")
    add_format_option(p)
    p.set_defaults(func=_evaluate)
