"""The engine registry: one :class:`~.base.Engine` per inference engine module — hf (transformers
``generate``), vllm, llamacpp, sglang, ollama (its own estimate and layer offload). Everything that needs a fact about an engine (its estimate,
context step, GPU dependence, KV policy, the options it reads) asks :data:`ENGINES`."""

from __future__ import annotations

from . import hf, llamacpp, ollama, sglang, vllm
from .base import Engine, EngineResult

ENGINES: dict[str, Engine] = {e.name: e for e in (hf.ENTRY, vllm.ENTRY, llamacpp.ENTRY, sglang.ENTRY, ollama.ENTRY)}

__all__ = ["ENGINES", "Engine", "EngineResult", "engine", "engine_options", "inapplicable"]


def engine(name: str) -> Engine:
    """The registered engine called ``name`` (a clear error naming the others when there is none)."""
    try:
        return ENGINES[name]
    except KeyError:
        from ...errors import VramscopeError

        raise VramscopeError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}") from None


def engine_options() -> dict[str, tuple[str, ...]]:
    """Each :class:`~vramscope.workload.Inference` field that only some engines read -> those engines."""
    out: dict[str, tuple[str, ...]] = {}
    for e in ENGINES.values():
        for option in e.options:
            out[option] = out.get(option, ()) + (e.name,)
    return out


def inapplicable(name: str, given) -> dict[str, tuple[str, ...]]:
    """The fields in ``given`` that engine ``name`` does not read, each with the engines that do."""
    options = engine_options()
    return {k: options[k] for k in given if k in options and name not in options[k]}
