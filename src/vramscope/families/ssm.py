"""State-space and hybrid families: mamba (Mamba-1), mamba2, jamba.

Layouts from transformers ``modeling_mamba.py``, ``modeling_mamba2.py`` and ``modeling_jamba.py``
(v5.23), which match state-spaces/mamba ``mamba_simple.py`` / ``mamba2.py``:

* Mamba-1 mixer: in_proj (2·d_in, h), depthwise conv1d (d_in, 1, k) + bias, x_proj
  (dt_rank + 2·d_state, d_in), dt_proj (d_in, dt_rank) + bias, A_log (d_in, d_state), D (d_in),
  out_proj (h, d_in); ``d_in = expand·h``, ``dt_rank = ceil(h/16)`` when "auto".
* Mamba-2 mixer: in_proj (d_in + conv_dim + n_heads, h) with conv_dim = d_in + 2·n_groups·d_state,
  conv1d (conv_dim, 1, k) + bias, dt_bias, A_log, D (n_heads each), gated RMSNorm (d_in), out_proj.
* Jamba: layer i is attention when ``i % attn_layer_period == attn_layer_offset`` (else Mamba-1
  with RMSNorms on dt, B and C), MoE when ``i % expert_layer_period == expert_layer_offset``.
"""

from __future__ import annotations

import math

from .. import spec as S
from ._build import AttnStyle, Inventory, attention_tensors, dense_mlp_tensors, routed_experts, router
from ._config import Cfg
from .transformer import TextModel


def _dt_rank(cfg: Cfg, key: str, h: int) -> int:
    value = cfg.raw(key, "auto")
    if value == "auto":
        return math.ceil(h / 16)
    return cfg.int(key)


def _mamba1_mixer(inv: Inventory, prefix: str, i: int, h: int, ssm: S.SSM, *, proj_bias: bool,
                  conv_bias: bool, dt_norms: bool) -> None:
    d_in, d_state = ssm.d_inner, ssm.d_state
    inv.linear(f"{prefix}.in_proj", 2 * d_in, h, S.ROLE_SSM_IN, i, bias=proj_bias)
    inv.add(f"{prefix}.conv1d.weight", (d_in, 1, ssm.d_conv), S.ROLE_SSM_CONV, i)
    if conv_bias:
        inv.add(f"{prefix}.conv1d.bias", (d_in,), S.ROLE_SSM_CONV, i)
    inv.linear(f"{prefix}.x_proj", ssm.dt_rank + 2 * d_state, d_in, S.ROLE_SSM_X, i)
    inv.linear(f"{prefix}.dt_proj", d_in, ssm.dt_rank, S.ROLE_SSM_DT, i, bias=True)
    inv.add(f"{prefix}.A_log", (d_in, d_state), S.ROLE_SSM_A, i)
    inv.add(f"{prefix}.D", (d_in,), S.ROLE_SSM_D, i)
    inv.linear(f"{prefix}.out_proj", h, d_in, S.ROLE_SSM_OUT, i, bias=proj_bias)
    if dt_norms:
        inv.norm(f"{prefix}.dt_layernorm", ssm.dt_rank, i)
        inv.norm(f"{prefix}.b_layernorm", d_state, i)
        inv.norm(f"{prefix}.c_layernorm", d_state, i)


def mamba2_mixer(inv: Inventory, p: str, i: int, h: int, ssm: S.SSM, *, proj_bias: bool, conv_bias: bool,
                 out_bias: bool, gated_norm: bool) -> None:
    """One Mamba-2 mixer's tensors (the module docstring's shapes); shared by Mamba-2 and the hybrids."""
    conv_dim = ssm.d_inner + 2 * ssm.n_groups * ssm.d_state
    inv.linear(f"{p}.in_proj", ssm.d_inner + conv_dim + ssm.num_heads, h, S.ROLE_SSM_IN, i, bias=proj_bias)
    inv.add(f"{p}.conv1d.weight", (conv_dim, 1, ssm.d_conv), S.ROLE_SSM_CONV, i)
    if conv_bias:
        inv.add(f"{p}.conv1d.bias", (conv_dim,), S.ROLE_SSM_CONV, i)
    inv.add(f"{p}.dt_bias", (ssm.num_heads,), S.ROLE_SSM_DT, i)
    inv.add(f"{p}.A_log", (ssm.num_heads,), S.ROLE_SSM_A, i)
    inv.add(f"{p}.D", (ssm.num_heads,), S.ROLE_SSM_D, i)
    if gated_norm:
        inv.norm(f"{p}.norm", ssm.d_inner, i)
    inv.linear(f"{p}.out_proj", h, ssm.d_inner, S.ROLE_SSM_OUT, i, bias=out_bias)


