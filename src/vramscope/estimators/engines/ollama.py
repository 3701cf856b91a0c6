"""Ollama as an engine: its defaults, its environment variables and its own decision of how many
layers go to the GPU, turned into vramscope components.

The memory figures are Ollama's own estimate (:mod:`.ollama_memory`, llm/memory.go of v0.12.10 or
an older release): what Ollama reserves per GPU when it decides ``--n-gpu-layers`` and what
``ollama ps`` reports as the model's size (``size_vram`` = memory.required.partial, ``size`` =
memory.required.full). The runner's real allocation can differ (its graph is measured, not
estimated); the layer split is Ollama's decision and so exactly what a user gets.

How Ollama chooses the workload (server/sched.go, server/routes.go, llm/server.go at 4372d0b;
release differences in :mod:`.ollama_memory`):

* ``num_ctx``: the request's ``num_ctx``, else ``OLLAMA_CONTEXT_LENGTH``, else 4096 (2048 before
  v0.6.7); at least 2048 for a model with a vision tower; at least 8192 for gpt-oss (v0.11.1+,
  fa7776fd2) unless total VRAM < 20 GiB ("low VRAM mode"); at most the trained context (v0.9.4+,
  10a8e04a8).
* ``num_parallel``: ``OLLAMA_NUM_PARALLEL``, else 1 (v0.10+); before, the scheduler tried
  ``defaultParallel`` (4, or 2 from v0.6.7) and fell back to 1 when the model did not fit.
  The KV cache holds ``num_ctx × num_parallel`` cells.
* flash attention: ``OLLAMA_FLASH_ATTENTION`` (default on for gpt-oss, qwen3, gemma3 in recent
  releases); ``OLLAMA_KV_CACHE_TYPE`` f16 / q8_0 / q4_0 only with flash attention.
* ``OLLAMA_GPU_OVERHEAD`` bytes kept free per GPU; ``OLLAMA_SCHED_SPREAD`` uses all GPUs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ...errors import VramscopeError
from ...units import fmt_gib
from ..kv import KVPolicy
from ..result import (
    ACTIVATIONS,
    ENCODER,
    ENGINE,
    KV,
    WEIGHTS,
    Component,
    Fit,
    KVCapacity,
    OllamaSettings,
    Placement,
)
from . import ollama_memory as M
from .base import Engine, EngineResult

#: Ollama runs llama.cpp's ggml (its own runner), not torch
NO_TORCH = ("Ollama allocates through ggml (its llama.cpp runner), not PyTorch: there is no torch allocated / "
            "reserved figure, only device memory (nvidia-smi)")

#: server/routes.go lowVRAMThreshold at 4372d0b
LOW_VRAM = 20 * M.GIB


@dataclass(frozen=True)
class OllamaOptions:
    """What a user sets (request options or OLLAMA_* variables); ``None`` = Ollama's default."""

    release: str = M.MODELLED_RELEASE
    num_ctx: int | None = None
    parallel: int | None = None
    num_batch: int = M.DEFAULT_NUM_BATCH
    num_gpu: int = -1
    kv_type: str = "f16"
    flash_attention: bool | None = None
    gpu_overhead: int = 0
    spread: bool = False

    def __post_init__(self) -> None:
        M.parse_release(self.release)
        M.kv_bytes_per_element(self.kv_type)
        if self.parallel is not None and self.parallel < 1:
            raise VramscopeError(f"num_parallel must be at least 1 (got {self.parallel}); "
                                 "OLLAMA_NUM_PARALLEL unset means Ollama's default")
        if self.num_ctx is not None and self.num_ctx < 1:
            raise VramscopeError(f"num_ctx must be at least 1 (got {self.num_ctx})")
        if self.num_batch < 1:
            raise VramscopeError(f"num_batch must be at least 1 (got {self.num_batch})")
        if self.gpu_overhead < 0:
            raise VramscopeError(f"OLLAMA_GPU_OVERHEAD must be a number of bytes ≥ 0 (got {self.gpu_overhead})")


