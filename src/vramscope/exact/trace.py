"""Exact mode: run the real transformers model on fake tensors and report its peak memory.

``trace_training`` runs one steady-state training step — forward with HF's loss (labels given, so
``ForCausalLMLoss`` upcasts the logits to fp32 as a real run does), backward, optimizer step,
``zero_grad(set_to_none=True)`` — after a first optimizer step has created the optimizer state.
``trace_inference`` runs a prefill of ``batch × prompt_len`` tokens and ``gen_len`` decode steps
with a ``DynamicCache``, under ``torch.no_grad()``, the way ``generate`` does (logits of the last
position only, an fp32 copy of them per step).

Every tensor is a fake tensor (shapes and dtypes, no data), so an 8B or 405B model costs no
memory; :class:`~vramscope.exact.tracker.StorageTracker` counts the live storages, and the bytes
are those the same tensors take on a GPU (each storage rounded up to 512 B).

Layers of one kind are identical, so by default a model is traced cut down to a base set of
layers (the first of every kind; the first two when there is a single kind) and once more with
one extra layer of each kind; every figure is extrapolated linearly to the full depth:
``v(L) = v(base) + Σ_k (n_k − b_k)·(v(base + one k) − v(base))``. Peaks are kept per phase
(forward, backward, optimizer / prefill, decode) and per segment of the pass (before the first
decoder layer, inside the first, inside the last, after the last — known from hooks on the
layers and on their outputs' gradients); each is extrapolated on its own and the largest wins.
For identical layers a middle layer's peak never exceeds the first's or the last's, so a peak
that moves (from the optimizer step in a shallow model to the backward pass in a deep one, or
from the top of backward to its end under checkpointing) is still found exactly.

What this traces is PyTorch's CPU dispatch of the model: the same aten ops, autograd graph and
saved tensors as on a GPU, with CPU kernels' choices — SDPA runs its CPU flash kernel
(memory like FlashAttention/efficient SDPA on CUDA: q, k, v, out, fp32 logsumexp; where the CPU
kernel refuses unequal head sizes, as for MLA, the CUDA memory-efficient kernel's shapes are
traced, see :mod:`.kernels`), autocast uses
the CPU op lists (linear/matmul/SDPA in bf16 as on CUDA). FlashAttention-2 and bitsandbytes
(QLoRA) need CUDA and cannot be traced; kernels' internal scratch (cuBLAS workspaces) and the
CUDA context are not tensors and are not counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import VramscopeError
from .build import (
    add_lora,
    hf_config,
    keep_layers,
    layout,
    materialise,
    meta_model,
    quiet_transformers,
    require_torch,
    resolve_config,
)
from .kernels import cuda_like_sdpa, grouped_mm_needs_bf16
from .result import CATEGORIES, TraceResult

if TYPE_CHECKING:  # torch is imported only when a trace runs
    from .tracker import StorageTracker

PRECISIONS = ("bf16", "fp16", "fp32", "mixed")
OPTIMIZERS = ("adamw", "adam", "sgd", "sgd_momentum")
OPTIMIZER_IMPLS = ("fused", "foreach", "forloop")
ATTNS = ("sdpa", "eager")
METHODS = ("full", "lora")


@dataclass
class _Run:
    """Figures of one traced (possibly cut-down) model."""

    peaks: dict[tuple[str, str], tuple[int, dict[str, int]]]  # (phase, segment) -> (total, categories)
    final: dict[str, int]
    trainable: int
    total: int
    ops: set[str] = field(default_factory=set)
    attn: str = ""


# ------------------------------------------------------------------------------------------------
# validation


def _check_common(attn: str, batch: int, lengths: dict[str, int]) -> None:
    if attn in ("flash", "flash_attention_2", "fa2", "flash_attention_3"):
        raise VramscopeError("trace runs on the CPU: FlashAttention-2 needs CUDA; use --attn sdpa (same saved "
                             "tensors: q, k, v, output and an fp32 logsumexp) or eager")
    if attn not in ATTNS:
        raise VramscopeError(f"trace attn must be sdpa or eager, not {attn!r}")
    if batch < 1:
        raise VramscopeError(f"batch must be at least 1, not {batch}")
    for name, v in lengths.items():
        if v < 1:
            raise VramscopeError(f"{name} must be at least 1, not {v}")


def _check_training(method: str, precision: str, optimizer: str, optimizer_impl: str, lora_rank: int) -> None:
    if method in ("qlora", "qlora4", "qlora8"):
        raise VramscopeError("QLoRA cannot be traced: bitsandbytes' 4-bit layers need CUDA; trace method lora "
                             "(its adapters and activations are the same) or use `vramscope estimate --method qlora`")
    if method not in METHODS:
        raise VramscopeError(f"trace method must be full or lora, not {method!r}")
    if precision not in PRECISIONS:
        raise VramscopeError(f"trace precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if optimizer not in OPTIMIZERS:
        raise VramscopeError(f"trace optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    if optimizer_impl not in OPTIMIZER_IMPLS:
        raise VramscopeError(f"optimizer_impl must be fused, foreach or forloop, not {optimizer_impl!r}")
    if method == "lora" and lora_rank < 1:
        raise VramscopeError(f"lora_rank must be at least 1, not {lora_rank}")


# ------------------------------------------------------------------------------------------------
# one traced model


def _prepare(config: dict, keep: list[int] | None, dtype: str, attn: str) -> tuple[Any, Any, str]:
    conf = hf_config(config)
    model, impl = meta_model(conf, dtype, attn)
    if keep is not None:
        keep_layers(model, conf, keep)
    return conf, model, impl


def _make_optimizer(params: list, optimizer: str, impl: str):
    import torch

    kw: dict[str, Any] = {"fused": {"fused": True}, "foreach": {"foreach": True}, "forloop": {"foreach": False}}[impl]
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=1e-5, **kw)
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=1e-5, **kw)
    return torch.optim.SGD(params, lr=1e-3, momentum=0.9 if optimizer == "sgd_momentum" else 0.0, **kw)


def _count(model: Any) -> tuple[int, int]:
    seen: dict[int, Any] = {}
    for p in model.parameters():
        seen.setdefault(id(p), p)
    return (sum(p.numel() for p in seen.values() if p.requires_grad), sum(p.numel() for p in seen.values()))


def _run_training(config: dict, keep: list[int] | None, s: dict) -> _Run:
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    from .tracker import StorageTracker

    dtype = "fp32" if s["precision"] == "mixed" else s["precision"]
    conf, model, impl = _prepare(config, keep, dtype, s["attn"])
    if s["grad_ckpt"]:
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:  # pragma: no cover - older transformers
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if s["method"] == "lora":
        model = add_lora(model, s["lora_rank"], s["lora_targets"])
    trainable, total = _count(model)
    vocab = conf.vocab_size
    with FakeTensorMode():
        materialise(model)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = _make_optimizer(params, s["optimizer"], s["optimizer_impl"])
        for p in params:  # a first step creates the optimizer state: the traced step is the steady state
            p.grad = torch.zeros_like(p)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ids = torch.randint(0, vocab, (s["batch"], s["seq_len"]))
        tracker = StorageTracker()
        with tracker:
            _track_model(tracker, model)
            for st in opt.state.values():
                for key, v in st.items():
                    if not isinstance(v, torch.Tensor):
                        continue
                    if key == "step" and s["optimizer_impl"] != "fused":
                        tracker.ignore([v])  # a host tensor unless fused/capturable
                    else:
                        tracker.track([v], "optimizer")
            hooks = [p.register_post_accumulate_grad_hook(lambda p: tracker.set_category([p.grad], "gradients"))
                     for p in params]
            hooks += _segment_hooks(tracker, model, backward=True)
            tracker.track([ids], "activations")
            tracker.set_phase("forward", "activations")
            if s["precision"] == "mixed":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = model(input_ids=ids, labels=ids)
            else:
                out = model(input_ids=ids, labels=ids)
            loss = out.loss
            del out  # as HF Trainer: only the loss lives on into backward
            tracker.set_phase("backward", "temporaries")
            loss.backward()
            del loss
            tracker.set_phase("optimizer", "temporaries")
            opt.step()
            opt.zero_grad(set_to_none=True)
            tracker.set_phase("done", "temporaries")
            for h in hooks:
                h.remove()
            final = dict(tracker.current)
    return _Run(tracker.peaks, final, trainable, total, set(tracker.ops), impl)


def _track_model(tracker: StorageTracker, model: Any) -> None:
    params = list({id(p): p for p in model.parameters()}.values())
    tracker.track(params, "parameters")
    tracker.mark_params(params)
    tracker.track(list(model.buffers()), "buffers")


def _run_inference(config: dict, keep: list[int] | None, s: dict) -> _Run:
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import DynamicCache

    from .tracker import StorageTracker

    conf, model, impl = _prepare(config, keep, s["dtype"], s["attn"])
    trainable, total = _count(model)
    with FakeTensorMode():
        materialise(model)
        model.eval()
        tracker = StorageTracker()
        cache = DynamicCache(config=model.config)
        layers = _layers(model)

        def to_cache(*_args: Any) -> None:
            tracker.set_category(_cache_tensors(cache), "kv_cache")

        hooks = [layer.register_forward_hook(to_cache) for layer in layers]
        hooks += _segment_hooks(tracker, model, backward=False)
        with torch.no_grad(), tracker:
            _track_model(tracker, model)
            ids = torch.randint(0, conf.vocab_size, (s["batch"], s["prompt_len"]))
            tracker.set_phase("prefill", "activations")
            out = model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
            logits = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)  # as generate: an fp32 copy
            del out
            token = logits.argmax(-1)
            tracker.set_phase("decode", "activations")
            for _ in range(s["gen_len"]):
                tracker.segment = "pre"
                ids = torch.cat([ids, token[:, None]], dim=-1)
                out = model(input_ids=token[:, None], past_key_values=cache, use_cache=True, logits_to_keep=1)
                logits = out.logits[:, -1, :].to(copy=True, dtype=torch.float32)
                del out
                token = logits.argmax(-1)
            to_cache()
            tracker.set_phase("done", "activations")
            final = dict(tracker.current)
        for h in hooks:
            h.remove()
    return _Run(tracker.peaks, final, trainable, total, set(tracker.ops), impl)


def _layers(model: Any) -> list:
    from .build import decoder_layers

    return list(decoder_layers(model, _num_layers(model))[0])


def _num_layers(model: Any) -> int:
    conf = model.config
    return int(getattr(conf, "num_hidden_layers", None) or conf.get_text_config().num_hidden_layers)


def _first_tensor(x: Any) -> Any:
    if hasattr(x, "register_hook"):
        return x
    if isinstance(x, (tuple, list)) and x and hasattr(x[0], "register_hook"):
        return x[0]
    return None


def _segment_hooks(tracker: StorageTracker, model: Any, backward: bool) -> list:
    """Hooks that tell the tracker which decoder layer runs, in the forward pass and (through
    gradient hooks on the layers' outputs) in backward, so that peaks are kept per segment."""
    layers = _layers(model)
    n = len(layers)
    handles = []
    for pos, layer in enumerate(layers):

        def pre(_mod, args, kwargs, pos=pos):
            if tracker.phase in ("forward", "prefill", "decode"):
                tracker.enter_layer(pos, n)
                hs = _first_tensor(args[0] if args else kwargs.get("hidden_states"))
                if backward and pos == 0 and hs is not None and hs.requires_grad:
                    hs.register_hook(lambda g: setattr(tracker, "segment", "post"))

        def post(_mod, _args, _kwargs, output, pos=pos):
            if tracker.phase in ("forward", "prefill", "decode"):
                if pos == n - 1:
                    tracker.segment = "post"
                out = _first_tensor(output)
                if backward and out is not None and out.requires_grad:
                    out.register_hook(lambda g, order=n - 1 - pos: tracker.enter_layer(order, n))

        handles.append(layer.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(layer.register_forward_hook(post, with_kwargs=True))
    return handles


def _cache_tensors(cache: Any) -> list:
    out = []
    for layer in getattr(cache, "layers", ()):
        for name in ("keys", "values", "conv_states", "recurrent_states", "ssm_states"):
            t = getattr(layer, name, None)
            if t is not None and hasattr(t, "untyped_storage"):
                out.append(t)
    return out


# ------------------------------------------------------------------------------------------------
# extrapolation


def _plan(config: dict, dtype: str, attn: str) -> tuple[list[list[int]], list[int], list[int], Any]:
    """Layer subsets to trace and how to extrapolate from them.

    The base subset holds the first layer of every kind — the first two when there is only one kind,
    so that its last layer, like the full model's, follows another layer. Each further subset adds
    the next layer of one kind. Returns ``(subsets, kind added per further subset, multiplier per
    further subset, layout)``, the multiplier being how many more layers of that kind the full model has.
    """
    conf, model, _ = _prepare(config, None, dtype, attn)
    lay = layout(model, conf)
    per_kind = 2 if len(lay.labels) == 1 else 1
    base = sorted(lay.occurrence(k, j) for k, n in enumerate(lay.counts) for j in range(min(per_kind, n)))
    subsets, extra_kind, mult = [base], [], []
    for k, n in enumerate(lay.counts):
        have = min(per_kind, n)
        if n > have:
            subsets.append(sorted([*base, lay.occurrence(k, have)]))
            extra_kind.append(k)
            mult.append(n - have)
    return subsets, extra_kind, mult, lay


def _combine(runs: list[_Run], mult: list[int]) -> _Run:
    """Extrapolate per (phase, segment) and category: base + Σ_k m_k·(run_k − base)."""
    base, plus = runs[0], runs[1:]

    def lin(b: float, others: list[float]) -> int:
        return int(round(b + sum(m * (o - b) for m, o in zip(mult, others, strict=True))))

    peaks = {}
    for key, (tot, cats) in base.peaks.items():
        if key[1] == "mid" or not all(key in r.peaks for r in plus):
            continue  # inside a middle layer: never above the first and last layers for identical layers
        ptot = lin(tot, [r.peaks[key][0] for r in plus])
        pcats = {c: lin(cats.get(c, 0), [r.peaks[key][1].get(c, 0) for r in plus]) for c in CATEGORIES}
        peaks[key] = (ptot, pcats)
    final = {c: lin(base.final.get(c, 0), [r.final.get(c, 0) for r in plus]) for c in CATEGORIES}
    return _Run(peaks, final, lin(base.trainable, [r.trainable for r in plus]), lin(base.total, [r.total for r in plus]),
                set().union(*(r.ops for r in runs)), base.attn)


def _execute(fn, config: dict, settings: dict, dtype: str, extrapolate: bool) -> tuple[_Run, bool, tuple[int, ...], list[str]]:
    with quiet_transformers(), cuda_like_sdpa(), grouped_mm_needs_bf16() as moe_notes:
        run, extrap, layers, notes = _execute_quietly(fn, config, settings, dtype, extrapolate)
    return run, extrap, layers, notes + moe_notes


def _execute_quietly(fn, config: dict, settings: dict, dtype: str, extrapolate: bool):
    L = int(config["num_hidden_layers"])
    notes: list[str] = []
    if extrapolate:
        subsets, _kinds, mult, lay = _plan(config, dtype, settings["attn"])
        if len(subsets) > 1 and max(len(x) for x in subsets) < L:
            runs = [fn(config, keep, settings) for keep in subsets]
            kinds = ", ".join(f"{n}× {lab}" for lab, n in zip(lay.labels, lay.counts, strict=True))
            notes.append(f"extrapolated linearly from traces of {', '.join(str(len(x)) for x in subsets)} decoder "
                         f"layers (layer kinds: {kinds})")
            return _combine(runs, mult), True, tuple(len(x) for x in subsets), notes
    return fn(config, None, settings), False, (L,), notes


def _result(name: str, workload: str, run: _Run, extrap: bool, layers: tuple[int, ...], L: int, t0: float,
            settings: dict, notes: list[str]) -> TraceResult:
    if not run.peaks:
        raise VramscopeError(f"{name}: the trace recorded no allocation")
    phases: dict[str, tuple[int, dict[str, int]]] = {}
    for (p, _seg), v in run.peaks.items():
        if p not in ("setup", "done") and (p not in phases or v[0] > phases[p][0]):
            phases[p] = v
    phase = max(phases, key=lambda p: phases[p][0])
    peak, cats = phases[phase]
    cats = {c: int(cats.get(c, 0)) for c in CATEGORIES}
    return TraceResult(
        model=name, workload=workload, peak_bytes=int(peak), categories=cats, phase=phase,
        param_bytes=cats["parameters"], grad_bytes=cats["gradients"], optimizer_bytes=cats["optimizer"],
        trainable_params=run.trainable, total_params=run.total, num_layers=L, extrapolated=extrap,
        traced_layers=layers, seconds=round(time.perf_counter() - t0, 3),
        phase_peaks={p: int(v[0]) for p, v in phases.items()},
        phase_categories={p: {c: int(v[1].get(c, 0)) for c in CATEGORIES} for p, v in phases.items()},
        final_categories={c: int(v) for c, v in run.final.items()},
        settings=settings, notes=tuple(notes),
    )


def _attn_notes(run: _Run, requested: str, config: dict) -> list[str]:
    notes = []
    if run.attn != requested:
        notes.append(f"this architecture has no {requested} attention in transformers: traced {run.attn}")
    kernels = sorted(o for o in run.ops if "attention" in o)
    line = f"attention: {run.attn}"
    if kernels:
        line += f" (kernels traced: {', '.join(kernels)})"
    elif run.attn == "sdpa":
        line += " (SDPA's math path: the attention matrix is materialised)"
    if any("efficient" in k for k in kernels):
        line += "; q/k and v head sizes differ, so CUDA's memory-efficient kernel's shapes were traced"
    notes.append(line)
    if any(k in config for k in ("ssm_cfg", "mamba_d_state", "state_size", "mamba_expand")) or \
            config.get("model_type") in ("mamba", "mamba2", "jamba", "falcon_mamba", "bamba", "zamba", "zamba2"):
        notes.append("Mamba layers: transformers' reference PyTorch scan was traced (the mamba_ssm / causal_conv1d "
                     "kernels are CUDA-only and save less)")
    return notes


def _optimizer_note(optimizer: str, impl: str, ops: set[str]) -> str:
    line = f"optimizer: {optimizer}, {impl} implementation"
    if impl != "fused" and optimizer.startswith("adam"):
        line += " (its step counters are host tensors, not counted)"
    kernels = sorted(o for o in ops if "attention" not in o)
    return line + (f"; kernels traced: {', '.join(kernels)}" if kernels else "")


# ------------------------------------------------------------------------------------------------
# public API


def trace_training(model: str | dict, *, method: str = "full", precision: str = "bf16", optimizer: str = "adamw",
                   batch: int = 1, seq_len: int = 512, attn: str = "sdpa", grad_ckpt: bool = False,
                   lora_rank: int = 16, lora_targets: str | tuple[str, ...] | list[str] = ("q_proj", "v_proj"),
                   extrapolate: bool = True, optimizer_impl: str = "fused") -> TraceResult:
    """Peak memory of one steady-state training step of ``model`` (catalog id, config path or config dict).

    ``precision``: ``bf16`` (model loaded in bf16, optimizer states in bf16 — pure bf16), ``fp16``,
    ``fp32``, or ``mixed`` (fp32 weights, gradients and states; forward under bf16 autocast, which
    caches bf16 copies of the weights). ``method="lora"`` wraps the model with PEFT LoRA adapters
    (``lora_targets``: module names or ``"all-linear"``; PEFT keeps adapters in fp32). ``optimizer``:
    adamw, adam, sgd, sgd_momentum; ``optimizer_impl``: fused (HF Trainer's default
    ``adamw_torch_fused``), foreach (``torch.optim``'s CUDA default) or forloop.
    """
    _check_training(method, precision, optimizer, optimizer_impl, lora_rank)
    _check_common(attn, batch, {"seq_len": seq_len})
    require_torch(peft=method == "lora")
    config, name = resolve_config(model)
    targets = lora_targets if isinstance(lora_targets, str) else tuple(lora_targets)
    settings = dict(method=method, precision=precision, optimizer=optimizer, optimizer_impl=optimizer_impl,
                    batch=batch, seq_len=seq_len, attn=attn, grad_ckpt=grad_ckpt,
                    lora_rank=lora_rank if method == "lora" else None,
                    lora_targets=(targets if isinstance(targets, str) else list(targets)) if method == "lora" else None)
    t0 = time.perf_counter()
    dtype = "fp32" if precision == "mixed" else precision
    run, extrap, layers, notes = _execute(_run_training, config, settings, dtype, extrapolate)
    notes = _attn_notes(run, attn, config) + notes
    notes.append(_optimizer_note(optimizer, optimizer_impl, run.ops))
    if grad_ckpt:
        notes.append("gradient checkpointing: transformers' activation_checkpointing_enable, one checkpoint per "
                     "decoder layer, torch.utils.checkpoint with use_reentrant=False")
    if precision == "mixed":
        notes.append("mixed: fp32 weights/grads/states, forward under torch.autocast(bf16) on the CPU (CPU autocast "
                     "op lists; linear/matmul/SDPA in bf16 as on CUDA); bf16 weight copies are counted as weight_copies")
    if method == "lora":
        notes.append("LoRA: PEFT LoraConfig defaults (adapters cast to fp32, lora_dropout 0); base weights frozen")
    notes.append("loss: HF ForCausalLMLoss (fp32 logits + cross-entropy); no padding, so no attention mask")
    notes.append("steady state: the optimizer state exists before the traced step; zero_grad(set_to_none=True) after")
    return _result(name, "training", run, extrap, layers, int(config["num_hidden_layers"]), t0, settings, notes)


def trace_inference(model: str | dict, *, batch: int = 1, prompt_len: int = 512, gen_len: int = 16, attn: str = "sdpa",
                    dtype: str = "bf16", extrapolate: bool = True) -> TraceResult:
    """Peak memory of HF-style generation: a prefill of ``batch × prompt_len`` then ``gen_len`` decode steps.

    The KV cache is a ``DynamicCache`` (grown by ``torch.cat`` each step; sliding-window layers keep
    their window); each forward computes the logits of the last position only and takes an fp32
    copy of them, as ``generate`` does. At the end the cache holds ``prompt_len + gen_len`` tokens.
    """
    if dtype not in ("bf16", "fp16", "fp32"):
        raise VramscopeError(f"trace dtype must be bf16, fp16 or fp32, not {dtype!r}")
    _check_common(attn, batch, {"prompt_len": prompt_len, "gen_len": gen_len})
    require_torch()
    config, name = resolve_config(model)
    settings = dict(batch=batch, prompt_len=prompt_len, gen_len=gen_len, attn=attn, dtype=dtype)
    t0 = time.perf_counter()
    run, extrap, layers, notes = _execute(_run_inference, config, settings, dtype, extrapolate)
    notes = _attn_notes(run, attn, config) + notes
    notes.append("generation: manual prefill + decode loop under torch.no_grad(), DynamicCache, logits_to_keep=1, "
                 "an fp32 copy of the last logits per step (as transformers' generate)")
    return _result(name, "inference", run, extrap, layers, int(config["num_hidden_layers"]), t0, settings, notes)
