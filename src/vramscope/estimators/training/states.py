"""Model states of one stage on one GPU: weights (trainable, frozen, adapters), gradients, optimizer
states and the fp32 master copy, after ZeRO / FSDP sharding and CPU offload (formulas.md §5.1)."""

from __future__ import annotations

from dataclasses import dataclass

from ... import spec as S
from .. import optimizers as O
from ..result import WEIGHTS, Component
from ..trainable import Linear, stage_lora
from .stage import PAGED_MIN_NUMEL, StageContext

OPTIMIZER = "optimizer"


@dataclass(frozen=True)
class States:
    """Bytes of the model states on one GPU of the stage (``host``: what offload moved to CPU RAM)."""

    lora_here: tuple[Linear, ...]  # LoRA-targeted Linears of the stage's layers
    adapter: float  # adapter params on this GPU
    adapter_bytes: int  # bytes per adapter param (PEFT keeps adapters in fp32 unless lora_dtype=bf16)
    trainable: float  # trainable params on this GPU: base + adapters
    weights: float  # trainable base weights on the GPU
    frozen: float  # frozen base weights on the GPU
    grads_full: float  # gradients of the stage before ZeRO-2 / FSDP sharding
    grads: float  # gradients on the GPU
    state_bytes: float  # bytes per optimizer state element
    optimizer: float  # every optimizer state on the GPU, paged ones included
    paged: float  # of which bitsandbytes keeps in CUDA unified memory (outside torch's allocator)
    master: float
    host: float
    components: tuple[Component, ...]


def adapter_params(ctx: StageContext, lora_here: tuple[Linear, ...]) -> float:
    """Adapter parameters on one GPU of the stage: LoRA ``r·(d_in + d_out)`` per targeted Linear (DoRA
    + ``d_out``), split by TP; prompt methods their virtual tokens (prefix tuning per layer)."""
    tr, trn = ctx.tr, ctx.trn
    r = tr.lora_rank
    adapter = sum(r * (lin.d_in + lin.d_out) + (lin.d_out if tr.method == "dora" else 0) for lin in lora_here) / tr.tp
    if tr.method in ("prefix", "prompt", "ptuning"):
        adapter = trn.adapter if tr.method != "prefix" else trn.adapter * len(ctx.st.layers) / ctx.spec.num_layers
    return adapter


