"""Training memory per GPU: model states by precision regime, optimizer, PEFT method and sharding;
activations from what each layer saves; the logits + loss block; buffers of the parallel runtime.

The peak is the larger of two moments of a steady-state step (formulas.md §5.2):

* **backward start** — everything the forward saved is alive, plus the logits/loss block, the
  gradients held over from earlier micro-batches (gradient accumulation; DeepSpeed ZeRO-2/3 keep
  their gradient partitions), and under autocast the 16-bit weight copies the graph saved;
* **optimizer step** — all gradients plus the step's temporaries.

Optimizer states exist from the first step on and count in both. Each component states its
formula; ``details["phases"]`` has both candidates and ``details["states"]`` the full sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import spec as S
from ..errors import VramscopeError
from ..units import GiB
from ..workload import Training
from . import optimizers as O
from .activations import ActOptions, head_saves, layer_saves, loss_bytes
from .common import check_layout, cuda_context
from .inference import _gpu_dict
from .result import ACTIVATIONS, CONTEXT, WEIGHTS, Component, Estimate
from .trainable import Trainables, trainables
from .weights import _SHARDED_ROLES, pipeline_stages

OPTIMIZER = "optimizer"
GRADIENTS = "gradients"
BUFFERS = "buffers"



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


def _shard(t: S.Tensor, tp: int, ep: int) -> int:
    if t.experts:
        return ep * (tp if ep == 1 else 1)
    if t.role in _SHARDED_ROLES and len(t.shape) >= 2:
        return tp
    return 1


def check_training_layout(spec: S.ModelSpec, tr: Training) -> None:
    check_layout(spec, tr.tp, tr.pp, tr.ep, serving=False)
    if tr.method == "qlora" and (tr.zero == 3 or tr.fsdp != "none") and tr.quant == "int8":
        raise VramscopeError("8-bit (LLM.int8) base weights cannot be sharded by ZeRO-3/FSDP; use quant=nf4")


@dataclass
class _Stage:
    """Model-state quantities of one pipeline stage on one GPU (after TP/EP sharding)."""

    trainable: float = 0.0  # base params that train
    frozen: float = 0.0
    frozen_bytes: float = 0.0  # frozen base weights in their stored format
    matrix: float = 0.0  # trainable params in 2-D+ tensors
    factored: float = 0.0  # Σ rows + cols (Adafactor)
    embed_head: float = 0.0  # trainable embedding/head params (Muon gives them to AdamW)
    linear_params: float = 0.0  # Linear weights used by autocast (copies)
    largest_layer: float = 0.0  # params of the largest decoder layer (FSDP unit)
    largest_module: float = 0.0
    quant_largest: float = 0.0  # largest quantised matrix (QLoRA dequantisation)
    layers: tuple[int, ...] = ()
    has_embed: bool = False
    has_head: bool = False


def _stages(spec: S.ModelSpec, tr: Training, trn: Trainables, frozen_fmt) -> list[_Stage]:
    stages = pipeline_stages(spec.num_layers, tr.pp)
    stage_of = {i: s for s, layers in enumerate(stages) for i in layers}
    out = [_Stage(layers=stages[s]) for s in range(tr.pp)]
    out[0].has_embed = True
    out[-1].has_head = True
    layer_params: dict[int, float] = {}
    for t in spec.tensors:
        if t.component == S.COMPONENT_MTP:
            continue
        div = _shard(t, tr.tp, tr.ep)
        n = t.numel / div
        if t.layer is not None and t.component == S.COMPONENT_TEXT and t.layer in stage_of:
            where = [stage_of[t.layer]]
            layer_params[t.layer] = layer_params.get(t.layer, 0) + n
        elif t.role == S.ROLE_EMBED or t.component != S.COMPONENT_TEXT:
            where = [0] + ([tr.pp - 1] if t.role == S.ROLE_EMBED and spec.tie_word_embeddings and tr.pp > 1 else [])
        else:
            where = [tr.pp - 1]
        trains = (tr.method in ("full", "galore") or (tr.method == "freeze" and t.layer in trn.trainable_layers))
        for s in where:
            st = out[s]
            st.largest_module = max(st.largest_module, n)
            if t.role in S.LINEAR_ROLES or t.role == S.ROLE_LM_HEAD or (t.role == S.ROLE_EMBED and spec.tie_word_embeddings):
                st.linear_params += n
            if trains:
                st.trainable += n
                if len(t.shape) >= 2:
                    st.matrix += n
                    st.factored += (t.shape[-1] + t.shape[-2]) * (t.numel // (t.shape[-1] * t.shape[-2])) / div
                    if t.role in (S.ROLE_EMBED, S.ROLE_LM_HEAD):
                        st.embed_head += n
            else:
                st.frozen += n
                st.frozen_bytes += frozen_fmt(t) / div
                if t.quantisable:
                    st.quant_largest = max(st.quant_largest, n / (t.experts or 1))
    for i, n in layer_params.items():
        st = out[stage_of[i]]
        st.largest_layer = max(st.largest_layer, n)
    return out


def _frozen_format(spec: S.ModelSpec, tr: Training, reg: Regime):
    """Bytes of a frozen base tensor: the QLoRA format for quantisable matrices, else the regime's."""
    if tr.method != "qlora":
        return lambda t: t.numel * reg.frozen
    from ..formats import get_format

    name = {"nf4": "nf4-dq" if tr.double_quant else "nf4", "fp4": "fp4-dq" if tr.double_quant else "fp4",
            "int8": "int8"}[tr.quant]
    fmt = get_format(name)
    # peft.prepare_model_for_kbit_training casts every bf16/fp16 parameter that is not a Params4bit
    # (embeddings, output head, norms, biases, routers) to fp32 (peft/utils/other.py); TRL's SFT /
    # DPO / GRPO trainers call it for a model loaded in 4 or 8 bits.
    other = 4 if tr.kbit_prepare else 2
    return lambda t: fmt.tensor_bytes(t) if t.quantisable else t.numel * other


