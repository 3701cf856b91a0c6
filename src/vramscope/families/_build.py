"""Building blocks shared by the family readers: a tensor inventory and the tensors of common blocks.

Shapes follow PyTorch: a Linear ``in → out`` has weight ``(out, in)``; stacked experts put the
expert index first, ``(E, out, in)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import spec as S


class Inventory:
    """Collects :class:`~vramscope.spec.Tensor` objects while a family reader walks a config."""

    def __init__(self, component: str = S.COMPONENT_TEXT):
        self.tensors: list[S.Tensor] = []
        self.component = component

    def add(
        self,
        name: str,
        shape: tuple[int, ...],
        role: str,
        layer: int | None = None,
        *,
        experts: int = 0,
        active_experts: int = 0,
        component: str | None = None,
        quantisable: bool | None = None,
    ) -> None:
        component = component or self.component
        if quantisable is None:
            quantisable = role in S.LINEAR_ROLES and component in (S.COMPONENT_TEXT, S.COMPONENT_MTP)
        self.tensors.append(
            S.Tensor(
                name=name,
                shape=tuple(int(d) for d in shape),
                role=role,
                layer=layer,
                quantisable=quantisable,
                component=component,
                experts=experts,
                active_experts=active_experts,
            )
        )

    def linear(
        self,
        prefix: str,
        out_features: int,
        in_features: int,
        role: str,
        layer: int | None = None,
        *,
        bias: bool = False,
        experts: int = 0,
        active_experts: int = 0,
    ) -> None:
        """A Linear layer (optionally a stack of ``experts`` of them) and its bias."""
        lead = (experts,) if experts else ()
        self.add(f"{prefix}.weight", (*lead, out_features, in_features), role, layer,
                 experts=experts, active_experts=active_experts)
        if bias:
            self.add(f"{prefix}.bias", (*lead, out_features), S.ROLE_BIAS, layer,
                     experts=experts, active_experts=active_experts)

    def norm(self, prefix: str, size: int, layer: int | None = None, *, bias: bool = False) -> None:
        """RMSNorm (weight) or LayerNorm (weight + bias)."""
        self.add(f"{prefix}.weight", (size,), S.ROLE_NORM, layer)
        if bias:
            self.add(f"{prefix}.bias", (size,), S.ROLE_NORM, layer)

    def embeddings(self, prefix: str, vocab: int, hidden: int, tied: bool, head: str = "lm_head") -> None:
        """Input embedding and, unless tied, the output head (a tied head is counted once)."""
        self.add(f"{prefix}.weight", (vocab, hidden), S.ROLE_EMBED)
        if not tied:
            self.add(f"{head}.weight", (vocab, hidden), S.ROLE_LM_HEAD)


@dataclass(frozen=True)
class AttnStyle:
    """How a family lays out the tensors of a standard (MHA/GQA/MQA) attention block."""

    fused_qkv: bool = False  # one qkv_proj (Phi-3, ChatGLM)
    qkv_bias: bool = False  # biases on q, k, v (Qwen2, GLM, gpt-oss)
    o_bias: bool = False
    qk_norm: bool = False  # RMSNorm(head_dim) on q and k (Qwen3, Gemma 3)
    sinks: bool = False  # per-head attention sink logits (gpt-oss)
    qkv_name: str = "qkv_proj"
    # q/k norms over all heads at once (OLMo 2 / OLMoE: RMSNorm(n_h·d) and RMSNorm(n_kv·d); Cohere's
    # per-head LayerNorm weight (n_h, d) / (n_kv, d) has the same size) instead of one head_dim
    qk_norm_all_heads: bool = False
    qk_norm_key: str | None = None  # a config key that switches the q/k norms on (Cohere's use_qk_norm)
    o_name: str = "o_proj"


def attention_tensors(inv: Inventory, prefix: str, i: int, h: int, attn: S.Attention, style: AttnStyle) -> None:
    """q, k, v, o projections of a standard attention block: q (n_h·d, h), k,v (n_kv·d, h), o (h, n_h·d)."""
    q_out = attn.num_heads * attn.head_dim
    kv_out = attn.num_kv_heads * attn.head_dim
    if style.fused_qkv:
        inv.linear(f"{prefix}.{style.qkv_name}", q_out + 2 * kv_out, h, S.ROLE_ATTN_QKV, i, bias=style.qkv_bias)
    else:
        inv.linear(f"{prefix}.q_proj", q_out, h, S.ROLE_ATTN_Q, i, bias=style.qkv_bias)
        inv.linear(f"{prefix}.k_proj", kv_out, h, S.ROLE_ATTN_K, i, bias=style.qkv_bias)
        inv.linear(f"{prefix}.v_proj", kv_out, h, S.ROLE_ATTN_V, i, bias=style.qkv_bias)
    inv.linear(f"{prefix}.{style.o_name}", h, q_out, S.ROLE_ATTN_O, i, bias=style.o_bias)
    if style.qk_norm and style.qk_norm_all_heads:
        inv.norm(f"{prefix}.q_norm", q_out, i)
        inv.norm(f"{prefix}.k_norm", kv_out, i)
    elif style.qk_norm:
        inv.norm(f"{prefix}.q_norm", attn.head_dim, i)
        inv.norm(f"{prefix}.k_norm", attn.head_dim, i)
    if style.sinks:
        inv.add(f"{prefix}.sinks", (attn.num_heads,), S.ROLE_ATTN_SINKS, i)


def mla_tensors(inv: Inventory, prefix: str, i: int, h: int, attn: S.Attention, bias: bool = False) -> None:
    """DeepSeek MLA: q_a/q_b (or q_proj), kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj.

    Shapes from transformers ``DeepseekV3Attention``: q_a (q_lora, h), q_b (n_h·(nope+rope), q_lora),
    kv_a (kv_lora + rope, h), kv_b (n_h·(nope + v), kv_lora), o (h, n_h·v).
    """
    n_h = attn.num_heads
    qk = attn.head_dim
    assert attn.kv_lora_rank and attn.qk_rope_head_dim is not None and attn.qk_nope_head_dim is not None
    if attn.q_lora_rank:
        inv.linear(f"{prefix}.q_a_proj", attn.q_lora_rank, h, S.ROLE_ATTN_Q_A, i, bias=bias)
        inv.norm(f"{prefix}.q_a_layernorm", attn.q_lora_rank, i)
        inv.linear(f"{prefix}.q_b_proj", n_h * qk, attn.q_lora_rank, S.ROLE_ATTN_Q_B, i)
    else:
        inv.linear(f"{prefix}.q_proj", n_h * qk, h, S.ROLE_ATTN_Q, i)
    inv.linear(f"{prefix}.kv_a_proj_with_mqa", attn.kv_lora_rank + attn.qk_rope_head_dim, h,
               S.ROLE_ATTN_KV_A, i, bias=bias)
    inv.norm(f"{prefix}.kv_a_layernorm", attn.kv_lora_rank, i)
    inv.linear(f"{prefix}.kv_b_proj", n_h * (attn.qk_nope_head_dim + attn.head_dim_v), attn.kv_lora_rank,
               S.ROLE_ATTN_KV_B, i)
    inv.linear(f"{prefix}.o_proj", h, n_h * attn.head_dim_v, S.ROLE_ATTN_O, i, bias=bias)


def dense_mlp_tensors(
    inv: Inventory,
    prefix: str,
    i: int | None,
    h: int,
    inter: int,
    *,
    gated: bool = True,
    bias: bool = False,
    fused_gate_up: bool = False,
    names: tuple[str, str, str] = ("gate_proj", "up_proj", "down_proj"),
    experts: int = 0,
    active_experts: int = 0,
) -> None:
    """A (gated) MLP: gate (I, h), up (I, h), down (h, I); plain MLPs have only up and down."""
    gate, up, down = names
    kw = {"bias": bias, "experts": experts, "active_experts": active_experts}
    if gated and fused_gate_up:
        inv.linear(f"{prefix}.gate_up_proj", 2 * inter, h, S.ROLE_FFN_GATE_UP, i, **kw)
    elif gated:
        inv.linear(f"{prefix}.{gate}", inter, h, S.ROLE_FFN_GATE, i, **kw)
        inv.linear(f"{prefix}.{up}", inter, h, S.ROLE_FFN_UP, i, **kw)
    else:
        inv.linear(f"{prefix}.{up}", inter, h, S.ROLE_FFN_UP, i, **kw)
    inv.linear(f"{prefix}.{down}", h, inter, S.ROLE_FFN_DOWN, i, **kw)


def routed_experts(inv: Inventory, prefix: str, i: int, h: int, mlp: S.MLP, *, bias: bool = False,
                   fused_gate_up: bool = False) -> None:
    """E stacked gated experts of width I_e: E·3·h·I_e parameters, k of E active per token."""
    dense_mlp_tensors(inv, prefix, i, h, mlp.expert_intermediate_size, gated=mlp.gated, bias=bias,
                      fused_gate_up=fused_gate_up, experts=mlp.num_experts, active_experts=mlp.top_k)


def router(inv: Inventory, name: str, i: int, h: int, num_experts: int, *, bias: bool = False) -> None:
    """The MoE gate: a Linear h → E (kept unquantised by every stack)."""
    inv.add(f"{name}.weight", (num_experts, h), S.ROLE_ROUTER, i, quantisable=False)
    if bias:
        inv.add(f"{name}.bias", (num_experts,), S.ROLE_ROUTER, i, quantisable=False)
