"""Hugging Face transformers ``generate`` (formulas.md §4.4).

weights + KV cache (DynamicCache grows with the sequence; StaticCache preallocates
``max_cache_len``; sliding layers keep their window) + the prefill transient of one layer over
``batch × prompt`` tokens + logits (``generate`` passes ``logits_to_keep=1`` and copies the last
row to fp32: b·V·(2 + 4) bytes) + CUDA context. ``device_map="auto"`` places whole layers on each
GPU, which is what the pipeline split models.
"""

from __future__ import annotations

from ... import spec as S
from ...formats import get_format
from ...units import fmt_gib, fmt_num
from ...workload import Inference
from ..common import cuda_context, layer_transient_bytes, qkvo_width, setup
from ..kv import KVGroup, KVPolicy, kv_bytes_per_sequence, kv_groups, sequence_kv_formula
from ..result import ACTIVATIONS, CACHE, KV, STATE, WEIGHTS, Component, Fit, HFSettings, KVCapacity, band
from .base import Engine, EngineResult

#: transformers 5.x: MLA caches the compressed latent (``modeling_deepseek_v2.py``); sliding layers
#: keep their window (``DynamicSlidingWindowLayer``)
KV_POLICY = KVPolicy("hf")
#: transformers 4.x cached MLA decompressed, per-head K and V (the KV component's high band)
KV_4X = KVPolicy("hf-4.x", latent_mla=False)


def estimate(spec, wl: Inference, gpu=None) -> EngineResult:
    s = setup(spec, wl, kv=KV_POLICY)
    b = wl.batch
    seq = s.tokens
    comps = [Component("weights", s.weights.per_gpu, f"Σ tensor bytes in {s.weights.format}, split over {wl.num_gpus} GPU(s)",
                       WEIGHTS, note=f"{fmt_gib(s.weights.total)} for the whole model", key="weights")]
    kv_seq = kv_bytes_per_sequence(s.groups, seq, KV_POLICY)
    prompt = max(1, seq - wl.gen_len)  # tokens in the prefill forward (multimodal tokens included)
    if s.groups:
        layout = sequence_kv_formula(s.groups, seq, KV_POLICY)
        # DynamicCache.update concatenates in every decode step (torch.cat): one layer's old and new
        # K/V coexist briefly. The prefill stores the prompt's K/V without a copy (an empty layer takes
        # the states as they are), so with no decode step (gen_len 0) there is no such copy.
        decodes = wl.cache == "dynamic" and wl.gen_len > 0
        layer_bpt = max(g.bytes_per_token / g.layers for g in s.groups)
        growth = layer_bpt * seq * b if decodes else 0
        kv_end = kv_seq * b + growth
        # Sliding layers of a DynamicCache keep a *view* of the last window−1 tokens of the prefill's
        # torch.cat result, so the whole prompt's K/V storage stays alive until the first decode step
        # replaces it (transformers DynamicSlidingWindowLayer.update). The trace showed it: Gemma-3-1B,
        # b8 × 4096 prompt tokens, 0.78 GiB of KV at the prefill peak where the windowed cache is 0.24 GiB
        # (estimate −14% before); Mistral-7B b2 × 8192: 1.94 GiB vs 1.06 GiB.
        kv_prefill = _prefill_kv_bytes(s.groups, prompt) * b if wl.cache == "dynamic" else 0.0
        exp, lo, hi = band(max(kv_end, kv_prefill), 1.0, 1.02)
        if kv_prefill > kv_end:
            full_bpt = sum(g.bytes_per_token for g in s.groups)
            text = (f"{b} seq × {prompt:,} prompt tokens × {fmt_num(full_bpt)} B/token (the prefill: every layer, "
                    "sliding ones included, holds the whole prompt until the first decode step)")
        else:
            text = f"{b} seq × ({layout})"
            if growth:
                text += (f" + {b} seq × {seq:,} tokens × {fmt_num(layer_bpt)} B/token (one layer's K/V copied by "
                         "DynamicCache's torch.cat in a decode step)")
        text += f" — {wl.cache} cache"
        if any(layer.attention is not None and layer.attention.kind == S.ATTN_MLA for layer in s.layers):
            # transformers 4.x cached MLA decompressed (per-head K and V): the high band
            old = kv_groups(spec, KV_4X, wl.kv_dtype, wl.tp, s.layers)
            hi = max(hi, int(kv_bytes_per_sequence(old, seq, KV_4X) * b))
            text += "; MLA latent as transformers 5 caches it (4.x: decompressed K/V, the high band)"
        comps.append(Component("KV cache", exp, text, KV, lo, hi, key="kv_cache"))
    if s.state_per_seq:
        comps.append(Component("recurrent state", int(s.state_per_seq * b),
                               f"{b} seq × {fmt_num(s.state_per_seq)} B (conv + SSM state, constant in context)", STATE,
                               key="recurrent_state"))
    e = _compute_bytes(spec, wl)
    if wl.attn_impl == "eager":
        act = max(layer_transient_bytes(spec, s.layers, b * prompt, e=e),
                  layer_transient_bytes(spec, (), b * prompt, e=e)  # the residual stream and norm (no layer branch)
                  + eager_prefill_attention_bytes(s.layers, b, prompt, e, _softmax_bytes(spec, wl)))
    else:
        act = layer_transient_bytes(spec, s.layers, b * prompt, e=e)
    exp, lo, hi = band(act, 0.7, 1.6)
    comps.append(Component("prefill activations", exp, f"one layer's transients over {b}×{prompt} prompt tokens "
                           f"({wl.attn_impl} attention)", ACTIVATIONS, lo, hi,
                           key="prefill_activations"))
    logits = b * spec.vocab_size * (2 + 4)
    comps.append(Component("logits", logits, f"{b} × V {spec.vocab_size} × (2 B bf16 + 4 B fp32 copy), logits_to_keep=1",
                           ACTIVATIONS, logits, b * prompt * spec.vocab_size * 6,
                           "high band: older transformers computed logits for every prompt token", key="logits"))
    if s.encoder_tokens:
        from ..multimodal import vision_encoder_activation_bytes

        encoder = next(e for e in spec.encoders if e.kind == "vision")
        enc = vision_encoder_activation_bytes(encoder, s.encoder_tokens, 2, item_tokens=s.encoder_item_tokens or None,
                                              attn="eager" if wl.attn_impl == "eager" else "sdpa")
        comps.append(Component("vision encoder activations", int(enc), f"ViT forward over {s.encoder_tokens} patches",
                               ACTIVATIONS, int(enc * 0.7), int(enc * 1.5), key="vision_encoder_activations"))
    dynamic = sum(c.bytes for c in comps if c.category in (KV, ACTIVATIONS))
    comps.append(Component("allocator slack", int(0.05 * dynamic), "≈5% of KV + activations (reserved − allocated)",
                           "allocator", 0, int(0.2 * dynamic),
                           "PyTorch caching allocator rounding and fragmentation: 0–20% (c10 CUDACachingAllocator)",
                           key="allocator_slack", memory=CACHE))
    comps.append(cuda_context())
    return EngineResult(tuple(comps), s.weights.format, tuple(s.assumptions),
                        Fit.within(sum(c.bytes for c in comps), gpu),  # HF's rule: the figure within the GPU
                        KVCapacity(kv_seq / max(seq, 1)), HFSettings(seq, s.mm_tokens))