_TRUE = {"1", "t", "true"}
_FALSE = {"0", "f", "false"}


def _bool(env: Mapping[str, str], key: str) -> bool | None:
    """envconfig Bool: Go's strconv.ParseBool (1/t/true/0/f/false, any case); unset/other = None."""
    raw = env.get(key, "").strip().strip("'\"").lower()
    return True if raw in _TRUE else False if raw in _FALSE else None


def _uint(env: Mapping[str, str], key: str) -> int | None:
    raw = env.get(key, "").strip().strip("'\"")
    if not raw:
        return None
    if not raw.isdigit():
        raise VramscopeError(f"{key}={raw!r} is not a whole number")
    return int(raw)


def options_from_env(env: Mapping[str, str], **overrides) -> OllamaOptions:
    """The :class:`OllamaOptions` that ``OLLAMA_*`` variables in ``env`` set, then ``overrides``
    (request options win over the environment, as in Ollama). Ollama ignores a malformed variable
    with a warning; here it is refused, naming it."""
    kw: dict = {}
    if (v := _uint(env, "OLLAMA_CONTEXT_LENGTH")) is not None and v > 0:
        kw["num_ctx"] = v
    if (v := _uint(env, "OLLAMA_NUM_PARALLEL")) is not None and v > 0:
        kw["parallel"] = v
    if (v := _uint(env, "OLLAMA_GPU_OVERHEAD")) is not None:
        kw["gpu_overhead"] = v
    if (v := _bool(env, "OLLAMA_FLASH_ATTENTION")) is not None:
        kw["flash_attention"] = v
    if (v := _bool(env, "OLLAMA_SCHED_SPREAD")) is not None:
        kw["spread"] = v
    if kv := env.get("OLLAMA_KV_CACHE_TYPE", "").strip().lower():
        kw["kv_type"] = kv
    kw.update({k: v for k, v in overrides.items() if v is not None})
    return OllamaOptions(**kw)


@dataclass(frozen=True)
class OllamaRun:
    """Ollama's choices for one load and its estimate on the GPUs it picked."""

    estimate: M.OllamaEstimate
    num_ctx: int
    parallel: int
    flash_attention: bool
    kv_type: str
    notes: tuple[str, ...] = field(default=())


def resolve_num_ctx(m: M.OllamaModel, opts: OllamaOptions, total_vram: int) -> tuple[int, list[str]]:
    """The num_ctx Ollama runs with (see the module docstring), with a note for each adjustment."""
    rel = M.parse_release(opts.release)
    notes: list[str] = []
    ctx = opts.num_ctx if opts.num_ctx is not None else M.default_num_ctx(rel)
    if opts.num_ctx is None:
        notes.append(f"num_ctx {ctx}: Ollama's default (OLLAMA_CONTEXT_LENGTH unset, v{opts.release})")
    if m.vision_weights and ctx < 2048:
        ctx = 2048
        notes.append("num_ctx raised to 2048: Ollama's minimum for vision models")
    if m.arch in ("gptoss", "gpt-oss") and rel >= (0, 11, 1) and total_vram >= LOW_VRAM and ctx < 8192:
        ctx = 8192
        notes.append("num_ctx raised to 8192: Ollama's minimum for gpt-oss outside low-VRAM mode")
    if rel >= (0, 9, 4) and m.trained_ctx and ctx > m.trained_ctx:
        ctx = m.trained_ctx
        notes.append(f"num_ctx capped at the trained context {m.trained_ctx}")
    return ctx, notes


