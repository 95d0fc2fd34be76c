"""``valuebench submit`` (write a submission folder, optionally open a Hub PR) and ``submissions check``.

A submission is the user's: its authors come from ``--author`` or git's ``user.name``, and it is never a
baseline (``--baseline`` is the maintainers' flag for the board's reference rows). Every argument is checked
before any vector is computed or any file written. Both commands default to ``./submissions``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from valuebench.commands.run import method_from_args
from valuebench.display import add_format_option, print_json, print_table
from valuebench.errors import UserError

DEFAULT_ROOT = "submissions"


def _leak_rule():
    """Every task's name, and the scenario splits the default benchmark's tasks hold out (``LeakRule``)."""
    from valuebench import tasks
    from valuebench.leaderboard.submissions import LeakRule

    try:
        return LeakRule.for_tasks(list(tasks.discover().values()))
    except UserError:
        return None


def _published_tasks() -> list:
    from valuebench import tasks

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


def _meta_overrides(args, authors: list[str]) -> dict:
    return {"description": args.description, "authors": authors, "subject_models": args.subject_model,
            "code": args.code, "license": args.license, "derived_from": args.derived_from}


def _check_first(args) -> list[str]:
    """Everything that can be checked before any work: push target, name, destination, authors, inputs."""
    from valuebench.leaderboard.submissions import check_name
    from valuebench.leaderboard.submit import submit_authors

    if args.push and not args.repo:
        raise UserError("--push needs --repo ORG/SPACE")
    if args.repo and args.repo.count("/") != 1:
        raise UserError(f"--repo must look like ORG/NAME, got {args.repo!r}")
    check_name(args.name)
    dest = Path(args.output_dir) / args.name
    if dest.exists() and not args.force:
        raise UserError(f"submission {dest} already exists; pass --force to replace it")
    if args.method and args.vectors:
        raise UserError("give either --method or --vectors, not both")
    if not args.method and not args.vectors:
        raise UserError("give --method NAME or --vectors FILE --value-set SET")
    if args.vectors:
        if len(args.vectors) != len(args.value_set or []):
            raise UserError("give one --value-set per --vectors file, in the same order")
        missing = [k for k in ("description", "license", "derived_from") if not getattr(args, k)]
        if missing:
            raise UserError("submitting vectors needs " + ", ".join(f"--{k.replace('_', '-')}" for k in missing))
    if args.value_set:
        from valuebench.values import load_value_set

        for name in args.value_set:
            load_value_set(name)
    return submit_authors(args.author, args.baseline)


def _files_and_meta(args, authors: list[str]) -> tuple[dict, dict]:
    from valuebench.leaderboard.submit import method_meta, read_vector_files, represent_value_sets
    from valuebench.values import list_value_sets

    if args.method:
        method = method_from_args(args)
        value_sets = args.value_set or list_value_sets()
        meta = method_meta(method, args.name, baseline=args.baseline, **_meta_overrides(args, authors))
        return represent_value_sets(method, value_sets), meta
    files = read_vector_files([(Path(p), s) for p, s in zip(args.vectors, args.value_set)])
    meta = {"name": args.name, "method": args.method_name or args.name, "description": args.description,
            "authors": authors, "subject_models": args.subject_model or [], "code": args.code,
            "license": args.license, "date": dt.date.today().isoformat(),
            "derived_from": args.derived_from, "baseline": args.baseline}
    return files, meta


def _submit(args) -> int:
    from valuebench.leaderboard.submit import push_submission, write_submission

    authors = _check_first(args)
    files, meta = _files_and_meta(args, authors)
    sub = write_submission(Path(args.output_dir), meta, files, force=args.force, rule=_leak_rule())
    flags = _ceiling_flags(sub)
    pr = push_submission(sub.folder, args.repo) if args.push else None
    if args.format == "json":
        print_json({"folder": str(sub.folder), "name": sub.name, "method": sub.meta.method,
                    "authors": sub.meta.authors, "baseline": sub.meta.baseline, "value_sets": sub.kinds,
                    "leakage": sub.leakage, "ceiling_flag": flags, "pull_request": pr})
        return 0
    print(f"wrote {sub.folder} ({', '.join(f'{k}: {v}' for k, v in sub.kinds.items())}; "
          f"authors: {', '.join(sub.meta.authors)})")
    if sub.leakage:
        print(f"warning: flagged for possible leakage: {sub.leakage}")
    if flags:
        print(f"warning: {flags}")
    if pr:
        print(f"opened pull request: {pr}")
    return 0


def _check(args) -> int:
    from valuebench.leaderboard.submissions import check_all

    root = Path(args.submissions)
    if not root.is_dir():
        raise UserError(f"submissions folder not found: {root} (give --submissions PATH)")
    results = check_all(root, _leak_rule())
    rows = [{"name": name, "valid": err is None, "value_sets": ", ".join(sub.similarities) if sub else "",
             "leakage": (sub.leakage or "") if sub else "", "ceiling_flag": _ceiling_flags(sub) if sub else "",
             "error": err or ""} for name, sub, err in results]
    if args.format == "json":
        print_json({"root": str(root), "submissions": rows, "n_invalid": sum(not r["valid"] for r in rows)})
    else:
        print_table(rows, ["name", "valid", "value_sets", "leakage", "ceiling_flag", "error"],
                    title=f"submissions in {root}")
    return 1 if any(not r["valid"] for r in rows) else 0


def add_submissions_option(p) -> None:
    p.add_argument("--submissions", "--root", dest="submissions", default=DEFAULT_ROOT,
                   help=f"submissions folder (default: ./{DEFAULT_ROOT}; --root is the old name)")


def register(sub) -> None:
    p = sub.add_parser("submit", help="validate and write a submission folder (optionally open a Hub PR)")
    p.add_argument("--method", help="a registered method to represent every value set with")
    p.add_argument("--model", help="model path or Hugging Face id for methods that use one (default: the method's)")
    p.add_argument("--seed", type=int, help="seed for methods that sample (default: the method's)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="other method options, checked against the method's (repeatable)")
    p.add_argument("--vectors", action="append", metavar="FILE",
                   help="vectors (.safetensors/.npz/.json/.csv) or <set>.similarity.csv; repeat per value set")
    p.add_argument("--value-set", action="append", metavar="SET",
                   help="value set of each --vectors file (with --method: the value sets to represent; default all)")
    p.add_argument("--name", required=True, help="submission folder name (letters, digits, - _ .)")
    p.add_argument("--method-name", help="method name shown on the board (default: --name)")
    p.add_argument("--description", help="what the vectors are (default with --method: the method's description)")
    p.add_argument("--author", action="append", help="an author (repeatable; default: git config user.name)")
    p.add_argument("--subject-model", action="append", help="model(s) the representation was taken from")
    p.add_argument("--code", help="link to the code that produced the vectors")
    p.add_argument("--license", help="license of the vectors (default with --method: Apache-2.0)")
    p.add_argument("--derived-from", action="append",
                   help="data the method saw, e.g. 'value statements' or 'tasks/scenarios/ccai-21 train split'")
    p.add_argument("--baseline", action="store_true",
                   help="maintainers only: mark the entry as one of the board's reference baselines "
                        "(authors default to the valuebench maintainers)")
    p.add_argument("--output-dir", default=DEFAULT_ROOT, help=f"submissions folder (default ./{DEFAULT_ROOT})")
    p.add_argument("--force", action="store_true", help="replace an existing submission of the same name")
    p.add_argument("--push", action="store_true", help="open a pull request on the Hub (needs --repo)")
    p.add_argument("--repo", help="ORG/SPACE to open the pull request on")
    add_format_option(p)
    p.set_defaults(func=_submit)

    p = sub.add_parser("submissions", help="validate submission folders")
    ssub = p.add_subparsers(dest="submissions_command", metavar="ACTION", parser_class=p.__class__)
    c = ssub.add_parser("check", help="validate every submission; exit 1 if any is invalid")
    add_submissions_option(c)
    add_format_option(c)
    c.set_defaults(func=_check)
