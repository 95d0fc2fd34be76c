"""Run every benchmark module (or those named on the command line) and report one table."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import pkgutil
import platform
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import perf  # noqa: E402
from valuebench.display import print_table  # noqa: E402
from valuebench.io import atomic_write_json  # noqa: E402


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(perf.__path__) if m.name.startswith("bench_"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    rows = []
    for name in names:
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"perf.{name}")
        for row in module.run():
            row = {"benchmark": name, **row}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print_table(rows, ["benchmark", "name", "value", "unit", "reference", "ratio", "target", "passed"],
                title="valuebench performance (make bench)")
    out = Path(__file__).parent / "out" / "latest.json"
    atomic_write_json(out, {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                            "machine": f"{platform.machine()} {os.cpu_count()} cores", "rows": rows})
    failed = [r for r in rows if r.get("passed") is False]
    for r in failed:
        print(f"FAILED target: {r['benchmark']}::{r['name']} ({r.get('target')})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
