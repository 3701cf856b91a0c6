"""One exception hierarchy (:mod:`vramscope.errors`): what reaches a presenter is a VramscopeError.

Every ``raise`` in the package is read from its source (AST). An exception class defined anywhere
must derive from VramscopeError, and a built-in exception may be raised only where it is listed
below with the reason it never reaches a presenter as a user's error.
"""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import pytest

from vramscope import errors
from vramscope.errors import VramscopeError

PKG = Path(__file__).resolve().parents[1] / "src" / "vramscope"

#: (module file, built-in exception raised there) → why it is not a user's error
BUILTIN_RAISES = {
    ("__init__.py", "AttributeError"): "module __getattr__: the protocol of a missing attribute",
    ("exact/__init__.py", "AttributeError"): "module __getattr__: the protocol of a missing attribute",
    ("estimators/result.py", "KeyError"): "Estimate.component(name), MemoryFigures.figure(kind): a lookup by a "
                                          "programmer, as a mapping's",
    ("estimators/engines/ollama_memory.py", "ValueError"): "parse_human_bytes reads Ollama's own log lines (the "
                                                           "tests' measured rows), never a user's input",
    ("estimators/optimizers.py", "ValueError"): "unreachable: the Training workload validated the optimizer",
    ("workload.py", "ValueError"): "raised in __post_init__, which msgspec turns into a ValidationError that "
                                    "workload._build re-raises as a VramscopeError (tested below)",
    ("exact/compare.py", "ValueError"): "percentile of no values: the accuracy report's own helper",
    ("exact/published.py", "ValueError"): "a malformed line in the published data shipped with the package: a bug",
    ("exact/published_runs.py", "ValueError"): "malformed published-run data shipped with the package, or a "
                                               "unit / kind name of its own tables: a bug",
    ("exact/suite.py", "KeyError"): "unknown suite: exact.measure.select turns it into a MeasureError",
    ("exact/build.py", "AssertionError"): "unreachable",
    ("web/workers.py", "ValueError"): "an unreadable budget variable, caught on the next line (a warning)",
    ("web/workers.py", "TimeoutError"): "a worker process that did not start: the pool replaces it",
    ("web/workers.py", "RuntimeError"): "a worker process that did not start: the pool replaces it",
}
#: exception classes defined outside errors.py that are not VramscopeErrors, and why
OTHER_CLASSES = {("invariants.py", "_Symbolic"): "control flow inside the formula checker, caught there"}


def _sources():
    for path in sorted(PKG.rglob("*.py")):
        yield path.relative_to(PKG).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _raised_name(node: ast.Raise) -> str | None:
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return exc.id if isinstance(exc, ast.Name) else None


def test_only_the_listed_builtin_exceptions_are_raised():
    found = set()
    for rel, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                name = _raised_name(node)
                if name and isinstance(getattr(builtins, name, None), type) and name not in ("SystemExit",
                                                                                              "KeyboardInterrupt"):
                    found.add((rel, name))
    assert found <= set(BUILTIN_RAISES), f"raise a VramscopeError subclass instead of: {sorted(found - set(BUILTIN_RAISES))}"
    assert set(BUILTIN_RAISES) <= found, f"no longer raised (drop from the list): {sorted(set(BUILTIN_RAISES) - found)}"


def test_every_exception_class_is_a_vramscope_error():
    for rel, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id == "Exception")
                    for b in node.bases):
                if (rel, node.name) in OTHER_CLASSES:
                    continue
                module = "vramscope." + rel.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
                cls = getattr(__import__(module, fromlist=["_"]), node.name)
                assert issubclass(cls, VramscopeError), f"{rel}: {node.name} is not a VramscopeError"


def test_the_hierarchy():
    classes = {n: c for n, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, Exception)}
    assert all(issubclass(c, VramscopeError) for c in classes.values())
    assert issubclass(errors.OfflineError, errors.ModelNotFoundError)
    assert issubclass(errors.MultimodalError, errors.WorkloadError)
    from vramscope.exact.measure import MeasureError
    from vramscope.hardware import UnknownGPUError

    assert MeasureError is errors.MeasureError and UnknownGPUError is errors.UnknownGPUError


@pytest.mark.parametrize("kw", [{"fsdp": "full", "zero": 3}, {"offload": "params"}, {"gpus": 3, "tp": 2}])
def test_a_workload_post_init_refusal_is_a_vramscope_error(kw):
    from vramscope.workload import make_training

    with pytest.raises(VramscopeError) as info:
        make_training(method="full", **kw)
    assert type(info.value) is not ValueError and "\n" not in str(info.value)


def test_user_errors_have_their_subclass():
    import vramscope
    from vramscope import api

    with pytest.raises(errors.UnknownGPUError):
        api.resolve_gpu("no-such-gpu-9000")
    with pytest.raises(errors.ModelNotFoundError):
        api.load("no-such-model-zzz")
    with pytest.raises(errors.MultimodalError, match="vision"):
        api.multimodal_tokens("meta-llama/Llama-3.1-8B", images=1)
    with pytest.raises(errors.WorkloadError, match="even with ZeRO-3"):
        api.lowest_zero_stage(vramscope.load_model("70B"), gpu="RTX-4090", method="full", gpus=1)
