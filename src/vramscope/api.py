"""The Python API: ``vramscope.estimate``, ``vramscope.fit``, ``vramscope.plan``.

Thin glue over sources → workload → estimate → solve; every number comes from ``estimators/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import VramscopeError
from .estimators.inference import estimate_inference
from .estimators.result import FIGURE_MEANS, FIGURE_POOLS, Estimate, Figure
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
    lora_targets, zero, fsdp, offload, tp, pp, dp, ep, cp, rl, num_generations, completion_len …)
    and ``recipe`` (a framework's defaults for the fields not given, :mod:`vramscope.recipes`);
    there ``gpus`` is the total GPU count (data parallel = gpus / (tp·pp·cp)). With a GPU the estimate says whether it fits
    (``fit``) and, for vLLM / SGLang, the KV capacity (``kv``) and the speed estimate (``speed``); ``runs_on`` lists the
    catalog GPUs that run it, computed when first read.
    """
    spec = _spec(model, active)
    if is_training(workload):
        return estimate_training_workload(spec, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, **workload)
    if workload.get("recipe") is not None:
        raise VramscopeError("recipe sets a framework's training defaults: give method too (method='lora', "
                             "'qlora', 'full' …)")
    wl = inference_workload(gpus, workload)
    g = resolve_gpu(gpu, gpu_memory)
    est = estimate_inference(spec, wl, g)
    from dataclasses import replace

    from .estimators.result import RunsOn

    speed = None
    if g is not None:
        from .estimators.speed import speed as roofline

        prompt = wl.prompt_len if wl.context is None else max(1, wl.tokens - wl.gen_len)
        speed = roofline(spec, est, g, batch=wl.batch, prompt=prompt, context=wl.tokens)
    return checked(replace(est, speed=speed, runs_on=RunsOn(lambda: _runs_on(spec, wl))))


def _runs_on(spec: ModelSpec, wl: Inference) -> list:
    """Which catalog GPUs run the inference workload, and how many (up to one 8-GPU node)."""
    from . import solve
    from .estimators.result import GPUCount

    return [GPUCount(p.gpu.id, p.count, p.tp, p.pp) for p in solve.fit_gpus(spec, wl, max_gpus=8)]


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
        gpus: int | None = None, active: str | int | None = None, **workload: Any) -> FitResult | TrainingFitResult:
    """The longest context (at the workload's batch) and the largest batch (at its context) that fit.

    With ``method`` or ``rl`` in the workload: the training answer, :func:`fit_training`."""
    from . import solve

    if is_training(workload):
        return fit_training(model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, **workload)
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


@dataclass(frozen=True)
class TrainingFitResult:
    """The most a training / RL run fits on a GPU setup: each figure a boundary (it fits, one step more does not)."""

    model: str
    gpu: str
    num_gpus: int
    seq_step: int  # the unit of max_seq_len / max_completion_len (tokens; × the context-parallel size)
    max_seq_len: int  # at the workload's micro-batch (SFT, DPO)
    max_micro_batch: int  # at the workload's seq_len (RL: completions per GPU)
    max_completion_len: int | None  # GRPO / PPO: at the workload's prompt_len and micro-batch
    global_batch: int | None
    micro_batch: int | None  # reaching global_batch with the fewest accumulation steps
    grad_accum: int | None
    workload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def to_json(self) -> str:
        import json

        return json.dumps(self.to_dict(), indent=2)


