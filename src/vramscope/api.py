"""The Python API: ``vramscope.estimate``, ``vramscope.fit``, ``vramscope.plan``.

Thin glue over sources → workload → estimate → solve; every number comes from ``estimators/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import VramscopeError
from .estimators.inference import estimate_inference
from .estimators.result import Estimate
from .invariants import checked
from .spec import ModelSpec
from .workload import Inference, make_inference


def _spec(model: str | ModelSpec, active: str | int | None = None) -> ModelSpec:
    if active is not None:
        from .sources.bare_size import is_bare_size

        if isinstance(model, ModelSpec) or not is_bare_size(model):
            name = model.id if isinstance(model, ModelSpec) else model
            raise VramscopeError(f"active applies to a bare size such as 56B; {name} has its own parameter counts")
    if isinstance(model, ModelSpec):
        return model
    from .sources import load_model

    return load_model(model, active=active)


def resolve_gpu(gpu: str | Any | None = None, gpu_memory: str | int | None = None):
    """A catalog GPU by name, or a custom one from a memory size (``24GiB``)."""
    from . import hardware

    if gpu is not None and gpu_memory is not None:
        base = gpu if not isinstance(gpu, str) else hardware.find_gpu(gpu)
        from dataclasses import replace

        return replace(base, memory_bytes=hardware.custom_gpu(gpu_memory).memory_bytes)
    if gpu_memory is not None:
        return hardware.custom_gpu(gpu_memory)
    if gpu is None or not isinstance(gpu, str):
        return gpu
    return hardware.find_gpu(gpu)


def estimate(model: str | ModelSpec, *, gpu: str | Any | None = None, gpu_memory: str | int | None = None,
             active: str | int | None = None, gpus: int | None = None, **workload: Any) -> Estimate:
    """Memory of an inference workload per GPU — or of a training / RL step when ``method`` or ``rl`` is given.

    ``workload`` takes the :class:`~vramscope.workload.Inference` fields (engine, weights, kv_dtype,
    batch, prompt_len, gen_len, context, tp, pp, gpu_memory_utilization, max_model_len, n_gpu_layers …).
    ``gpus`` is a shorthand for ``tp``. Training takes the :class:`~vramscope.workload.Training`
    fields (method, precision, optimizer, batch, seq_len, grad_accum, grad_ckpt, attn, lora_rank,
    lora_targets, zero, fsdp, offload, tp, pp, dp, ep, cp, rl, num_generations, completion_len …);
    there ``gpus`` is the total GPU count (data parallel = gpus / (tp·pp·cp)). With a GPU the estimate says whether it fits and, for vLLM,
    the KV capacity; the speed estimate and the catalog GPUs that fit are in ``details``.
    """
    spec = _spec(model, active)
    if is_training(workload):
        return estimate_training_workload(spec, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, **workload)
    wl = inference_workload(gpus, workload)
    g = resolve_gpu(gpu, gpu_memory)
    est = estimate_inference(spec, wl, g)
    from . import solve

    # which catalog GPUs run it, and how many (up to one 8-GPU node)
    est.details["fits_on"] = [{"gpu": p.gpu.id, "count": p.count, "tp": p.tp, "pp": p.pp}
                              for p in solve.fit_gpus(spec, wl, max_gpus=8)]
    if g is not None:
        from .estimators.speed import speed

        prompt = wl.prompt_len if wl.context is None else max(1, wl.tokens - wl.gen_len)
        est.details["speed"] = speed(spec, est, g, batch=wl.batch, prompt=prompt, context=wl.tokens).to_dict()
    return checked(est)


@dataclass(frozen=True)
class FitResult:
    """The most that fits on a GPU setup."""

    model: str
    gpu: str
    num_gpus: int
    max_context: int
    max_batch: int
    max_n_gpu_layers: int | None
    workload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def to_json(self) -> str:
        import json

        return json.dumps(self.to_dict(), indent=2)


def fit(model: str | ModelSpec, *, gpu: str | Any | None = None, gpu_memory: str | int | None = None,
        gpus: int | None = None, active: str | int | None = None, **workload: Any) -> FitResult:
    """The longest context (at the workload's batch) and the largest batch (at its context) that fit."""
    from . import solve

    spec = _spec(model, active)
    wl = inference_workload(gpus, workload)
    g = resolve_gpu(gpu, gpu_memory)
    if g is None:
        raise VramscopeError("fit needs a GPU: pass gpu='H100-SXM-80GB' or gpu_memory='24GiB'")
    return FitResult(
        model=spec.id, gpu=g.id, num_gpus=wl.num_gpus,
        max_context=solve.max_context(spec, wl, g),
        max_batch=solve.max_batch(spec, wl, g),
        max_n_gpu_layers=solve.max_ngl(spec, wl, g) if wl.engine == "llamacpp" else None,
        workload=wl.to_dict(),
    )


def plan(model: str | ModelSpec, *, active: str | int | None = None, max_gpus: int = 64, gpu: str | Any | None = None,
         gpus: int | None = None, gpu_memory: str | int | None = None, **workload: Any) -> list[dict[str, Any]]:
    """Catalog GPUs that run the workload, with counts and layout, cheapest first.

    ``gpu`` keeps one GPU model (a catalog name or a hardware.GPU), ``gpu_memory`` the catalog GPUs with at
    least that much memory, ``gpus`` the setups of exactly that many GPUs; ``tp`` / ``pp`` given in the
    workload fix the layout's tensor / pipeline sizes (otherwise the plan chooses them).
    """
    from . import hardware, solve

    if gpu is not None and gpu_memory is not None:
        raise VramscopeError("plan takes --gpu (one GPU model) or --gpu-memory (GPUs with at least that much), not both")
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1):
        raise VramscopeError(f"gpus must be a whole number >= 1 (got {gpus!r})")
    spec = _spec(model, active)
    fixed = {k: workload[k] for k in ("tp", "pp") if workload.get(k) is not None}
    wl = inference_workload(None, workload)
    if gpus is not None and fixed and gpus != wl.tp * wl.pp and len(fixed) == 2:
        raise VramscopeError(f"gpus = {gpus} but tp × pp = {wl.tp * wl.pp}")
    candidates = None
    if gpu is not None:
        candidates = [resolve_gpu(gpu)]
    elif gpu_memory is not None:
        least = hardware.custom_gpu(gpu_memory).memory_bytes
        candidates = [g for g in hardware.gpus() if g.memory_bytes >= least]
        if not candidates:
            raise VramscopeError(f"no catalog GPU has {gpu_memory} or more")
    return [p.to_dict() for p in solve.cheapest(spec, wl, candidates, max_gpus=max(max_gpus, gpus or 0),
                                                count=gpus, **fixed)]


