"""One door: the presenters (CLI, web page, export) import nothing of vramscope below the API.

Every ``import`` of every presenter module — module level and inside functions — is read from its
source (AST) and resolved to the vramscope module it names; each must be ``vramscope.api``,
``vramscope.errors``, ``vramscope.units``, the presenter's own package, or one of the exceptions
listed in :data:`EXCEPTIONS` with the reason for it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "vramscope"

#: what every presenter may import
DOOR = {"vramscope", "vramscope.api", "vramscope.errors", "vramscope.units"}
#: presenters and their own package (whose modules they may import freely)
PRESENTERS = {"vramscope.cli": "vramscope.cli", "vramscope.web": "vramscope.web", "vramscope.export": "vramscope.export"}
#: (importer's package, imported module) → why it may
EXCEPTIONS = {
    # export renders the configs the CLI's `export` command and the web page's code boxes show:
    # a presenter's render helper shared by both, itself behind the door
    ("vramscope.cli", "vramscope.export"): "renders the configs `vramscope export` prints",
    ("vramscope.web", "vramscope.export"): "renders the commands / configs of the web page's code boxes",
    # `vramscope web` starts the server; the web package is a presenter behind the same door
    ("vramscope.cli", "vramscope.web"): "`vramscope web` starts the server",
    # the measurement harness is its own program (it runs as `python -m vramscope.exact.measure` on a
    # GPU box with only torch installed); `vramscope measure` only starts it and prints its rows
    ("vramscope.cli", "vramscope.exact.measure"): "`vramscope measure` starts the ground-truth harness",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PKG.parent / rel).with_suffix(".py").is_file() or (PKG.parent / rel / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every vramscope module ``path`` imports (module level or in a function), resolved."""
    name = _module_name(path)
    return imports_of(path.read_text(encoding="utf-8"), name if path.name == "__init__.py" else name.rpartition(".")[0])


def imports_of(source: str, package: str) -> set[str]:
    """The vramscope modules a module of ``package`` with this source imports."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "vramscope"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != "vramscope":
                continue
            subs = [f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}")]
            out |= set(subs) if subs else {base}
    return out


def presenter_files() -> list[Path]:
    files = sorted((PKG / "cli").glob("*.py")) + [PKG / "export.py"]
    assert len(files) > 4, files  # the CLI package is there
    return files


def _owner(module: str) -> str:
    return next(p for p in PRESENTERS if module == p or module.startswith(p + "."))


def test_the_walker_sees_function_level_and_relative_imports():
    # the web handlers' old imports (a module, a name from a module, inside a function) are all caught
    source = ("from ..sources import catalog\nfrom ..units import fmt_gib\n\ndef f():\n"
              "    from ..estimators.multimodal import tokens_for\n    import vramscope.solve\n"
              "    from .. import api\n    from . import render\n    import json\n")
    assert imports_of(source, "vramscope.web") == {"vramscope.sources.catalog", "vramscope.units",
                                                   "vramscope.estimators.multimodal", "vramscope.solve",
                                                   "vramscope.api", "vramscope.web.render"}


@pytest.mark.parametrize("path", presenter_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_presenters_import_only_the_api_errors_and_units(path):
    importer = _owner(_module_name(path))
    own = PRESENTERS[importer]
    wrong = sorted(m for m in imported_modules(path)
                   if m not in DOOR and not (m == own or m.startswith(own + "."))
                   and (importer, m) not in EXCEPTIONS)
    assert not wrong, f"{path.relative_to(PKG)} reaches past the API: {', '.join(wrong)}"


def test_every_exception_is_still_used():
    files = presenter_files()
    used = {(_owner(_module_name(p)), m) for p in files for m in imported_modules(p)}
    scanned = {_owner(_module_name(p)) for p in files}
    listed = {k for k in EXCEPTIONS if k[0] in scanned}
    assert listed <= used, sorted(listed - used)
