"""Pilot: in-context demonstrations of upholding value i as steering (issue 13 item 5).

Each condition puts N_DEMOS of value i's train scenarios, with their upholding replies, before a holdout scenario;
the control puts N_DEMOS scenarios of other values there. Usage from the repo root:
`.venv/bin/python docs/pilots/steering_demonstrations.py constraints-9 N_DEMOS TORCH_THREADS N_HOLDOUT`
(the card's numbers: `constraints-9 2 1 12`).
"""

import sys
import time

import numpy as np
import torch

from valuebench.lm import load_lm, response_logprobs
from valuebench.scenarios import load_scenarios
from valuebench.values import load_value_set

PILOT = ["no_lie_to_hide", "no_stereotypes", "no_exploit_psych"]


def demos(scenarios) -> list[dict]:
    turns = []
    for s in scenarios:
        turns += [{"role": "user", "content": s.user_prompt}, {"role": "assistant", "content": s.response_follow}]
    return turns


def main(vs_name: str, k: int, threads: int, n_holdout: int) -> None:
    torch.set_num_threads(threads)
    vs = load_value_set(vs_name)
    rows = load_scenarios(vs)
    train = {v: [s for s in rows if s.value_id == v and s.split == "train"] for v in vs.ids}
    hold = [s for v in PILOT for s in [x for x in rows if x.value_id == v and x.split == "holdout"][:n_holdout]]
    others = [v for v in vs.ids if v not in PILOT]
    conditions = {v: demos(train[v][:k]) for v in PILOT} | {"control": demos([train[o][0] for o in others[:k]])}
    lm, margins, start = load_lm(), {}, time.time()
    for name, turns in conditions.items():
        convs = [turns + s.messages(None) for s in hold]
        lp = response_logprobs(lm, convs + convs, [s.response_follow for s in hold]
                               + [s.response_violate for s in hold], batch_size=8)
        margins[name] = lp[: len(hold)] - lp[len(hold):]
        print(name, f"{time.time() - start:.0f}s", flush=True)
    value_of = np.array([s.value_id for s in hold])
    print("rows: demonstrated value; columns: measured value; mean margin shift vs the control (z)")
    for i in PILOT:
        cells = [(margins[i] - margins["control"])[value_of == j] for j in PILOT]
        print(f"{i:18s}", " ".join(f"{d.mean():+.3f}({d.mean() / (d.std(ddof=1) / np.sqrt(len(d))):+.1f})"
                                   for d in cells))
    print("value-specific own shift: own demonstrations minus the mean of the other pilot values' demonstrations")
    for j in PILOT:
        m = value_of == j
        d = margins[j][m] - np.mean([margins[i][m] for i in PILOT if i != j], 0)
        print(j, f"{d.mean():+.3f} z {d.mean() / (d.std(ddof=1) / np.sqrt(len(d))):+.1f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
