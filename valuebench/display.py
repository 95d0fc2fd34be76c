"""Human tables and machine JSON for the CLI (``--format table|json``)."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def add_format_option(parser) -> None:
    parser.add_argument("--format", choices=["table", "json"], default="table",
                        help="human-readable table (default) or JSON for scripts")


def _clean(obj: Any) -> Any:
    """JSON has no NaN: missing numbers become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


def print_json(obj: Any) -> None:
    json.dump(_clean(obj), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(rows: list[dict], columns: list[str], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*(fmt(row.get(c)) for c in columns))
    Console(width=max(100, min(200, 20 * len(columns)))).print(table)