def fit_training(model: str | ModelSpec, *, gpu: str | Any | None = None, gpu_memory: str | int | None = None,
                 gpus: int | None = None, active: str | int | None = None, global_batch: int | None = None,
                 seq_step: int = 1, **training: Any) -> TrainingFitResult:
    """The longest ``seq_len`` (at the micro-batch), the largest micro-batch (at ``seq_len``), RL's
    longest completion, and with ``global_batch`` the micro-batch and accumulation steps that reach it.
    A run whose smallest step does not fit is refused with what the model states need and the
    smallest setup that would fit."""
    from . import solve_training as T
    from .workload import Training, make_training

    spec = _spec(model, active)
    g = resolve_gpu(gpu, gpu_memory)
    if g is None:
        raise VramscopeError("fit needs a GPU: pass gpu='RTX-4090-24GB' or gpu_memory='24GiB'")
    micro_given = "batch" in training
    stray = sorted(k for k in training if k in _INFERENCE_ONLY and k not in Training.field_names())
    if stray:
        raise VramscopeError(f"{', '.join(stray)} apply to inference, not training (method={training.get('method')!r})")
    tr = make_training(**with_recipe({**training, **({"gpus": gpus} if gpus is not None else {})})[0])
    unit = T.seq_unit(tr, seq_step)
    rl_len = tr.rl in ("grpo", "ppo")
    seq = 0 if rl_len else T.max_seq_len(spec, tr, g, seq_step)
    batch = T.max_micro_batch(spec, tr, g)
    completion = T.max_completion_len(spec, tr, g, seq_step) if rl_len else None
    if batch == 0 and (seq if not rl_len else completion) == 0:
        raise T.nothing_fits(spec, tr, g)
    acc = T.grad_accum_for(tr, global_batch, batch, micro_given=micro_given) if global_batch is not None else None
    return TrainingFitResult(
        model=spec.id, gpu=g.id, num_gpus=tr.num_gpus, seq_step=unit, max_seq_len=seq, max_micro_batch=batch,
        max_completion_len=completion, global_batch=global_batch, micro_batch=acc.micro_batch if acc else None,
        grad_accum=acc.grad_accum if acc else None, workload=tr.to_dict(),
    )


def fit_table(model: str | ModelSpec, sizes: list[str], *, gpus: int | None = None, active: str | int | None = None,
              seq_step: int = 1, **training: Any) -> list[dict[str, Any]]:
    """The longest training ``seq_len`` per GPU memory size (``["12GB", "24GB", "80GB"]``, read as
    :func:`vramscope.hardware.custom_gpu` reads a size), at the workload's micro-batch."""
    from . import hardware
    from . import solve_training as T
    from .workload import make_training

    if not sizes:
        raise VramscopeError("the table needs at least one memory size, e.g. 12GB,24GB,80GB")
    spec = _spec(model, active)
    tr = make_training(**with_recipe({**training, **({"gpus": gpus} if gpus is not None else {})})[0])
    gpu_list = [hardware.custom_gpu(s) for s in sizes]
    return [{"memory": s, "memory_bytes": g.memory_bytes, "max_seq_len": n}
            for s, (g, n) in zip(sizes, T.context_table(spec, tr, gpu_list, seq_step), strict=True)]


def _plan_candidates(gpu, gpu_memory) -> list | None:
    """The GPUs a plan may use: one model (``gpu``), those with at least ``gpu_memory``, or the catalog (None)."""
    from . import hardware

    if gpu is not None:
        return [resolve_gpu(gpu)]
    if gpu_memory is not None:
        least = hardware.custom_gpu(gpu_memory).memory_bytes
        found = [g for g in hardware.gpus() if g.memory_bytes >= least]
        if not found:
            raise VramscopeError(f"no catalog GPU has {gpu_memory} or more")
        return found
    return None


def plan_training(model: str | ModelSpec, *, active: str | int | None = None, max_gpus: int = 64,
                  gpu: str | Any | None = None, gpus: int | None = None, gpu_memory: str | int | None = None,
                  cost: str = "rent", **training: Any) -> list[dict[str, Any]]:
    """The setups that train the model, cheapest first on one cost basis (``cost``: ``rent`` per hour
    or ``purchase``): per GPU model the fewest GPUs and the least intrusive change — gradient
    checkpointing, an 8-bit optimizer, ZeRO-1/2/3, optimizer offload — that fits, with the training
    keywords of each setup (``vramscope export deepspeed`` takes them)."""
    from . import solve_training as T
    from .workload import make_training

    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or gpus < 1):
        raise VramscopeError(f"gpus must be a whole number >= 1 (got {gpus!r})")
    spec = _spec(model, active)
    if training.get("recipe") is not None:
        # the plan varies the GPU count, ZeRO stage and offload, on which a recipe's defaults (and
        # what the framework can run: torchtune has no ZeRO) depend
        raise VramscopeError("recipe does not apply to plan (it changes the GPUs, ZeRO stage and offload a "
                             "framework's defaults depend on); use estimate or fit with the recipe")
    given = "optimizer" in training
    tr = make_training(**training)
    rows = T.plan(spec, tr, _plan_candidates(gpu, gpu_memory), max_gpus=max(max_gpus, gpus or 0), basis=cost,
                  optimizer_given=given, count=gpus)
    return [r.to_dict(cost) for r in rows]


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
    if is_training(workload):
        return plan_training(model, active=active, max_gpus=max_gpus, gpu=gpu, gpus=gpus, gpu_memory=gpu_memory,
                             **workload)
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
                   "mem_fraction_static", "chunked_prefill_size", "max_running_requests", "page_size", "n_gpu_layers", "n_batch", "n_ubatch", "flash_attn", "n_parallel",
                   "kv_offload", "cache", "attn_impl", "images", "image_size", "video_seconds", "fps", "audio_seconds",
                   "kv_unified", "tensor_split", "split_mode", "main_gpu"}


