"""Training activations from what each layer saves for backward (formulas.md §6.2, §6.3).

The rule autograd follows: a matmul saves its input only when its weight trains (a frozen Linear
keeps only the weight reference); elementwise nonlinearities save their inputs whatever trains;
HF's RMSNorm computes in fp32 and saves the fp32 copy of its input, plus the normalised 16-bit
output when its weight trains. All figures are bytes per token of one decoder layer; ``e`` is the
compute dtype's size (2 for bf16, 4 for fp32) and ``r`` the residual stream's (4 under autocast
with fp32 weights).

Per layer, Llama-style, everything training, SDPA without a padding mask (transformers ≥ 5 then
calls SDPA with ``enable_gqa`` and K/V are not repeated):

    norms      2 × (4h + 4 + e·h + e·h)       fp32 copy, rsqrt, normalised output, the Linear input
    attention  e·(Hq + Hk + Hv_kv + Hv) + 4·n_h    q, k, v, output (o_proj saves the same storage), logsumexp
    MLP        e·(3I + I)                     gate (SiLU input), SiLU out, up, down's input

Eager attention adds the fp32 softmax and its 16-bit copy, ``n_h·s·(4 + e)``, and K/V repeated to
all heads; a padding mask makes SDPA repeat K/V too. LoRA adds, per targeted Linear, PEFT's fp32
copy of the input (4·d_in) and A's output (4·r).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields, replace

from .. import spec as S
from ..memo import per_spec
from .trainable import Linear, decoder_linears

ATTN_IN_ROLES = {S.ROLE_ATTN_Q, S.ROLE_ATTN_K, S.ROLE_ATTN_V, S.ROLE_ATTN_QKV, S.ROLE_ATTN_Q_A, S.ROLE_ATTN_KV_A}
MLP_IN_ROLES = {S.ROLE_FFN_GATE, S.ROLE_FFN_UP, S.ROLE_FFN_GATE_UP}


@dataclass(frozen=True)
class LayerSaves:
    """Bytes per token one decoder layer keeps for backward, by part."""

    norms: float
    attention: float
    mlp: float
    lora: float
    quadratic: float = 0.0  # per token per attended token (eager softmax), × span

    def total(self, span: int) -> float:
        return self.norms + self.attention + self.mlp + self.lora + self.quadratic * span


@dataclass(frozen=True)
class ActOptions:
    e: float  # compute dtype bytes
    r: float  # residual stream bytes
    attn: str  # eager | sdpa | flash
    padding: bool
    layer_trains: bool  # base weights of this layer train
    norms_train: bool
    lora: dict[str, int]  # targeted module → rank (this layer)
    lora_in_bytes: float  # bytes of the copy PEFT makes of a LoRA input (4: fp32 adapters)
    dora: bool = False
    lora_dropout: bool = False
    fp8: bool = False
    seq: int = 0  # tokens per sequence (0: unknown) — decides whether a sliding window needs a mask
    compile: bool = False  # torch.compile (AOTAutograd's min-cut partitioner): see compiled_layer_saves


@per_spec
def _layer_linears(spec: S.ModelSpec) -> dict[int, tuple[Linear, ...]]:
    out: dict[int, list[Linear]] = defaultdict(list)
    for lin in decoder_linears(spec):
        out[lin.layer].append(lin)
    return {k: tuple(v) for k, v in out.items()}


@per_spec
def _layer_norms(spec: S.ModelSpec) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = defaultdict(list)
    for t in spec.tensors:
        if t.role == S.ROLE_NORM and t.layer is not None and t.component == S.COMPONENT_TEXT and t.name.endswith("weight"):
            out[t.layer].append(t.name.split(".")[-2])
    return {k: tuple(v) for k, v in out.items()}


def _norm(width: int, o: ActOptions, consumers: int, gemma: bool) -> float:
    """One RMSNorm: fp32 input copy (4·w) and rsqrt, the normalised output if the weight trains (Gemma
    keeps it in fp32), and the output as the following trainable Linears save it: one shared tensor,
    or under autocast one bf16 cast per Linear (q, k and v each cast their input; fp8: 1 byte)."""
    nbytes = 4 * width + 4  # fp32 input copy + the fp32 rsqrt per row
    if o.norms_train:
        nbytes += (4 if gemma else o.r if o.r == 4 else o.e) * width
    if consumers:
        copies = consumers if (o.r == 4 and o.e < 4) else 1
        nbytes += copies * (1 if o.fp8 else o.e) * width
    return nbytes


def layer_saves(spec: S.ModelSpec, layer: S.Layer, o: ActOptions) -> LayerSaves:
    """What decoder layer ``layer`` saves for backward, bytes per token (memoised per spec, layer and
    options: a training estimate asks it for every layer, DeepSeek-V3 61 times, mostly alike)."""
    a = layer.attention
    # the length matters only as "does a sliding window need a mask" (SDPA, seq >= window): keyed as
    # that answer, so the solvers' many lengths share one entry per layer
    window = a.window if a is not None and a.kind == S.ATTN_SLIDING and a.window else 0
    seq = (window if o.seq >= window else 0) if window else 0
    key = tuple((f, tuple(sorted(v.items())) if isinstance(v, dict) else seq if f == "seq" else v)
                for f, v in ((f.name, getattr(o, f.name)) for f in fields(ActOptions)))
    return _layer_saves_memo(spec, layer.index, key)


@per_spec
def _layer_saves_memo(spec: S.ModelSpec, index: int, key: tuple) -> LayerSaves:
    values = {f: dict(v) if f == "lora" else v for f, v in key}
    layer = next(la for la in spec.layers if la.index == index)
    return _layer_saves(spec, layer, ActOptions(**values))


def _layer_saves(spec: S.ModelSpec, layer: S.Layer, o: ActOptions) -> LayerSaves:
    """What decoder layer ``layer`` saves for backward, bytes per token."""
    h, e = spec.hidden_size, o.e
    linears = _layer_linears(spec).get(layer.index, ())
    norms = _layer_norms(spec).get(layer.index, ())
    if o.compile:
        if compiled_covers(spec, layer, o):
            return compiled_layer_saves(spec, layer, o, linears, norms)
        o = replace(o, compile=False)  # a layer the compiled list does not cover keeps its eager saves
    gemma = spec.family.startswith("gemma")
    trains = o.layer_trains
    lin_in = 1 if o.fp8 else e
    attn_in = sum(1 for lin in linears if lin.role in ATTN_IN_ROLES) if trains else 0
    mlp_in = sum(1 for lin in linears if lin.role in MLP_IN_ROLES) if trains else 0
    if trains and layer.mlp.kind == S.MLP_MOE:
        mlp_in = max(mlp_in, 1)  # the router and the gathered expert inputs share the norm output
    n_norm = 0.0
    n_norm += _norm(h, o, attn_in, gemma)  # input_layernorm
    if layer.mlp.kind != S.MLP_NONE and (layer.attention is not None or layer.ssm is not None):
        n_norm += _norm(h, o, mlp_in, gemma)  # post_attention_layernorm
    extra = [n for n in norms if n in ("pre_feedforward_layernorm", "post_feedforward_layernorm")]
    # Gemma 2/3: a norm after attention and one after the MLP (their outputs go to the residual add)
    n_norm += len(extra) * _norm(h, o, 0, gemma)

    attn = quad = 0.0
    a = layer.attention
    if a is not None:
        Hq = a.num_heads * a.head_dim
        Hv = a.num_heads * a.head_dim_v
        n_kv = a.num_heads if a.kind == S.ATTN_MLA else a.num_kv_heads
        Hk, Hkv_v = n_kv * a.head_dim, n_kv * a.head_dim_v
        if "q_norm" in norms:  # Qwen3 / Gemma 3: RMSNorm per head on q and k (fp32 copies + rsqrt per head)
            attn += 4 * (Hq + Hk) + 4 * (a.num_heads + n_kv) + (e * (Hq + Hk) if o.norms_train else 0)
        # transformers passes SDPA an explicit mask for a sliding-window layer once the sequence
        # reaches the window (masking_utils._ignore_causal_mask_sdpa), and without is_causal it cannot
        # use enable_gqa (integrations/sdpa_attention.use_gqa_in_sdpa): K/V are repeated, and SDPA saves
        # the additive mask it converts from the boolean one — b·s² elements per layer. The trace of
        # Gemma-3-1B (22 of 26 layers sliding, window 512, b4 × 2048) showed both: 1.2 GiB more saved
        # than the estimate (−2.8% of the step's peak).
        sliding_mask = (o.attn == "sdpa" and a.kind == S.ATTN_SLIDING and bool(a.window) and o.seq >= (a.window or 0))
        if o.attn == "eager" or (o.padding and o.attn == "sdpa") or sliding_mask:
            Hk, Hkv_v = Hq, Hv  # repeat_kv materialises K/V for every query head
        if sliding_mask:
            quad += e  # the additive mask, per token per key
        attn += e * (Hq + Hk + Hkv_v) + e * Hv + 4 * a.num_heads  # q, k, v, output, fp32 logsumexp
        if o.attn == "eager":
            attn -= e * Hv + 4 * a.num_heads  # eager saves the probabilities, not the output
            # fp32 softmax output + its 16-bit copy (none in fp32), per attended token; Gemma 2's
            # logit soft-capping keeps the tanh output too
            quad = a.num_heads * (4 + (e if e < 4 else 0))
            if spec.config.get("attn_logit_softcapping", 50.0 if spec.family == "gemma2" else None):
                quad += a.num_heads * e
        fused_qkv = any(lin.role == S.ROLE_ATTN_QKV for lin in linears)
        if trains and (o.attn == "eager" or fused_qkv):
            # o_proj saves the contiguous (b, s, n·d) copy of P·V (eager), or of SDPA's output when
            # q, k, v are strided views of one fused projection (Phi-3; measured on CPU)
            attn += lin_in * Hv
        # flash and SDPA's flash / memory-efficient kernels write the output in (b, s, n, d) layout, so
        # HF's transpose(1, 2).contiguous() is free and o_proj saves the same storage
        if a.kind == S.ATTN_MLA:
            ql, kl = a.q_lora_rank or 0, a.kv_lora_rank or 0
            attn += 4 * (ql + kl) + (e * (ql + kl) if trains else 0)  # q_a / kv_a layernorms and b-proj inputs
    if layer.ssm is not None:
        m = layer.ssm
        # mamba_ssm's fused kernels save xz, conv output, delta, B, C and out_proj's input
        attn += e * (2 * m.d_inner + 3 * m.d_inner + 2 * m.d_state * max(1, m.n_groups) + (m.dt_rank or m.num_heads))
    mlp = 0.0
    m = layer.mlp
    if m.kind == S.MLP_DENSE:
        I = m.intermediate_size
        mlp = e * ((3 * I) if m.gated else I) + (lin_in * I if trains else 0)
    elif m.kind == S.MLP_MOE:
        I, k = m.expert_intermediate_size, m.top_k
        per_routed = e * 3 * I + ((lin_in * I + 2 * e * h) if trains else 0)  # gate_up, act, (down input, gather, output)
        mlp = k * per_routed + 4 * m.num_experts + 16 * k  # fp32 router probabilities, top-k values/indices
        if m.shared_intermediate_size:
            I_s = m.shared_intermediate_size
            mlp += e * 3 * I_s + (lin_in * I_s if trains else 0)
    lora = 0.0
    shared: set[str] = set()  # inputs saved once when adapters take them uncast
    for lin in linears:
        r = o.lora.get(lin.module)
        if r is None:
            continue
        lora += 4 * r  # A's output, saved by B
        if o.lora_in_bytes:
            lora += o.lora_in_bytes * lin.d_in  # PEFT casts the input to the adapter dtype: one copy per module
        elif not trains:
            # same dtype: lora_A saves the very input tensor; norm outputs are shared by their Linears,
            # the attention output is already saved by SDPA / flash
            group = ("attn_in" if lin.role in ATTN_IN_ROLES else "mlp_in" if lin.role in MLP_IN_ROLES
                     else lin.module)
            if group not in shared and not (lin.role == S.ROLE_ATTN_O and o.attn != "eager"):
                lora += e * lin.d_in
            shared.add(group)
        if o.lora_dropout:
            lora += 4 * lin.d_in + lin.d_in  # dropout output + mask
        if o.dora:
            lora += (e + 4) * lin.d_out  # base and LoRA results kept for the magnitude scaling
    return LayerSaves(n_norm, attn, mlp, lora, quad)


# --- torch.compile -------------------------------------------------------------------------------
# AOTAutograd traces forward and backward as one joint graph and splits it with
# ``min_cut_rematerialization_partition`` (torch/_functorch/partitioners.py; Inductor's default
# partitioner, pytorch/pytorch@cf30153c4c131c8164ee7798e5022d810682e2cb = torch 2.13.0). What it saves
# is a minimum cut, in bytes, of the forward values backward needs, where a value may instead be
# recomputed in backward unless ``should_ban_recomputation`` bans it. With the default config
# (torch/_functorch/config.py: every ``ban_recompute_*`` True) a node is banned when
#   (R1) its op is not in ``get_default_op_list().recomputable_ops`` (pointwise ops, casts, views,
#        sum/mean/var …) — mm / bmm / SDPA / flash attention / dropout's random op are not;
#   (R2) ``is_materialized_backwards``: a backward op that cannot fuse with it reads it (a matmul's
#        weight gradient reads its input; SDPA's backward reads q, k, v, out, lse) — recomputing it
#        would mean materialising it again;
#   (R3) it is a reduction whose output is < 1/4 of its inputs (RMSNorm's mean / rsqrt per row).
# Everything else is free to recompute, so pointwise outputs are not saved when their inputs are
# (RMSNorm's fp32 copy and normalised product, SiLU's output, residual sums); graph CSE shares one
# cast of a tensor among the Linears that read it. The list below was checked against the partition
# of transformers' LlamaDecoderLayer (bf16, SDPA) on CPU, with Inductor's decomposition table:
# full training, frozen base, PEFT LoRA in bf16 and fp32 — every saved tensor matched a term.

def compiled_covers(spec: S.ModelSpec, layer: S.Layer, o: ActOptions) -> bool:
    """Whether :func:`compiled_layer_saves` derives this layer: RMSNorm → attention (not MLA, not eager
    softmax) → RMSNorm → dense or MoE MLP, without Gemma's extra norms, fp8 or DoRA. Other layers keep
    their eager saves (said in the estimate)."""
    a = layer.attention
    extra = any(n in ("pre_feedforward_layernorm", "post_feedforward_layernorm")
                for n in _layer_norms(spec).get(layer.index, ()))
    masked = (a is not None and o.attn == "sdpa" and a.kind == S.ATTN_SLIDING and bool(a.window)
              and o.seq >= (a.window or 0))  # SDPA then gets an explicit mask and saves it (eager's term)
    return (a is not None and a.kind != S.ATTN_MLA and layer.ssm is None and layer.mlp.kind != S.MLP_NONE
            and not extra and not masked and not o.fp8 and not o.dora and o.attn != "eager")


def compiled_layer_saves(spec: S.ModelSpec, layer: S.Layer, o: ActOptions, linears: tuple[Linear, ...],
                         norms: tuple[str, ...]) -> LayerSaves:
    """What a decoder layer saves for backward under torch.compile, bytes per token, term by term
    (rules R1–R3 above). Per Llama layer, everything training, bf16 (e = r = 2):
    ``2h + (4 + 2h) + 2(Hq + 2Hkv) + 2Hq + 4n_h + 2h + (4 + 2h) + 3·2I`` against eager's
    ``2(4h + 4 + 4h) + … + 4·2I``."""
    h, e = spec.hidden_size, o.e
    trains = o.layer_trains
    attn_in = trains and any(lin.role in ATTN_IN_ROLES for lin in linears)
    mlp_in = trains and (any(lin.role in MLP_IN_ROLES for lin in linears) or layer.mlp.kind == S.MLP_MOE)
    # -- norms and residual stream
    n_norm = o.r * h  # the layer input: both RMSNorms' fp32 copies and products are recomputed from it
    n_norm += 4  # input_layernorm's rsqrt per row (R3: a reduction's output is kept)
    if attn_in:
        n_norm += e * h  # its output, read by q/k/v's weight gradients (R2); one tensor (CSE) under autocast
    n_norm += e * h  # o_proj's output (R1: a matmul's): the residual sum x + o is recomputed from it
    n_norm += 4  # post_attention_layernorm's rsqrt (R3)
    if mlp_in:
        n_norm += e * h  # its output, read by gate/up's weight gradients (R2)
    # -- attention: SDPA / flash save q, k (after RoPE), v, the output and the logsumexp, as in eager
    # (R2: SDPA's backward reads them); o_proj's input is the output's storage
    a = layer.attention
    assert a is not None
    Hq, Hv = a.num_heads * a.head_dim, a.num_heads * a.head_dim_v
    n_kv = a.num_kv_heads
    Hk, Hkv_v = n_kv * a.head_dim, n_kv * a.head_dim_v
    if o.padding and o.attn == "sdpa":
        Hk, Hkv_v = Hq, Hv  # repeat_kv before SDPA (as eager)
    attn = e * (Hq + Hk + Hkv_v) + e * Hv + 4 * a.num_heads
    if "q_norm" in norms:
        # Qwen3 / Gemma 3 per-head RMSNorm on q and k: its input is q/k_proj's output (R1: kept, e per
        # element), its rsqrt per head (R3); the normalised fp32 values are recomputed
        attn += e * (Hq + Hk) + 4 * (a.num_heads + n_kv)
    # (eager's contiguous copy that o_proj saves behind a fused qkv, Phi-3, is not made: the partition
    # of Phi3DecoderLayer saves the same tensors as Llama's)
    # -- MLP
    m = layer.mlp
    if m.kind == S.MLP_DENSE:
        I = m.intermediate_size
        # gate's and up's outputs (R1: matmuls; SiLU's backward reads gate, the product's reads both);
        # SiLU's output is recomputed; the product only when down's weight gradient reads it (R2)
        mlp = e * (2 * I if m.gated else I) + (e * I if trains else 0)
    else:
        # MoE: the routed experts keep their eager saves — not derived; on a tiny Mixtral layer (4 experts,
        # top-2) the partition saves ~17 % less per layer than this estimate (13,944 vs 16,728 B/token)
        mlp = _layer_saves(spec, layer, replace(o, compile=False)).mlp
    # -- LoRA: lora_B's weight gradient reads A's output (R2), lora_A's its input: PEFT's cast of the
    # input to the adapter dtype, one per distinct input (CSE: q/k/v share one, gate/up one), or the
    # input itself when the dtypes match (then shared with what the layer saves already)
    lora = 0.0
    groups: set[str] = set()
    for lin in linears:
        rank = o.lora.get(lin.module)
        if rank is None:
            continue
        lora += (o.lora_in_bytes or e) * rank
        group = "attn_in" if lin.role in ATTN_IN_ROLES else "mlp_in" if lin.role in MLP_IN_ROLES else lin.module
        if o.lora_dropout:
            # each module's dropout is its own random op (R1): its output (read by lora_A's gradient)
            # and the boolean mask are kept per module; the cast before it is recomputed
            lora += (o.lora_in_bytes or e) * lin.d_in + lin.d_in
        elif group not in groups:
            if o.lora_in_bytes:
                lora += o.lora_in_bytes * lin.d_in
            elif not trains and lin.role != S.ROLE_ATTN_O:
                lora += e * lin.d_in  # the norm output / the SwiGLU product, saved for lora_A alone
        groups.add(group)
    return LayerSaves(n_norm, attn, mlp, lora, 0.0)


def head_saves(spec: S.ModelSpec, e: float, head_trains: bool, norms_train: bool, lora_rank: int = 0,
               lora_in_bytes: float = 0, lora_dropout: bool = False) -> float:
    """Final norm (fp32 copy, rsqrt, normalised output if it trains) and the lm_head input if the head
    trains, bytes per token; ``lora_rank`` > 0: a LoRA on the frozen head (PEFT ``lora.Linear`` on
    ``lm_head``, torchtune ``apply_lora_to_output``) saves what it saves on a decoder Linear — A's
    output (4·r), PEFT's cast of the input to the adapter dtype (``lora_in_bytes``·h) or, same dtype,
    the norm output itself (e·h: the frozen head's matmul saves no input), and with dropout its
    output and mask (4·h + h)."""
    h = spec.hidden_size
    out = 4 * h + 4 + (e * h if norms_train else 0) + (e * h if head_trains else 0)
    if lora_rank:
        out += 4 * lora_rank
        if lora_in_bytes:
            out += lora_in_bytes * h
        elif not head_trains:
            out += e * h
        if lora_dropout:
            out += 4 * h + h
    return out


def embed_lora_saves(e: float, lora_rank: int, lora_in_bytes: float) -> float:
    """A LoRA on the input embedding (PEFT ``lora.Embedding``), bytes per token: its forward is
    ``F.embedding(x, A.T) @ B.T · scaling`` (peft/tuners/lora/layer.py ``Embedding.forward``), so the
    only tensor it saves is the r-wide lookup of A, in the adapter dtype, for B's gradient
    (``F.embedding`` keeps the token ids, which the batch holds anyway). No dropout on this path."""
    return (lora_in_bytes or e) * lora_rank


def loss_bytes(vocab: int, tokens: int, e: float, loss: str, compiled: bool = False) -> tuple[float, str]:
    """The logits + cross-entropy block at its peak (start of backward), bytes.

    HF ``ForCausalLMLoss`` upcasts the logits to fp32 and ``cross_entropy`` saves the fp32
    log-softmax: forward end holds 16-bit logits + fp32 copy + log-softmax (e + 4 + 4 per logit);
    the log-softmax backward holds its output, the incoming gradient and its result (4 + 4 + 4).
    Chunked CE (torchtune, 8 chunks) keeps the 16-bit logits and one chunk in fp32; fused linear CE
    (Liger, Cut-Cross-Entropy) never materialises T × V.
    """
    if loss == "fused":
        return 0.0, "fused linear cross-entropy: no T × V logits"
    if loss == "chunked":
        if compiled:
            # torchtune's compile_loss compiles CEWithChunkedOutputLoss.compute_cross_entropy, i.e.
            # F.cross_entropy(logits.float(), …) per chunk (torchtune/training/_compile.py,
            # torchtune/modules/loss/ce_chunked_output_loss.py, pytorch/torchtune@1814feb): the upcast
            # and log-softmax are pointwise / reductions, so each chunk's graph keeps its 16-bit input
            # and the logsumexp per row, and its fused backward writes the 16-bit gradient of one chunk
            return tokens * vocab * (e + e / 8), "compiled chunked CE: 16-bit logits + one chunk's 16-bit gradient"
        return tokens * vocab * (e + 12 / 8), "16-bit logits + one of 8 fp32 chunks"
    fwd = e + 4 + 4 if e < 4 else 4 + 4
    return tokens * vocab * max(fwd, 12), "T·V·max(e + 4 + 4, 12): fp32 logits, log-softmax and its gradient"
