"""Estimate results: named components (bytes, formula, band), their totals and the typed parts an
estimator reports beside them. No formulas here.

An :class:`Estimate` is immutable. Each part is set once, by its owner, when the estimate is made:

* :class:`Fit` — whether it fits the GPU, decided by the engine's own rule (``engines/*.py``,
  training: :meth:`Fit.within`);
* :class:`KVCapacity` — bytes per token and, for vLLM / SGLang with a GPU, the KV pool they allocate;
* the engine's resolved settings (:class:`HFSettings`, :class:`VLLMSettings`, :class:`SGLangSettings`,
  :class:`LlamaCppSettings`);
* :class:`Placement` — what stays in host RAM (llama.cpp ``-ngl``); training's data-parallel size,
  shard degree and pipeline stage;
* :class:`TrainingStep` — training / RL: phases and the peak one, model states, activation and logits
  bytes, trainable counts; RL's seed rules; the seeds' rules of thumb (``api.estimate``);
* :class:`Speed` — the roofline estimate (``api.estimate``, with a GPU);
* :class:`RunsOn` — the catalog GPUs that run it, computed only when asked (``api.estimate``).

Three figures of one GPU are derived from the components (:attr:`Estimate.memory`, a
:class:`MemoryFigures`): peak *allocated* (``torch.cuda.max_memory_allocated``), peak *reserved*
(``torch.cuda.max_memory_reserved``) and *device* memory as ``nvidia-smi`` shows it (the per-GPU
figure). Each component says which pool its bytes live in (:attr:`Component.memory`).

``Estimate.details`` is the *legacy* view: one flat mapping with the paths scripts read before the
parts were typed (``details.fits``, ``details.kv_capacity_tokens``, ``details.phases``,
``details.fits_on`` …); it is read-only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# categories of components
WEIGHTS = "weights"
KV = "kv_cache"
STATE = "recurrent_state"
ACTIVATIONS = "activations"
ENGINE = "engine"
CONTEXT = "cuda_context"
ENCODER = "encoder"

# pools a component's bytes live in (Component.memory); the three figures of MemoryFigures add them up
ALLOCATED = "allocated"  # live torch tensors: in torch.cuda.max_memory_allocated (and so in reserved, device)
CACHE = "cache"  # held by torch's caching allocator beyond its live tensors: in reserved and device, not allocated
DRIVER = "driver"  # outside torch's allocator (CUDA context, NCCL, library workspaces): in device only
UNIFIED = "unified"  # cudaMallocManaged pages resident on the device (bitsandbytes paged states): in device only
MEMORY_POOLS: tuple[str, ...] = (ALLOCATED, CACHE, DRIVER, UNIFIED)

_NOT_KEY = re.compile(r"[^a-z0-9]+")


def component_key(name: str) -> str:
    """snake_case identifier of a display name: ``"KV cache (token pool)"`` → ``kv_cache_token_pool``.
    Used only for components whose owner gives no ``key`` (the training estimators, until they do)."""
    return _NOT_KEY.sub("_", name.lower()).strip("_")


@dataclass(frozen=True)
class Component:
    """One named share of GPU memory on one GPU, with the formula that produced it.

    ``key`` is the stable identifier code looks components up by (``weights``, ``kv_cache``,
    ``cuda_context`` …); ``name`` is the English display text. ``low`` / ``high`` bound the figure
    given what is not known exactly (allocator slack, engine version, padding); ``bytes`` is the
    expected value. ``memory`` is the pool the bytes live in (:data:`MEMORY_POOLS`): ``allocated``
    (torch tensors, the default), ``cache`` (reserved by torch's caching allocator beyond its
    tensors), ``driver`` (outside torch: CUDA context, non-torch allocations) or ``unified``
    (managed pages resident on the device).
    """

    name: str
    bytes: int
    formula: str
    category: str
    low: int | None = None
    high: int | None = None
    note: str = ""
    key: str = field(default="", kw_only=True)
    memory: str = field(default=ALLOCATED, kw_only=True)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", component_key(self.name))

    @property
    def lo(self) -> int:
        return self.bytes if self.low is None else self.low

    @property
    def hi(self) -> int:
        return self.bytes if self.high is None else self.high

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "category": self.category, "memory": self.memory,
                "bytes": self.bytes, "low_bytes": self.lo, "high_bytes": self.hi, "formula": self.formula,
                "note": self.note}


def band(value: float, low: float, high: float) -> tuple[int, int, int]:
    """(expected, low, high) as integers from relative factors, e.g. band(x, 0.9, 1.2)."""
    return int(value), int(value * low), int(value * high)


# --- typed parts -------------------------------------------------------------------------------------
def _present(part: Any) -> dict[str, Any]:
    """The part's fields that are set (None left out)."""
    return {f.name: getattr(part, f.name) for f in fields(part) if getattr(part, f.name) is not None}


