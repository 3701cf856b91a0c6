"""Buffers of the training runtime on one GPU: autocast / fp8 weight copies, DeepSpeed ZeRO's
gathered parameters and reduce bucket, FSDP's gathered units, DDP's gradient buckets, QLoRA's
dequantisation buffer and ring attention's KV chunks. Each constant names its source."""

from __future__ import annotations

from ...deepspeed_auto import zero_sizes
from ..result import Component
from .forward import Forward
from .stage import StageContext
from .states import States
from .zero3 import zero3_buffers

BUFFERS = "buffers"
AUTOCAST_COPIES = "autocast weight copies"


def zero_reduce_bucket(reduce_bucket: int, grad_bytes: float = 2) -> float:
    """DeepSpeed's contiguous gradient bucket: ``reduce_bucket_size`` elements in the gradients' dtype.
    ZeRO-3 allocates it once at start (``stage3.py``, ``__ipg_bucket_flat_buffer``), ZeRO-1/2 at each
    backward (``stage_1_and_2.py``, ``backward``: ``ipg_buffer``; a second one only with
    ``overlap_comm``, which defaults to False below stage 3), both when ``contiguous_gradients``
    (default True); sizes from :func:`vramscope.deepspeed_auto.zero_sizes`."""
    return grad_bytes * reduce_bucket


def fsdp_gathered(unit: float, root: float) -> float:
    """FSDP FULL/HYBRID_SHARD: bf16 current + prefetched layer unit and the root unit (embeddings),
    plus the fp32 reduce-scatter of one unit."""
    return 2 * (2 * unit + root) + 4 * unit


def buffers(ctx: StageContext, states: States, fwd: Forward, extra: tuple[Component, ...] = ()) -> list[Component]:
    """The stage's buffers (autocast copies first: they are freed before the optimizer step), then ``extra``."""
    spec, tr, reg, st, sh = ctx.spec, ctx.tr, ctx.reg, ctx.st, ctx.shard
    zero, fsdp = tr.zero, tr.fsdp
    out: list[Component] = []
    if reg.autocast_cache:
        c = 2 * st.linear_params
        out.append(Component(AUTOCAST_COPIES, int(c), "2 B × Linear params: bf16 casts the graph keeps until backward", BUFFERS, key="autocast_weight_copies"))
    if tr.precision == "fp8":
        c = sh.of_params(2 * st.linear_params)
        out.append(Component("fp8 weight copies", int(c), "2 × 1 B × Linear params (fp8 weight and its transpose)", BUFFERS, key="fp8_weight_copies"))
    if zero == 3:
        z3 = zero3_buffers(ctx, 2 if reg.weight <= 2 else states.adapter_bytes)
        sz = z3.sizes
        out.append(Component("ZeRO-3 gathered parameters", int(z3.gathered_bytes),
                             f"{z3.kept_numel:,.0f} elements kept × {z3.element_bytes:g} B + {z3.prefetch:,.0f} "
                             f"prefetched × {z3.element_bytes:g} B: {len(z3.kept)} params of the largest layer stay "
                             f"gathered for their backward (stage3_max_reuse_distance {sz.max_reuse:,}); prefetch ≤ "
                             f"{sz.label} stage3_prefetch_bucket_size",
                             BUFFERS, key="zero3_gathered_parameters"))
        if z3.persistent:
            out.append(Component("ZeRO-3 persistent parameters", int(z3.persistent_bytes),
                                 f"{z3.persistent_numel:,.0f} elements × {z3.element_bytes:g} B: {len(z3.persistent)} "
                                 f"params of ≤ {sz.persistence_threshold:,} elements ({sz.label} "
                                 f"stage3_param_persistence_threshold) stay whole on every GPU",
                                 BUFFERS, key="zero3_persistent_parameters"))
    if zero:
        sz = zero_sizes(spec.hidden_size, tr.zero_config)
        g = 4 if reg.grad >= 4 else 2
        rb = zero_reduce_bucket(sz.reduce_bucket, g)
        out.append(Component("ZeRO reduce bucket", int(rb), f"reduce_bucket_size {sz.reduce_bucket:,} elements × {g} B "
                             f"({sz.label}; contiguous_gradients)", BUFFERS, key="zero_reduce_bucket"))
    if fsdp in ("full", "hybrid"):
        ws = fsdp_gathered(st.largest_layer, st.largest_module if st.has_embed else 0)
        out.append(Component("FSDP gathered units", int(ws), "bf16: current + prefetched layer unit + root unit (embeddings);"
                             " fp32 reduce-scatter of one unit", BUFFERS, key="fsdp_gathered_units"))
    if fsdp == "grad-op":
        ws = 2 * (st.trainable + st.frozen)
        out.append(Component("FSDP unsharded parameters", int(ws), "SHARD_GRAD_OP keeps bf16 parameters gathered through forward and backward", BUFFERS, key="fsdp_unsharded_parameters"))
    if tr.data_parallel > 1 and not zero and fsdp == "none" and not tr.ddp_bucket_view:
        out.append(Component("DDP gradient buckets", int(states.grads_full), "a copy of every gradient in allreduce buckets "
                             "(gradient_as_bucket_view=False, HF default)", BUFFERS, key="ddp_gradient_buckets"))
    if tr.method == "qlora":
        dq = 2 * st.quant_largest
        out.append(Component("dequantisation buffer", int(dq), "bf16 copy of the largest quantised matrix", BUFFERS, key="dequantisation_buffer"))
    if tr.cp > 1:
        kvb = 0.0
        for layer in spec.attention_layers:
            a = layer.attention
            kvb = max(kvb, 2 * 2 * a.num_kv_heads * a.head_dim * reg.e * fwd.tokens / tr.tp)
        out.append(Component("ring-attention KV buffers", int(kvb), "2 chunks × K and V of the local tokens", BUFFERS, key="ring_attention_kv_buffers"))
    out.extend(extra)
    return out
