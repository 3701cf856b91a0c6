"""The seed documents' training rules of thumb, computed beside the detailed estimate so a user sees
how each compares. Every figure is labelled with its seed; decimal GB as the seeds write them
(n B parameters → n GB per byte per parameter), returned in bytes. No rule feeds the estimate.

* seed 000 (Alibaba Cloud PAI): its fine-tuning table row for the method (``vramscope.pai``).
* seed 002: Total ≈ 4.1·W + (2–3)·A, W = 16-bit weights, A = inference activations
  B·L·d·layers·2 B; MoE ≈ 1.1–1.3 × a dense model.
* seed 003: "训练 x8" (bf16 parameter, gradient, two optimizer states: 8 B/param); full fine-tuning
  10n GB; mixed precision 16n GB (ZeRO paper); full training 20n GB as the practical minimum; LoRA
  2n GB plus 1 % of parameters for gradients and two optimizer states.
* seed 004: 2P + 4P + 2P + activations b·s·h·(34 + 5·a·s/h) per layer (Korthikanti); "7B ≈ 42 GB"
  (6 B/param); Mamba 8P + activations linear in b·s·d.
* seed 001: GRPO activations = k × SFT activations; DPO ≈ 2 ×.
"""

from __future__ import annotations

from typing import Any

from . import spec as S
from .workload import Training


def _row(rule: str, source: str, value: float, low: float | None = None, high: float | None = None) -> dict[str, Any]:
    return {"rule": rule, "source": source, "bytes": int(value),
            "low_bytes": int(low if low is not None else value), "high_bytes": int(high if high is not None else value)}


def training_rules(spec: S.ModelSpec, tr: Training, detailed_bytes: int, activations_bytes: int) -> list[dict[str, Any]]:
    """The seeds' rules for this model and workload, each with its ratio to the detailed figure."""
    from . import pai

    P = spec.params_total
    Pa = spec.params_active
    h, L = spec.hidden_size, spec.num_layers
    b, s = tr.batch, tr.seq_len
    heads = max((layer.attention.num_heads for layer in spec.attention_layers), default=0)
    W = 2 * P
    A = b * s * h * L * 2  # seed 002's inference activations
    rows = []
    method = {"qlora": "qlora-4bit" if tr.quant != "int8" else "qlora-8bit", "dora": "lora"}.get(tr.method, tr.method)
    if method in pai.METHODS:
        r = pai.finetune(method, P / 1e9, 2.0, "Adam/AdamW", tr.batch, Pa / 1e9 if spec.is_moe else None, spec.is_moe)
        rows.append(_row(f"PAI quick mode: {r.scenario}", "seed 000 (Alibaba Cloud PAI v3.1)", r.total_gb * 1e9))
    if tr.method in ("full", "freeze", "galore"):
        rows.append(_row("4.1·W + (2–3)·A", "seed 002", 4.1 * W + 2.5 * A, 4.1 * W + 2 * A, 4.1 * W + 3 * A))
        rows.append(_row("×8: parameter, gradient, 2 optimizer states in bf16", "seed 003", 8 * P))
        rows.append(_row("×10: full fine-tuning 10n GB", "seed 003", 10 * P))
        rows.append(_row("×16: mixed precision 2 + 2 + 12 (ZeRO paper)", "seed 003", 16 * P))
        rows.append(_row("×20: full training, practical minimum", "seed 003", 20 * P))
        korth = b * s * h * (34 + 5 * heads * s / h) * L if heads else 0
        rows.append(_row("2P + 4P + 2P + b·s·h·(34 + 5·a·s/h)·L", "seed 004", 8 * P + korth))
        rows.append(_row("×6: \"7B ≈ 42 GB\"", "seed 004", 6 * P))
        if spec.ssm_layers:
            rows.append(_row("Mamba: 8P + activations ∝ b·s·d", "seed 004", 8 * P + b * s * h * L * 2))
        if spec.is_moe:
            dense = 4.1 * 2 * Pa + 2.5 * A
            rows.append(_row("MoE ≈ 1.1–1.3 × dense (active parameters)", "seed 002", 1.2 * dense, 1.1 * dense, 1.3 * dense))
    elif tr.method in ("lora", "dora", "qlora"):
        rows.append(_row("LoRA: 2n GB + 1 % × (gradient + 2 optimizer states)", "seed 003", W + 0.01 * P * 2 * 3))
    if tr.rl == "grpo":
        rows.append(_row(f"GRPO: activations × k (k = {tr.num_generations})", "seed 001",
                         detailed_bytes - activations_bytes + tr.num_generations * activations_bytes))
    if tr.rl == "dpo":
        rows.append(_row("DPO: activations × 2", "seed 001", detailed_bytes + activations_bytes))
    for row in rows:
        row["ratio_to_detailed"] = round(row["bytes"] / detailed_bytes, 3) if detailed_bytes else None
    return rows