@dataclass(frozen=True)
class Fit:
    """Whether the per-GPU figure fits the chosen GPU, by the engine's rule (``rule`` says which)."""

    limit_bytes: int  # the GPU's usable memory
    fits: bool
    rule: str = "per-GPU figure within the GPU's usable memory"

    @classmethod
    def within(cls, per_gpu_bytes: int, gpu) -> Fit | None:
        """HF, llama.cpp, training and RL: the per-GPU figure within usable memory (None without a GPU)."""
        if gpu is None:
            return None
        return cls(gpu.usable_bytes, per_gpu_bytes <= gpu.usable_bytes)

    def legacy(self) -> dict[str, Any]:
        return {"fits": self.fits, "fit_limit_bytes": self.limit_bytes}


@dataclass(frozen=True)
class KVCapacity:
    """KV cache figures beside the KV component.

    ``bytes_per_token``: every engine (over the layers on the busiest GPU). ``bytes_needed``: the
    workload's KV (+ recurrent state) for vLLM / SGLang. The pool — vLLM's budget and blocks, SGLang's
    token pool — only with a GPU: ``budget_bytes`` what the engine claims (vLLM ``int(usable × util)``,
    SGLang ``mem_fraction_static × (usable − context)``), ``kv_bytes`` the pool, ``capacity_tokens``
    the tokens it holds, ``num_blocks`` vLLM's blocks, ``max_concurrency`` sequences of
    ``max_model_len`` tokens at once.
    """

    bytes_per_token: float
    bytes_needed: int | None = None
    budget_bytes: int | None = None
    kv_bytes: int | None = None
    capacity_tokens: int | None = None
    num_blocks: int | None = None
    max_concurrency: float | None = None

    _LEGACY = {"bytes_per_token": "kv_bytes_per_token", "bytes_needed": "kv_bytes_needed",
               "budget_bytes": "gpu_memory_budget_bytes", "kv_bytes": "kv_cache_bytes",
               "capacity_tokens": "kv_capacity_tokens", "num_blocks": "num_gpu_blocks",
               "max_concurrency": "max_concurrency"}

    def legacy(self) -> dict[str, Any]:
        return {self._LEGACY[k]: v for k, v in _present(self).items()}


@dataclass(frozen=True)
class HFSettings:
    """transformers ``generate``: tokens per sequence (text + multimodal) and the multimodal share."""

    tokens_per_sequence: int
    multimodal_tokens: int

    def legacy(self) -> dict[str, Any]:
        return _present(self)


@dataclass(frozen=True)
class VLLMSettings:
    """vLLM's scheduler settings as resolved (given, or its per-GPU defaults)."""

    max_num_batched_tokens: int
    max_num_seqs: int
    max_model_len: int
    block_size: int
    vllm_version: str | None = None

    def legacy(self) -> dict[str, Any]:
        return {k: v for k, v in _present(self).items() if k != "vllm_version"}  # the old flat view had no release


