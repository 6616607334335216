"""The package's layout rules (DESIGN.md, "Floors"), checked on the source with ``ast``:

* no import circles between physcon's modules, counting every import: module level,
  function-local (lazy) and ``if TYPE_CHECKING:`` ones;
* no upward import: a module imports only modules on its own floor or below, and the solvers
  only the ground floor (and each other), never models, metrics or constraints;
* torch (a peer reference, not a dependency) only lazily, inside functions of models/anp_torch.py;
* no module over 400 lines.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "physcon"
MAX_LINES = 400

#: DESIGN.md's floors, bottom to top: (name, module prefixes). A prefix matches the module and
#: everything inside it (``physcon.data`` is ``data.py`` or the ``data/`` package).
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    ("ground", ("physcon._version", "physcon._io", "physcon.grid", "physcon.bc", "physcon.distributions",
                "physcon.train", "physcon._steps", "physcon.checkpoint", "physcon.history", "physcon.plots")),
    ("models, metrics", ("physcon.models", "physcon.metrics")),
    ("constraints", ("physcon.constraints",)),
    ("solvers", ("physcon.solvers",)),
    ("data", ("physcon.data", "physcon.operator_data", "physcon.tasks")),
    ("experiments", ("physcon.experiments",)),
    ("cli", ("physcon.cli",)),
    ("face", ("physcon",)),  # physcon/__init__.py re-exports; nothing may import it
]
#: Floors a solver may import: "solvers use ground only" (DESIGN.md).
SOLVER_FLOORS = {"ground", "solvers"}


def _modules() -> dict[str, pathlib.Path]:
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The physcon module that ``name`` (a module, or a name inside one) refers to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, int]]:
    """``(imported physcon module, line)`` for every import statement anywhere in ``module``
    (``ast.walk`` reaches function bodies and ``if TYPE_CHECKING:`` blocks alike)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                head = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(head + ([base] if base else []))
            # ``from pkg import sub`` imports the module pkg.sub when there is one
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "physcon" or name.startswith("physcon."):
                target = _resolve(name)
                if target and target != module:
                    found.append((target, node.lineno))
    return found


GRAPH = {m: sorted({t for t, _ in _imports(m)}) for m in MODULES}


def _floor(module: str) -> str:
    best = max((p for _, ps in FLOORS for p in ps if module == p or module.startswith(p + ".")), key=len)
    return next(name for name, ps in FLOORS if best in ps)


FLOOR_INDEX = {name: i for i, (name, _) in enumerate(FLOORS)}


def test_every_module_has_a_floor():
    assert len(MODULES) > 40
    for m in MODULES:
        assert _floor(m) in FLOOR_INDEX


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_planted_circle():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def test_no_import_circles():
    assert _cycles(GRAPH) == []


def test_no_upward_imports():
    bad = []
    for m in MODULES:
        floor = _floor(m)
        for target, line in _imports(m):
            tfloor = _floor(target)
            if FLOOR_INDEX[tfloor] > FLOOR_INDEX[floor] or (floor == "solvers" and tfloor not in SOLVER_FLOORS):
                bad.append(f"{MODULES[m].relative_to(ROOT.parent)}:{line} ({floor}) imports {target} ({tfloor})")
    assert bad == []


def test_floor_rules_catch_an_upward_import():
    # the rules themselves: a solver importing a model, ground importing a solver, anyone the face
    assert _floor("physcon.solvers.navier_stokes.cavity") == "solvers"
    assert _floor("physcon.data.well") == "data" and _floor("physcon.models.fno") == "models, metrics"
    assert FLOOR_INDEX[_floor("physcon.solvers.heat")] > FLOOR_INDEX[_floor("physcon.models.fno")]
    assert _floor("physcon.models.fno") not in SOLVER_FLOORS
    assert FLOOR_INDEX["face"] == len(FLOORS) - 1


def test_torch_only_lazily_in_the_peer_reference():
    bad = []
    for m, path in MODULES.items():
        tree = ast.parse(path.read_text())
        in_functions = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                        for n in ast.walk(f)}
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "torch" or n.startswith("torch.") for n in names):
                if m != "physcon.models.anp_torch" or id(node) not in in_functions:
                    bad.append(f"{m}:{node.lineno}")
    assert bad == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module):
    n = len(MODULES[module].read_text().splitlines())
    assert n <= MAX_LINES, f"{module} has {n} lines (> {MAX_LINES}): split it by concept"
