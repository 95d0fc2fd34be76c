"""``valuebench results show PATH``: read results files back (the one reader of the schema ``results.py`` writes)."""

from __future__ import annotations

from pathlib import Path

from valuebench.display import add_format_option, print_json, print_table


def _show(args) -> int:
    from valuebench.results import read_results, summary_row

    found = read_results(Path(args.path))
    if args.format == "json":
        print_json([r.model_dump(mode="json", exclude={"similarity"}) | {"summary": summary_row(r)} for r in found])
        return 0
    cols = ["task", "method", "config_hash", "spearman", "ci_low", "ci_high", "p_value", "normalized", "n_pairs"]
    print_table([summary_row(r) for r in found], cols, title=f"results in {args.path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("results", help="read results files written by evaluate/compare --output-dir")
    inner = p.add_subparsers(dest="action", required=True)
    show = inner.add_parser("show", help="one row per results file: task, method, rho [CI], p, normalized")
    show.add_argument("path", help="a results file or a results folder (results/<method>/<hash>/<task>.json)")
    add_format_option(show)
    show.set_defaults(func=_show)