def _compute_dtype(spec, wl: Inference) -> str:
    """The dtype HF runs the model in: the weight format when it is a plain float type (a float32
    checkpoint loaded with ``dtype=bfloat16`` runs in bf16), else the checkpoint's dtype."""
    if wl.weights:
        name = get_format(wl.weights).name  # resolves the aliases (bfloat16, half, float32 …)
        if name in ("fp32", "fp16", "bf16"):
            return name
    return {"float32": "fp32", "float16": "fp16"}.get(spec.dtype, "bf16")


def _compute_bytes(spec, wl: Inference) -> float:
    """Bytes per activation element: 4 in fp32, else 2. (The trace of Gemma-2-2B, whose checkpoint is
    float32, run in bf16 showed 16-bit activations; the estimate took 4 bytes from the checkpoint.)"""
    return 4.0 if _compute_dtype(spec, wl) == "fp32" else 2.0


def _softmax_bytes(spec, wl: Inference) -> float:
    """Bytes per attention score at the peak of HF's eager softmax.

    ``softmax(scores, dtype=float32).to(dtype)``: for bf16 scores ATen first makes an fp32 copy of
    the input (``input.toType(float)``; only CUDA fp16 has the fused half-to-float kernel), then
    writes the fp32 result while the bf16 scores are still referenced: 2 + 4 + 4 = 10 B. The trace
    showed it (Llama-3.2-1B, b8 × 2048, eager: 10.47 GiB of prefill activations for 1 Gi scores;
    the estimate's 8 B per score was −15%). fp16 on CUDA: 2 + 4, then the 16-bit copy: 8 B; fp32: 4 + 4.
    """
    return {"bf16": 10.0, "fp16": 8.0, "fp32": 8.0}[_compute_dtype(spec, wl)]


def eager_prefill_attention_bytes(layers: tuple[S.Layer, ...], batch: int, prompt: int, e: float,
                                  score_bytes: float) -> float:
    """Peak of HF's eager attention in the prefill of ``batch × prompt`` tokens, bytes: q, k, v and
    the output (as for SDPA), K/V repeated to every query head (``repeat_kv``), the scores at their
    softmax peak (``score_bytes`` each) and the additive masks (one ``b × s × s`` per attention kind).

    Sliding-window layers score every prompt token too: in the prefill the cache returns the whole
    prompt's K/V and the window is applied by the mask, so no ``min(s, window)`` here.
    """
    T = batch * prompt
    best = 0.0
    kinds = set()
    for layer in layers:
        a = layer.attention
        if a is None:
            continue
        kinds.add((a.kind, a.window))
        width = qkvo_width(a)
        if a.kind != S.ATTN_MLA and a.num_kv_heads < a.num_heads:
            width += a.num_heads * (a.head_dim + a.head_dim_v)  # repeat_kv's copies of K and V
        best = max(best, T * width * e + batch * a.num_heads * prompt * prompt * score_bytes)
    return best + len(kinds) * batch * prompt * prompt * e


def _prefill_kv_bytes(groups: list[KVGroup], prompt: int) -> float:
    """KV bytes per sequence at the end of the prefill: every layer, sliding ones included, holds the
    prompt's storage (see the KV component)."""
    return sum(g.bytes_per_token for g in groups) * prompt


ENTRY = Engine("hf", estimate, context_step=lambda wl: 1, gpu_dependent=False, kv=KV_POLICY,
                options=("tp", "pp", "ep", "cache", "attn_impl"))