def is_training(workload: dict[str, Any]) -> bool:
    """A workload is training when it names a method or an RL algorithm."""
    return workload.get("method") is not None or workload.get("rl") is not None


def inference_workload(gpus: int | None, workload: dict[str, Any]) -> Inference:
    """The validated inference workload; ``gpus`` (one model replica over that many GPUs) means tensor parallel.

    A field the chosen engine does not read (``gpu_memory_utilization`` for HF, ``n_gpu_layers`` for
    vLLM …) is refused, naming the engines that read it.
    """
    engine = workload.get("engine") or "hf"
    from .estimators.engines import ENGINES

    many = gpus if isinstance(gpus, int) and not isinstance(gpus, bool) and engine in ENGINES else None
    stray = inapplicable_options(engine, [k for k, v in workload.items() if v is not None], many)
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


def inapplicable_options(engine: str, given: Any, gpus: int | None = None) -> dict[str, tuple[str, ...]]:
    """The options in ``given`` that ``engine`` does not read, each with the engines that do (and
    ``gpus`` > 1 on an engine without tensor parallelism); the engine registry knows which reads what."""
    from .estimators.engines import ENGINES, engine_options, inapplicable

    stray = inapplicable(engine, given)
    # engines that span GPUs: tensor parallel ones, and llama.cpp's layer / row split (max_gpus > 1)
    many = engine_options()["tp"] + tuple(e.name for e in ENGINES.values()
                                          if "tp" not in e.options and (e.max_gpus or 1) > 1)
    if gpus is not None and gpus > 1 and engine not in many:
        stray = {"gpus": many, **stray}
    return stray


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
    workload, notes = with_recipe(workload)
    tr = make_training(**workload)
    g = resolve_gpu(gpu, gpu_memory)
    est = (estimate_rl if tr.rl is not None else estimate_training)(spec, tr, g)
    from dataclasses import replace

    if notes:
        est = replace(est, assumptions=tuple(dict.fromkeys((*est.assumptions, *notes))))

    from .estimators.result import RuleOfThumb, RunsOn
    from .rules import training_rules

    need = est.per_gpu_bytes
    rules = tuple(RuleOfThumb(**r) for r in training_rules(spec, tr, need, est.training.activations_bytes))
    return checked(replace(est, training=replace(est.training, rules_of_thumb=rules),
                           runs_on=RunsOn(lambda: _training_runs_on(tr, need))))