def run(m: M.OllamaModel, gpus: list[M.Gpu], opts: OllamaOptions) -> OllamaRun:
    """Resolve Ollama's defaults for ``m`` and run its estimate on the GPUs its scheduler picks."""
    rel = M.parse_release(opts.release)
    ctx, notes = resolve_num_ctx(m, opts, sum(g.free for g in gpus))
    flash = opts.flash_attention if opts.flash_attention is not None else M.flash_attention_default(m.arch, opts.release)
    if flash and not M.supports_flash_attention(m, opts.release):
        notes.append("flash attention requested but the model does not support it: Ollama runs without it")
    if opts.kv_type != "f16" and not (flash and M.supports_flash_attention(m, opts.release) and rel >= (0, 5, 0)):
        notes.append(f"OLLAMA_KV_CACHE_TYPE={opts.kv_type} has no effect without flash attention: f16 cache")
    tries = [opts.parallel] if opts.parallel is not None else (
        [M.default_parallel(rel), 1] if M.default_parallel(rel) > 1 else [1])

    def once(parallel: int) -> M.OllamaEstimate:
        return M.schedule(m, gpus, spread=opts.spread, ctx=ctx * parallel, parallel=parallel,
                          num_batch=opts.num_batch, num_gpu=opts.num_gpu, kv_type=opts.kv_type,
                          flash_attention=flash, gpu_overhead=opts.gpu_overhead, release=opts.release)

    need = m.block_count + 1 if opts.num_gpu < 0 else opts.num_gpu
    parallel = tries[0]
    est = once(parallel)
    if est.layers_offload < need and len(tries) > 1:  # the default does not fit: one slot
        parallel = tries[1]
        est = once(parallel)
    if opts.parallel is None and len(tries) > 1:
        notes.append(f"num_parallel {parallel}: Ollama tries {tries[0]} then 1 (OLLAMA_NUM_PARALLEL unset, "
                     f"v{opts.release})")
    return OllamaRun(est, ctx, parallel, est.flash_attention, est.kv_type, tuple(notes))


def gpu_components(r: OllamaRun, m: M.OllamaModel, index: int) -> list[Component]:
    """The components of GPU ``index`` as Ollama reserves them; they add up to its logged
    allocation (memory.required.allocations[index])."""
    e = r.estimate
    if not e.split or e.split[index] == 0 and e.allocations[index] == 0:
        return []
    layers = e.placed_layers[index]
    w = sum(m.layer_bytes[i] for i in layers)
    kv = sum(e.kv_per_layer[i] for i in layers)
    out: list[Component] = []
    if e.output_gpu == index:
        w += e.output_bytes
    head = " + output" if e.output_gpu == index else ""
    out.append(Component("weights", w, f"GGUF tensors of {len(layers)} of {m.block_count} layers{head}", WEIGHTS,
                         key="weights"))
    cells = r.num_ctx * r.parallel
    out.append(Component("KV cache", kv, f"{len(layers)} layers × {cells:,} cells (num_ctx {r.num_ctx} × "
                         f"num_parallel {r.parallel}) × (K {m.key_length} + V {m.value_length}) × KV heads × "
                         f"{M.kv_bytes_per_element(r.kv_type):g} B ({r.kv_type})", KV, key="kv_cache"))
    if e.split[index] > 0:
        fully = e.fully_offloaded
        graph = e.graph_full if fully else e.graph_partial
        out.append(Component("compute graph", graph, f"Ollama's GraphSize for {m.arch} "
                             f"({'full' if fully else 'partial'} offload, batch {min(cells, 512)})", ACTIVATIONS,
                             key="compute_graph"))
    vision = (e.gpu_zero if e.gpu_zero_index == index else 0) + (e.last_extra if e.output_gpu == index else 0)
    if vision:
        out.append(Component("vision projector", vision, "vision tower weights + its graph (Ollama's "
                             "VisionGraphSize)", ENCODER, key="vision_projector"))
    out.append(Component("Ollama reserve", e.minimum[index] + e.buffer_layer,
                         f"GPU minimum {fmt_gib(e.minimum[index])} + one layer kept free "
                         f"(blk.0 + its KV, {fmt_gib(e.buffer_layer)})", ENGINE, key="ollama_reserve"))
    return out


def busiest_gpu(r: OllamaRun) -> int:
    """The GPU with the largest allocation (vramscope reports the busiest GPU of a split model)."""
    allocs = r.estimate.allocations
    return max(range(len(allocs)), key=lambda i: allocs[i]) if allocs else 0


