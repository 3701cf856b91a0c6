"""Hybrid and interleaved decoders: llama4 (text), qwen3_next, falcon_h1, nemotron_h.

Tensor shapes from the transformers v5.23.0 modelling files
(https://github.com/huggingface/transformers/tree/v5.23.0/src/transformers/models/):

* ``llama4/modeling_llama4.py`` (``Llama4TextModel``): layer i is MoE when ``i in moe_layers``
  (default ``range(step − 1, L, interleave_moe_layer_step)``), else a dense MLP of width
  ``intermediate_size_mlp``. A MoE block is a router Linear(h, E), stacked experts gate_up
  (E, h, 2I) / down (E, I, h) and one always-on ``shared_expert`` MLP of width I. Attention is
  chunked (``attention_chunk_size``) on RoPE layers and full on the NoPE layers
  (``no_rope_layers``, default every ``no_rope_layer_interval``-th layer is NoPE;
  ``Llama4TextConfig.__post_init__``); the L2 qk-norm has no weight.
* ``qwen3_next/modeling_qwen3_next.py``: ``layer_types`` (default every
  ``full_attention_interval``-th = 4th layer full attention, the rest ``linear_attention``).
  Gated attention: q_proj (2·n_h·d, h) (query and gate), k/v (n_kv·d, h), o (h, n_h·d), q/k
  RMSNorm(d). Gated DeltaNet: in_proj_qkvz (2·K + 2·V, h), in_proj_ba (2·n_v, h), depthwise conv1d
  (2K + V, 1, k) without bias, dt_bias and A_log (n_v), gated RMSNorm(d_v), out_proj (h, V), with
  K = n_k·d_k, V = n_v·d_v. MLPs as Qwen2-MoE (router, experts, shared expert + its sigmoid gate).
* ``falcon_h1/modeling_falcon_h1.py``: *every* layer runs attention and a Mamba-2 mixer in
  parallel, then a gated MLP; mixer width ``mamba_d_ssm`` (else expand·h), n_heads
  ``mamba_n_heads``, in_proj (d_ssm + conv_dim + n_heads, h), conv_dim = d_ssm + 2·groups·d_state,
  gated RMSNorm(d_ssm) only when ``mamba_rms_norm``; norms ``input_layernorm`` / ``pre_ff_layernorm``.
* ``nemotron_h/modeling_nemotron_h.py``: one mixer per block from ``layers_block_type`` /
  ``hybrid_override_pattern`` (M = Mamba-2, * = attention, - = ungated MLP, E = MoE of ungated
  experts with a shared expert), each behind one RMSNorm ``norm``; Mamba-2 width
  ``mamba_num_heads·mamba_head_dim``.

State and caches: the Gated DeltaNet and Mamba-2 layers are :class:`~vramscope.spec.SSM` mixers
whose recurrent state the estimator sizes per sequence (kv.ssm_state_bytes); Llama 4's chunked
layers are ``ATTN_CHUNKED`` with the chunk as their cap.
"""

from __future__ import annotations

from .. import spec as S
from ..errors import ConfigError
from ._build import Inventory, dense_mlp_tensors, router
from ._config import Cfg
from .ssm import mamba2_mixer
from .transformer import TextModel


def _attn(inv: Inventory, p: str, i: int, h: int, n_h: int, n_kv: int, d: int, *, q_mult: int = 1,
          bias: bool = False, qk_norm: bool = False) -> None:
    inv.linear(f"{p}.q_proj", q_mult * n_h * d, h, S.ROLE_ATTN_Q, i, bias=bias)
    inv.linear(f"{p}.k_proj", n_kv * d, h, S.ROLE_ATTN_K, i, bias=bias)
    inv.linear(f"{p}.v_proj", n_kv * d, h, S.ROLE_ATTN_V, i, bias=bias)
    inv.linear(f"{p}.o_proj", h, n_h * d, S.ROLE_ATTN_O, i, bias=bias)
    if qk_norm:
        inv.norm(f"{p}.q_norm", d, i)
        inv.norm(f"{p}.k_norm", d, i)


def _gqa(cfg: Cfg, h: int) -> tuple[int, int, int]:
    n_h = cfg.int("num_attention_heads")
    n_kv = cfg.int("num_key_value_heads", default=n_h)
    if n_h % n_kv:
        raise ConfigError(f"{cfg.where}: num_attention_heads {n_h} is not a multiple of num_key_value_heads {n_kv}")
    return n_h, n_kv, cfg.head_dim(h, n_h)


