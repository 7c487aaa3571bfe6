"""The engine's structure: imports point one way, and a server is assembled in one place.

* **No runtime import cycle in engine/.**  The module graph is read from the source with
  ``ast``: an edge ``a -> b`` for every ``import``/``from ... import`` in module ``a`` that
  names a module of engine/ (``from engine import expire`` names ``engine.expire``), at module
  level and inside functions alike (a function-level import is a runtime dependency too, only
  a later one).  Imports under ``if TYPE_CHECKING:`` do not count: they never run.  Imports
  made by name at run time (``importlib.import_module`` in engine/commands/__init__.py, which
  loads the command families) are not statements and are not seen; that package imports
  nothing that imports it back.
* **Nothing registers with the server by import side effect.**  Statically: no module defines
  or uses ``on_init`` / ``on_start`` / ``on_client_gone`` decorators, calls ``register_param``
  or patches ``PARAMS[...]`` outside engine/config.py, or sets attributes on ``Server``.
  At run time (in a fresh interpreter, so the test process's imports do not matter): importing
  every engine module after engine.server adds no parameter row, changes no apply hook, and
  adds no attribute to the ``Server`` class.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]
ENGINE = ROOT / "engine"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ENGINE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement outside ``if TYPE_CHECKING:`` blocks, at any depth."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for other in child.orelse:
                    visit_node(other)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        visit(node)

    visit(tree)
    return found


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The engine modules an import statement loads (the longest module prefix of each name)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    out: set[str] = set()
    for name in names:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)
    return out


def import_graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        for node in _runtime_imports(ast.parse(path.read_text(), str(path))):
            for target in _targets(module, path, node, modules):
                graph.add_edge(module, target)
    return graph


def test_the_import_graph_is_read_correctly() -> None:
    """The graph sees what the check relies on: a function-level import (tls.py connects
    TLS clients through engine.connection inside start_tls_listeners), a relative-free
    ``from engine import x`` and a ``from package.module import name``, and leaves out a
    TYPE_CHECKING import (connection.py names engine.server only for types)."""
    graph = import_graph()
    assert graph.has_edge("engine.tls", "engine.connection")
    assert graph.has_edge("engine.server", "engine.evict")
    assert graph.has_edge("engine.server", "engine.persistence.lifecycle")
    assert not graph.has_edge("engine.connection", "engine.server")
    assert graph.number_of_nodes() == len(_modules())


def test_no_runtime_import_cycle_in_engine() -> None:
    graph = import_graph()
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert cycles == [], f"runtime import cycles in engine/: {cycles}"


def test_dependencies_point_from_the_network_edge_to_the_keyspace() -> None:
    """server -> connection -> dispatch -> client -> db: nothing below imports what is above."""
    graph = import_graph()
    layers = ["engine.server", "engine.connection", "engine.dispatch", "engine.client", "engine.db"]
    for i, upper in enumerate(layers):
        for lower in layers[i + 1:]:
            assert not nx.has_path(graph, lower, upper), f"{lower} imports {upper} (directly or not)"
    for mechanism in ("engine.blocking", "engine.expire", "engine.evict", "engine.memory", "engine.acl",
                      "engine.pubsub", "engine.latency", "engine.metrics", "engine.tls", "engine.tracking",
                      "engine.monitor", "engine.persistence.lifecycle"):
        assert not nx.has_path(graph, mechanism, "engine.server"), f"{mechanism} imports engine.server"


_HOOK_DECORATORS = {"on_init", "on_start", "on_client_gone"}


def _side_effect_registrations(path: Path) -> list[str]:
    """Module-level statements of ``path`` that would change the server or the parameter
    table from outside engine/server.py and engine/config.py."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                name = deco.id if isinstance(deco, ast.Name) else getattr(deco, "attr", "")
                if name in _HOOK_DECORATORS:
                    found.append(f"{path.name}:{node.lineno} @{name}")
            if node.name in _HOOK_DECORATORS:
                found.append(f"{path.name}:{node.lineno} defines {node.name}")
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", "")
            if name == "register_param" and path.name != "config.py":
                found.append(f"{path.name}:{node.lineno} register_param")
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                text = ast.unparse(target)
                if path.name != "config.py" and text.startswith("PARAMS["):
                    found.append(f"{path.name}:{node.lineno} patches {text}")
                if text.startswith("Server."):
                    found.append(f"{path.name}:{node.lineno} sets {text}")
    return found


def test_no_module_registers_with_the_server_by_import() -> None:
    found = [entry for path in sorted(ENGINE.rglob("*.py")) for entry in _side_effect_registrations(path)]
    assert found == []


def test_the_side_effect_check_finds_a_registration(tmp_path: Path) -> None:
    """The static check is not vacuous: it reports each form it looks for."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from engine.config import PARAMS, register_param\n"
        "@on_init\ndef _init(server): server.x = 1\n"
        "PARAMS['maxmemory'].apply = print\n"
        "register_param(None)\n"
        "Server.monitors = ()\n"
    )
    assert sorted(e.split(" ", 1)[1] for e in _side_effect_registrations(bad)) == [
        "@on_init", "patches PARAMS['maxmemory'].apply", "register_param", "sets Server.monitors",
    ]


_PROBE = """
import importlib, json, pkgutil, sys
import engine, engine.server
from engine.config import PARAMS
from engine.server import Server
def snapshot():
    return {"params": sorted(PARAMS), "apply": {n: getattr(p.apply, "__module__", None) for n, p in PARAMS.items()},
            "server": sorted(vars(Server))}
before = snapshot()
for info in pkgutil.walk_packages(engine.__path__, "engine."):
    if info.name != "engine.__main__":  # runs the server
        importlib.import_module(info.name)
print(json.dumps([before, snapshot()]))
"""


def test_importing_every_engine_module_changes_nothing_in_the_server() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         check=True)
    before, after = json.loads(out.stdout)
    assert after == before
    # Every apply hook is declared with its parameter, in engine/config.py.
    assert {m for m in after["apply"].values() if m is not None} == {"engine.config"}
