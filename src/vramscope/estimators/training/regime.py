"""The precision regime of a training run (bytes per parameter of each model state, activation
dtypes), the format of the frozen base weights, and the layout rules training adds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ... import spec as S
from ...errors import VramscopeError
from ...workload import Training
from ..sharding import check_layout


@dataclass(frozen=True)
class Regime:
    """Bytes per parameter and activation dtypes of a precision regime."""

    name: str
    weight: float  # trainable weights as stored on the GPU
    grad: float
    master: float  # fp32 master copy kept beside 16-bit weights (DeepSpeed, Megatron, fp8)
    state: float  # optimizer state dtype
    e: float  # activations
    r: float  # residual stream
    frozen: float  # frozen base weights
    autocast_cache: bool = False
    note: str = ""


def regime(tr: Training) -> Regime:
    """The precision regime (formulas.md §5.1).

    * ``fp32``: 4 + 4 + 8 B/param, fp32 activations.
    * ``bf16`` / ``fp16`` (pure): model loaded in 16 bits; torch optimizers create states like the
      parameter, so AdamW costs 2 + 2 + 4 = 8 B/param (LLaMA-Factory's "pure_bf16").
    * ``mixed`` without DeepSpeed/FSDP (HF Trainer AMP): fp32 weights, grads and states (16 B/param);
      autocast runs matmuls in bf16 and the graph keeps the bf16 weight copies until backward.
    * ``mixed`` with DeepSpeed ZeRO: 16-bit weights and gradients, fp32 master + states: 2 + 2 + 12
      (ZeRO paper K = 12).
    * ``mixed`` with FSDP ``MixedPrecision(param_dtype=bf16)``: fp32 shards (4 + 4 + 8), bf16 gathered units.
    * ``fp8`` (Transformer Engine style): bf16 weights and grads + fp32 master and states, plus
      fp8 weight copies; Linear inputs saved in 1 byte.
    """
    p = tr.precision
    if p == "fp32":
        return Regime(p, 4, 4, 0, 4, 4, 4, 4)
    if p in ("bf16", "fp16"):
        return Regime(p, 2, 2, 0, 2, 2, 2, 2, note=f"pure {p}: optimizer states in the parameter dtype")
    if p == "fp8":
        return Regime(p, 2, 2, 4, 4, 2, 2, 2, note="fp8: bf16 weights + fp32 master + fp8 copies of Linear weights")
    # mixed / mixed-fp16
    if tr.zero:
        return Regime(p, 2, 2, 4, 4, 2, 2, 2, note="DeepSpeed mixed precision: 16-bit weights/grads, fp32 master + states")
    if tr.fsdp != "none":
        return Regime(p, 4, 4, 0, 4, 2, 2, 2, note="FSDP MixedPrecision: fp32 shards, bf16 gathered parameters")
    return Regime(p, 4, 4, 0, 4, 2, 4, 2, autocast_cache=True,
                  note="autocast (HF Trainer AMP): fp32 weights, grads and states; bf16 matmuls")


def check_training_layout(spec: S.ModelSpec, tr: Training) -> None:
    """The parallel layout check (training: no serving rules), and QLoRA's: 8-bit (LLM.int8) base
    weights are refused under ZeRO-3 / FSDP, which shard parameters."""
    check_layout(spec, tr.tp, tr.pp, tr.ep, serving=False)
    if tr.method == "qlora" and (tr.zero == 3 or tr.fsdp != "none") and tr.quant == "int8":
        raise VramscopeError("8-bit (LLM.int8) base weights cannot be sharded by ZeRO-3/FSDP; use quant=nf4")


def frozen_format_key(tr: Training, reg: Regime) -> tuple:
    """What decides a frozen base tensor's bytes (hashable, for memoising what depends on it)."""
    if tr.method != "qlora":
        return ("regime", reg.frozen)
    return ("qlora", tr.quant, tr.double_quant, tr.kbit_prepare)


def frozen_format(key: tuple) -> Callable[[S.Tensor], float]:
    """Bytes of a frozen base tensor (``key`` from :func:`frozen_format_key`): the QLoRA format for
    quantisable matrices, else the regime's bytes per parameter."""
    if key[0] == "regime":
        frozen = key[1]
        return lambda t: t.numel * frozen
    from ...formats import get_format

    _, quant, double_quant, kbit_prepare = key
    name = {"nf4": "nf4-dq" if double_quant else "nf4", "fp4": "fp4-dq" if double_quant else "fp4",
            "int8": "int8"}[quant]
    fmt = get_format(name)
    # peft.prepare_model_for_kbit_training casts every bf16/fp16 parameter that is not a Params4bit
    # (embeddings, output head, norms, biases, routers) to fp32 (peft/utils/other.py); TRL's SFT /
    # DPO / GRPO trainers call it for a model loaded in 4 or 8 bits.
    other = 4 if kbit_prepare else 2
    return lambda t: fmt.tensor_bytes(t) if t.quantisable else t.numel * other


def weights_label(tr: Training, reg: Regime) -> str:
    """The ``model.weights_format`` shown for a training run."""
    if tr.method == "qlora":
        rest = "fp32 (prepare_model_for_kbit_training)" if tr.kbit_prepare else "bf16"
        return (f"{tr.quant}{'-dq' if tr.double_quant and tr.quant != 'int8' else ''} base, other params {rest}"
                f" + {tr.lora_dtype} adapters")
    if tr.method in ("lora", "dora"):
        return f"{'fp32' if reg.frozen == 4 else 'bf16'} base + {tr.lora_dtype} adapters"
    return reg.name
