"""Hugging Face Hub commands: ``hub push-task`` (publish a task folder) and ``hub pull`` (fetch one)."""

from __future__ import annotations

from valuebench.display import add_format_option, print_json


def _push_task(args) -> int:
    from valuebench.hub import push_task

    sha = push_task(args.name, args.repo, private=args.private)
    if args.format == "json":
        print_json({"task": args.name, "repo": args.repo, "commit": sha, "reference": f"{args.repo}@{sha}"})
        return 0
    print(f"pushed task {args.name} to https://huggingface.co/datasets/{args.repo}")
    print(f"commit: {sha}")
    print(f"pin it as: {args.repo}@{sha}")
    return 0


def _pull(args) -> int:
    from valuebench.hub import resolve

    task = resolve(args.reference)
    if args.format == "json":
        print_json({"reference": args.reference, "folder": str(task.folder), "name": task.name,
                    "version": task.metadata.version, "source": task.source})
        return 0
    print(task.folder)
    return 0


def register(sub) -> None:
    p = sub.add_parser("hub", help="push task folders to / pull them from the Hugging Face Hub")
    hsub = p.add_subparsers(dest="hub_command", metavar="ACTION", parser_class=p.__class__)
    push = hsub.add_parser("push-task", help="upload a verified task folder as a dataset repo; prints the commit")
    push.add_argument("name", help="task name (or ORG/NAME@REVISION reference)")
    push.add_argument("--repo", required=True, help="dataset repo ORG/NAME (created if missing)")
    push.add_argument("--private", action="store_true", help="create the repo as private")
    add_format_option(push)
    push.set_defaults(func=_push_task)
    pull = hsub.add_parser("pull", help="resolve ORG/NAME@REVISION into the HF cache, verify it, print its folder")
    pull.add_argument("reference", help="ORG/NAME@COMMIT_SHA (cached copies may use any revision)")
    add_format_option(pull)
    pull.set_defaults(func=_pull)