@dataclass(frozen=True)
class SGLangSettings:
    """SGLang's server settings as resolved (given, or chosen per GPU as its server_args does), and
    its token pool as SGLang logs it at start-up (with a GPU): ``max_total_num_tokens`` (the
    ``#tokens`` of "KV Cache is allocated", page-aligned), ``k_size_bytes`` / ``v_size_bytes`` (its
    "K size" / "V size", per GPU; MLA models log one ``kv_size_bytes``), the request slots of the
    req_to_token pool and the ``max_running_requests`` the scheduler logs."""

    max_model_len: int
    mem_fraction_static: float
    chunked_prefill_size: int
    page_size: int = 1
    context_len: int | None = None
    max_total_num_tokens: int | None = None
    k_size_bytes: int | None = None
    v_size_bytes: int | None = None
    kv_size_bytes: int | None = None
    req_to_token_slots: int | None = None
    max_running_requests: int | None = None

    _LEGACY = ("max_model_len", "mem_fraction_static", "chunked_prefill_size")

    def legacy(self) -> dict[str, Any]:
        return {k: v for k, v in _present(self).items() if k in self._LEGACY}  # the old flat view's keys


@dataclass(frozen=True)
class LlamaCppSettings:
    """llama.cpp: the context cells allocated and the layers offloaded (``-ngl``); the slots
    (``n_seq_max``, ``-np``), the cells each slot may use (``n_ctx_seq``) and whether they share one
    buffer (``kv_unified``); how the model is split over ``n_devices`` GPUs (``split_mode``,
    ``tensor_split`` as normalised, ``main_gpu``)."""

    n_ctx: int
    n_gpu_layers: int
    n_seq_max: int | None = None
    n_ctx_seq: int | None = None
    kv_unified: bool | None = None
    n_devices: int | None = None
    split_mode: str | None = None
    tensor_split: tuple[float, ...] | None = None
    main_gpu: int | None = None

    def legacy(self) -> dict[str, Any]:
        return {"n_ctx": self.n_ctx, "n_gpu_layers": self.n_gpu_layers}  # the old flat view had only these


@dataclass(frozen=True)
class OllamaSettings:
    """Ollama: the release modelled, num_ctx / num_parallel / flash attention / KV type as Ollama
    chose them, and its layer decision (``layers.offload`` of ``layers.model``, the per-GPU split)."""

    release: str
    num_ctx: int
    num_parallel: int
    flash_attention: bool
    kv_cache_type: str
    layers_offload: int
    layers_model: int

    def legacy(self) -> dict[str, Any]:
        return _present(self)


EngineSettings = HFSettings | VLLMSettings | SGLangSettings | LlamaCppSettings | OllamaSettings


@dataclass(frozen=True)
class DeviceMemory:
    """What one GPU of a llama.cpp split holds, bytes: its layers (``first_layer``–``last_layer``,
    ``layers`` of them; ``output`` when the output layer is there), the weights on it, its KV cache
    and recurrent state, its compute buffer and CUDA context; ``total_bytes`` their sum."""

    index: int
    layers: int
    first_layer: int | None
    last_layer: int | None
    output: bool
    weights_bytes: int
    kv_bytes: int
    state_bytes: int
    compute_bytes: int
    context_bytes: int
    total_bytes: int


@dataclass(frozen=True)
class Placement:
    """Where the estimate's GPU sits and what stays off it: llama.cpp's host RAM beyond ``-ngl``
    (``host_weight_bytes``, ``host_kv_bytes``) and what each GPU of its split holds (``devices``; the
    components are the busiest one's); training's data-parallel size, the degree its model
    states are sharded over and the pipeline stage of the busiest GPU. Fields that do not apply are None."""

    host_weight_bytes: int | None = None
    host_kv_bytes: int | None = None
    devices: tuple[DeviceMemory, ...] | None = None
    busiest_device: int | None = None
    data_parallel: int | None = None
    shard_degree: int | None = None
    pipeline_stage: int | None = None

    def legacy(self) -> dict[str, Any]:
        return {k: v for k, v in _present(self).items() if k not in ("devices", "busiest_device")}  # new: typed only


