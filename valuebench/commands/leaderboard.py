"""``valuebench leaderboard build``: recompute every score from submissions into ``leaderboard/data/``."""

from __future__ import annotations

from pathlib import Path

from valuebench.commands.submit import add_submissions_option
from valuebench.display import Steps, add_format_option, print_json, print_table


def _build(args) -> int:
    import pandas as pd

    from valuebench.leaderboard.build import build
    from valuebench.leaderboard.integrity import private_task_dirs

    out = Path(args.output)
    out_dir = out.parent if out.suffix == ".parquet" else out
    parquet = out.name if out.suffix == ".parquet" else "leaderboard.parquet"
    private = private_task_dirs(args.private_tasks) if args.private_tasks is not None else None
    with Steps(1, "leaderboard build: validate and score") as steps:
        report = build(Path(args.submissions), out_dir, figures=not args.no_figures,
                       n_permutations=args.permutations, n_bootstrap=args.bootstrap, seed=args.seed,
                       private_tasks=private, parquet_name=parquet, progress=steps)
    table = pd.read_parquet(out_dir / parquet)
    valid = table[table["status"] == "valid"]
    if args.format == "json":
        print_json({**report, "rows": valid.to_dict(orient="records")})
        return 0
    cols = ["rank", "submission", "mean", "mean_by_type", "borda_rank", "tied_with_leader", "leakage", "ceiling_flag"]
    if report["n_private_tasks"]:
        cols.insert(3, "private_mean")
    print_table(valid[cols].to_dict(orient="records"), cols,
                title=f"leaderboard: {report['n_valid']}/{report['n_submissions']} valid submissions, "
                      f"{len(report['tasks'])} tasks ({report['seconds']['total']} s)")
    for bad in report["invalid"]:
        print(f"invalid: {bad['submission']}: {bad['error']}")
    if report["n_flagged"]:
        one = report['n_flagged'] == 1
        print(f"{report['n_flagged']} entr{'y exceeds' if one else 'ies exceed'} a task's noise ceiling "
              "(likely fitted to the published ground truth): shown without a rank")
    print(f"wrote {out_dir}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("leaderboard", help="build the leaderboard data the Gradio app serves")
    lsub = p.add_subparsers(dest="leaderboard_command", metavar="ACTION", parser_class=p.__class__)
    b = lsub.add_parser("build", help="recompute all scores from submissions/ and write leaderboard/data/")
    add_submissions_option(b)
    b.add_argument("--output", default="leaderboard/data/leaderboard.parquet",
                   help="output parquet path (default: ./leaderboard/data/leaderboard.parquet; figures, cards and "
                        "the bootstrap file go next to it; the whole folder is replaced atomically, so it must hold "
                        "nothing but a previous build)")
    b.add_argument("--no-figures", action="store_true", help="skip heatmaps and MDS maps (faster)")
    b.add_argument("--permutations", type=int, default=1000, help="permutation-test draws (1-20,000)")
    b.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples over values (1-20,000)")
    b.add_argument("--seed", type=int, default=0, help="seed of the permutation test and bootstrap (>= 0)")
    b.add_argument("--private-tasks", metavar="DIRS",
                   help="folders of private held-out task folders (os.pathsep-separated; default: "
                        "VALUEBENCH_PRIVATE_TASKS): scored into private_mean, never written to the output")
    add_format_option(b)
    b.set_defaults(func=_build)
