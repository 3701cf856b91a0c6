"""Speed beside memory: roofline estimates of prefill time and decode throughput (labelled estimates).

* prefill: compute-bound, FLOPs = 2·P_active·T + 4·n_attn_layers·T·s̄·n_h·d_h (attention scores and
  values, causal → half of s for the average), at ``MFU_PREFILL`` of the GPUs' dense BF16 (or FP8
  for 8-bit weights) peak;
* decode: memory-bound per step, bytes = active weight bytes per GPU + the KV cache per GPU read for
  every sequence (all tensor-parallel ranks read their shares at once), at ``BW_EFFICIENCY`` of the memory bandwidth; tokens/s = batch / step time, capped by
  compute at ``MFU_DECODE``.

The efficiency factors are typical figures for well-tuned engines on recent NVIDIA GPUs, not
measurements of this setup: vLLM and llama.cpp reach 60–85 % of peak bandwidth in decode.
"""

from __future__ import annotations

from ..spec import ModelSpec
from .result import Estimate, Speed

MFU_PREFILL = 0.5
MFU_DECODE = 0.3
BW_EFFICIENCY = 0.75


def speed(spec: ModelSpec, est: Estimate, gpu, *, batch: int, prompt: int, context: int) -> Speed:
    if gpu is None or not getattr(gpu, "bandwidth_gbs", None):
        return Speed(None, None, None, "no GPU with a known bandwidth chosen")
    n = est.num_gpus
    eight_bit = any(k in est.model.get("weights_format", "") for k in ("fp8", "int8", "w8a8"))
    tflops = (getattr(gpu, "fp8_tflops", None) if eight_bit else None) or getattr(gpu, "bf16_tflops", None)
    attn_layers = spec.attention_layers
    heads_dim = max((la.attention.num_heads * la.attention.head_dim for la in attn_layers), default=0)
    tokens = batch * prompt
    prefill_flops = 2 * spec.params_active * tokens + 4 * len(attn_layers) * tokens * (prompt / 2) * heads_dim
    prefill = prefill_flops / (tflops * 1e12 * MFU_PREFILL * n) if tflops else None
    weights = est.component("weights").bytes
    if spec.is_moe and spec.params_total:
        weights = weights * spec.params_active / spec.params_total  # only routed experts in use are read
    # KV bytes per token on this GPU: the engines report it per GPU already (a TP rank holds its share of
    # the KV heads), so it is not divided by TP again; every rank reads its share in the same step.
    kv_per_token = est.kv.bytes_per_token if est.kv is not None else 0.0
    step_bytes = weights + batch * context * kv_per_token
    step = step_bytes / (gpu.bandwidth_gbs * 1e9 * BW_EFFICIENCY)
    if tflops:
        step = max(step, 2 * spec.params_active * batch / (tflops * 1e12 * MFU_DECODE * n))
    per_seq = 1 / step if step else None
    return Speed(prefill, per_seq * batch if per_seq else None, per_seq)