@dataclass(frozen=True)
class ModelStates:
    """Model states on one GPU, bytes: weights (trained, frozen and adapters), gradients, optimizer
    states and fp32 master weights."""

    weights: int
    gradients: int
    optimizer: int
    master: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.master


@dataclass(frozen=True)
class Phase:
    """One candidate moment of a training step and the bytes alive on the GPU then."""

    name: str
    bytes: int


@dataclass(frozen=True)
class SeedRule:
    """A figure of a seed's quick rule shown beside an RL estimate (``value``: bytes, or the count it uses)."""

    name: str
    value: int


@dataclass(frozen=True)
class RuleOfThumb:
    """A seed's rule of thumb beside a training estimate (not part of it): its bytes, band and ratio to
    the detailed figure."""

    rule: str
    source: str
    bytes: int
    low_bytes: int
    high_bytes: int
    ratio_to_detailed: float | None


@dataclass(frozen=True)
class TrainingStep:
    """The parts of a training / RL step estimate: every candidate moment (``phases``) and the one the
    components describe (``peak_phase``), the model states, activation and logits bytes, trainable
    counts, the micro-batch's tokens; RL's seed rules (``quick_rules``) and the seeds' rules of thumb
    (``rules_of_thumb``, set by ``api``)."""

    phases: tuple[Phase, ...]
    peak_phase: str
    states: ModelStates
    activations_bytes: int
    logits_loss_bytes: int
    trainable_params: int
    trainable_params_per_gpu: int
    adapter_params: int
    lora_targets: tuple[str, ...]
    tokens_per_micro_batch: int
    quick_rules: tuple[SeedRule, ...] | None = None
    rules_of_thumb: tuple[RuleOfThumb, ...] | None = None

    def phase(self, name: str) -> int:
        for p in self.phases:
            if p.name == name:
                return p.bytes
        raise KeyError(name)

    def legacy(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "phases": {p.name: p.bytes for p in self.phases},
            "peak_phase": self.peak_phase,
            "states": {"weights": self.states.weights, "gradients": self.states.gradients,
                       "optimizer": self.states.optimizer, "master": self.states.master},
            "model_states_bytes": self.states.total,
            "activations_bytes": self.activations_bytes,
            "logits_loss_bytes": self.logits_loss_bytes,
            "trainable_params": self.trainable_params,
            "trainable_params_per_gpu": self.trainable_params_per_gpu,
            "adapter_params": self.adapter_params,
            "lora_targets": list(self.lora_targets),
            "tokens_per_micro_batch": self.tokens_per_micro_batch,
        }
        if self.quick_rules is not None:
            out["quick_rules"] = {r.name: r.value for r in self.quick_rules}
        if self.rules_of_thumb is not None:
            out["rules_of_thumb"] = [asdict(r) for r in self.rules_of_thumb]
        return out


@dataclass(frozen=True)
class Speed:
    """Roofline estimate of prefill time and decode throughput (not a measurement)."""

    prefill_seconds: float | None
    decode_tokens_per_s: float | None  # all sequences together
    decode_tokens_per_s_per_seq: float | None
    note: str = "roofline estimate, not a measurement"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GPUCount:
    """A catalog GPU, how many of them and the layout that runs the workload."""

    gpu: str
    count: int
    tp: int
    pp: int


class RunsOn:
    """The catalog GPUs that run the workload: computed the first time it is asked for, then kept."""

    __slots__ = ("_compute", "_value")

    def __init__(self, compute: Callable[[], list[GPUCount]]):
        self._compute = compute
        self._value: tuple[GPUCount, ...] | None = None

    @property
    def entries(self) -> tuple[GPUCount, ...]:
        if self._value is None:
            self._value = tuple(self._compute())
            self._compute = None  # type: ignore[assignment]  # let go of the spec and workload
        return self._value

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(x) for x in self.entries]

    def __repr__(self) -> str:
        return "RunsOn(…)" if self._value is None else f"RunsOn({len(self._value)} GPUs)"

    def __reduce__(self):
        """Pickled (to another process) as its computed entries: the closure does not travel."""
        return (_runs_on_of, (self.entries,))


