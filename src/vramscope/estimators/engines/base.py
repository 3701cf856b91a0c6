"""What an engine module exposes to the registry (``engines/__init__.py``): one :class:`Engine` each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...spec import ModelSpec
from ...workload import Inference
from ..kv import KVPolicy
from ..result import Component, EngineSettings, Fit, KVCapacity, Placement


@dataclass(frozen=True)
class EngineResult:
    """An engine's estimate of one workload: its components and the typed parts it owns."""

    components: tuple[Component, ...]
    weights_format: str
    assumptions: tuple[str, ...]
    fit: Fit | None  # None without a GPU
    kv: KVCapacity
    settings: EngineSettings
    placement: Placement | None = None
    host_bytes: int = 0
    no_torch: str | None = None  # why the engine has no torch allocated / reserved figures (None: a torch engine)


@dataclass(frozen=True)
class Engine:
    """The facts about one inference engine that the rest of vramscope asks for.

    ``estimate`` the components and parts on a GPU (or none); ``context_step`` the allocation unit of
    a sequence (vLLM's block, llama.cpp's 256 cells, one token for HF / SGLang), the step of
    ``solve.max_context``; ``gpu_dependent`` whether the bytes per GPU depend on which GPU it is
    (vLLM / SGLang size their KV pool from its memory; HF and llama.cpp do not, so a search over the
    catalog can estimate each layout once); ``kv`` its KV policy; ``options`` the
    :class:`~vramscope.workload.Inference` fields only some engines read that this one reads;
    ``max_gpus`` how many GPUs one replica may span (llama.cpp is modelled on one).
    """

    name: str
    estimate: Callable[[ModelSpec, Inference, Any], EngineResult]
    context_step: Callable[[Inference], int]
    gpu_dependent: bool
    kv: KVPolicy
    options: tuple[str, ...] = field(default=())
    max_gpus: int | None = None
