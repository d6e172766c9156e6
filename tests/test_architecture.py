"""The shape of the production code: imports point one way, without cycles, and modules stay small.

Imports are read with `ast`, not by importing anything. Every import counts,
the ones inside a function too (a deferred import hides a cycle, it does not
remove one). An edge goes to the module named, not to the packages around it:
`from api.notifications import service` is an edge to
`api.notifications.service`, and importing a module does not count as
importing its package's `__init__`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "common", "workers")
MAX_LINES = 300
# Vendor clients belong to the worker side: the API publishes by task name.
VENDOR_CLIENTS = ("pyfcm", "twilio", "firebase_admin", "firebase", "google")

# Findings that other parts of issue 9 remove, named exactly. When a fix lands
# the finding is gone, the test fails on the stale entry, and the entry goes.


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def production_modules() -> dict[str, Path]:
    return {module_name(path): path
            for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_names(module: str, path: Path) -> set[str]:
    """Every module `module` imports: for `from X import Y`, X.Y when Y is a module, else X."""
    known = production_modules()
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, path, node)
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                names.add(candidate if candidate in known else source)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the production modules it imports."""
    modules = production_modules()
    return {name: {target for target in imported_names(name, path) if target in modules}
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components that are cycles (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def imports_of(package: str) -> list[tuple[str, str]]:
    """(module, what it imports) for every import in `package`, production or not."""
    return [(name, target) for name, path in production_modules().items()
            if name.split(".")[0] == package for target in sorted(imported_names(name, path))]


def _within(target: str, roots) -> bool:
    return any(target == root or target.startswith(f"{root}.") for root in roots)


def test_the_graph_sees_the_imports_it_is_about():
    graph = import_graph()
    # The checks below mean something only if the reader finds real edges, relative ones included.
    assert "common.dispatch" in graph["api.notifications.service"]
    assert "api.notifications.service" in graph["api.notifications.views"]
    assert any(graph[name] & {"common.celery_app", "common.topology"}
               for name in graph if name.startswith("workers."))


def test_cycles_finds_a_cycle_and_only_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_production_code():
    assert cycles(import_graph()) == []


def test_the_api_never_imports_the_workers_or_a_vendor_client():
    forbidden = [(name, target) for name, target in imports_of("api")
                 if _within(target, ("workers", *VENDOR_CLIENTS))]
    assert forbidden == []


def test_common_never_imports_the_api_or_the_workers():
    forbidden = [(name, target) for name, target in imports_of("common")
                 if _within(target, ("api", "workers"))]
    assert forbidden == []


@pytest.mark.parametrize("module", sorted(production_modules()))
def test_no_module_is_over_the_line_limit(module):
    path = production_modules()[module]
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
