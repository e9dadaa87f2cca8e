"""No import cycles in cnn_zoo.tune, counting imports inside functions; each module imports alone."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import cnn_zoo.tune

TUNE = Path(cnn_zoo.tune.__file__).parent
MODULES = sorted(f"cnn_zoo.tune.{p.stem}" for p in TUNE.glob("*.py") if p.stem != "__init__")


def imports_of(module: str) -> set[str]:
    """The cnn_zoo.tune modules ``module`` imports anywhere in its source (top level or in a function)."""
    tree = ast.parse((TUNE / f"{module.rsplit('.', 1)[1]}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in MODULES and n != module}
    return found


def find_cycle(graph: dict) -> list[str] | None:
    state = {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_tune():
    graph = {m: imports_of(m) for m in MODULES}
    assert "cnn_zoo.tune.search" in graph and graph["cnn_zoo.tune.search"]  # the graph is real
    assert find_cycle(graph) is None


@pytest.mark.parametrize("module", ["cnn_zoo.tune.search", "cnn_zoo.tune.report", "cnn_zoo.tune.distributed",
                                    "cnn_zoo.tune.errors"])
def test_each_module_imports_alone_in_a_fresh_interpreter(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