def _runs_on_of(entries: tuple[GPUCount, ...]) -> RunsOn:
    r = RunsOn(lambda: list(entries))
    r.entries  # noqa: B018 - resolve at once
    return r


#: the figures of :class:`MemoryFigures`, in the order they nest (allocated ≤ reserved ≤ device)
FIGURES: tuple[str, ...] = ("allocated", "reserved", "device")
#: the pools each figure holds
FIGURE_POOLS: dict[str, tuple[str, ...]] = {"allocated": (ALLOCATED,), "reserved": (ALLOCATED, CACHE),
                                            "device": MEMORY_POOLS}
#: what each figure is, as the tools that show it name it
FIGURE_MEANS: dict[str, str] = {
    "allocated": "peak allocated: torch.cuda.max_memory_allocated (torch tensors)",
    "reserved": "peak reserved: torch.cuda.max_memory_reserved (the caching allocator: tensors + its cache)",
    "device": "device memory as nvidia-smi shows it (reserved + CUDA context, memory outside torch, "
              "unified-memory pages on the device)",
}


@dataclass(frozen=True)
class Figure:
    """One figure of one GPU: expected bytes and the low–high band."""

    bytes: int
    low_bytes: int
    high_bytes: int


@dataclass(frozen=True)
class MemoryFigures:
    """The three figures of one GPU, summed from the components by the pool they live in.

    ``allocated`` — the ``allocated`` pool: what ``torch.cuda.max_memory_allocated`` reports;
    ``reserved`` — allocated + ``cache`` (the caching allocator's blocks beyond live tensors):
    ``torch.cuda.max_memory_reserved``; ``device`` — every component (+ ``driver``: CUDA context and
    memory outside torch, + ``unified``: managed pages resident on the device): what ``nvidia-smi``
    shows, the estimate's per-GPU figure. An engine that does not allocate through torch (llama.cpp,
    Ollama) has no allocated / reserved figure: they are None and ``unavailable`` says why.
    """

    allocated: Figure | None
    reserved: Figure | None
    device: Figure
    unavailable: str | None = None

    @classmethod
    def of(cls, components: tuple[Component, ...], unavailable: str | None = None) -> MemoryFigures:
        def summed(pools: tuple[str, ...]) -> Figure:
            parts = [c for c in components if c.memory in pools]
            return Figure(sum(c.bytes for c in parts), sum(c.lo for c in parts), sum(c.hi for c in parts))

        torch = unavailable is None
        return cls(summed(FIGURE_POOLS["allocated"]) if torch else None,
                   summed(FIGURE_POOLS["reserved"]) if torch else None,
                   summed(FIGURE_POOLS["device"]), unavailable)

    def figure(self, kind: str) -> Figure | None:
        """The figure called ``kind`` (allocated | reserved | device); None where the engine has none."""
        if kind not in FIGURES:
            raise KeyError(f"unknown figure {kind!r}; use one of {', '.join(FIGURES)}")  # a programmer's lookup
        return getattr(self, kind)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: (asdict(f) if (f := getattr(self, k)) is not None else None) for k in FIGURES},
                "unavailable": self.unavailable}


