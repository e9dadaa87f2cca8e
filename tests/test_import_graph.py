"""The floors of cnn_zoo (docs/architecture.md): every module stands on one floor, imports go only
down or sideways, there is no import cycle, and an import inside a function is there for startup time.

The graph is read from the source (ast), counting the imports inside functions too.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOTS = {"cnn_zoo": REPO / "zoo", "cnn_zoo.layers": REPO / "layers"}
FACE = "cnn_zoo"  # zoo/__init__.py, the package's lazy face

# From the ground up. A module stands on the floor of the longest name that is it or its package.
FLOORS = (
    ("layers", ("cnn_zoo.layers",)),
    ("foundation", ("cnn_zoo.errors", "cnn_zoo.atomic", "cnn_zoo.keras_private", "cnn_zoo.hardware")),
    ("models", ("cnn_zoo.family", "cnn_zoo.models", "cnn_zoo.registry", "cnn_zoo.card", "cnn_zoo.op_effects")),
    ("weights store", ("cnn_zoo.weights",)),
    ("data and recipes", ("cnn_zoo.data", "cnn_zoo.preprocess", "cnn_zoo.preprocess_layer",
                          "cnn_zoo.preprocessing_spec", "cnn_zoo.recipe", "cnn_zoo.recipe_schema",
                          "cnn_zoo.schedules", "cnn_zoo.serving")),
    ("training", ("cnn_zoo.train", "cnn_zoo.fit_data", "cnn_zoo.compute", "cnn_zoo.run", "cnn_zoo.run_state",
                  "cnn_zoo.callbacks", "cnn_zoo.evaluation", "cnn_zoo.progress", "cnn_zoo.cluster",
                  "cnn_zoo.local_cluster", "cnn_zoo.fused_batch_norm")),
    ("use cases", ("cnn_zoo.hub", "cnn_zoo.convert", "cnn_zoo.export", "cnn_zoo.page")),
    ("tune", ("cnn_zoo.tune",)),
    ("cli and the face", ("cnn_zoo.cli", FACE)),
)
# Packages a module may import inside a function, so that importing it stays fast (or works
# without an optional extra): Keras and the backends, the converters' readers, plotting, images.
HEAVY = {"keras", "tensorflow", "tensorflow_datasets", "jax", "torch", "onnx", "onnxruntime", "ai_edge_litert",
         "keras_tuner", "matplotlib", "grpc", "PIL", "numpy"}
# What makes a zoo module slow to import: a cnn_zoo module that imports one of these at its top
# (directly or through another) may be imported inside a function of one that does not.
SLOW = {"keras", "tensorflow", "tensorflow_datasets", "jax", "torch", "onnx", "keras_tuner", "matplotlib"}


def _name(path: Path) -> str:
    for package, root in sorted(ROOTS.items(), key=lambda kv: -len(str(kv[1]))):
        if path.is_relative_to(root):
            parts = list(path.relative_to(root).with_suffix("").parts)
            return ".".join([package, *(parts[:-1] if parts[-1] == "__init__" else parts)])
    raise AssertionError(path)


MODULES = {_name(p): p for root in ROOTS.values() for p in sorted(root.rglob("*.py"))}


def floor_of(module: str) -> int | None:
    best = None
    for level, (_, names) in enumerate(FLOORS):
        for name in names:
            exact = module == name
            if exact or (name != FACE and module.startswith(name + ".")):
                if best is None or len(name) > best[1]:
                    best = (level, len(name))
    return None if best is None else best[0]


def _resolve(name: str) -> str:
    """The zoo module a dotted name lives in (``cnn_zoo.weights.store.pull`` → ``cnn_zoo.weights.store``)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


class Import:
    def __init__(self, module, node, targets, external, function):
        self.module, self.node, self.targets, self.external, self.function = module, node, targets, external, function

    @property
    def where(self) -> str:
        return f"{MODULES[self.module].relative_to(REPO)}:{self.node.lineno}"


def imports_of(module: str) -> list[Import]:
    """Every import statement of ``module``: the zoo modules it names, the outside package, and the
    function it is in (None at module level)."""
    path = MODULES[module]
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, function or child)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(_import(module, path, child, function))
            else:
                visit(child, function)

    visit(ast.parse(path.read_text(encoding="utf-8")), None)
    return found


