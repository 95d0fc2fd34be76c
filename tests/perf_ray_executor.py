"""Measure the Ray executor against the local one on a grid of identical tiny-model units (not a test).

    python tests/perf_ray_executor.py [--units 24] [--scenarios 24]
    python tests/perf_ray_executor.py --project     # README table: each task grid's wall time on 1/8/64 workers

Each unit scores the same holdout scenarios of constraints-9 under the neutral steering prompt on tiny-random
with one torch thread. Local: in this process. Ray: a local cluster of 1, then 2, one-CPU workers; each grid is
run twice on the same cluster, the first pass with cold workers (interpreter, torch and model start), the second
warm. Scheduling overhead per unit = (wall x workers - summed unit compute) / units. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import heapq
import json
import tempfile
import time
from pathlib import Path

from valuebench.groundtruth.executors import LocalExecutor
from valuebench.groundtruth.protocol import Plan
from valuebench.groundtruth.steering import NEUTRAL, Steering
from valuebench.groundtruth.workdir import Workdir
from valuebench.scenarios import load_scenarios
from valuebench.values import load_value_set


def grid(n_units: int, n_scenarios: int) -> Plan:
    vs = load_value_set("constraints-9")
    holdout = [s for v in vs.ids for s in load_scenarios(vs, v, split="holdout")][:n_scenarios]
    shared = {"holdout": holdout, "placement": "system", "choice": "logprob", "seed": 0, "batch_size": 8}
    return Plan(shared, {f"u{k:03d}": {"condition": "neutral", "prompts": [NEUTRAL]} for k in range(n_units)})


def timed(executor, plan: Plan) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Workdir(Path(tmp), {"perf": True})
        start = time.perf_counter()
        executor.run(Steering(), plan, work, "tiny-random")
        wall = time.perf_counter() - start
        compute = work.compute_seconds()[0]
    return {"wall_s": round(wall, 2), "unit_compute_s": round(compute, 2)}


def makespan(costs: list[float], workers: int) -> float:
    """Wall time of independent units on ``workers`` workers, longest first onto the least loaded (what a
    scheduler handing each free worker the next unit gets within 4/3 of the optimum)."""
    loads = [0.0] * workers
    for cost in sorted(costs, reverse=True):
        heapq.heapreplace(loads, loads[0] + cost)
    return max(loads)


def project(work_root: Path = Path("tasks/.work")) -> str:
    """A markdown table: per task, its units, their summed and largest measured cost (``_elapsed_s``) and the
    projected wall time of its grid on 1, 8 and 64 workers. A grid with units still to run (DPO ccai-21) counts
    each missing training unit at the mean of its measured ones."""
    from valuebench.groundtruth.dpo import DPOSettings

    rows = ["| task | units | summed unit time | largest unit | 1 worker | 8 workers | 64 workers |",
            "|---|---|---|---|---|---|---|"]
    for folder in sorted(p for p in work_root.iterdir() if p.is_dir()):
        units = {f.stem: json.loads(f.read_text()) for f in folder.glob("*.json") if f.name != "config.json"}
        costs = [u["_elapsed_s"] for u in units.values() if "_elapsed_s" in u]
        note = ""
        if folder.name.startswith("dpo-"):
            config = json.loads((folder / "config.json").read_text())
            n_values = len(load_value_set(config["value_set"]))
            planned = 1 + n_values * DPOSettings(**config.get("dpo", {})).replicates
            trained = [u["_elapsed_s"] for name, u in units.items() if name.startswith("dpo-r")]
            if planned > len(units):
                note = f" ({len(units)} measured)"
                costs += [sum(trained) / len(trained)] * (planned - len(units))
        hours = [makespan(costs, w) / 3600 for w in (1, 8, 64)]
        rows.append(f"| `{folder.name}` | {len(costs)}{note} | {sum(costs) / 3600:.2f} h | {max(costs) / 60:.0f} min | "
                    + " | ".join(f"{h:.2f} h" for h in hours) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=24)
    ap.add_argument("--scenarios", type=int, default=24)
    ap.add_argument("--project", action="store_true")
    args = ap.parse_args()
    if args.project:
        print(project())
        return
    import ray

    from valuebench.groundtruth.ray_executor import RayExecutor

    plan = grid(args.units, args.scenarios)
    out = {"units": args.units, "scenarios_per_unit": args.scenarios}
    timed(LocalExecutor(threads=1), Plan(plan.shared, dict(list(plan.units.items())[:2])))  # load the model once
    out["local"] = timed(LocalExecutor(threads=1), plan)
    for workers in (1, 2):
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        try:
            for phase in ("cold", "warm"):
                r = timed(RayExecutor(threads=1), plan)
                r["overhead_s_per_unit"] = round((r["wall_s"] * workers - r["unit_compute_s"]) / args.units, 3)
                r["speedup_vs_local"] = round(out["local"]["wall_s"] / r["wall_s"], 2)
                out[f"ray_{workers}_{phase}"] = r
        finally:
            ray.shutdown()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
