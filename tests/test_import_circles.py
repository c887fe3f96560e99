"""No module of the package imports, however indirectly, a module that imports it back. Imports inside functions
count too: a lazy import hides a circle from Python, not from a reader."""

import ast
from pathlib import Path

import emailplatform

PACKAGE = Path(emailplatform.__file__).parent


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["emailplatform", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        if "migrations" not in parts:
            names[".".join(parts)] = path
    return names


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `path` imports: `from a.b import c` names a.b.c when c is a module, else a.b."""

    def known(name: str) -> str:
        while name not in modules:
            name = name.rpartition(".")[0]
        return name

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("emailplatform"):
            found |= {known(f"{node.module}.{alias.name}") for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {known(alias.name) for alias in node.names if alias.name.startswith("emailplatform")}
    return found


def import_graph() -> dict[str, set[str]]:
    """Edges between modules; a package's __init__ and its own submodules are one unit, not a circle."""
    modules = module_names()
    graph = {}
    for name, path in modules.items():
        targets = imported_modules(path, modules)
        graph[name] = {
            t for t in targets if t != name and not t.startswith(name + ".") and not name.startswith(t + ".")
        }
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_the_finder_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_holds_lazy_imports():
    graph = import_graph()
    assert len(graph) > 80
    assert "emailplatform.app" in graph["emailplatform.cli"]  # imported inside `serve`


def test_no_module_imports_itself_back():
    assert circles(import_graph()) == []


def package_of(module: str) -> str:
    """The top-level folder or module of src/emailplatform a module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph() -> dict[str, set[str]]:
    """Edges between packages, a package's own modules one unit."""
    graph: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        edges = graph.setdefault(package_of(name), set())
        edges |= {package_of(t) for t in targets} - {package_of(name)}
    return graph


def test_the_package_graph_sees_every_package():
    graph = package_graph()
    assert {"campaigns", "domains", "runtime", "assembly", "suppressions", "webhooks"} <= set(graph)
    assert "runtime" in graph["deps"] and "tenants" not in graph["deps"]


def test_no_package_imports_itself_back():
    assert circles(package_graph()) == []