def _import(module, path, node, function) -> Import:
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        names = [f"{base}.{alias.name}" for alias in node.names]
    else:
        base, names = "", [alias.name for alias in node.names]
    zoo = [n for n in names if n == "cnn_zoo" or n.startswith("cnn_zoo.")]
    targets = sorted({_resolve(n) for n in zoo} - {module})
    external = None if zoo else (base or names[0]).split(".")[0]
    return Import(module, node, targets, external, function)


IMPORTS = {module: imports_of(module) for module in MODULES}


def _slow_modules() -> set[str]:
    top = {m: [i for i in found if i.function is None] for m, found in IMPORTS.items()}
    slow = {m for m, found in top.items() if any(i.external in SLOW for i in found)}
    while True:
        more = {m for m, found in top.items() if m not in slow and any(t in slow for i in found for t in i.targets)}
        if not more:
            return slow
        slow |= more


SLOW_MODULES = _slow_modules()


def _commented(imp: Import, lines: list[str]) -> bool:
    """A comment on the import's line or just above it."""
    line = imp.node.lineno - 1
    return "#" in lines[line] or lines[line - 1].strip().startswith("#")


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


def test_the_graph_is_read():
    assert len(MODULES) > 100 and "cnn_zoo.weights.store" in MODULES and "cnn_zoo.layers.conv" in MODULES
    assert "cnn_zoo.weights.store" in {t for i in IMPORTS["cnn_zoo.convert.pulling"] for t in i.targets}
    assert "cnn_zoo.train" in SLOW_MODULES and "cnn_zoo.registry" not in SLOW_MODULES
    assert floor_of("cnn_zoo.run") != floor_of("cnn_zoo.recipe") and floor_of("cnn_zoo.run_state") == 5
    assert floor_of(FACE) == floor_of("cnn_zoo.cli.hub") and floor_of("cnn_zoo.layers.arithmetic") == 0


def test_every_module_stands_on_a_floor():
    assert [m for m in MODULES if floor_of(m) is None] == []


def test_imports_go_down_or_sideways():
    upward = [f"{i.where}: {i.module} ({FLOORS[floor_of(i.module)][0]}) imports {t} ({FLOORS[floor_of(t)][0]})"
              for found in IMPORTS.values() for i in found for t in i.targets
              if floor_of(t) > floor_of(i.module)]
    assert upward == []


def test_no_import_cycle():
    graph = {m: {t for i in found for t in i.targets} for m, found in IMPORTS.items()}
    assert find_cycle(graph) is None


def test_imports_inside_functions_are_there_for_startup_time():
    """Only the CLI and the lazy face import the zoo's modules inside functions (each says why); elsewhere
    a function imports only a HEAVY package, or a slow zoo module into a module that is not slow."""
    misplaced, silent = [], []
    for module, found in IMPORTS.items():
        lines = MODULES[module].read_text(encoding="utf-8").splitlines()
        local = [i for i in found if i.function is not None]
        lazy_face = floor_of(module) == len(FLOORS) - 1
        for imp in local:
            allowed = lazy_face or imp.external in HEAVY or (
                imp.targets and module not in SLOW_MODULES and all(t in SLOW_MODULES for t in imp.targets))
            if not allowed:
                misplaced.append(f"{imp.where}: {ast.unparse(imp.node)}")
        first = {}
        for imp in local:  # a function says once why it imports inside, at its first such import
            first.setdefault(id(imp.function), imp)
        silent += [f"{imp.where}: {ast.unparse(imp.node)}" for imp in first.values() if not _commented(imp, lines)]
    assert misplaced == [], "move these imports to the top of their module: " + "; ".join(misplaced)
    assert silent == [], "say in a comment why these functions import inside: " + "; ".join(silent)


@pytest.mark.parametrize("module", ["cnn_zoo.weights.store", "cnn_zoo.convert.pulling", "cnn_zoo.hub.shipped",
                                    "cnn_zoo.tune.search", "cnn_zoo.data.pipeline", "cnn_zoo.run_state"])
def test_each_module_imports_alone_in_a_fresh_interpreter(module):
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_weights_store_imports_only_the_standard_library():
    code = ("import sys, cnn_zoo.weights.store, cnn_zoo.weights.fetch\n"
            "print(sorted(m for m in sys.modules if m.startswith('cnn_zoo.') and not m.startswith("
            "('cnn_zoo.weights', 'cnn_zoo.errors', 'cnn_zoo.atomic', 'cnn_zoo.registry', 'cnn_zoo.family', "
            "'cnn_zoo.models', 'cnn_zoo.layers'))), [m for m in ('numpy', 'keras') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "[]"]
