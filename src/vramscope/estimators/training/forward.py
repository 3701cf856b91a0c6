"""What the forward pass of one stage leaves alive for backward: the activations each layer saves
(or, checkpointed, only the layer inputs and one recomputed layer), the micro-batches in flight under
1F1B, the output head's saves and the logits + cross-entropy block (formulas.md §5.2, §6)."""

from __future__ import annotations

from dataclasses import dataclass

from ...units import GiB
from ..activations import ActOptions, embed_lora_saves, head_saves, layer_saves, loss_bytes
from ..sharding import microbatches_in_flight
from ..trainable import EMBED_LAYER, HEAD_LAYER
from .stage import StageContext
from .states import States


@dataclass(frozen=True)
class Forward:
    """Bytes the forward of one micro-batch leaves on one GPU of the stage."""

    tokens: float  # tokens of the micro-batch on this GPU (÷ CP)
    acts: float  # saved activations (× micro-batches in flight), the head's included
    act_formula: str
    recompute: float  # activations of the one checkpointed layer recomputed in backward (0 without)
    layer_input: float  # one checkpointed layer's saved input
    loss: float  # logits + cross-entropy block (0 off the last stage)
    loss_formula: str
    logits_grad: float  # the logits' gradient once cross-entropy's backward is done


def residual_bytes(ctx: StageContext) -> float:
    """Bytes per element of the residual stream a checkpointed layer saves as its input.

    The regime's ``r``, except QLoRA prepared by PEFT (``prepare_model_for_kbit_training``, peft v0.12.0
    src/peft/utils/other.py @ a1432e18): it casts every non-4-bit parameter to fp32, so the embedding
    output is fp32, ``LlamaRMSNorm`` returns ``weight * hidden.to(input_dtype)`` in fp32 (transformers
    v4.43.4 modeling_llama.py), bitsandbytes' ``Linear4bit`` then takes fp32 as its compute dtype
    (``set_compute_type``) and casts its output back to the input dtype (bitsandbytes 0.43.3
    nn/modules.py @ 2e03d344), so the MLP output and every residual sum stay fp32 (the attention
    output is bf16 after FlashAttention, its sum with the fp32 residual fp32). A trace of a Llama layer
    (h = 4096) under those versions keeps 16,384 B per token per checkpointed layer = 4·h, with and
    without autocast, and with TRL's ``peft_module_casting_to_bf16`` too (there only the first
    layer's input, the bf16 embedding output, is 2·h).
    """
    tr, reg = ctx.tr, ctx.reg
    if tr.method == "qlora" and tr.kbit_prepare:
        return 4.0
    return reg.r


def saved_activations(ctx: StageContext, states: States) -> tuple[float, str, float, float]:
    """(activations, formula, recomputed layer, one layer input) of the stage's layers for one micro-batch."""
    spec, tr, reg, trn, st = ctx.spec, ctx.tr, ctx.reg, ctx.trn, ctx.st
    seq = ctx.step.tokens_per_seq
    tokens = ctx.step.sequences * seq / tr.cp  # per micro-batch on this GPU
    sp_div = tr.tp if tr.sequence_parallel else 1
    lora_map: dict[int, dict[str, int]] = {}
    for lin in states.lora_here:
        lora_map.setdefault(lin.layer, {})[lin.module] = tr.lora_rank
    lora_in = 4 if (states.adapter_bytes == 4 and reg.e < 4) else 0
    per_layer = 0.0
    biggest_layer = 0.0
    quad_total = 0.0
    for layer in spec.layers:
        if layer.index not in st.layers:
            continue
        trains = layer.index in trn.trainable_layers
        o = ActOptions(reg.e, reg.r, tr.attn, tr.padding, trains, trains, lora_map.get(layer.index, {}), lora_in,
                       tr.method == "dora", tr.lora_dropout > 0, tr.precision == "fp8", int(seq / tr.cp),
                       tr.compile)
        ls = layer_saves(spec, layer, o)
        seq_local = seq / tr.cp
        b = (ls.norms / sp_div + (ls.attention + ls.mlp + ls.lora) / tr.tp) * tokens
        q = ls.quadratic * seq_local * tokens / tr.tp
        if tr.grad_ckpt == "selective":
            q = 0.0  # the attention core is recomputed (Megatron selective recompute)
        per_layer += b + q
        quad_total += q
        biggest_layer = max(biggest_layer, b + q)
    r = residual_bytes(ctx)
    layer_input = r * spec.hidden_size * tokens / sp_div  # one checkpointed layer's saved input
    recompute = 0.0  # the recomputed layer's activations, alive only while its backward runs
    if tr.grad_ckpt in ("full", "offload"):
        kept = layer_input * (len(st.layers) if tr.grad_ckpt == "full" else 2)
        acts = kept + biggest_layer
        recompute = biggest_layer
        act_formula = (f"checkpointed: layer inputs {r:g}·h·T × {len(st.layers) if tr.grad_ckpt == 'full' else 2} layers"
                       f" + one layer recomputed ({biggest_layer / GiB:.2f} GiB)")
    else:
        acts = per_layer
        act_formula = (f"Σ per-layer saved tensors{' (torch.compile partition)' if tr.compile else ''} × T = "
                       f"{tokens:,.0f} tokens") + (
            f" (eager softmax {quad_total / GiB:.2f} GiB)" if quad_total else "")
    return acts, act_formula, recompute, layer_input


