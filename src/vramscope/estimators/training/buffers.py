"""Buffers of the training runtime on one GPU: autocast / fp8 weight copies, DeepSpeed ZeRO's
gathered parameters and reduce bucket, FSDP's gathered units, DDP's gradient buckets, QLoRA's
dequantisation buffer and ring attention's KV chunks. Each constant names its source."""

from __future__ import annotations

from ...deepspeed_auto import reduce_bucket_size, stage3_prefetch_bucket_size
from ..result import Component
from .forward import Forward
from .stage import StageContext
from .states import States

BUFFERS = "buffers"
AUTOCAST_COPIES = "autocast weight copies"


def zero3_gathered(h: int, largest_module: float) -> float:
    """DeepSpeed ZeRO-3 live gathered parameters: 4 B × the largest module (DeepSpeed's
    ``estimate_zero3_model_states_mem_needs``) + the prefetch bucket, HF's ``auto``
    ``stage3_prefetch_bucket_size`` = int(0.9·h²) elements of 2 B (:mod:`vramscope.deepspeed_auto`)."""
    return 4 * largest_module + 2 * stage3_prefetch_bucket_size(h)


def zero_reduce_bucket(h: int) -> float:
    """DeepSpeed's gradient reduce bucket: HF's ``auto`` ``reduce_bucket_size`` = h² elements of 2 B."""
    return 2 * reduce_bucket_size(h)


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
        ws = zero3_gathered(spec.hidden_size, st.largest_module)
        out.append(Component("ZeRO-3 gathered parameters", int(ws),
                             "4 B × largest module (DeepSpeed's estimate_zero3) + prefetch bucket 0.9·h² × 2 B", BUFFERS, key="zero3_gathered_parameters"))
    if zero:
        rb = zero_reduce_bucket(spec.hidden_size)
        out.append(Component("ZeRO reduce bucket", int(rb), "reduce_bucket_size h² × 2 B (HF 'auto' DeepSpeed config)", BUFFERS, key="zero_reduce_bucket"))
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