@dataclass(frozen=True)
class OllamaResult:
    """One Ollama load: the components of its busiest GPU, what stays on the host, the notes."""

    components: tuple[Component, ...]
    run: OllamaRun
    model: M.OllamaModel
    gpu_index: int
    host_bytes: int
    assumptions: tuple[str, ...]
    weights_format: str

    def details(self) -> dict:
        """The ``offload`` line as Ollama would log it, plus the choices it made."""
        e = self.run.estimate
        return {"ollama_release": e.release, "num_ctx": self.run.num_ctx, "num_parallel": self.run.parallel,
                "flash_attention": self.run.flash_attention, "kv_cache_type": self.run.kv_type,
                "layers_offload": e.layers_offload, "layers_model": e.layers_model, "layers_split": list(e.split),
                "allocations_bytes": list(e.allocations), "required_full_bytes": e.required_full,
                "required_partial_bytes": e.required_partial, "offload_log": e.log_fields()}


def estimate_load(spec, *, weights: str | None, opts: OllamaOptions, gpu_free: list[int],
                  library: str = "cuda") -> OllamaResult:
    """Ollama's load of ``spec`` on GPUs with ``gpu_free`` bytes free each (what the driver reports:
    Ollama's ``memory.available``). ``weights`` is the GGUF file type of the blob; a spec read from a
    GGUF file (an Ollama blob) uses its own tensors. No GPU: every layer on the CPU."""
    notes: list[str] = []
    if spec.source == "gguf":
        quant = (spec.quantization or {}).get("gguf_file_type") or "GGUF"
        if weights and weights.upper() != str(quant).upper():
            raise VramscopeError(f"the GGUF file is {quant}; --weights {weights} cannot change it (pick another blob)")
    else:
        quant = weights or "Q4_K_M"
        if weights is None:
            notes.append("weights Q4_K_M: the file type of most Ollama library tags (pass --weights for -q8_0, -fp16 … tags)")
    m = M.model_from_spec(spec, quant if spec.source != "gguf" else None)
    gpus = [M.Gpu(int(f), library) for f in gpu_free]
    r = run(m, gpus, opts)
    notes.extend(r.notes)
    e = r.estimate
    if not gpus or e.layers_offload == 0:
        notes.append(("no GPU chosen" if not gpus else "no layer fits on the GPU") + ": Ollama runs the whole "
                     f"model on the CPU ({fmt_gib(e.required_full)} of host memory by its estimate)")
        return OllamaResult((), r, m, 0, e.required_full, tuple(notes), quant)
    i = busiest_gpu(r)
    if not e.fully_offloaded:
        notes.append(f"Ollama offloads {e.layers_offload} of {e.layers_model} layers to the GPU"
                     f"{'s' if len(gpus) > 1 else ''}; {fmt_gib(e.overflow)} of weights and KV stay in host RAM")
    if len(gpus) > 1:
        notes.append(f"layers split {','.join(map(str, e.split))} over {len(e.split)} GPUs; the figures are GPU {i}'s, "
                     "the busiest")
    return OllamaResult(tuple(gpu_components(r, m, i)), r, m, i, e.overflow, tuple(notes), quant)


#: vramscope KV dtype names Ollama's cache types answer to (OLLAMA_KV_CACHE_TYPE: f16 / q8_0 / q4_0)
_KV_NAMES = {"auto": "f16", "f16": "f16", "fp16": "f16", "float16": "f16", "q8_0": "q8_0", "q4_0": "q4_0"}