def model_states(ctx: StageContext) -> States:
    """Weights, gradients, optimizer states and master of the stage, and their components."""
    tr, reg, trn, st, sh = ctx.tr, ctx.reg, ctx.trn, ctx.st, ctx.shard
    N = sh.degree
    comps: list[Component] = []
    opt_offload = tr.offload in ("optimizer", "params")
    host = 0.0
    lora_here = stage_lora(trn, st.layers, st.has_embed, st.has_head)  # the head's / embedding's on their stages
    adapter = adapter_params(ctx, lora_here)
    a_w = 4 if (tr.lora_dtype == "fp32" or reg.weight == 4) else 2
    trainable = st.trainable + adapter

    # --- weights ------------------------------------------------------------------------------
    w_train = sh.of_params(st.trainable * reg.weight)
    if tr.offload == "params":
        host += w_train
        w_train = 0
    frozen_b = sh.of_params(st.frozen_bytes)
    if tr.offload == "params":
        host += frozen_b
        frozen_b = 0
    sharded = f" / {N} (sharded)" if sh.params else ""
    offloaded = "offloaded to host RAM, none on the GPU: "
    if st.trainable:
        text = f"{reg.weight:g} B × {st.trainable:,.0f} trainable params{sharded}"
        comps.append(Component("weights", int(w_train), offloaded + text if tr.offload == "params" else text, WEIGHTS, key="weights"))
    if st.frozen:
        if tr.method == "qlora":
            text = (f"{tr.quant}{' + double quant' if tr.double_quant and tr.quant != 'int8' else ''} matrices, "
                    f"other params in {'fp32 (prepare_model_for_kbit_training)' if tr.kbit_prepare else 'bf16'}: "
                    f"{st.frozen:,.0f} params{sharded}")
        else:
            text = f"{reg.frozen:g} B × {st.frozen:,.0f} frozen params{sharded}"
        comps.append(Component("frozen weights", int(frozen_b), offloaded + text if tr.offload == "params" else text,
                               WEIGHTS, key="frozen_weights"))
    if adapter:
        comps.append(Component("adapter weights", int(adapter * a_w), f"{a_w} B × {adapter:,.0f} adapter params "
                               f"({tr.method}{f' r={tr.lora_rank}' if trn.lora else ''}, PEFT keeps adapters in "
                               f"{'fp32' if a_w == 4 else 'bf16'})", WEIGHTS, key="adapter_weights"))

    # --- gradients, optimizer, master -----------------------------------------------------------
    g_full = st.trainable * reg.grad + adapter * a_w
    g_gpu = sh.of_grads(g_full)
    if tr.offload == "params" and tr.fsdp in ("full", "hybrid"):
        # FSDP CPUOffload(offload_params=True) "offloads gradients to CPU as well, meaning that the
        # optimizer step runs on CPU" (torch/distributed/fsdp/api.py, CPUOffload docstring; FSDP2's
        # CPUOffloadPolicy likewise copies each reduce-scattered gradient shard to pinned host memory):
        # the unsharded gradient of the unit in backward is counted with the gathered units
        host += g_gpu
        g_gpu = 0.0
    s_bytes = reg.state if not trn.lora and tr.method not in ("prefix", "prompt", "ptuning") else 4 if a_w == 4 else reg.state
    if tr.method == "galore":
        st_b = galore_states(ctx, s_bytes)
        opt = O.StateBytes(st_b, f"GaLore rank {tr.galore_rank}: 2·{s_bytes:g} B × r × max(m, n) per matrix "
                                 "+ projector; 1-D params AdamW (arXiv:2403.03507)")
    else:
        opt = O.state_bytes(tr.optimizer, s_bytes, st.matrix + (adapter if trn.lora else 0),
                            trainable - st.matrix - (adapter if trn.lora else 0), st.factored, st.embed_head)
    opt_gpu = sh.of_states(opt.gpu)
    paged = 0.0
    if tr.optimizer in O.PAGED and tr.method != "galore":
        large_m, large_o = paged_eligible(ctx, lora_here, adapter)
        paged = sh.of_states(O.paged_bytes(tr.optimizer, large_m, large_o))
    master = sh.of_states(st.trainable * reg.master)
    if opt_offload:
        host += opt_gpu + master
        opt_gpu = master = paged = 0.0
    if opt.gpu and not (paged and opt_gpu - paged <= 0):
        what = O.DESCRIPTIONS[tr.optimizer] + ": " + opt.formula
        if paged:
            what = (O.DESCRIPTIONS[tr.optimizer] + ": the states bitsandbytes keeps as torch tensors (tensors under "
                    "1e5 elements" + (", the fp32 absmax per 256 values" if tr.optimizer == "paged-adamw-8bit" else "")
                    + "); the rest is in unified memory")
        comps.append(Component("optimizer states", int(opt_gpu - paged), what
                               + (f" / {N} (ZeRO/FSDP sharded)" if sh.states else "")
                               + ("; offloaded to CPU" if opt_offload else ""), OPTIMIZER, key="optimizer_states"))
    if master:
        comps.append(Component("fp32 master weights", int(master), f"4 B × {st.trainable:,.0f} trainable params"
                               + (f" / {N}" if sh.states else ""), OPTIMIZER, key="fp32_master_weights"))
    return States(lora_here, adapter, a_w, trainable, w_train, frozen_b, g_full, g_gpu, s_bytes, opt_gpu, paged,
                  master, host, tuple(comps))


def paged_eligible(ctx: StageContext, lora_here: tuple[Linear, ...], adapter: float) -> tuple[float, float]:
    """(params in 2-D+, in other tensors) of this GPU's trainable tensors that bitsandbytes pages: at
    least :data:`~.stage.PAGED_MIN_NUMEL` elements. LoRA's A (r × d_in) and B (d_out × r) count one by
    one — at r = 8–16 many are under the threshold; a prompt method's virtual-token table is one tensor."""
    tr, trn, st = ctx.tr, ctx.trn, ctx.st
    if trn.lora:
        r = tr.lora_rank
        mats = [r * d for lin in lora_here for d in (lin.d_in, lin.d_out)]
        return sum(n for n in mats if n >= PAGED_MIN_NUMEL) / tr.tp, 0.0
    if tr.method in ("prefix", "prompt", "ptuning"):
        return (adapter if adapter >= PAGED_MIN_NUMEL else 0.0), 0.0
    return st.paged_matrix, st.paged_other


def galore_states(ctx: StageContext, s: float) -> float:
    """GaLore: Adam moments of the r×n projected gradient per matrix plus the m×r projector; other
    params keep plain AdamW states."""
    spec, tr, st = ctx.spec, ctx.tr, ctx.st
    r = tr.galore_rank
    total = 0.0
    for t in spec.tensors:
        if t.component != S.COMPONENT_TEXT or t.layer not in st.layers:
            continue
        if t.role in S.LINEAR_ROLES and len(t.shape) == 2:
            m, n = t.shape
            rr = min(r, m, n)
            total += 2 * s * rr * max(m, n) + s * rr * min(m, n)
        else:
            total += 2 * s * t.numel
    # embeddings / head (not in a layer) use AdamW
    total += 2 * s * st.embed_head
    return total / tr.tp
