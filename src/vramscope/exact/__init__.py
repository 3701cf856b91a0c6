"""Exact mode (optional extra ``vramscope[exact]``): the real transformers model on fake tensors.

* :func:`trace_training` / :func:`trace_inference` (``exact.trace``) — peak memory by category of
  a training step or of generation, traced op by op without weights or a GPU;
* ``exact.measure`` — the ground-truth harness that runs the suites of ``exact.suite`` on a CUDA GPU.

Nothing here imports torch until a function is called.
"""

from __future__ import annotations

from typing import Any

_LAZY = {"trace_training": "trace", "trace_inference": "trace", "TraceResult": "result"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TraceResult", "trace_inference", "trace_training"]
