"""``valuebench scenarios check|generate``: quality checks on the shipped data, and more data from an LLM."""

from __future__ import annotations

from valuebench.display import add_format_option, print_json, print_table


def _check(args) -> int:
    from valuebench.scenarios.quality import check_all

    names = [args.value_set] if args.value_set else None
    report = check_all(names)
    if args.format == "json":
        print_json(report.to_dict())
    else:
        rows = [{"value_set": vs, "value_id": vid, **c, **report.balance.get(vs, {}).get(vid, {})}
                for vs, per in report.counts.items() for vid, c in per.items()]
        print_table(rows, ["value_set", "value_id", "train", "holdout", "follow_longer", "best_cue", "cue_train",
                           "cue_holdout"],
                    title="scenarios per value and split; surface balance (follow_longer: share of pairs whose "
                          "follow reply has more words; best_cue: the surface cue chosen on train, with its "
                          "train and holdout accuracy at picking the follow reply)")
        print("data version: " + ", ".join(f"{vs} v{v}" for vs, v in report.versions.items()))
        for p in report.problems:
            print(f"problem: {p}")
        print(f"{len(report.problems)} problem(s)")
    return 1 if report.problems else 0


def _generate(args) -> int:
    from valuebench.scenarios.generate import run_generator

    return run_generator(args)


def register(sub) -> None:
    p = sub.add_parser("scenarios", help="check or generate value-conflict scenarios")
    ssub = p.add_subparsers(dest="scenarios_command", metavar="ACTION", parser_class=p.__class__)
    c = ssub.add_parser("check", help="schema, coverage, near-duplicates, length balance, surface-cue balance, leakage")
    c.add_argument("--value-set", help="only this value set (default: every value set with scenarios)")
    add_format_option(c)
    c.set_defaults(func=_check)
    g = ssub.add_parser("generate", help="ConflictScope-style generation: outline, instantiate, filter, dedup")
    g.add_argument("--value-set", required=True, help="value set to write scenarios for (`valuebench value-sets`)")
    g.add_argument("--model", default="embedded:SmolLM2-135M-Instruct", help="generator/judge model path or id")
    g.add_argument("--n", type=int, required=True, help="scenarios to keep per value")
    g.add_argument("--output", required=True, help="output folder (one <value_id>.jsonl per value, appended)")
    g.add_argument("--values", help="comma-separated value ids (default: all values of the set)")
    g.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    g.add_argument("--max-attempts", type=int, default=4, help="generation attempts per kept scenario, at most")
    g.add_argument("--batch-size", type=int, default=8, help="prompts per generation batch (default 8)")
    g.add_argument("--max-new-tokens", type=int, default=200, help="longest generated scenario (default 200)")
    g.add_argument("--split", choices=["train", "holdout"], default="train",
                   help="which split the scenarios are written to (default train)")
    add_format_option(g)
    g.set_defaults(func=_generate)