def logits_and_loss(ctx: StageContext, tokens: float, states: States | None = None) -> tuple[float, str, float]:
    """(logits + loss block, formula, the logits' gradient) on the last stage; zeros elsewhere."""
    spec, tr, reg = ctx.spec, ctx.tr, ctx.reg
    loss, lf, logits_grad = 0.0, "", 0.0
    if ctx.st.has_head:
        lt = (ctx.step.logits_tokens if ctx.step.logits_tokens is not None else tokens)
        loss, lf = loss_bytes(spec.vocab_size, lt, reg.e, tr.loss, tr.compile)
        head_lora = states is not None and any(lin.layer == HEAD_LAYER for lin in states.lora_here)
        if head_lora and states.adapter_bytes == 4 and reg.e < 4 and tr.loss != "fused":
            # PEFT's lora.Linear on the head with fp32 adapters: ``result + lora_B(lora_A(x)) * scaling``
            # makes the scaled LoRA output and the sum in fp32, T×V each, beside the 16-bit base logits
            # (peft/tuners/lora/layer.py Linear.forward) — more than chunked CE keeps (HF's CE keeps more)
            fwd = lt * spec.vocab_size * (reg.e + 4 + 4)
            if fwd > loss:
                loss, lf = fwd, "T·V·(e + 4 + 4): 16-bit logits + the fp32 head-LoRA output and its fp32 sum"
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
    return loss, lf, logits_grad


def forward(ctx: StageContext, states: States) -> Forward:
    """The stage's forward: saved activations × micro-batches in flight + the head's saves, and the loss block."""
    spec, tr, reg, st = ctx.spec, ctx.tr, ctx.reg, ctx.st
    tokens = ctx.step.sequences * ctx.step.tokens_per_seq / tr.cp
    acts, act_formula, recompute, layer_input = saved_activations(ctx, states)
    in_flight = microbatches_in_flight(tr.pp, tr.grad_accum, ctx.index)
    if in_flight > 1:
        acts *= in_flight
        act_formula += f" × {in_flight} micro-batches in flight (1F1B, first stage)"
    lora_in = 4 if (states.adapter_bytes == 4 and reg.e < 4) else 0
    r = tr.lora_rank
    if st.has_head:
        sp_div = tr.tp if tr.sequence_parallel else 1
        head_lora = any(lin.layer == HEAD_LAYER for lin in states.lora_here)
        acts += head_saves(spec, reg.e, ctx.trn.head_trains, ctx.trn.head_trains, r if head_lora else 0, lora_in,
                           tr.lora_dropout > 0) * tokens / sp_div
    if st.has_embed and any(lin.layer == EMBED_LAYER for lin in states.lora_here):
        acts += embed_lora_saves(reg.e, r, lora_in) * tokens / tr.tp
    loss, lf, logits_grad = logits_and_loss(ctx, tokens, states)
    return Forward(tokens, acts, act_formula, recompute, layer_input, loss, lf, logits_grad)