def estimate_training(spec: S.ModelSpec, tr: Training, gpu=None) -> Estimate:
    """Peak GPU memory of one training step on the busiest GPU."""
    check_training_layout(spec, tr)
    notes = []
    if tr.rl == "grpo" and tr.grad_ckpt == "full":
        notes.append("gradient checkpointing on (TRL GRPOConfig's default gradient_checkpointing=True; "
                     "pass grad_ckpt='none' to compare)")
    from ..invariants import checked

    if tr.rl is not None:
        from .rl import estimate_rl

        return checked(estimate_rl(spec, tr, gpu, notes))
    return checked(_estimate(spec, tr, gpu, tokens_per_seq=tr.seq_len, sequences=tr.batch))


def _estimate(spec: S.ModelSpec, tr: Training, gpu, *, tokens_per_seq: int, sequences: int,
              logits_tokens: int | None = None, extra: list[Component] | None = None,
              assumptions: list[str] | None = None, mode: str = "training") -> Estimate:
    reg = regime(tr)
    trn = trainables(spec, tr)
    notes: list[str] = list(spec.assumptions) + list(trn.notes) + ([reg.note] if reg.note else [])
    notes += assumptions or []
    if tr.method == "qlora" and tr.kbit_prepare:
        notes.append("QLoRA as PEFT/TRL prepare it (prepare_model_for_kbit_training): embeddings, head and norms "
                     "in fp32; the residual stream it then carries in fp32 is counted in bf16 here (not yet "
                     "measured); --no-kbit-prepare for stacks that keep them in bf16 (Unsloth)")
    dp = tr.data_parallel
    shard_n = min(dp, tr.fsdp_node_gpus) if tr.fsdp == "hybrid" else dp if tr.zero or tr.fsdp != "none" else 1
    stages = _stages(spec, tr, trn, _frozen_format(spec, tr, reg))
    candidates = [0] if tr.pp == 1 else [0, tr.pp - 1]
    best: tuple[float, Estimate] | None = None
    for si in candidates:
        est = _stage_estimate(spec, tr, reg, trn, stages[si], si, shard_n, tokens_per_seq, sequences,
                              logits_tokens, extra or [], notes, gpu, mode)
        if best is None or est.per_gpu_bytes > best[0]:
            best = (est.per_gpu_bytes, est)
    assert best is not None
    return best[1]


