"""The library's import graph: no cycles, and no module imports from a layer above its own.

Read from the source with ``ast`` (imports inside functions count; ``if TYPE_CHECKING:`` blocks do not, they
never run). A lazy import inside a function hides a cycle from Python, not from this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "valuebench"

#: lowest first; a module may import from its own layer and the ones before it. The longest prefix decides.
LAYERS = [
    ("foundation", ["valuebench", "valuebench.errors", "valuebench.paths", "valuebench.io", "valuebench.display",
                    "valuebench.value_ci", "valuebench.scoring"]),
    ("data", ["valuebench.values", "valuebench.vectors", "valuebench.scenarios", "valuebench.ceilings",
              "valuebench.tasks", "valuebench.results"]),
    ("models and representations", ["valuebench.lm", "valuebench.methods", "valuebench.hub",
                                    "valuebench.benchmarks"]),
    ("measurement", ["valuebench.groundtruth", "valuebench.scenarios.generate", "valuebench.scenarios.quality",
                     "valuebench.validity", "valuebench.workunits", "valuebench.evaluate", "valuebench.analysis"]),
    ("leaderboard", ["valuebench.leaderboard"]),
    ("interface", ["valuebench.commands", "valuebench.cli"]),
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                stack.extend(child.orelse)
                continue
            stack.append(child)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {owner(a.name) for a in node.names if a.name.startswith("valuebench")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                if base.startswith("valuebench"):
                    targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in modules else owner(base)
                                for a in node.names}
        graph[name] = targets - {None, name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer(module: str) -> int:
    best, level = -1, None
    for k, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, level = len(p), k
    assert level is not None, f"{module} is in no layer: add it to LAYERS"
    return level


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_no_upward_imports():
    graph = import_graph()
    upward = sorted(f"{a} ({LAYERS[layer(a)][0]}) -> {b} ({LAYERS[layer(b)][0]})"
                    for a, targets in graph.items() for b in targets if layer(b) > layer(a))
    assert upward == []


def test_the_check_can_fail():
    """The walker sees lazy imports and relative imports, and finds a planted cycle."""
    assert "valuebench.hub" in import_graph()["valuebench.benchmarks"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("valuebench.scenarios.quality") > layer("valuebench.scenarios")
