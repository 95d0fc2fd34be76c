"""``valuebench leaderboard build``: recompute every score from submissions into ``leaderboard/data/``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from valuebench.display import add_format_option, print_json, print_table
from valuebench.paths import REPO_ROOT


def _build(args) -> int:
    from valuebench.board_build import build

    out = Path(args.output)
    out_dir = out.parent if out.suffix == ".parquet" else out
    report = build(Path(args.submissions), out_dir, figures=not args.no_figures,
                   n_permutations=args.permutations, n_bootstrap=args.bootstrap, seed=args.seed)
    if out.suffix == ".parquet" and out.name != "leaderboard.parquet":
        (out_dir / "leaderboard.parquet").replace(out)
    table = pd.read_parquet(out if out.suffix == ".parquet" else out_dir / "leaderboard.parquet")
    valid = table[table["status"] == "valid"]
    if args.format == "json":
        print_json({**report, "rows": valid.to_dict(orient="records")})
        return 0
    cols = ["rank", "submission", "mean", "mean_by_type", "borda_rank", "tied_with_leader", "leakage"]
    print_table(valid[cols].to_dict(orient="records"), cols,
                title=f"leaderboard: {report['n_valid']}/{report['n_submissions']} valid submissions, "
                      f"{len(report['tasks'])} tasks ({report['seconds']['total']} s)")
    for bad in report["invalid"]:
        print(f"invalid: {bad['submission']}: {bad['error']}")
    print(f"wrote {out_dir}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("leaderboard", help="build the leaderboard data the Gradio app serves")
    lsub = p.add_subparsers(dest="leaderboard_command", metavar="ACTION", parser_class=p.__class__)
    b = lsub.add_parser("build", help="recompute all scores from submissions/ and write leaderboard/data/")
    b.add_argument("--submissions", default=str(REPO_ROOT / "submissions"), help="submissions folder")
    b.add_argument("--output", default=str(REPO_ROOT / "leaderboard" / "data" / "leaderboard.parquet"),
                   help="output parquet path (figures, cards and the bootstrap file go next to it)")
    b.add_argument("--no-figures", action="store_true", help="skip heatmaps and MDS maps (faster)")
    b.add_argument("--permutations", type=int, default=1000)
    b.add_argument("--bootstrap", type=int, default=1000)
    b.add_argument("--seed", type=int, default=0, help="seed of the permutation test and bootstrap")
    add_format_option(b)
    b.set_defaults(func=_build)
