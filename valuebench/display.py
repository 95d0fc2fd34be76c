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


def _header(name: str, limit: int = 18) -> tuple[str, int]:
    """A long column name broken into lines after '-' or '_' (never mid-word), and its widest line."""
    import re

    if len(name) <= limit:
        return name, len(name)
    parts, lines = re.findall(r"[^_-]+[_-]?|[_-]", name), [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > limit:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines), max(len(x) for x in lines)


def print_table(rows: list[dict], columns: list[str], title: str | None = None) -> None:
    """A rich table; identifiers (cells without spaces, like task names) are never broken mid-word."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title) if title else None, show_lines=False)
    width = 0
    for col in columns:
        cells = [fmt(row.get(col)) for row in rows]
        ident = bool(cells) and all(" " not in c for c in cells)
        header, head_w = _header(col)
        col_w = max([head_w, *(len(c) for c in cells)])
        table.add_column(escape(header), overflow="fold", no_wrap=ident, min_width=col_w if ident else head_w)
        width += (col_w if ident else min(col_w, 40)) + 3
    for row in rows:
        table.add_row(*(escape(fmt(row.get(c))) for c in columns))
    Console(width=max(100, width + 1)).print(table)


class Steps:
    """Progress of ``total`` named steps on stderr: a bar with the current step ('tfidf: represent ccai-21'),
    'k of n', elapsed and remaining time. Silent when stderr is not a terminal (logs, tests, pipes)."""

    def __init__(self, total: int, what: str):
        self.total, self.what, self._bar, self._task = total, what, None, None

    def __enter__(self) -> "Steps":
        if sys.stderr.isatty() and self.total > 0:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total)
        return self

    def restart(self, total: int, what: str) -> None:
        """Count a new phase of ``total`` steps under a new name."""
        self.total, self.what = total, what
        if self._bar is not None:
            self._bar.reset(self._task, total=total, description=what)

    def step(self, label: str) -> None:
        """Announce the step about to run (the bar counts the ones finished)."""
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self.what}: {label}")

    def done(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