def _stage_estimate(spec, tr: Training, reg: Regime, trn: Trainables, st: _Stage, si: int, N: int,
                    seq: int, batch: int, logits_tokens, extra, notes, gpu, mode) -> Estimate:
    comps: list[Component] = [cuda_context()]
    zero, fsdp = tr.zero, tr.fsdp
    shard_params = zero == 3 or fsdp in ("full", "hybrid")
    shard_grads = zero >= 2 or fsdp != "none"
    shard_states = zero >= 1 or fsdp != "none"
    opt_offload = tr.offload in ("optimizer", "params")
    host = 0.0

    # adapters (PEFT): on every stage in proportion to its layers, split by TP
    lora_here = [lin for lin in trn.lora if lin.layer in st.layers]
    r = tr.lora_rank
    adapter = sum(r * (lin.d_in + lin.d_out) + (lin.d_out if tr.method == "dora" else 0) for lin in lora_here) / tr.tp
    if tr.method in ("prefix", "prompt", "ptuning"):
        adapter = trn.adapter if tr.method != "prefix" else trn.adapter * len(st.layers) / spec.num_layers
    a_w = 4 if (tr.lora_dtype == "fp32" or reg.weight == 4) else 2
    trainable = st.trainable + adapter

    # --- weights ------------------------------------------------------------------------------
    w_train = st.trainable * reg.weight
    if shard_params:
        w_train /= N
    if tr.offload == "params":
        host += w_train
        w_train = 0
    frozen_b = st.frozen_bytes / (N if shard_params else 1)
    if tr.offload == "params":
        host += frozen_b
        frozen_b = 0
    sharded = f" / {N} (sharded)" if shard_params else ""
    offloaded = "offloaded to host RAM, none on the GPU: "
    if st.trainable:
        text = f"{reg.weight:g} B × {st.trainable:,.0f} trainable params{sharded}"
        comps.append(Component("weights", int(w_train), offloaded + text if tr.offload == "params" else text, WEIGHTS))
    if st.frozen:
        if tr.method == "qlora":
            text = (f"{tr.quant}{' + double quant' if tr.double_quant and tr.quant != 'int8' else ''} matrices, "
                    f"other params in {'fp32 (prepare_model_for_kbit_training)' if tr.kbit_prepare else 'bf16'}: "
                    f"{st.frozen:,.0f} params{sharded}")
        else:
            text = f"{reg.frozen:g} B × {st.frozen:,.0f} frozen params{sharded}"
        comps.append(Component("frozen weights", int(frozen_b), offloaded + text if tr.offload == "params" else text,
                               WEIGHTS))
    if adapter:
        comps.append(Component("adapter weights", int(adapter * a_w), f"{a_w} B × {adapter:,.0f} adapter params "
                               f"({tr.method}{f' r={r}' if trn.lora else ''}, PEFT keeps adapters in "
                               f"{'fp32' if a_w == 4 else 'bf16'})", WEIGHTS))

    # --- gradients, optimizer, master -----------------------------------------------------------
    g_full = st.trainable * reg.grad + adapter * a_w
    g_gpu = g_full / (N if shard_grads else 1)
    s_bytes = reg.state if not trn.lora and tr.method not in ("prefix", "prompt", "ptuning") else 4 if a_w == 4 else reg.state
    if tr.method == "galore":
        st_b = _galore_states(spec, tr, st, s_bytes)
        opt = O.StateBytes(st_b, f"GaLore rank {tr.galore_rank}: 2·{s_bytes:g} B × r × max(m, n) per matrix "
                                 "+ projector; 1-D params AdamW (arXiv:2403.03507)")
    else:
        opt = O.state_bytes(tr.optimizer, s_bytes, st.matrix + (adapter if trn.lora else 0),
                            trainable - st.matrix - (adapter if trn.lora else 0), st.factored, st.embed_head)
    opt_gpu = opt.gpu / (N if shard_states else 1)
    master = (st.trainable * reg.master) / (N if shard_states else 1)
    if opt_offload:
        host += opt_gpu + master
        opt_gpu = master = 0.0
    if opt.gpu:
        comps.append(Component("optimizer states", int(opt_gpu), O.DESCRIPTIONS[tr.optimizer] + ": " + opt.formula
                               + (f" / {N} (ZeRO/FSDP sharded)" if shard_states else "")
                               + ("; offloaded to CPU" if opt_offload else ""), OPTIMIZER,
                               note="paged: may be evicted to host RAM under pressure" if "paged" in tr.optimizer else ""))
    if master:
        comps.append(Component("fp32 master weights", int(master), f"4 B × {st.trainable:,.0f} trainable params"
                               + (f" / {N}" if shard_states else ""), OPTIMIZER))

    # --- activations ------------------------------------------------------------------------------
    tokens = batch * seq / tr.cp  # per micro-batch on this GPU
    sp_div = tr.tp if tr.sequence_parallel else 1
    lora_map: dict[int, dict[str, int]] = {}
    for lin in lora_here:
        lora_map.setdefault(lin.layer, {})[lin.module] = r
    lora_in = 4 if (a_w == 4 and reg.e < 4) else 0
    per_layer = 0.0
    biggest_layer = 0.0
    quad_total = 0.0
    for layer in spec.layers:
        if layer.index not in st.layers:
            continue
        trains = layer.index in trn.trainable_layers
        o = ActOptions(reg.e, reg.r, tr.attn, tr.padding, trains, trains, lora_map.get(layer.index, {}), lora_in,
                       tr.method == "dora", tr.lora_dropout > 0, tr.precision == "fp8", int(seq / tr.cp))
        ls = layer_saves(spec, layer, o)
        seq_local = seq / tr.cp
        b = (ls.norms / sp_div + (ls.attention + ls.mlp + ls.lora) / tr.tp) * tokens
        q = ls.quadratic * seq_local * tokens / tr.tp
        if tr.grad_ckpt == "selective":
            q = 0.0  # the attention core is recomputed (Megatron selective recompute)
        per_layer += b + q
        quad_total += q
        biggest_layer = max(biggest_layer, b + q)
    layer_input = reg.r * spec.hidden_size * tokens / sp_div  # one checkpointed layer's saved input
    recompute = 0.0  # the recomputed layer's activations, alive only while its backward runs
    if tr.grad_ckpt in ("full", "offload"):
        kept = layer_input * (len(st.layers) if tr.grad_ckpt == "full" else 2)
        acts = kept + biggest_layer
        recompute = biggest_layer
        act_formula = (f"checkpointed: layer inputs {reg.r:g}·h·T × {len(st.layers) if tr.grad_ckpt == 'full' else 2} layers"
                       f" + one layer recomputed ({biggest_layer / GiB:.2f} GiB)")
    else:
        acts = per_layer
        act_formula = f"Σ per-layer saved tensors × T = {tokens:,.0f} tokens" + (
            f" (eager softmax {quad_total / GiB:.2f} GiB)" if quad_total else "")
    in_flight = min(tr.pp, tr.grad_accum) if (tr.pp > 1 and si == 0) else 1
    if in_flight > 1:
        acts *= in_flight
        act_formula += f" × {in_flight} micro-batches in flight (1F1B, first stage)"
    head_trains = trn.head_trains
    if st.has_head:
        acts += head_saves(spec, reg.e, head_trains, head_trains) * tokens / sp_div

    loss, lf, logits_grad = 0.0, "", 0.0
    if st.has_head:
        lt = (logits_tokens if logits_tokens is not None else tokens)
        loss, lf = loss_bytes(spec.vocab_size, lt, reg.e, tr.loss)
        cap = spec.config.get("final_logit_softcapping", 30.0 if spec.family == "gemma2" else None)
        if cap and tr.loss != "fused":
            # Gemma 2's final soft-capping, tanh(logits / cap) · cap in the model dtype: tanh saves its
            # output for backward, T·V·e more at the loss's peak (the trace of Gemma-2-2B, b2 × 2048,
            # checkpointed: 1.95 GiB of 16-bit logits-sized activations beside the log-softmax).
            loss += lt * spec.vocab_size * reg.e
            lf += f" + T·V·{reg.e:g} (soft-capping's tanh output)"
        loss /= tr.tp
        lf += f" / {tr.tp} (vocab parallel)" if tr.tp > 1 else ""
        logits_grad = lt * spec.vocab_size * reg.e / tr.tp  # the logits' gradient once cross-entropy is done

    # --- buffers -----------------------------------------------------------------------------------
    buffers: list[Component] = []
    if reg.autocast_cache:
        c = 2 * st.linear_params
        buffers.append(Component("autocast weight copies", int(c), "2 B × Linear params: bf16 casts the graph keeps until backward", BUFFERS))
    if tr.precision == "fp8":
        c = 2 * st.linear_params / (N if shard_params else 1)
        buffers.append(Component("fp8 weight copies", int(c), "2 × 1 B × Linear params (fp8 weight and its transpose)", BUFFERS))
    if zero == 3:
        ws = 4 * st.largest_module + 2 * 0.9 * spec.hidden_size ** 2
        buffers.append(Component("ZeRO-3 gathered parameters", int(ws),
                                 "4 B × largest module (DeepSpeed's estimate_zero3) + prefetch bucket 0.9·h² × 2 B", BUFFERS))
    if zero:
        rb = 2 * spec.hidden_size ** 2
        buffers.append(Component("ZeRO reduce bucket", int(rb), "reduce_bucket_size h² × 2 B (HF 'auto' DeepSpeed config)", BUFFERS))
    if fsdp in ("full", "hybrid"):
        unit = st.largest_layer
        root = (st.largest_module if st.has_embed else 0)
        ws = 2 * (2 * unit + root) + 4 * unit
        buffers.append(Component("FSDP gathered units", int(ws), "bf16: current + prefetched layer unit + root unit (embeddings);"
                                 " fp32 reduce-scatter of one unit", BUFFERS))
    if fsdp == "grad-op":
        ws = 2 * (st.trainable + st.frozen)
        buffers.append(Component("FSDP unsharded parameters", int(ws), "SHARD_GRAD_OP keeps bf16 parameters gathered through forward and backward", BUFFERS))
    if tr.data_parallel > 1 and not zero and fsdp == "none" and not tr.ddp_bucket_view:
        buffers.append(Component("DDP gradient buckets", int(g_full), "a copy of every gradient in allreduce buckets "
                                 "(gradient_as_bucket_view=False, HF default)", BUFFERS))
    if tr.method == "qlora":
        dq = 2 * st.quant_largest
        buffers.append(Component("dequantisation buffer", int(dq), "bf16 copy of the largest quantised matrix", BUFFERS))
    if tr.cp > 1:
        kvb = 0.0
        for layer in spec.attention_layers:
            a = layer.attention
            kvb = max(kvb, 2 * 2 * a.num_kv_heads * a.head_dim * reg.e * tokens / tr.tp)
        buffers.append(Component("ring-attention KV buffers", int(kvb), "2 chunks × K and V of the local tokens", BUFFERS))
    buffers.extend(extra)

    # --- phases --------------------------------------------------------------------------------------
    head_grad = 0.0
    if st.has_head and head_trains:
        head_grad = spec.vocab_size * spec.hidden_size * reg.grad / tr.tp / (N if shard_grads else 1)
    if tr.optimizer_in_backward:
        held = 0.0
        g_step = trn.largest_trainable * reg.grad
    else:
        held = g_gpu if (tr.grad_accum > 1 or zero >= 2) else min(head_grad, g_gpu)
        g_step = g_gpu
    step_t, step_f = O.step_transient(tr.optimizer, tr.optimizer_impl, s_bytes, trainable / (N if shard_states else 1),
                                      trn.largest_trainable)
    if opt_offload:
        step_t, step_f = 0.0, "optimizer runs on the CPU"
    ds_fp32 = 0.0
    if zero in (1, 2) and reg.master and not opt_offload:
        ds_fp32 = 4 * st.trainable / N  # DeepSpeed's fp32 gradient partition at the step ("4 grads32")
    buf_total = sum(c.bytes for c in buffers)
    base = sum(c.bytes for c in comps)
    autocast = buffers[0].bytes if reg.autocast_cache else 0
    held_formula = ("gradients held over gradient accumulation" if tr.grad_accum > 1 else
                    "ZeRO gradient partition" if zero >= 2 else
                    "output-head gradient allocated at the start of backward")
    # Backward start. Under full checkpointing only the layer inputs are saved: the trace of
    # Llama-3.2-1B (b4 × 2048, checkpointed) peaks at the cross-entropy backward with no layer
    # recomputed yet (the estimate added one recomputed layer there: +6.8%; Mistral-7B LoRA
    # b1 × 8192: +6.7%). The recomputation is a moment of its own, below.
    acts_start = acts - recompute
    loss_start, grad_start, loss_note = loss, held, lf
    if tr.loss == "hf" and loss and held and held == min(head_grad, g_gpu) and not (tr.grad_accum > 1 or zero >= 2):
        # The output-head gradient is allocated after the cross-entropy backward, when the loss
        # block is down to the logits' gradient (T·V·e): the traces (Llama-3.2-1B, Qwen2.5-0.5B,
        # b4–8 × 1–2k) peak at the log-softmax backward with no gradient allocated yet — the
        # estimate added the head gradient there, +1–1.5% (exactly V·h·2 B).
        if logits_grad + held > loss:
            loss_start, loss_note = logits_grad, f"T·V·{reg.e:g} B: the logits' gradient beside the head gradient"
        else:
            grad_start = 0.0
    # Each moment with its allocator slack (5% of its activations), so that the peak is chosen on the
    # figures the components will show.
    moments = {"backward start": base + grad_start + acts_start + loss_start + buf_total}
    dynamic_at = {"backward start": acts_start + loss_start}
    if recompute:
        # Recomputing a checkpointed layer in backward: its activations beside the saved inputs and the
        # gradients so far — the last layer first (the head gradient held), the first layer last
        # (every other gradient allocated, one saved input left). The loss block is gone by then.
        # (an untied input embedding's gradient comes after the first layer's backward)
        embed_grad = (spec.vocab_size * spec.hidden_size * reg.grad / tr.tp / (N if shard_grads else 1)
                      if st.has_embed and head_trains and not spec.tie_word_embeddings else 0.0)
        last_first = acts_start + held >= layer_input + g_gpu - embed_grad
        moments["recompute"] = base + buf_total + recompute + max(acts_start + held, layer_input + g_gpu - embed_grad)
        dynamic_at["recompute"] = (acts_start if last_first else layer_input) + recompute
    tied = (st.has_head and st.has_embed and head_trains and spec.tie_word_embeddings
            and not tr.optimizer_in_backward)
    tied_extra = spec.vocab_size * spec.hidden_size * reg.grad / tr.tp / (N if shard_grads else 1) if tied else 0.0
    if tied_extra:
        # Tied embeddings: the head's gradient waits in autograd's input buffer until the embedding's
        # arrives, and the two are summed in place (real tensors; fake tensors sum out of place, so the
        # trace of Llama-3.2-3B shows three V×h gradients where a GPU has two): the end of backward holds
        # every gradient plus one more V×h. The trace peaks there (Llama-3.2-3B, checkpointed).
        moments["backward end"] = base + g_gpu + tied_extra + buf_total - autocast
    moments["optimizer step"] = base + g_step + step_t + ds_fp32 + buf_total - autocast
    for k, dyn in dynamic_at.items():
        moments[k] += int(0.05 * dyn)
    peak_phase = max(moments, key=lambda k: moments[k])  # first listed wins a tie
    dynamic = 0.0
    if peak_phase == "backward start":
        grad_now, grad_formula = grad_start, held_formula
        if loss_start != loss:
            grad_formula = "output-head gradient (allocated once cross-entropy's backward is done)"
        dynamic = acts_start + loss_start
        comps.append(Component("activations", int(acts_start), act_formula + (
            " (no layer recomputed yet)" if recompute else ""), ACTIVATIONS, int(acts_start * 0.9), int(acts_start * 1.15)))
        if loss_start:
            comps.append(Component("logits + cross-entropy", int(loss_start), loss_note, ACTIVATIONS,
                                   int(loss_start * 0.85), int(loss_start * 1.2)))
    elif peak_phase == "recompute":
        kept_now = acts_start if last_first else layer_input
        grad_now = held if last_first else g_gpu - embed_grad
        grad_formula = held_formula if last_first else "every gradient but the first layer's and the input embedding's (end of backward)"
        dynamic = kept_now + recompute
        comps.append(Component("activations", int(dynamic), f"{'saved layer inputs' if last_first else 'one saved layer input'}"
                               f" + one layer recomputed ({recompute / GiB:.2f} GiB)", ACTIVATIONS,
                               int(dynamic * 0.9), int(dynamic * 1.15)))
    else:
        buffers = [c for c in buffers if c.name != "autocast weight copies"]
        grad_formula = f"{reg.grad:g} B × trainable params" + (f" / {N}" if shard_grads else "")
        if peak_phase == "backward end":
            grad_now = g_gpu
            buffers.append(Component("tied embedding gradient", int(tied_extra), "the embedding's V×h gradient "
                                     "arriving while the head's waits to be summed with it", BUFFERS))
        else:
            grad_now = g_step
            if step_t:
                buffers.append(Component("optimizer step temporaries", int(step_t), step_f, BUFFERS))
            if ds_fp32:
                buffers.append(Component("fp32 gradient partition", int(ds_fp32), "DeepSpeed ZeRO-1/2: 4 B × params / N at the step", BUFFERS))
    slack = 0.05 * dynamic
    if grad_now:
        if tr.method in ("lora", "dora", "qlora") and not st.trainable:
            grad_formula = f"{a_w} B × {adapter:,.0f} adapter params"
        comps.append(Component("gradients", int(grad_now), grad_formula, GRADIENTS))
    comps.extend(buffers)
    if dynamic:
        comps.append(Component("allocator slack", int(slack), "caching-allocator fragmentation ≈ 5% of activations (0–20%)",
                               CONTEXT, 0, int(0.2 * dynamic)))

    states = {"weights": int(w_train + frozen_b + adapter * a_w), "gradients": int(g_gpu), "optimizer": int(opt_gpu),
              "master": int(master)}
    model_states = sum(states.values())
    details = {
        "phases": {k: int(v) for k, v in moments.items()},
        "peak_phase": peak_phase,
        "states": states,
        "model_states_bytes": model_states,
        "activations_bytes": int(acts),
        "logits_loss_bytes": int(loss),
        "trainable_params": int(trn.trainable * 1),
        "trainable_params_per_gpu": int(trainable),
        "adapter_params": int(trn.adapter),
        "lora_targets": list(trn.targets),
        "tokens_per_micro_batch": int(tokens),
        "data_parallel": tr.data_parallel,
        "shard_degree": N,
        "pipeline_stage": si,
    }
    if shard_states or opt_offload:
        notes.append(f"model states sharded over {N} data-parallel GPUs" if N > 1 else "")
    est = Estimate(
        model={"id": spec.id, "params_total": spec.params_total, "params_active": spec.params_active,
               "family": spec.family, "weights_format": _weights_label(tr, reg)},
        mode=mode, engine="hf", workload=tr.to_dict(), components=tuple(comps), num_gpus=tr.num_gpus,
        gpu=_gpu_dict(gpu),
        assumptions=tuple(n for n in dict.fromkeys(notes) if n), details=details, host_bytes=int(host),
    )
    if gpu is not None:
        est.details["fit_limit_bytes"] = gpu.usable_bytes
        est.details["fits"] = est.per_gpu_bytes <= gpu.usable_bytes
    return est


def _weights_label(tr: Training, reg: Regime) -> str:
    if tr.method == "qlora":
        rest = "fp32 (prepare_model_for_kbit_training)" if tr.kbit_prepare else "bf16"
        return (f"{tr.quant}{'-dq' if tr.double_quant and tr.quant != 'int8' else ''} base, other params {rest}"
                f" + {tr.lora_dtype} adapters")
    if tr.method in ("lora", "dora"):
        return f"{'fp32' if reg.frozen == 4 else 'bf16'} base + {tr.lora_dtype} adapters"
    return reg.name


def _galore_states(spec: S.ModelSpec, tr: Training, st: _Stage, s: float) -> float:
    """GaLore: Adam moments of the r×n projected gradient per matrix plus the m×r projector; other
    params keep plain AdamW states."""
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
