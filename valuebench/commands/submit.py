"""``valuebench submit`` (write a submission folder, optionally open a Hub PR) and ``submissions check``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from valuebench import tasks
from valuebench.commands.run import method_from_args
from valuebench.display import add_format_option, print_json, print_table
from valuebench.errors import UserError
from valuebench.leaderboard.submissions import check_all
from valuebench.leaderboard.submit import (
    method_meta,
    push_submission,
    read_vector_files,
    represent_value_sets,
    write_submission,
)
from valuebench.values import list_value_sets

DEFAULT_ROOT = "submissions"


def _task_names() -> list[str]:
    try:
        return list(tasks.discover())
    except UserError:
        return []


def _published_tasks() -> list:
    try:
        return [t for t in tasks.discover().values() if t.metadata.superseded_by is None]
    except UserError:
        return []


def _ceiling_flags(sub) -> str:
    """Scores above a published task's noise bound (``leaderboard.integrity``): the build will flag these too."""
    from valuebench.leaderboard.integrity import score_flags

    try:
        return "; ".join(score_flags(sub.similarities, _published_tasks()))
    except UserError as exc:  # a task whose data cannot be read: reported, not fatal here
        return f"(not checked: {exc})"


def _meta_overrides(args) -> dict:
    return {"description": args.description, "authors": args.author, "subject_models": args.subject_model,
            "code": args.code, "license": args.license, "derived_from": args.derived_from}


def _files_and_meta(args) -> tuple[dict, dict]:
    if args.method and args.vectors:
        raise UserError("give either --method or --vectors, not both")
    if args.method:
        method = method_from_args(args)
        value_sets = args.value_set or list_value_sets()
        return represent_value_sets(method, value_sets), method_meta(method, args.name, **_meta_overrides(args))
    if not args.vectors:
        raise UserError("give --method NAME or --vectors FILE --value-set SET")
    if len(args.vectors) != len(args.value_set or []):
        raise UserError("give one --value-set per --vectors file, in the same order")
    missing = [k for k in ("description", "author", "license", "derived_from") if not getattr(args, k)]
    if missing:
        raise UserError("submitting vectors needs " + ", ".join(f"--{k.replace('_', '-')}" for k in missing))
    files = read_vector_files([(Path(p), s) for p, s in zip(args.vectors, args.value_set)])
    meta = {"name": args.name, "method": args.method_name or args.name, "description": args.description,
            "authors": args.author, "subject_models": args.subject_model or [], "code": args.code,
            "license": args.license, "date": dt.date.today().isoformat(),
            "derived_from": args.derived_from, "baseline": False}
    return files, meta


def _submit(args) -> int:
    files, meta = _files_and_meta(args)
    sub = write_submission(Path(args.output_dir), meta, files, force=args.force, task_names=_task_names())
    print(f"wrote {sub.folder} ({', '.join(f'{k}: {v}' for k, v in sub.kinds.items())})")
    if sub.leakage:
        print(f"warning: flagged for possible leakage: {sub.leakage}")
    flags = _ceiling_flags(sub)
    if flags:
        print(f"warning: {flags}")
    if args.push:
        if not args.repo:
            raise UserError("--push needs --repo ORG/SPACE")
        print(f"opened pull request: {push_submission(sub.folder, args.repo)}")
    return 0


def _check(args) -> int:
    results = check_all(Path(args.root), _task_names())
    rows = [{"name": name, "valid": err is None, "value_sets": ", ".join(sub.similarities) if sub else "",
             "leakage": (sub.leakage or "") if sub else "", "ceiling_flag": _ceiling_flags(sub) if sub else "",
             "error": err or ""} for name, sub, err in results]
    if args.format == "json":
        print_json({"root": args.root, "submissions": rows, "n_invalid": sum(not r["valid"] for r in rows)})
    else:
        print_table(rows, ["name", "valid", "value_sets", "leakage", "ceiling_flag", "error"],
                    title=f"submissions in {args.root}")
    return 1 if any(not r["valid"] for r in rows) else 0


def register(sub) -> None:
    p = sub.add_parser("submit", help="validate and write a submission folder (optionally open a Hub PR)")
    p.add_argument("--method", help="a registered method to represent every value set with")
    p.add_argument("--model", help="model path or Hugging Face id for methods that use one")
    p.add_argument("--seed", type=int, help="seed for methods that sample")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="other method options")
    p.add_argument("--vectors", action="append", metavar="FILE",
                   help="vectors (.safetensors/.npz/.json/.csv) or <set>.similarity.csv; repeat per value set")
    p.add_argument("--value-set", action="append", metavar="SET", help="value set of each --vectors file")
    p.add_argument("--name", required=True, help="submission folder name (letters, digits, - _ .)")
    p.add_argument("--method-name", help="method name shown on the board (default: --name)")
    p.add_argument("--description")
    p.add_argument("--author", action="append", help="repeatable")
    p.add_argument("--subject-model", action="append", help="model(s) the representation was taken from")
    p.add_argument("--code", help="link to the code that produced the vectors")
    p.add_argument("--license")
    p.add_argument("--derived-from", action="append",
                   help="data the method saw, e.g. 'value statements' or 'tasks/scenarios/ccai-21 train split'")
    p.add_argument("--output-dir", default=DEFAULT_ROOT, help=f"submissions folder (default {DEFAULT_ROOT})")
    p.add_argument("--force", action="store_true", help="replace an existing submission of the same name")
    p.add_argument("--push", action="store_true", help="open a pull request on the Hub (needs --repo)")
    p.add_argument("--repo", help="ORG/SPACE to open the pull request on")
    p.set_defaults(func=_submit)

    p = sub.add_parser("submissions", help="validate submission folders")
    ssub = p.add_subparsers(dest="submissions_command", metavar="ACTION", parser_class=p.__class__)
    c = ssub.add_parser("check", help="validate every submission; exit 1 if any is invalid")
    c.add_argument("--root", default=DEFAULT_ROOT)
    add_format_option(c)
    c.set_defaults(func=_check)