# --- Llama 4 -------------------------------------------------------------------------------------
def build_llama4_text(cfg: Cfg, prefix: str = "model") -> TextModel:
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    n_h, n_kv, d = _gqa(cfg, h)
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", False)
    inter = cfg.int("intermediate_size")
    inter_mlp = cfg.int("intermediate_size_mlp")
    experts = cfg.int("num_local_experts")
    top_k = cfg.int("num_experts_per_tok", default=1)
    step = cfg.int("interleave_moe_layer_step", default=1)
    moe_layers = cfg.int_list("moe_layers")
    moe = set(moe_layers if moe_layers is not None else range(step - 1, n_layers, step))
    interval = cfg.int("no_rope_layer_interval", default=4)
    rope = cfg.int_list("no_rope_layers") or [int((i + 1) % interval != 0) for i in range(n_layers)]
    if len(rope) != n_layers:
        raise ConfigError(f"{cfg.where}: 'no_rope_layers' has {len(rope)} entries but the model has {n_layers} layers")
    types = cfg.str_list("layer_types", n_layers) or [
        "chunked_attention" if r else "full_attention" for r in rope]
    chunk = cfg.opt_int("attention_chunk_size")
    bias = cfg.bool("attention_bias", False)
    inv = Inventory()
    inv.embeddings(f"{prefix}.embed_tokens", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        lp = f"{prefix}.layers.{i}"
        if types[i] == "chunked_attention" and chunk:
            attn = S.Attention(S.ATTN_CHUNKED, n_h, n_kv, d, chunk=chunk)
        elif types[i] in ("full_attention", "chunked_attention"):
            attn = S.Attention(S.ATTN_FULL, n_h, n_kv, d)
        else:
            raise ConfigError(f"{cfg.where}: unknown entry {types[i]!r} in 'layer_types'")
        inv.norm(f"{lp}.input_layernorm", h, i)
        inv.norm(f"{lp}.post_attention_layernorm", h, i)
        _attn(inv, f"{lp}.self_attn", i, h, n_h, n_kv, d, bias=bias)
        ff = f"{lp}.feed_forward"
        if i in moe:
            mlp = S.MLP(S.MLP_MOE, num_experts=experts, top_k=top_k, expert_intermediate_size=inter,
                        num_shared_experts=1, shared_intermediate_size=inter)
            router(inv, f"{ff}.router", i, h, experts)
            inv.add(f"{ff}.experts.gate_up_proj", (experts, h, 2 * inter), S.ROLE_FFN_GATE_UP, i,
                    experts=experts, active_experts=top_k)
            inv.add(f"{ff}.experts.down_proj", (experts, inter, h), S.ROLE_FFN_DOWN, i,
                    experts=experts, active_experts=top_k)
            dense_mlp_tensors(inv, f"{ff}.shared_expert", i, h, inter)
        else:
            mlp = S.MLP(S.MLP_DENSE, intermediate_size=inter_mlp)
            dense_mlp_tensors(inv, ff, i, h, inter_mlp)
        layers.append(S.Layer(i, attn, mlp))
    inv.norm(f"{prefix}.norm", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))