class _LegacyView(Mapping):
    """The flat ``details`` mapping of the typed parts; the runs-on list is computed only on access."""

    def __init__(self, values: dict[str, Any], lazy: dict[str, Callable[[], Any]]):
        self._values = values
        self._lazy = lazy

    def __getitem__(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        if key in self._lazy:
            return self._lazy[key]()
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from self._values
        yield from (k for k in self._lazy if k not in self._values)

    def __len__(self) -> int:
        return len(self._values) + sum(k not in self._values for k in self._lazy)


@dataclass(frozen=True)
class Estimate:
    """Memory of one workload on one GPU (the busiest one when the model is split), with its parts."""

    model: dict[str, Any]
    mode: str
    engine: str
    workload: dict[str, Any]
    components: tuple[Component, ...]
    num_gpus: int = 1
    gpu: dict[str, Any] | None = None
    assumptions: tuple[str, ...] = ()
    host_bytes: int = 0  # memory kept in host RAM (llama.cpp CPU layers, offloaded states)
    fit: Fit | None = None
    kv: KVCapacity | None = None
    settings: EngineSettings | None = None
    placement: Placement | None = None
    speed: Speed | None = None
    training: TrainingStep | None = None
    runs_on: RunsOn | None = field(default=None, compare=False)
    #: why there are no torch allocated / reserved figures (an engine that does not allocate through
    #: torch: llama.cpp, Ollama); None for torch engines
    no_torch: str | None = None

    @property
    def per_gpu_bytes(self) -> int:
        return sum(c.bytes for c in self.components)

    @property
    def low_bytes(self) -> int:
        return sum(c.lo for c in self.components)

    @property
    def high_bytes(self) -> int:
        return sum(c.hi for c in self.components)

    @property
    def total_bytes(self) -> int:
        return self.per_gpu_bytes * self.num_gpus

    @property
    def memory(self) -> MemoryFigures:
        """Peak allocated, peak reserved and device memory of one GPU (:class:`MemoryFigures`)."""
        return MemoryFigures.of(self.components, self.no_torch)

    def component(self, key: str) -> Component:
        """The component with this ``key`` (``weights``, ``kv_cache`` …)."""
        for c in self.components:
            if c.key == key:
                return c
        raise KeyError(key)

    def by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.components:
            out[c.category] = out.get(c.category, 0) + c.bytes
        return out

    @property
    def fits(self) -> bool | None:
        """Whether the estimate fits the chosen GPU by its engine's rule (None when no GPU was chosen)."""
        return self.fit.fits if self.fit is not None else None

    def legacy_details(self, *, lazy: bool = True) -> Mapping[str, Any]:
        """The flat view of the parts under their old ``details`` paths (``lazy=False`` leaves out the
        parts computed on demand, i.e. the runs-on list)."""
        values: dict[str, Any] = {}
        for part in (self.fit, self.kv, self.settings, self.placement, self.training):
            if part is not None:
                values.update(part.legacy())
        if self.speed is not None:
            values["speed"] = self.speed.to_dict()
        later = {"fits_on": self.runs_on.to_list} if lazy and self.runs_on is not None else {}
        return _LegacyView(values, later)

    @property
    def details(self) -> Mapping[str, Any]:
        """LEGACY view: the parts under the flat paths of the old ``details`` dict (scripts read it)."""
        return self.legacy_details()

    def to_dict(self) -> dict[str, Any]:
        out = {
            "model": self.model,
            "mode": self.mode,
            "engine": self.engine,
            "workload": self.workload,
            "num_gpus": self.num_gpus,
            "per_gpu_bytes": self.per_gpu_bytes,
            "total_bytes": self.total_bytes,
            "low_bytes": self.low_bytes,
            "high_bytes": self.high_bytes,
            "memory": self.memory.to_dict(),
            "host_bytes": self.host_bytes,
            "components": [c.to_dict() for c in self.components],
            "gpu": self.gpu,
            "fits": self.fits,
            "fit": asdict(self.fit) if self.fit is not None else None,
            "kv": asdict(self.kv) if self.kv is not None else None,
            "settings": asdict(self.settings) if self.settings is not None else None,
            "placement": asdict(self.placement) if self.placement is not None else None,
            "speed": self.speed.to_dict() if self.speed is not None else None,
            "training": asdict(self.training) if self.training is not None else None,
            "runs_on": self.runs_on.to_list() if self.runs_on is not None else None,
            "details": dict(self.details),
            "assumptions": list(self.assumptions),
        }
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
