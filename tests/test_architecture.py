"""Architecture checks anyone can repeat: the import graph of the ``vramscope`` package.

The graph is read from the source (``ast``), not by importing it: every ``import`` and
``from … import`` of every module, function-level (lazy) imports included, relative imports resolved
against the importing module's package. ``from pkg import name`` is an edge to ``pkg.name`` when that
is a module, else to ``pkg`` (its ``__init__``). Imports under ``if TYPE_CHECKING:`` never run and are
left out. The helpers (:func:`package_modules`, :func:`import_graph`, :func:`cycles`,
:func:`private_imports`) are meant to be reused by further checks of the same graph.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "vramscope"

#: Import cycles tolerated for now, each with the reason it cannot be untangled yet (frozenset of the
#: modules of one strongly connected component). Keep it empty.
ALLOWED_CYCLES: dict[frozenset[str], str] = {}

#: ``(importing module, imported module, name)`` of private names taken from another package,
#: tolerated for now with the reason. Keep it empty.
ALLOWED_PRIVATE: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Import:
    """One import statement's edge: the module it loads, where, and whether it runs lazily (inside a
    function) rather than when the importing module loads."""

    target: str
    line: int
    lazy: bool


def package_modules(src: Path = SRC, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name → source file, for every ``.py`` under the package (``__init__.py`` is the
    package itself)."""
    out: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, lazy: bool = False):
    """(import node, lazy) for every import below ``node``, skipping ``if TYPE_CHECKING:`` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, lazy
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _walk(other, lazy)
        else:
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            yield from _walk(child, inner)


def _resolve(name: str, modules: dict[str, Path] | set[str]) -> str | None:
    """The longest prefix of ``name`` that is a module of the package (``None`` outside it)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _origin(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a ``from … import`` reads from (relative levels resolved against ``package``)."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def module_imports(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The package-internal imports of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[Import] = []
    for node, lazy in _walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            origin = _origin(node, package)
            targets = [f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in modules else origin
                       for alias in node.names]
        for name in targets:
            target = _resolve(name, modules)
            if target is not None and target != module:
                out.append(Import(target, node.lineno, lazy))
    return out


def _package_of(module: str, modules: dict[str, Path]) -> str:
    return module if modules[module].name == "__init__.py" else module.rpartition(".")[0]


def private_imports(src: Path = SRC, package: str = PACKAGE) -> list[tuple[str, str, str, int]]:
    """``(module, imported module, name, line)`` for every ``from x import _name`` of a private
    (single-underscore) name from a module of another (sub)package: an underscore name is private
    to its package — siblings may share it (``web.page`` → ``web.handlers``), other stages may not
    (``estimators.rl`` must not reach into ``estimators.training``'s internals)."""
    modules = package_modules(src, package)
    out = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package_of = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node, _lazy in _walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    origin = _origin(node, package_of)
                    target = _resolve(origin, modules)
                    if (target is not None and target != module
                            and _package_of(target, modules) != package_of):
                        out.append((module, target, alias.name, node.lineno))
    return out


def import_graph(src: Path = SRC, package: str = PACKAGE) -> dict[str, list[Import]]:
    """Module → its imports of other modules of the package."""
    modules = package_modules(src, package)
    return {m: module_imports(m, p, modules) for m, p in modules.items()}


def cycles(graph: dict[str, list[Import]]) -> list[list[str]]:
    """Every import cycle: the strongly connected components with more than one module (Tarjan),
    each as one closed path through it (first module repeated at the end), sorted."""
    succ = {m: sorted({i.target for i in imps if i.target in graph}) for m, imps in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    counter = 0

    def visit(v: str) -> None:  # iterative Tarjan: the package is deep enough to matter
        nonlocal counter
        work = [(v, iter(succ[v]))]
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w])))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = set()
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.add(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        components.append(comp)

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return sorted(_closed_path(comp, succ) for comp in components)


def _closed_path(comp: set[str], succ: dict[str, list[str]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first inside the component)."""
    start = min(comp)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in succ[v]:
                if w not in comp:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in {sorted(comp)}")


def describe(path: list[str], graph: dict[str, list[Import]]) -> str:
    """``a --(line 12, lazy)--> b --(line 3)--> a``."""
    out = path[0]
    for a, b in zip(path, path[1:], strict=False):
        imp = next(i for i in graph[a] if i.target == b)
        out += f" --({'lazy, ' if imp.lazy else ''}line {imp.line})--> {b}"
    return out


# --- the checks -------------------------------------------------------------------------------------

def test_no_import_cycles():
    graph = import_graph()
    found = [c for c in cycles(graph) if frozenset(c) not in ALLOWED_CYCLES]
    assert not found, "import cycles (lazy imports count):\n" + "\n".join(describe(c, graph) for c in found)


def test_allowed_cycles_still_exist():
    """An allow-listed cycle that was untangled must leave the list."""
    present = {frozenset(c) for c in cycles(import_graph())}
    assert not [sorted(c) for c in ALLOWED_CYCLES if c not in present]


def test_no_private_names_imported_from_another_package():
    found = [f"{m} line {line}: from {t} import {n}" for m, t, n, line in private_imports()
             if (m, t, n) not in ALLOWED_PRIVATE]
    assert not found, "private names imported from another package:\n" + "\n".join(found)


def test_allowed_private_imports_still_exist():
    present = {(m, t, n) for m, t, n, _ in private_imports()}
    assert not [k for k in ALLOWED_PRIVATE if k not in present]


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert len(graph) > 50  # every module of the package, subpackages included
    api = {i.target: i for i in graph["vramscope.api"]}
    # a function-level import, written relative ("from .estimators.training import …")
    assert api["vramscope.estimators.training"].lazy
    # "from .. import spec as S" two levels down resolves to the module vramscope.spec
    assert "vramscope.spec" in {i.target for i in graph["vramscope.estimators.training.regime"]}
    # "from . import optimizers as O" in a subpackage module names the sibling of its package
    assert "vramscope.estimators.optimizers" in {i.target for i in graph["vramscope.estimators.training.states"]}


def test_cycle_finder_reports_a_lazy_cycle(tmp_path):
    """The check can fail: a two-module package whose second module imports the first lazily."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n    return a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    graph = import_graph(tmp_path, "pkg")
    assert cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.a"]]
    assert describe(["pkg.a", "pkg.sub.b", "pkg.a"], graph) == (
        "pkg.a --(line 1)--> pkg.sub.b --(lazy, line 2)--> pkg.a")
    assert graph["pkg.c"] == []  # TYPE_CHECKING imports never run
    (pkg / "d.py").write_text("def g():\n    from .sub.b import _hidden, __version__\n    from .a import _ok\n")
    assert private_imports(tmp_path, "pkg") == [("pkg.d", "pkg.sub.b", "_hidden", 2)]  # a sibling's is fine


# --- one door: the presenters import nothing below the API ------------------------------------------
#: what every presenter may import
DOOR = {"vramscope", "vramscope.api", "vramscope.errors", "vramscope.units"}
#: the presenters: the CLI and web packages and export (which renders the configs both show)
PRESENTERS = ("vramscope.cli", "vramscope.web", "vramscope.export")
#: (presenter, module below the door) → why it may import it; keep it short
DOOR_EXCEPTIONS = {
    # export renders the configs `vramscope export` prints and the web page's code boxes show: a
    # render helper the two presenters share, itself behind the door
    ("vramscope.cli", "vramscope.export"): "renders the configs `vramscope export` prints",
    ("vramscope.web", "vramscope.export"): "renders the commands / configs of the web page's code boxes",
    # `vramscope web` starts the server; the web package is a presenter behind the same door
    ("vramscope.cli", "vramscope.web"): "`vramscope web` starts the server",
    # the measurement harness is its own program (it runs as `python -m vramscope.exact.measure` on a
    # GPU box with only torch installed): `vramscope measure` only starts it and prints its rows
    ("vramscope.cli", "vramscope.exact.measure"): "`vramscope measure` starts the ground-truth harness",
}


def _presenter(module: str) -> str | None:
    return next((p for p in PRESENTERS if module == p or module.startswith(p + ".")), None)


def door_violations(graph: dict[str, list[Import]]) -> list[str]:
    """``module (line N) -> target`` for every presenter import past the door."""
    out = []
    for module, imports in sorted(graph.items()):
        owner = _presenter(module)
        if owner is None:
            continue
        for imp in imports:
            t = imp.target
            if t in DOOR or t == owner or t.startswith(owner + ".") or (owner, t) in DOOR_EXCEPTIONS:
                continue
            out.append(f"{module} (line {imp.line}{', lazy' if imp.lazy else ''}) -> {t}")
    return out


def test_presenters_import_only_the_api_errors_and_units():
    graph = import_graph()
    assert {m for m in graph if _presenter(m)} >= {"vramscope.cli.commands", "vramscope.cli.show", "vramscope.export",
                                                   "vramscope.web.tabs", "vramscope.web.page", "vramscope.web.app"}
    wrong = door_violations(graph)
    assert not wrong, ("presenters reach past the API (add what they need to vramscope.api, a thin call into the "
                       "module that owns the answer):\n" + "\n".join(wrong))


def test_every_door_exception_is_still_used():
    graph = import_graph()
    used = {(_presenter(m), i.target) for m, imps in graph.items() if _presenter(m) for i in imps}
    listed = {k for k in DOOR_EXCEPTIONS if k[0] in PRESENTERS}
    assert listed <= used, sorted(listed - used)


def test_the_door_check_can_fail(tmp_path):
    """A presenter's function-level import of a source module is caught, one through the API is not."""
    pkg = tmp_path / "vramscope"
    (pkg / "cli").mkdir(parents=True)
    (pkg / "sources").mkdir()
    for init in (pkg / "__init__.py", pkg / "cli" / "__init__.py", pkg / "sources" / "__init__.py"):
        init.write_text("")
    (pkg / "api.py").write_text("")
    (pkg / "sources" / "catalog.py").write_text("")
    (pkg / "cli" / "commands.py").write_text("from .. import api\n\ndef f():\n    from ..sources import catalog\n")
    assert door_violations(import_graph(tmp_path, "vramscope")) == [
        "vramscope.cli.commands (line 4, lazy) -> vramscope.sources.catalog"]