def with_recipe(workload: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The training keywords with ``recipe``'s defaults filled in where none is given
    (:func:`vramscope.recipes.apply_recipe`), and the assumption lines saying which came from it."""
    workload = dict(workload)
    name = workload.pop("recipe", None)
    if name is None:
        return workload, []
    from .recipes import apply_recipe

    return apply_recipe(name, workload)


def _training_runs_on(tr, need: int) -> list:
    """Catalog GPUs whose usable memory holds the per-GPU figure, in the run's own layout (smallest first)."""
    from . import hardware
    from .estimators.result import GPUCount

    return [GPUCount(x.id, tr.num_gpus, tr.tp, tr.pp) for x in sorted(hardware.gpus(), key=lambda x: x.memory_bytes)
            if x.usable_bytes >= need]


# === the one door for the presenters ================================================================
# The CLI, the web page and ``export`` import nothing of vramscope but this module, ``errors`` and
# ``units`` (tests/test_architecture.py). Everything they show besides estimates comes from the
# functions below, each a thin call into the module that owns the answer; none holds a formula.

#: the formats ``vramscope info`` sizes when none is named
INFO_FORMATS = ("bf16", "fp8", "int8", "nf4-dq", "gptq-int4", "Q4_K_M")


def load(model: str | ModelSpec, *, active: str | int | None = None, files: bool | str | Any = True) -> ModelSpec:
    """The ModelSpec of a reference (:func:`vramscope.sources.load_model`); ``files`` says which local
    paths may be read (False on the web server, a folder with ``--allow-local``)."""
    if isinstance(model, ModelSpec) or files is True:
        return _spec(model, active)
    from .sources import load_model

    if active is not None and not is_bare_size(model):
        raise VramscopeError(f"active applies to a bare size such as 56B; {model} has its own parameter counts")
    return load_model(model, active=active, files=files)


def load_file(path: str | Any, *, name: str) -> ModelSpec:
    """The ModelSpec of one uploaded ``config.json`` or ``.gguf`` file; its errors name the file by
    ``name`` (what the user called it), never by the server's temporary path."""
    from pathlib import Path

    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            from .sources.config_file import spec_from_path

            return spec_from_path(path, model_id=f"upload:{name}")
        from .sources.gguf_file import spec_from_gguf

        return spec_from_gguf(path)
    except VramscopeError as exc:
        raise type(exc)(str(exc).replace(str(path), name)) from None


def is_bare_size(model: str | ModelSpec) -> bool:
    """Whether a reference is a bare size such as ``7B`` or ``56B-A14B``."""
    from .sources.bare_size import is_bare_size as bare

    return isinstance(model, str) and bare(model)


def regular_file(path: Any, what: str = "model file"):
    """The ``os.stat_result`` of ``path`` when it is a regular file; a ModelNotFoundError saying what it is otherwise."""
    from .sources.files import regular_file as stat_regular

    return stat_regular(path, what)


def short_text(text: str, n: int = 120) -> str:
    """A name as it can be shown in one line: control characters escaped, long names shortened."""
    from .sources.files import short_text as short

    return short(text, n)


@dataclass(frozen=True)
class ModelInfo:
    """What ``vramscope info`` shows: the model and its weight bytes per format (a row with
    ``error`` for a format that does not apply)."""

    spec: ModelSpec
    weights: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {**self.spec.summary(), "weights": list(self.weights)}


def model_info(model: str | ModelSpec, *, active: str | int | None = None,
               weights: list[str] | tuple[str, ...] | None = None) -> ModelInfo:
    """The model's counts and its weight bytes as stored (the checkpoint's format, first) and in
    ``weights`` (default :data:`INFO_FORMATS`). A format named in ``weights`` that does not apply
    raises; one of the defaults becomes a row with its ``error``."""
    from .formats import checkpoint_format, weight_bytes

    spec = _spec(model, active)
    formats = list(weights or INFO_FORMATS)
    native = checkpoint_format(spec)
    rows: list[dict[str, Any]] = []
    for name in dict.fromkeys([native.name, *formats]):
        fmt = native if name == native.name else name
        try:
            wb = weight_bytes(spec, fmt)
        except VramscopeError as exc:
            if name in formats and weights:
                raise
            rows.append({"format": name, "error": str(exc)})
            continue
        rows.append({"format": wb.format + (" (checkpoint)" if fmt is native else ""), "bytes": wb.total,
                     "quantised_bytes": wb.quantised, "unquantised_bytes": wb.unquantised,
                     "bits_per_quantised_weight": round(wb.bits_per_quantised_weight, 4)})
    return ModelInfo(spec, tuple(rows))


def weight_formats() -> dict[str, list[Any]]:
    """The weight formats vramscope sizes (name, bits, description, aliases) and the GGUF file types."""
    from .formats import FORMATS, format_names

    rows = [{"name": f.name, "bits": f.bits, "description": f.description, "aliases": list(f.aliases)}
            for f in FORMATS.values()]
    return {"formats": rows, "gguf_file_types": [n for n in format_names() if n not in FORMATS]}


def gpu_catalog(query: str = "") -> list[Any]:
    """Catalog GPUs (:class:`vramscope.hardware.GPU`) whose names, vendor or segment hold every word of ``query``."""
    from .hardware import search_gpus

    return list(search_gpus(query))


def catalog_models(query: str = "") -> list[dict[str, Any]]:
    """Catalog models whose id, alias or family hold every word of ``query``: counts, published
    counts and their source, layers, aliases."""
    from .sources import catalog

    rows = []
    for entry in catalog.search(query):
        spec = entry.spec()
        rows.append({"id": entry.id, "family": spec.family, "params_total": spec.params_total,
                     "params_active": spec.params_active,
                     "published_total": entry.params_total.text if entry.params_total else None,
                     "published_active": entry.params_active.text if entry.params_active else None,
                     "published_source": entry.params_source, "layers": spec.num_layers,
                     "aliases": list(entry.aliases)})
    return rows


def catalog_ids() -> list[str]:
    """Every catalog model id, in catalog order (without building the specs)."""
    from .sources import catalog

    return [e.id for e in catalog.entries()]


def multimodal_catalog_ids() -> tuple[str, ...]:
    """Catalog models with a vision or audio encoder."""
    from .sources import catalog

    return tuple(e.id for e in catalog.entries() if e.spec().encoders)


@dataclass(frozen=True)
class MultimodalEstimate:
    """The tokens a request's images / video / audio add (:class:`~vramscope.estimators.multimodal.MMInputs`,
    per modality) and the inference estimate of that request."""

    tokens: Any
    estimate: Estimate

    @property
    def text_tokens(self) -> int:
        w = self.estimate.workload
        return w["context"] if w.get("context") is not None else w["prompt_len"] + w["gen_len"]


def multimodal_tokens(model: str | ModelSpec, *, images: int = 0, image_size: tuple[int, int] | None = None,
                      video_seconds: float = 0, fps: float | None = None, audio_seconds: float = 0,
                      active: str | int | None = None):
    """What images / video / audio add for this model (its encoder's rule), per modality; a
    :class:`~vramscope.errors.MultimodalError` when the model has no such encoder or an input is out of bounds."""
    from .errors import InvariantError, MultimodalError
    from .estimators.multimodal import tokens_for

    spec = _spec(model, active)
    try:
        return tokens_for(spec, images=images, image_size=image_size, video_seconds=video_seconds, fps=fps,
                          audio_seconds=audio_seconds)
    except (InvariantError, MultimodalError):
        raise
    except VramscopeError as exc:
        raise MultimodalError(str(exc)) from None


def estimate_multimodal(model: str | ModelSpec, **kw: Any) -> MultimodalEstimate:
    """The tokens of a multimodal request (:func:`multimodal_tokens`, computed once here) and its
    estimate (:func:`estimate`, same keywords). The tokens are asked first, so that a model without
    the encoder is said as such before any estimate."""
    spec = _spec(model, kw.pop("active", None))
    names = ("images", "image_size", "video_seconds", "fps", "audio_seconds")
    tokens = multimodal_tokens(spec, **{k: kw[k] for k in names if kw.get(k) is not None})
    return MultimodalEstimate(tokens, estimate(spec, **kw))


# --- the seed's PAI quick mode --------------------------------------------------------------------
#: method names the PAI quick mode has a fine-tuning row for, the precisions of those rows and its
#: optimizers (the keys of pai.METHOD_ROWS, PRECISION_BYTES and OPTIMIZER_BYTES: tests/test_api_presenters.py)
PAI_METHODS: tuple[str, ...] = ("full", "lora", "qlora-8bit", "qlora", "qlora-4bit")
PAI_PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16")
PAI_OPTIMIZERS: tuple[str, ...] = ("Adam/AdamW", "SGD+Momentum", "RMSProp", "SGD")


def pai_quick(model: str | ModelSpec, *, active: str | int | None = None, method: str | None = None,
              optimizer: str | None = None, batch: int = 1, precision: str | None = None, gpu: str | Any | None = None,
              gpu_memory: str | int | None = None, gpus: int | None = None):
    """The seed's PAI rule-of-thumb table for a model's parameter counts (:func:`vramscope.pai.quick`):
    inference without ``method``, fine-tuning with it; a GPU setup judged as the seed's examples do."""
    from . import pai

    spec = _spec(model, active)
    g = resolve_gpu(gpu, gpu_memory)
    if g is None and gpus is not None:
        raise VramscopeError("gpus with the PAI quick mode needs the GPU: give gpu or gpu_memory")
    return pai.quick(spec.id, spec.params_total, spec.params_active, spec.is_moe, method=method, optimizer=optimizer,
                     batch=batch, precision=precision, gpu_id=g.id if g is not None else None,
                     usable_bytes=g.usable_bytes if g is not None else None, count=gpus or 1)


def pai_tables(params_b: float, *, active_params_b: float | None = None, is_moe: bool = False, concurrency: int = 1,
               precision: str | int | None = None, optimizer: str = "Adam/AdamW", batch_size: int = 1):
    """Both tables of the seed's PAI calculator for a size in billions (:func:`vramscope.pai.tables`),
    each row with its total as shown and the GPUs it advises."""
    from . import pai

    return pai.tables(params_b, active_params_b=active_params_b, is_moe=is_moe, concurrency=concurrency,
                      precision=precision, optimizer=optimizer, batch_size=batch_size)


# --- what ``export`` needs to write configs ---------------------------------------------------------
#: the order in which :func:`lowest_zero_stage` tries ZeRO stages: each stage, then ZeRO-3 with the
#: optimizer, then the parameters offloaded to the host
ZERO_LADDER: tuple[tuple[int, str | None], ...] = ((0, None), (1, None), (2, None), (3, None), (3, "optimizer"),
                                                   (3, "params"))


def lowest_zero_stage(model: str | ModelSpec, *, gpu: Any, gpus: int | None = None, **training: Any) -> dict[str, Any]:
    """The training keywords with the lowest ZeRO stage (then optimizer, then parameter offload,
    :data:`ZERO_LADDER`) whose estimate fits ``gpu``; a WorkloadError when even the last does not."""
    from .errors import WorkloadError

    spec = _spec(model)
    g = resolve_gpu(gpu)
    base = {**training, **({"gpus": gpus} if gpus is not None else {})}
    for zero, offload in ZERO_LADDER:
        kw = {**base, "zero": zero, **({"offload": offload} if offload else {})}
        if estimate_training_workload(spec, gpu=g, **kw).fits:
            return kw
    raise WorkloadError(f"{spec.id} does not fit on {base.get('gpus', 1)} × {g.id} even with ZeRO-3 "
                        "and parameter offload; add GPUs or use LoRA/QLoRA")


def deepspeed_auto_sizes(model: str | ModelSpec, zero_stage: int) -> dict[str, int]:
    """The ``zero_optimization`` bucket sizes HF Trainer fills in for ``auto`` (:mod:`vramscope.deepspeed_auto`)."""
    from .deepspeed_auto import auto_sizes

    return auto_sizes(_spec(model).hidden_size, zero_stage)


def training_workload(**training: Any):
    """The validated :class:`~vramscope.workload.Training` of these keywords (None = the default;
    ``recipe``: a framework's defaults for the keywords not given)."""
    from .workload import make_training

    return make_training(**with_recipe({k: v for k, v in training.items() if v is not None})[0])


def max_context(model: str | ModelSpec, wl: Inference, gpu: Any) -> int:
    """The longest context per sequence that fits ``gpu`` at the workload's batch (:func:`vramscope.solve.max_context`)."""
    from . import solve

    return solve.max_context(_spec(model), wl, resolve_gpu(gpu))


def max_gpu_layers(model: str | ModelSpec, wl: Inference, gpu: Any) -> int:
    """llama.cpp's largest ``-ngl`` that fits ``gpu`` (:func:`vramscope.solve.max_ngl`; −1: not even the KV fits)."""
    from . import solve

    return solve.max_ngl(_spec(model), wl, resolve_gpu(gpu))


# --- which options apply, checks, schemas, exact mode, progress ----------------------------------------
def training_inapplicable(method: str, rl: str | None, given: dict[str, Any]) -> dict[str, str]:
    """Training options in ``given`` that this method / RL algorithm does not read, each with where it applies."""
    from .workload import training_inapplicable as stray

    return stray(method, rl, given)


def engine_names() -> tuple[str, ...]:
    """The inference engines an estimate may name (``engine=``): the engine registry's."""
    from .estimators.engines import ENGINES

    return tuple(ENGINES)


#: the figures an estimate reports per GPU (``Estimate.memory``) that a presenter may headline, the
#: default first: device memory as nvidia-smi shows it, then torch's peak reserved and peak allocated
REPORTS: tuple[str, ...] = ("device", "reserved", "allocated")
#: what each figure is (for help texts and labels) and the component pools it holds
REPORT_MEANS: dict[str, str] = FIGURE_MEANS
REPORT_POOLS: dict[str, tuple[str, ...]] = FIGURE_POOLS


def report_kind(value: str | None) -> str:
    """The figure a presenter headlines: ``value`` checked (None → ``device``); one clear line otherwise."""
    if value is None:
        return REPORTS[0]
    kind = str(value).strip().lower()
    if kind not in REPORTS:
        raise VramscopeError(f"unknown report {value!r}; choose device (what nvidia-smi shows, the default), "
                             "reserved (torch.cuda.max_memory_reserved) or allocated (torch.cuda.max_memory_allocated)")
    return kind


def reported_figure(est: Estimate, kind: str) -> Figure:
    """The estimate's ``kind`` figure (:func:`report_kind`); an engine that is not torch has no allocated /
    reserved figure, and asking for one is refused with the reason."""
    fig = est.memory.figure(report_kind(kind))
    if fig is None:
        raise VramscopeError(f"no {kind} figure for {est.engine} ({est.memory.unavailable})")
    return fig


def training_choices() -> dict[str, tuple[str, ...]]:
    """The training methods, precisions, optimizers and framework recipes a workload may name."""
    from .recipes import RECIPE_NAMES
    from .workload import METHODS, OPTIMIZERS, PRECISIONS

    return {"methods": METHODS, "precisions": PRECISIONS, "optimizers": OPTIMIZERS, "recipes": RECIPE_NAMES}


def input_limits() -> dict[str, int]:
    """The largest batch, tokens per sequence and bare size (parameters) a workload may ask for."""
    from .bounds import MAX_BARE_SIZE
    from .workload import MAX_BATCH, MAX_TOKENS

    return {"batch": MAX_BATCH, "tokens": MAX_TOKENS, "bare_size": MAX_BARE_SIZE}


def checking(enabled: bool = True):
    """A context in which every estimate is checked against :mod:`vramscope.invariants` (a violation
    raises InvariantError); a no-op when not ``enabled``."""
    from contextlib import nullcontext

    from .invariants import checking as check_all

    return check_all() if enabled else nullcontext()


def check_fit(result: FitResult) -> None:
    """Raise InvariantError when a fit answer breaks its invariants."""
    from .errors import InvariantError
    from .invariants import check_fit as problems_of
    from .invariants import format_violations

    if problems := problems_of(result):
        raise InvariantError(format_violations(problems, f"the fit answer for {result.model}"))


def check_plan(rows: list[dict[str, Any]], model: str) -> None:
    """Raise InvariantError when a plan row breaks its invariants."""
    from .errors import InvariantError
    from .invariants import check_plan_row, format_violations

    if problems := [p for r in rows for p in check_plan_row(r)]:
        raise InvariantError(format_violations(problems, f"the plan for {model}"))


def output_schema() -> dict[str, Any]:
    """The JSON Schema of an estimate's JSON document."""
    from .schema import estimate_schema

    return estimate_schema()


def input_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of a workload: ``inference`` or ``training``."""
    from . import workload

    kinds = {"inference": workload.Inference, "training": workload.Training}
    if kind not in kinds:
        raise VramscopeError(f"unknown workload kind {kind!r}; choose inference or training")
    return kinds[kind].json_schema()


def trace_training(model: str, **kw: Any):
    """Exact mode: one training step of the real transformers model on fake tensors (needs the exact extra)."""
    from .progress import activity

    with activity(f"tracing {model} on fake tensors…"):
        from .exact.trace import trace_training as run  # imports torch

        return run(model, **kw)


def trace_inference(model: str, **kw: Any):
    """Exact mode: HF generation of the real transformers model on fake tensors (needs the exact extra)."""
    from .progress import activity

    with activity(f"tracing {model} on fake tensors…"):
        from .exact.trace import trace_inference as run  # imports torch

        return run(model, **kw)


def set_progress_listener(listener: Any) -> Any:
    """Install what shows slow operations (``listener(message)`` → a context manager); returns the previous one."""
    from .progress import set_listener

    return set_listener(listener)