def options_from_workload(wl, *, release: str | None = None, flash_attention: bool | None = None,
                          gpu_overhead: int = 0, spread: bool = False) -> OllamaOptions:
    """Ollama's options from an :class:`~vramscope.workload.Inference`: ``context`` → num_ctx (None:
    Ollama's default), ``max(n_parallel, batch)`` → num_parallel (1: Ollama's default 1 of v0.10+),
    ``kv_dtype`` → the cache type, ``n_gpu_layers`` → num_gpu."""
    kv = _KV_NAMES.get(str(wl.kv_dtype).lower())
    if kv is None:
        raise VramscopeError(f"Ollama's KV cache types are f16, q8_0 and q4_0 (OLLAMA_KV_CACHE_TYPE); "
                             f"--kv-dtype {wl.kv_dtype} is not one")
    slots = max(wl.n_parallel, wl.batch)
    return OllamaOptions(release=release or M.MODELLED_RELEASE, num_ctx=wl.context,
                         parallel=slots if slots > 1 else None, kv_type=kv, flash_attention=flash_attention,
                         num_gpu=-1 if wl.n_gpu_layers is None else wl.n_gpu_layers, gpu_overhead=gpu_overhead,
                         spread=spread)


def estimate_workload(spec, wl, gpu=None, **kw) -> OllamaResult:
    """:func:`estimate_load` for a workload on ``wl.num_gpus`` copies of ``gpu`` (its usable memory
    taken as the free memory Ollama sees; the driver reports a few hundred MiB less on a GPU that
    also drives a display); no GPU: the CPU."""
    opts = options_from_workload(wl, **kw)
    free = [gpu.usable_bytes] * max(1, wl.num_gpus) if gpu is not None else []
    library = "metal" if gpu is not None and getattr(gpu, "vendor", "") == "apple" else "rocm" if (
        gpu is not None and getattr(gpu, "vendor", "") == "amd") else "cuda"
    return estimate_load(spec, weights=wl.weights, opts=opts, gpu_free=free, library=library)


# --- the registry entry (estimators/engines/__init__.py) ----------------------------------------------

#: Ollama's KV cache: llama.cpp's (latent MLA, sliding layers hold window + batch) — though its own
#: estimate counts every layer at the full context except gemma3 / gpt-oss (ollama_memory.kv_per_layer)
KV_POLICY = KVPolicy("ollama", sliding_holds_batch=True)


def estimate(spec, wl, gpu=None) -> EngineResult:
    """Ollama (modelled release v0.12.10) loading ``spec`` on ``gpu``: the busiest GPU's share of
    Ollama's own estimate, its layer decision, and what stays in host RAM."""
    if wl.tp > 1 or wl.pp > 1 or wl.ep > 1:
        raise VramscopeError("Ollama splits layers over GPUs itself (no --tp/--pp/--ep); the Python API "
                             "vramscope.estimators.engines.ollama.estimate_load takes several GPUs")
    res = estimate_workload(spec, wl, gpu)
    r, e = res.run, res.run.estimate
    comps = res.components
    kv_gpu = sum(c.bytes for c in comps if c.key == "kv_cache")
    cells = r.num_ctx * r.parallel
    host_kv = sum(e.kv_per_layer) - sum(e.kv_per_layer[i] for p in e.placed_layers for i in p)
    notes = list(res.assumptions)
    if gpu is not None:
        notes.append("figures are Ollama's own estimate (what it reserves and `ollama ps` reports), from its "
                     f"llm/memory.go of v{e.release}; 'fits' means Ollama puts every layer on the GPU")
    settings = OllamaSettings(e.release, r.num_ctx, r.parallel, r.flash_attention, r.kv_type, e.layers_offload,
                              e.layers_model)
    per_gpu = sum(c.bytes for c in comps)
    fit = None if gpu is None else Fit(gpu.usable_bytes, e.fully_offloaded and per_gpu <= gpu.usable_bytes,
                                       "Ollama offloads every layer to the GPU (its own estimate)")
    return EngineResult(comps, res.weights_format, tuple(notes), fit,
                        KVCapacity(kv_gpu / cells if cells else 0.0), settings,
                        Placement(max(0, res.host_bytes - host_kv), host_kv), res.host_bytes, no_torch=NO_TORCH)


ENTRY = Engine("ollama", estimate, context_step=lambda wl: 1, gpu_dependent=True, kv=KV_POLICY,
               options=("n_gpu_layers", "n_parallel"), max_gpus=1)