def build_mamba(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers", "n_layer")
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", True)
    d_in = cfg.int("expand", default=2) * h
    ssm = S.SSM(S.SSM_MAMBA1, d_inner=d_in, d_state=cfg.int("state_size", default=16),
                d_conv=cfg.int("conv_kernel", default=4), dt_rank=_dt_rank(cfg, "time_step_rank", h))
    inv = Inventory()
    inv.embeddings("backbone.embeddings", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        inv.norm(f"backbone.layers.{i}.norm", h, i)
        _mamba1_mixer(inv, f"backbone.layers.{i}.mixer", i, h, ssm, proj_bias=cfg.bool("use_bias", False),
                      conv_bias=cfg.bool("use_conv_bias", True), dt_norms=False)
        layers.append(S.Layer(i, None, S.MLP(S.MLP_NONE), ssm))
    inv.norm("backbone.norm_f", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, None)


def build_mamba2(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", False)
    d_in = cfg.int("expand", default=2) * h
    n_heads = cfg.int("num_heads")
    d_state = cfg.int("state_size", default=128)
    groups = cfg.int("n_groups", default=8)
    ssm = S.SSM(S.SSM_MAMBA2, d_inner=d_in, d_state=d_state, d_conv=cfg.int("conv_kernel", default=4),
                num_heads=n_heads, head_dim=cfg.int("head_dim", default=64), n_groups=groups)
    use_bias = cfg.bool("use_bias", False)
    conv_bias = cfg.bool("use_conv_bias", True)
    inv = Inventory()
    inv.embeddings("backbone.embeddings", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        p = f"backbone.layers.{i}.mixer"
        inv.norm(f"backbone.layers.{i}.norm", h, i)
        mamba2_mixer(inv, p, i, h, ssm, proj_bias=use_bias, conv_bias=conv_bias, out_bias=use_bias, gated_norm=True)
        layers.append(S.Layer(i, None, S.MLP(S.MLP_NONE), ssm))
    inv.norm("backbone.norm_f", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, None)


def build_jamba(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", False)
    n_heads = cfg.int("num_attention_heads")
    n_kv = cfg.int("num_key_value_heads", default=n_heads)
    head_dim = cfg.head_dim(h, n_heads)
    inter = cfg.int("intermediate_size")
    attn_period = cfg.int("attn_layer_period", default=8)
    attn_offset = cfg.int("attn_layer_offset", default=4, minimum=0)
    exp_period = cfg.int("expert_layer_period", default=2)
    exp_offset = cfg.int("expert_layer_offset", default=1, minimum=0)
    experts = cfg.int("num_experts", default=16)
    ssm = S.SSM(S.SSM_MAMBA1, d_inner=cfg.int("mamba_expand", default=2) * h,
                d_state=cfg.int("mamba_d_state", default=16), d_conv=cfg.int("mamba_d_conv", default=4),
                dt_rank=_dt_rank(cfg, "mamba_dt_rank", h))
    inv = Inventory()
    inv.embeddings("model.embed_tokens", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        lp = f"model.layers.{i}"
        inv.norm(f"{lp}.input_layernorm", h, i)
        attn = None
        layer_ssm = None
        if i % attn_period == attn_offset:
            attn = S.Attention(S.ATTN_FULL, n_heads, n_kv, head_dim)
            attention_tensors(inv, f"{lp}.self_attn", i, h, attn, AttnStyle())
        else:
            layer_ssm = ssm
            _mamba1_mixer(inv, f"{lp}.mamba", i, h, ssm, proj_bias=cfg.bool("mamba_proj_bias", False),
                          conv_bias=cfg.bool("mamba_conv_bias", True), dt_norms=True)
        inv.norm(f"{lp}.pre_ff_layernorm", h, i)
        if experts > 1 and i % exp_period == exp_offset:
            mlp = S.MLP(S.MLP_MOE, num_experts=experts, top_k=cfg.int("num_experts_per_tok", default=2),
                        expert_intermediate_size=inter)
            router(inv, f"{lp}.feed_forward.router", i, h, experts)
            routed_experts(inv, f"{lp}.feed_forward.experts", i, h, mlp)
        else:
            mlp = S.MLP(S.MLP_DENSE, intermediate_size=inter)
            dense_mlp_tensors(inv, f"{lp}.feed_forward", i, h, inter)
        layers.append(S.Layer(i, attn, mlp, layer_ssm))
    inv.norm("model.final_layernorm", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings", "n_ctx"))
