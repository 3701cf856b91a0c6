"""Where PyTorch's CPU kernels would allocate differently from CUDA's, trace the CUDA op's shapes.

PyTorch's SDPA on the CPU has one fused kernel (``_scaled_dot_product_flash_attention_for_cpu``,
which saves q, k, v, the output and an fp32 logsumexp — as CUDA's flash kernel does). When the
query/key head size differs from the value head size (DeepSeek's MLA: 192 vs 128) the CPU kernel
refuses and SDPA falls back to its math path, which materialises the ``b·h·s²`` attention matrix;
on CUDA the memory-efficient kernel takes that case and materialises nothing. Inside
:func:`cuda_like_sdpa` such calls go to ``aten._scaled_dot_product_efficient_attention``, whose
meta (fake-tensor) implementation gives the CUDA kernel's outputs and saved tensors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def cuda_like_sdpa() -> Iterator[None]:
    """Patch ``torch.nn.functional.scaled_dot_product_attention`` for the duration of a trace."""
    import torch
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention

    def sdpa(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        if query.shape[-1] == value.shape[-1] or enable_gqa or key.shape[1] != query.shape[1]:
            return original(query, key, value, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal,
                            scale=scale, enable_gqa=enable_gqa)
        if torch.is_autocast_enabled(query.device.type):  # SDPA is on autocast's low-precision list
            dt = torch.get_autocast_dtype(query.device.type)
            query, key, value = query.to(dt), key.to(dt), value.to(dt)
            if attn_mask is not None and attn_mask.is_floating_point():
                attn_mask = attn_mask.to(dt)
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            # the efficient kernel takes an additive bias: SDPA converts a boolean mask first
            attn_mask = torch.zeros_like(attn_mask, dtype=query.dtype).masked_fill_(~attn_mask, float("-inf"))
        grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
        out = torch.ops.aten._scaled_dot_product_efficient_attention(
            query, key, value, attn_mask, grad, dropout_p, is_causal, scale=scale)
        return out[0]

    F.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


@contextlib.contextmanager
def grouped_mm_needs_bf16() -> Iterator[list[str]]:
    """Send MoE expert matmuls with non-bf16 weights to transformers' grouped-mm fallback.

    ``torch._grouped_mm`` takes bf16 only (its meta check says so, like the CUDA kernel), but
    transformers' dispatcher does not check the dtype on CUDA; fp32 experts (mixed or fp32 training)
    go to transformers' own fallback (``transformers::grouped_mm_fallback``: one ``mm`` per expert
    into a preallocated output), which allocates the same output and saves the same tensors.
    Yields a list that receives a note when the fallback was used.
    """
    import torch

    try:
        from transformers.integrations import moe
    except ImportError:  # pragma: no cover - transformers without MoE integration
        yield []
        return
    original = getattr(moe, "_can_use_grouped_mm", None)
    used: list[str] = []
    if original is None:  # pragma: no cover
        yield used
        return

    def can_use(input, weight, offs):
        if weight.dtype != torch.bfloat16:
            if not used:
                used.append(f"MoE experts in {str(weight.dtype).replace('torch.', '')}: torch's grouped_mm takes bf16 "
                            "only, so transformers' grouped-mm fallback (one mm per expert) was traced")
            return False
        return original(input, weight, offs)

    moe._can_use_grouped_mm = can_use
    try:
        yield used
    finally:
        moe._can_use_grouped_mm = original
