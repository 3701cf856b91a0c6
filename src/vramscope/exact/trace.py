"""Trace a training step of the real transformers model on fake tensors and report its peak.

The model is built from its config under ``torch._subclasses.fake_tensor.FakeTensorMode`` (no
weights, no GPU; the CPU build of torch cannot initialise fake CUDA tensors, so the trace runs on
the fake CPU device and reports the bytes the same tensors take on a GPU). Two optimizer steps run
under torch's ``MemTracker`` (``torch.distributed._tools.mem_tracker``), and the peak of the
second — the steady state, with optimizer states allocated — is reported by category: parameters,
buffers, gradients, optimizer states, activations and temporaries.

Layers of one kind are identical, so a model is traced with one and with two decoder layers and
each category is extrapolated linearly to the full depth: ``v(L) = v(1) + (L − 1)·(v(2) − v(1))``.
Only uniform decoders are extrapolated (one layer kind); others are traced in full.

What this traces is PyTorch's CPU code path: SDPA's CPU kernel, the for-loop AdamW (``foreach``
and ``fused`` are CUDA paths), no FlashAttention-2, no bitsandbytes — each result says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import VramscopeError

CATEGORIES = ("parameters", "buffers", "gradients", "optimizer", "activations", "temporaries", "other")
_MAP = {"PARAM": "parameters", "BUFFER": "buffers", "GRAD": "gradients", "OPT": "optimizer", "ACT": "activations",
        "TEMP": "temporaries", "OTH": "other"}


@dataclass(frozen=True)
class TraceResult:
    model: str
    peak_bytes: int
    categories: dict[str, int]
    traced_layers: tuple[int, ...]
    num_layers: int
    extrapolated: bool
    seconds: float
    workload: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _require():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        raise VramscopeError("exact mode needs torch and transformers: pip install 'vramscope[exact]'") from None


def _run(config: dict, layers: int, *, method: str, precision: str, optimizer: str, batch: int, seq_len: int,
         attn: str, grad_ckpt: bool, lora_rank: int, lora_targets) -> dict[str, int]:
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = dict(config)
    cfg["num_hidden_layers"] = layers
    for key in ("layer_types", "mlp_only_layers"):
        if isinstance(cfg.get(key), list):
            cfg[key] = cfg[key][:layers]
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32, "mixed": torch.float32}[precision]
    with FakeTensorMode():
        conf = AutoConfig.for_model(**cfg)
        model = AutoModelForCausalLM.from_config(conf, dtype=dtype, attn_implementation=attn)
        if grad_ckpt:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if method == "lora":
            try:
                from peft import LoraConfig, get_peft_model
            except ImportError:
                raise VramscopeError("LoRA traces need peft: pip install 'vramscope[exact]'") from None
            targets = lora_targets if isinstance(lora_targets, str) else list(lora_targets)
            # PEFT moves adapters with .to(); fake tensors carry weakrefs that forbid swap_tensors
            prev = torch.__future__.get_overwrite_module_params_on_conversion()
            torch.__future__.set_overwrite_module_params_on_conversion(True)
            try:
                model = get_peft_model(model, LoraConfig(r=lora_rank, target_modules=targets))
            finally:
                torch.__future__.set_overwrite_module_params_on_conversion(prev)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt_cls = {"adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[optimizer]
        opt = opt_cls(params, lr=1e-4, foreach=False)
        ids = torch.randint(0, conf.vocab_size, (batch, seq_len))
        tracker = MemTracker()
        tracker.track_external(model, opt)
        with tracker:
            for step in range(2):
                if precision == "mixed":
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        out = model(input_ids=ids, labels=ids)
                else:
                    out = model(input_ids=ids, labels=ids)
                loss = out.loss
                del out  # as HF Trainer: only the loss survives into backward
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                if step == 0:
                    tracker.reset_mod_stats()
        snap = tracker.get_tracker_snapshot("peak")
    dev = next(iter(snap.values()))
    out: dict[str, int] = {c: 0 for c in CATEGORIES}
    for k, v in dev.items():
        name = str(k).split(".")[-1]
        if name in _MAP:
            out[_MAP[name]] += int(v)
    out["total"] = int(dev.get("Total", sum(out.values())))
    return out


def trace_training(model: str | dict, *, method: str = "full", precision: str = "bf16", optimizer: str = "adamw",
                   batch: int = 1, seq_len: int = 512, attn: str = "sdpa", grad_ckpt: bool = False,
                   lora_rank: int = 16, lora_targets: str | tuple[str, ...] = ("q_proj", "v_proj"),
                   extrapolate: bool = True) -> TraceResult:
    """Peak memory of a steady-state training step of ``model`` (catalog id, path or config dict)."""
    _require()
    if method == "lora":
        raise VramscopeError("LoRA traces are not available yet: PEFT moves adapters with .to(), which fake tensors "
                             "refuse (swap_tensors with weakrefs); trace method full")
    if method != "full":
        raise VramscopeError(f"trace supports method full, not {method!r} (QLoRA needs bitsandbytes on CUDA)")
    if precision not in ("bf16", "fp16", "fp32", "mixed"):
        raise VramscopeError(f"trace precision must be bf16, fp16, fp32 or mixed, not {precision!r}")
    if optimizer not in ("adamw", "sgd"):
        raise VramscopeError(f"trace optimizer must be adamw or sgd, not {optimizer!r}")
    if attn not in ("sdpa", "eager"):
        raise VramscopeError("trace runs on the CPU: attn must be sdpa or eager (FlashAttention-2 needs CUDA)")
    if batch < 1 or seq_len < 1 or lora_rank < 1:
        raise VramscopeError("batch, seq_len and lora_rank must be positive")
    if isinstance(model, dict):
        config, name = dict(model), model.get("_name_or_path", "config")
    else:
        from ..sources import load_model

        spec = load_model(model)
        config, name = dict(spec.config), spec.id
    if not config.get("model_type"):
        raise VramscopeError(f"{name}: the config has no model_type, so transformers cannot build it")
    L = int(config.get("num_hidden_layers") or 0)
    uniform = not any(k in config for k in ("layer_types", "first_k_dense_replace", "mlp_only_layers",
                                            "decoder_sparse_step", "attn_layer_period"))
    kw = dict(method=method, precision=precision, optimizer=optimizer, batch=batch, seq_len=seq_len, attn=attn,
              grad_ckpt=grad_ckpt, lora_rank=lora_rank, lora_targets=lora_targets)
    t0 = time.perf_counter()
    if extrapolate and uniform and L > 2:
        one, two = _run(config, 1, **kw), _run(config, 2, **kw)
        cats = {c: int(one[c] + (L - 1) * (two[c] - one[c])) for c in one}
        layers, extrap = (1, 2), True
    else:
        cats = _run(config, L, **kw)
        layers, extrap = (L,), False
    peak = cats.pop("total")
    notes = ("PyTorch CPU code path on fake tensors: SDPA's CPU kernel, for-loop AdamW",
             "peak of the second step (optimizer states allocated)")
    return TraceResult(name, peak, cats, layers, L, extrap, time.perf_counter() - t0, kw, notes)