# --- Qwen3-Next ----------------------------------------------------------------------------------
def build_qwen3_next(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    n_h, n_kv, d = _gqa(cfg, h)
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", False)
    interval = cfg.int("full_attention_interval", default=4)
    types = cfg.str_list("layer_types", n_layers) or [
        "linear_attention" if (i + 1) % interval else "full_attention" for i in range(n_layers)]
    n_k = cfg.int("linear_num_key_heads", default=16)
    n_v = cfg.int("linear_num_value_heads", default=32)
    d_k = cfg.int("linear_key_head_dim", default=128)
    d_v = cfg.int("linear_value_head_dim", default=128)
    conv_k = cfg.int("linear_conv_kernel_dim", default=4)
    key_dim, value_dim = n_k * d_k, n_v * d_v
    # kv.ssm_state_bytes reads a Gated DeltaNet as n_groups = n_k, d_state = d_k, heads = n_v, head_dim = d_v
    ssm = S.SSM(S.SSM_GATED_DELTANET, d_inner=value_dim, d_state=d_k, d_conv=conv_k, num_heads=n_v,
                head_dim=d_v, n_groups=n_k)
    experts = cfg.int("num_experts", default=0, minimum=0)
    sparse_step = cfg.int("decoder_sparse_step", default=1)
    dense_only = set(cfg.int_list("mlp_only_layers") or [])
    bias = cfg.bool("attention_bias", False)
    inv = Inventory()
    inv.embeddings("model.embed_tokens", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        lp = f"model.layers.{i}"
        attn = layer_ssm = None
        if types[i] == "linear_attention":
            p = f"{lp}.linear_attn"
            inv.linear(f"{p}.in_proj_qkvz", 2 * key_dim + 2 * value_dim, h, S.ROLE_SSM_IN, i)
            inv.linear(f"{p}.in_proj_ba", 2 * n_v, h, S.ROLE_SSM_IN, i)
            inv.add(f"{p}.conv1d.weight", (2 * key_dim + value_dim, 1, conv_k), S.ROLE_SSM_CONV, i)
            inv.add(f"{p}.dt_bias", (n_v,), S.ROLE_SSM_DT, i)
            inv.add(f"{p}.A_log", (n_v,), S.ROLE_SSM_A, i)
            inv.norm(f"{p}.norm", d_v, i)
            inv.linear(f"{p}.out_proj", h, value_dim, S.ROLE_SSM_OUT, i)
            layer_ssm = ssm
        elif types[i] == "full_attention":
            attn = S.Attention(S.ATTN_FULL, n_h, n_kv, d)
            _attn(inv, f"{lp}.self_attn", i, h, n_h, n_kv, d, q_mult=2, bias=bias, qk_norm=True)
        else:
            raise ConfigError(f"{cfg.where}: unknown entry {types[i]!r} in 'layer_types'")
        inv.norm(f"{lp}.input_layernorm", h, i)
        inv.norm(f"{lp}.post_attention_layernorm", h, i)
        if i not in dense_only and experts > 0 and (i + 1) % sparse_step == 0:
            i_e = cfg.int("moe_intermediate_size")
            shared = cfg.int("shared_expert_intermediate_size", default=0, minimum=0)
            mlp = S.MLP(S.MLP_MOE, num_experts=experts, top_k=cfg.int("num_experts_per_tok"),
                        expert_intermediate_size=i_e, num_shared_experts=1 if shared else 0,
                        shared_intermediate_size=shared)
            router(inv, f"{lp}.mlp.gate", i, h, experts)
            dense_mlp_tensors(inv, f"{lp}.mlp.experts", i, h, i_e, fused_gate_up=True, experts=experts,
                              active_experts=mlp.top_k)
            if shared:
                dense_mlp_tensors(inv, f"{lp}.mlp.shared_expert", i, h, shared)
            inv.add(f"{lp}.mlp.shared_expert_gate.weight", (1, h), S.ROLE_ROUTER, i, quantisable=False)
        else:
            inter = cfg.int("intermediate_size")
            mlp = S.MLP(S.MLP_DENSE, intermediate_size=inter)
            dense_mlp_tensors(inv, f"{lp}.mlp", i, h, inter)
        layers.append(S.Layer(i, attn, mlp, layer_ssm))
    inv.norm("model.norm", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))


# --- Falcon-H1 -----------------------------------------------------------------------------------
def build_falcon_h1(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    n_h, n_kv, d = _gqa(cfg, h)
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", False)
    inter = cfg.int("intermediate_size")
    d_ssm = cfg.opt_int("mamba_d_ssm") or cfg.int("mamba_expand", default=2) * h
    m_heads = cfg.int("mamba_n_heads", default=128)
    raw_head = cfg.raw("mamba_d_head", "auto")
    m_head_dim = d_ssm // m_heads if raw_head == "auto" else cfg.int("mamba_d_head")
    ssm = S.SSM(S.SSM_MAMBA2, d_inner=d_ssm, d_state=cfg.int("mamba_d_state", default=256),
                d_conv=cfg.int("mamba_d_conv", default=4), num_heads=m_heads, head_dim=m_head_dim,
                n_groups=cfg.int("mamba_n_groups", default=1))
    attn_bias = cfg.bool("attention_bias", False)
    mlp_bias = cfg.bool("mlp_bias", False)
    inv = Inventory()
    inv.embeddings("model.embed_tokens", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        lp = f"model.layers.{i}"
        attn = S.Attention(S.ATTN_FULL, n_h, n_kv, d)
        _attn(inv, f"{lp}.self_attn", i, h, n_h, n_kv, d, bias=attn_bias)
        mamba2_mixer(inv, f"{lp}.mamba", i, h, ssm, proj_bias=cfg.bool("mamba_proj_bias", False),
                conv_bias=cfg.bool("mamba_conv_bias", True), out_bias=cfg.bool("projectors_bias", False),
                gated_norm=cfg.bool("mamba_rms_norm", False))
        dense_mlp_tensors(inv, f"{lp}.feed_forward", i, h, inter, bias=mlp_bias)
        inv.norm(f"{lp}.input_layernorm", h, i)
        inv.norm(f"{lp}.pre_ff_layernorm", h, i)
        layers.append(S.Layer(i, attn, S.MLP(S.MLP_DENSE, intermediate_size=inter), ssm))
    inv.norm("model.final_layernorm", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))


# --- Nemotron-H ----------------------------------------------------------------------------------
_NEMOTRON_BLOCKS = {"M": "mamba", "mamba": "mamba", "linear_attention": "mamba",
                    "*": "attention", "attention": "attention", "full_attention": "attention",
                    "-": "mlp", "mlp": "mlp", "E": "moe", "moe": "moe"}


def build_nemotron_h(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size")
    pattern = cfg.str("hybrid_override_pattern")
    listed = cfg.str_list("layers_block_type") or cfg.str_list("layer_types")
    blocks = listed if listed is not None else list(pattern or "")
    if not blocks:
        raise ConfigError(f"{cfg.where}: no 'hybrid_override_pattern' or 'layers_block_type' saying what each block is")
    unknown = sorted({b for b in blocks if b not in _NEMOTRON_BLOCKS})
    if unknown:
        raise ConfigError(f"{cfg.where}: unknown block type(s) {', '.join(map(repr, unknown))} in the layer pattern")
    n_h, n_kv, d = _gqa(cfg, h)
    # NemotronHConfig has head_dim (default 128, not hidden/heads); older configs name it attention_head_dim,
    # a key transformers v5.23 ignores (it then uses the default 128)
    d = cfg.int("head_dim", "attention_head_dim", default=128,
                assume="no 'head_dim': using the NemotronHConfig default 128")
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", False)
    m_heads = cfg.int("mamba_num_heads", default=128)
    m_head_dim = cfg.int("mamba_head_dim", default=64)
    ssm = S.SSM(S.SSM_MAMBA2, d_inner=m_heads * m_head_dim, d_state=cfg.int("ssm_state_size", default=128),
                d_conv=cfg.int("conv_kernel", "mamba_d_conv", default=4), num_heads=m_heads, head_dim=m_head_dim,
                n_groups=cfg.int("n_groups", "mamba_n_groups", default=8))
    mlp_bias = cfg.bool("mlp_bias", False)
    act = cfg.str("mlp_hidden_act", "relu2") or "relu2"
    inv = Inventory()
    inv.embeddings("model.embeddings", vocab, h, tied)
    layers = []
    for i, b in enumerate(blocks):
        kind = _NEMOTRON_BLOCKS[b]
        lp = f"model.layers.{i}"
        inv.norm(f"{lp}.norm", h, i)
        p = f"{lp}.mixer"
        attn = layer_ssm = None
        mlp = S.MLP(S.MLP_NONE)
        if kind == "mamba":
            layer_ssm = ssm
            mamba2_mixer(inv, p, i, h, ssm, proj_bias=cfg.bool("use_bias", False), conv_bias=cfg.bool("use_conv_bias", True),
                    out_bias=cfg.bool("use_bias", False), gated_norm=True)
        elif kind == "attention":
            attn = S.Attention(S.ATTN_FULL, n_h, n_kv, d)
            _attn(inv, p, i, h, n_h, n_kv, d)
        elif kind == "mlp":
            inter = cfg.int("intermediate_size")
            mlp = S.MLP(S.MLP_DENSE, intermediate_size=inter, gated=False, activation=act)
            dense_mlp_tensors(inv, p, i, h, inter, gated=False, bias=mlp_bias)
        else:
            if cfg.opt_int("moe_latent_size"):
                raise ConfigError(f"{cfg.where}: 'moe_latent_size' (latent expert projections) is not modelled")
            experts = cfg.int("n_routed_experts")
            i_e = cfg.int("moe_intermediate_size")
            shared = cfg.int("moe_shared_expert_intermediate_size", default=i_e)
            mlp = S.MLP(S.MLP_MOE, gated=False, activation=act, num_experts=experts,
                        top_k=cfg.int("num_experts_per_tok"), expert_intermediate_size=i_e,
                        num_shared_experts=1, shared_intermediate_size=shared)
            router(inv, f"{p}.gate", i, h, experts)
            dense_mlp_tensors(inv, f"{p}.experts", i, h, i_e, gated=False, experts=experts, active_experts=mlp.top_k)
            dense_mlp_tensors(inv, f"{p}.shared_experts", i, h, shared, gated=False, bias=mlp_bias)
        layers.append(S.Layer(i, attn, mlp, layer_ssm))
    inv.norm("model.norm_f", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))


# --- Granite 4.0 (granitemoehybrid) --------------------------------------------------------------
_GRANITE_MIXERS = {"mamba": "mamba", "linear_attention": "mamba", "attention": "attention", "full_attention": "attention"}


def build_granitemoehybrid(cfg: Cfg) -> TextModel:
    """``granitemoehybrid/modeling_granitemoehybrid.py`` (v5.23.0): per layer input / post-attention
    RMSNorms, a Mamba-2 mixer (width expand·h, ``mamba_n_heads``, head dim "auto" = width / heads, gated
    RMSNorm) or attention per ``layer_types`` (default all Mamba), then the MoE block
    (``block_sparse_moe``: router (E, h), experts gate_up (E, 2I, h) / down) when ``num_local_experts`` >
    0, always plus ``shared_mlp`` input_linear (2·S, h) / output_linear (h, S)."""
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    n_h, n_kv, d = _gqa(cfg, h)
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", False)
    types = cfg.str_list("layer_types", n_layers) or ["mamba"] * n_layers
    unknown = sorted({t for t in types if t not in _GRANITE_MIXERS})
    if unknown:
        raise ConfigError(f"{cfg.where}: unknown entry {unknown[0]!r} in 'layer_types'")
    d_in = cfg.int("mamba_expand", default=2) * h
    m_heads = cfg.int("mamba_n_heads", default=128)
    m_head = d_in // m_heads if cfg.raw("mamba_d_head", "auto") == "auto" else cfg.int("mamba_d_head")
    ssm = S.SSM(S.SSM_MAMBA2, d_inner=d_in, d_state=cfg.int("mamba_d_state", default=256),
                d_conv=cfg.int("mamba_d_conv", default=4), num_heads=m_heads, head_dim=m_head,
                n_groups=cfg.int("mamba_n_groups", default=1))
    experts = cfg.int("num_local_experts", default=8, minimum=0)
    inter = cfg.int("intermediate_size")
    shared = cfg.int("shared_intermediate_size", default=1024)
    bias = cfg.bool("attention_bias", False)
    proj_bias = cfg.bool("mamba_proj_bias", False)
    inv = Inventory()
    inv.embeddings("model.embed_tokens", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        lp = f"model.layers.{i}"
        inv.norm(f"{lp}.input_layernorm", h, i)
        inv.norm(f"{lp}.post_attention_layernorm", h, i)
        attn = layer_ssm = None
        if _GRANITE_MIXERS[types[i]] == "mamba":
            layer_ssm = ssm
            mamba2_mixer(inv, f"{lp}.mamba", i, h, ssm, proj_bias=proj_bias, conv_bias=cfg.bool("mamba_conv_bias", True),
                    out_bias=proj_bias, gated_norm=True)
        else:
            attn = S.Attention(S.ATTN_FULL, n_h, n_kv, d)
            _attn(inv, f"{lp}.self_attn", i, h, n_h, n_kv, d, bias=bias)
        if experts > 0:
            mlp = S.MLP(S.MLP_MOE, num_experts=experts, top_k=cfg.int("num_experts_per_tok", default=2),
                        expert_intermediate_size=inter, num_shared_experts=1, shared_intermediate_size=shared)
            router(inv, f"{lp}.block_sparse_moe.router", i, h, experts)
            dense_mlp_tensors(inv, f"{lp}.block_sparse_moe.experts", i, h, inter, fused_gate_up=True,
                              experts=experts, active_experts=mlp.top_k)
        else:
            mlp = S.MLP(S.MLP_DENSE, intermediate_size=shared)
        inv.linear(f"{lp}.shared_mlp.input_linear", 2 * shared, h, S.ROLE_FFN_GATE_UP, i)
        inv.linear(f"{lp}.shared_mlp.output_linear", h, shared, S.ROLE_FFN_DOWN, i)
        layers.append(S.Layer(i, attn, mlp, layer_ssm))
    inv.norm("model.norm", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))


# --- MiniMax-Text-01 (minimax) -------------------------------------------------------------------
def build_minimax(cfg: Cfg) -> TextModel:
    """``minimax/modeling_minimax.py`` (v5.23.0): ``layer_types`` (default: odd layers ``linear_attention``,
    ``MiniMaxConfig.__post_init__``). Lightning layers: qkv_proj (3·n·d, h), output_gate (n·d, h), RMSNorm
    (n·d), out_proj (h, n·d), and a cached state of (n, d, d) per sequence (``MiniMaxCache.linear_cache``,
    the running K^T·V); full layers: q/k/v/o with GQA. Every layer: input / post-attention RMSNorms and a
    MoE block (router ``gate`` (E, h), experts gate_up (E, 2I, h) / down (E, h, I))."""
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    n_h = cfg.int("num_attention_heads")
    n_kv = cfg.int("num_key_value_heads", default=n_h)
    if n_h % n_kv:
        raise ConfigError(f"{cfg.where}: num_attention_heads {n_h} is not a multiple of num_key_value_heads {n_kv}")
    d = cfg.opt_int("head_dim") or cfg.head_dim(h, n_h, "head_dim")
    vocab = cfg.int("vocab_size")
    tied = cfg.bool("tie_word_embeddings", False)
    types = cfg.str_list("layer_types", n_layers)
    if types is None:
        # MiniMax's own (remote-code) configs: attn_type_list, 0 = lightning, 1 = softmax attention
        codes = cfg.int_list("attn_type_list")
        if codes is not None:
            if len(codes) != n_layers:
                raise ConfigError(f"{cfg.where}: 'attn_type_list' has {len(codes)} entries but the model has {n_layers} layers")
            types = ["full_attention" if c else "linear_attention" for c in codes]
        else:
            types = ["full_attention" if (i + 1) % 2 else "linear_attention" for i in range(n_layers)]
    experts = cfg.int("num_local_experts")
    top_k = cfg.int("num_experts_per_tok")
    inter = cfg.int("intermediate_size")
    window = cfg.opt_int("sliding_window")
    lightning = S.SSM(S.SSM_LIGHTNING, d_inner=n_h * d, d_state=d, d_conv=1, num_heads=n_h, head_dim=d)
    inv = Inventory()
    inv.embeddings("model.embed_tokens", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        lp = f"model.layers.{i}"
        attn = layer_ssm = None
        if types[i] == "linear_attention":
            p = f"{lp}.self_attn"
            inv.linear(f"{p}.qkv_proj", 3 * n_h * d, h, S.ROLE_ATTN_QKV, i)
            inv.linear(f"{p}.output_gate", n_h * d, h, S.ROLE_ATTN_Q, i)
            inv.norm(f"{p}.norm", n_h * d, i)
            inv.linear(f"{p}.out_proj", h, n_h * d, S.ROLE_ATTN_O, i)
            layer_ssm = lightning
        elif types[i] == "full_attention":
            attn = (S.Attention(S.ATTN_SLIDING, n_h, n_kv, d, window=window) if window
                    else S.Attention(S.ATTN_FULL, n_h, n_kv, d))
            _attn(inv, f"{lp}.self_attn", i, h, n_h, n_kv, d)
        else:
            raise ConfigError(f"{cfg.where}: unknown entry {types[i]!r} in 'layer_types'")
        inv.norm(f"{lp}.input_layernorm", h, i)
        inv.norm(f"{lp}.post_attention_layernorm", h, i)
        mlp = S.MLP(S.MLP_MOE, num_experts=experts, top_k=top_k, expert_intermediate_size=inter)
        router(inv, f"{lp}.mlp.gate", i, h, experts)
        dense_mlp_tensors(inv, f"{lp}.mlp.experts", i, h, inter, fused_gate_up=True, experts=experts, active_experts=top_k)
        layers.append(S.Layer(i, attn, mlp, layer_ssm))
    inv.norm("model.norm", h)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))