_INFERENCE_ONLY = {"engine", "weights", "kv_dtype", "prompt_len", "gen_len", "context", "gpu_memory_utilization",
                   "max_model_len", "max_num_seqs", "max_num_batched_tokens", "block_size", "enforce_eager",
                   "mem_fraction_static", "n_gpu_layers", "n_batch", "n_ubatch", "flash_attn", "n_parallel",
                   "kv_offload", "cache", "attn_impl", "images", "image_size", "video_seconds", "fps", "audio_seconds"}


def is_training(workload: dict[str, Any]) -> bool:
    """A workload is training when it names a method or an RL algorithm."""
    return workload.get("method") is not None or workload.get("rl") is not None


def inference_workload(gpus: int | None, workload: dict[str, Any]) -> Inference:
    """The validated inference workload; ``gpus`` (one model replica over that many GPUs) means tensor parallel.

    A field the chosen engine does not read (``gpu_memory_utilization`` for HF, ``n_gpu_layers`` for
    vLLM …) is refused, naming the engines that read it.
    """
    from .workload import ENGINE_OPTIONS, inapplicable

    engine = workload.get("engine") or "hf"
    stray = inapplicable(engine, [k for k, v in workload.items() if v is not None])
    if engine == "llamacpp" and isinstance(gpus, int) and not isinstance(gpus, bool) and gpus > 1:
        stray = {"gpus": ENGINE_OPTIONS["tp"], **stray}
    if stray:
        raise VramscopeError(stray_message(engine, stray))
    given = {k for k, v in workload.items() if v is not None}
    if {"prompt_len", "context"} <= given:
        raise VramscopeError("context is the tokens per sequence (prompt + generated): give context (with gen_len), "
                             "or prompt_len and gen_len, not context and prompt_len")
    if "image_size" in given and not workload.get("images"):
        raise VramscopeError("image_size applies to images: give images too (it sizes each image)")
    if "fps" in given and not workload.get("video_seconds"):
        raise VramscopeError("fps applies to video: give video_seconds too (it samples the video's frames)")
    if gpus is not None:
        if isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1:
            raise VramscopeError(f"gpus must be a whole number >= 1 (got {gpus!r})")
        if workload.get("tp", 1) not in (1, gpus):
            raise VramscopeError("give either gpus or tp, not both")
        workload = {**workload, "tp": gpus}
    return make_inference(**workload)


def stray_message(engine: str, stray: dict[str, tuple[str, ...]], spell=None) -> str:
    """One line: which options the engine does not read, and which engines do."""
    spell = spell or (lambda k: k)
    parts = [f"{spell(k)} ({'/'.join(engines)} only)" for k, engines in stray.items()]
    return f"{', '.join(parts)} {'does' if len(parts) == 1 else 'do'} not apply to engine {engine!r}"


def estimate_training_workload(spec: ModelSpec, *, gpu=None, gpu_memory=None, gpus: int | None = None,
                               **workload: Any) -> Estimate:
    """Training / RL estimate; inference-only fields are refused by name."""
    from .estimators.rl import estimate_rl
    from .estimators.training import estimate_training
    from .workload import Training, make_training

    stray = sorted(k for k in workload if k in _INFERENCE_ONLY and k not in Training.field_names())
    if stray:
        raise VramscopeError(f"{', '.join(stray)} apply to inference, not training (method={workload.get('method')!r})")
    if gpus is not None:
        workload["gpus"] = gpus
    tr = make_training(**workload)
    g = resolve_gpu(gpu, gpu_memory)
    est = (estimate_rl if tr.rl is not None else estimate_training)(spec, tr, g)
    from . import hardware

    need = est.per_gpu_bytes
    from .rules import training_rules

    est.details["rules_of_thumb"] = training_rules(spec, tr, need, est.details.get("activations_bytes", 0))
    est.details["fits_on"] = [{"gpu": x.id, "count": tr.num_gpus, "tp": tr.tp, "pp": tr.pp}
                              for x in sorted(hardware.gpus(), key=lambda x: x.memory_bytes)
                              if x.usable_bytes >= need]
    return checked(est)
