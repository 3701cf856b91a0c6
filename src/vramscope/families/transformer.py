"""Decoder-only transformer families read from HF ``config.json``.

Covers llama, mistral, qwen2, qwen3, gemma, gemma2, gemma3(_text), phi3, glm, glm4, chatglm,
mixtral, qwen2_moe, qwen3_moe, gpt_oss, starcoder2, olmo2, olmoe, granite, granitemoe(shared), cohere,
cohere2 and a generic Llama-like fallback (GPT-2-lineage layouts are in ``classic.py``, hybrids in
``hybrid.py``). Each family is a
:class:`Style` (how its tensors are laid out, which defaults its transformers config class uses);
:func:`build_decoder` turns a config plus a style into layers and a tensor inventory.

The tensor layouts follow the transformers modelling files of each family (v5.23); counts are
checked in the tests against transformers' own meta-device counts and published figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .. import spec as S
from ..errors import ConfigError
from ._build import AttnStyle, Inventory, attention_tensors, dense_mlp_tensors, routed_experts, router
from ._config import Cfg


@dataclass(frozen=True)
class TextModel:
    """What a family reader produces for the language-model part of a checkpoint."""

    layers: tuple[S.Layer, ...]
    tensors: list[S.Tensor]
    hidden_size: int
    vocab_size: int
    tied: bool
    max_position_embeddings: int | None


@dataclass(frozen=True)
class Style:
    """Layout switches of one family (see the module docstring)."""

    norms: tuple[str, ...] = ("input_layernorm", "post_attention_layernorm")
    attn: AttnStyle = field(default_factory=AttnStyle)
    fused_gate_up: bool = False
    mlp_bias_key: str | None = "mlp_bias"  # config key enabling MLP biases, if the family has one
    attention_bias_default: bool = False
    tied_default: bool = False
    activation_default: str = "silu"
    head_dim_key: str = "head_dim"
    # sliding windows: "none" | "mistral" (all layers when sliding_window set) | "qwen2"
    # (use_sliding_window + max_window_layers) | "gemma2" (alternating) | "gemma3" (pattern) |
    # "layer_types" (only an explicit layer_types list)
    sliding: str = "none"
    sliding_default: int | None = None
    sliding_pattern_default: int = 6  # "gemma3": every n-th layer is full (Cohere 2: 4)
    # MoE layout: None | "mixtral" | "qwen2_moe" | "qwen3_moe" | "gpt_oss" | "olmoe" | "granitemoe"
    moe: str | None = None
    norm_bias: bool = False  # LayerNorm with bias (StarCoder 2) instead of RMSNorm
    plain_mlp: tuple[str, str] | None = None  # ungated MLP (up, down) names: StarCoder 2's c_fc / c_proj
    bias_key: str | None = None  # one key for biases on q/k/v/o and the MLP (StarCoder 2 use_bias, default true)
    # transformers config-class defaults for keys a config.json may leave out (Gemma's nested
    # text_config often omits head_dim, heads, kv heads)
    defaults: dict = field(default_factory=dict)


def _layer_kinds(cfg: Cfg, style: Style, n_layers: int) -> list[tuple[str, int | None]]:
    """Attention kind (full / sliding) and window per layer, following each config class's rule."""
    explicit = cfg.str_list("layer_types", n_layers)
    window = cfg.opt_int("sliding_window")
    if explicit is not None:
        kinds = []
        for t in explicit:
            if t in ("sliding_attention", "local_attention"):
                if window is None:
                    window = cfg.int("sliding_window", default=style.sliding_default or 4096,
                                     assume="layer_types has sliding layers but no sliding_window; using the family default")
                kinds.append((S.ATTN_SLIDING, window))
            elif t in ("full_attention", "attention", "global_attention"):
                kinds.append((S.ATTN_FULL, None))
            elif t == "chunked_attention":
                kinds.append((S.ATTN_CHUNKED, cfg.int("attention_chunk_size")))
            else:
                raise ConfigError(f"{cfg.where}: unknown entry {t!r} in 'layer_types'")
        return kinds
    full = [(S.ATTN_FULL, None)] * n_layers
    if style.sliding == "mistral":
        return [(S.ATTN_SLIDING, window)] * n_layers if window else full
    if style.sliding == "qwen2":
        if not cfg.bool("use_sliding_window", False):
            return full
        window = window or style.sliding_default or 4096
        first = cfg.int("max_window_layers", default=28, minimum=0)
        return [(S.ATTN_SLIDING, window) if i >= first else (S.ATTN_FULL, None) for i in range(n_layers)]
    if style.sliding == "gemma2":
        window = window or style.sliding_default
        return [(S.ATTN_SLIDING, window) if (i + 1) % 2 else (S.ATTN_FULL, None) for i in range(n_layers)]
    if style.sliding == "gemma3":
        window = window or style.sliding_default
        pattern = cfg.int("sliding_window_pattern", "_sliding_window_pattern", default=style.sliding_pattern_default)
        return [(S.ATTN_SLIDING, window) if (i + 1) % pattern else (S.ATTN_FULL, None) for i in range(n_layers)]
    if style.sliding == "phi3" and window:
        return [(S.ATTN_SLIDING, window)] * n_layers
    return full


def _moe_for_layer(cfg: Cfg, style: Style, i: int, dense_inter: int, gated: bool, act: str) -> S.MLP:
    """The MLP of layer ``i``: a MoE block or, for the family's dense layers, a dense MLP."""
    dense = S.MLP(S.MLP_DENSE, intermediate_size=dense_inter, gated=gated, activation=act)
    if style.moe == "olmoe":
        return S.MLP(S.MLP_MOE, gated=True, activation=act, num_experts=cfg.int("num_experts"),
                     top_k=cfg.int("num_experts_per_tok"), expert_intermediate_size=dense_inter)
    if style.moe == "granitemoe":
        shared = cfg.int("shared_intermediate_size", default=0, minimum=0)
        return S.MLP(S.MLP_MOE, gated=True, activation=act, num_experts=cfg.int("num_local_experts"),
                     top_k=cfg.int("num_experts_per_tok"), expert_intermediate_size=dense_inter,
                     num_shared_experts=1 if shared else 0, shared_intermediate_size=shared)
    if style.moe == "mixtral":
        return S.MLP(S.MLP_MOE, gated=True, activation=act,
                     num_experts=cfg.int("num_local_experts"), top_k=cfg.int("num_experts_per_tok"),
                     expert_intermediate_size=dense_inter)
    if style.moe == "gpt_oss":
        return S.MLP(S.MLP_MOE, gated=True, activation=act,
                     num_experts=cfg.int("num_local_experts"),
                     top_k=cfg.int("num_experts_per_tok", "experts_per_token"),
                     expert_intermediate_size=dense_inter)
    if style.moe in ("qwen2_moe", "qwen3_moe"):
        experts = cfg.int("num_experts", minimum=0)
        step = cfg.int("decoder_sparse_step", default=1)
        dense_only = set(cfg.int_list("mlp_only_layers") or [])
        if i in dense_only or experts == 0 or (i + 1) % step:
            return dense
        shared = 0
        if style.moe == "qwen2_moe":
            shared = cfg.int("shared_expert_intermediate_size", minimum=0)
        return S.MLP(S.MLP_MOE, gated=True, activation=act, num_experts=experts,
                     top_k=cfg.int("num_experts_per_tok"),
                     expert_intermediate_size=cfg.int("moe_intermediate_size"),
                     num_shared_experts=1 if shared else 0, shared_intermediate_size=shared)
    return dense


def _moe_tensors(inv: Inventory, style: Style, prefix: str, i: int, h: int, mlp: S.MLP) -> None:
    """Router, routed experts and shared expert of one MoE block, named as each family names them."""
    if style.moe == "mixtral":
        router(inv, f"{prefix}.gate", i, h, mlp.num_experts)
        routed_experts(inv, f"{prefix}.experts", i, h, mlp)
    elif style.moe == "olmoe":
        # OlmoeTopKRouter weight (E, h); OlmoeExperts gate_up_proj (E, 2I, h), down_proj (E, h, I)
        router(inv, f"{prefix}.gate", i, h, mlp.num_experts)
        routed_experts(inv, f"{prefix}.experts", i, h, mlp, fused_gate_up=True)
    elif style.moe == "granitemoe":
        # GraniteMoeTopKRouter weight (E, h); experts gate_up_proj (E, 2I, h), down_proj (E, h, I);
        # GraniteMoeShared adds shared_mlp input_linear (2·S, h) / output_linear (h, S)
        router(inv, f"{prefix}.router", i, h, mlp.num_experts)
        routed_experts(inv, f"{prefix}.experts", i, h, mlp, fused_gate_up=True)
        if mlp.shared_intermediate_size:
            shared = prefix.rsplit(".", 1)[0] + ".shared_mlp"
            inv.linear(f"{shared}.input_linear", 2 * mlp.shared_intermediate_size, h, S.ROLE_FFN_GATE_UP, i)
            inv.linear(f"{shared}.output_linear", h, mlp.shared_intermediate_size, S.ROLE_FFN_DOWN, i)
    elif style.moe == "gpt_oss":
        # GptOssTopKRouter: weight (E, h) + bias (E); experts: fused gate_up (E, 2I, h) with bias,
        # down (E, h, I) with bias (transformers stores them transposed; the count is the same).
        router(inv, f"{prefix}.router", i, h, mlp.num_experts, bias=True)
        routed_experts(inv, f"{prefix}.experts", i, h, mlp, bias=True, fused_gate_up=True)
    elif style.moe in ("qwen2_moe", "qwen3_moe"):
        router(inv, f"{prefix}.gate", i, h, mlp.num_experts)
        routed_experts(inv, f"{prefix}.experts", i, h, mlp)
        if mlp.shared_intermediate_size:
            dense_mlp_tensors(inv, f"{prefix}.shared_expert", i, h, mlp.shared_intermediate_size)
            # sigmoid gate on the shared expert: Linear(h, 1, bias=False)
            inv.add(f"{prefix}.shared_expert_gate.weight", (1, h), S.ROLE_ROUTER, i, quantisable=False)


def build_decoder(cfg: Cfg, style: Style, *, prefix: str = "model", head: str = "lm_head") -> TextModel:
    """Layers and tensors of a decoder-only transformer described by ``cfg`` in ``style``."""
    if style.defaults:
        cfg = cfg.with_defaults(style.defaults, cfg.str("model_type") or "family")
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    n_heads = cfg.int("num_attention_heads")
    n_kv = cfg.int("num_key_value_heads", default=n_heads)
    if n_heads % n_kv:
        raise ConfigError(
            f"{cfg.where}: num_attention_heads {n_heads} is not a multiple of num_key_value_heads {n_kv}"
        )
    head_dim = cfg.head_dim(h, n_heads, style.head_dim_key)
    vocab = cfg.int("vocab_size")
    inter = cfg.int("intermediate_size")
    tied = cfg.bool("tie_word_embeddings", style.tied_default)
    act = cfg.str("hidden_act", None) or cfg.str("hidden_activation", style.activation_default)
    gated = True
    attn_bias = cfg.bool("attention_bias", style.attention_bias_default)
    attn_style = style.attn
    if attn_bias and not attn_style.qkv_bias:
        # Llama-style `attention_bias`: biases on q, k, v and o.
        attn_style = replace(attn_style, qkv_bias=True, o_bias=True)
    mlp_bias = cfg.bool(style.mlp_bias_key, False) if style.mlp_bias_key else False
    if style.bias_key:
        mlp_bias = cfg.bool(style.bias_key, True)
        attn_style = replace(attn_style, qkv_bias=mlp_bias, o_bias=mlp_bias)
    if attn_style.qk_norm_key:
        attn_style = replace(attn_style, qk_norm=cfg.bool(attn_style.qk_norm_key, False))
    if style.plain_mlp:
        gated = False
    moe_name = "block_sparse_moe" if style.moe == "granitemoe" else "mlp"

    kinds = _layer_kinds(cfg, style, n_layers)
    inv = Inventory()
    inv.embeddings(f"{prefix}.embed_tokens", vocab, h, tied, head)
    layers: list[S.Layer] = []
    for i in range(n_layers):
        kind, window = kinds[i]
        attn = S.Attention(kind=kind, num_heads=n_heads, num_kv_heads=n_kv, head_dim=head_dim,
                           window=window if kind == S.ATTN_SLIDING else None,
                           chunk=window if kind == S.ATTN_CHUNKED else None)
        lp = f"{prefix}.layers.{i}"
        for norm in style.norms:
            inv.norm(f"{lp}.{norm}", h, i, bias=style.norm_bias)
        attention_tensors(inv, f"{lp}.self_attn", i, h, attn, attn_style)
        mlp = _moe_for_layer(cfg, style, i, inter, gated, act)
        if mlp.kind == S.MLP_MOE:
            _moe_tensors(inv, style, f"{lp}.{moe_name}", i, h, mlp)
        elif style.plain_mlp:
            up, down = style.plain_mlp
            inv.linear(f"{lp}.mlp.{up}", inter, h, S.ROLE_FFN_UP, i, bias=mlp_bias)
            inv.linear(f"{lp}.mlp.{down}", h, inter, S.ROLE_FFN_DOWN, i, bias=mlp_bias)
        else:
            dense_mlp_tensors(inv, f"{lp}.mlp", i, h, mlp.intermediate_size, gated=gated, bias=mlp_bias,
                              fused_gate_up=style.fused_gate_up)
        layers.append(S.Layer(index=i, attention=attn, mlp=mlp))
    inv.norm(f"{prefix}.norm", h, bias=style.norm_bias)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied,
                     cfg.opt_int("max_position_embeddings"))


def build_chatglm(cfg: Cfg) -> TextModel:
    """ChatGLM / GLM-4 remote-code format (``model_type: chatglm``, e.g. THUDM/glm-4-9b-chat).

    transformer.embedding.word_embeddings (V, h); per layer: input_layernorm, self_attention.
    query_key_value (h + 2·groups·kv_channels, h) with bias when ``add_qkv_bias``, dense (h, h),
    post_attention_layernorm, mlp.dense_h_to_4h (2·ffn, h), mlp.dense_4h_to_h (h, ffn);
    final_layernorm; output_layer (V, h). V is ``padded_vocab_size``.
    """
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_layers", "num_hidden_layers")
    n_heads = cfg.int("num_attention_heads")
    multi_query = cfg.bool("multi_query_attention", False)
    n_kv = cfg.int("multi_query_group_num") if multi_query else n_heads
    head_dim = cfg.int("kv_channels", default=h // n_heads)
    vocab = cfg.int("padded_vocab_size", "vocab_size")
    ffn = cfg.int("ffn_hidden_size")
    qkv_bias = cfg.bool("add_qkv_bias", False)
    linear_bias = cfg.bool("add_bias_linear", False)
    layernorm = not cfg.bool("rmsnorm", True)
    tied = cfg.bool("tie_word_embeddings", False)
    inv = Inventory()
    inv.embeddings("transformer.embedding.word_embeddings", vocab, h, tied, "transformer.output_layer")
    layers = []
    for i in range(n_layers):
        attn = S.Attention(S.ATTN_FULL, n_heads, n_kv, head_dim)
        lp = f"transformer.encoder.layers.{i}"
        inv.norm(f"{lp}.input_layernorm", h, i, bias=layernorm)
        attention_out = n_heads * head_dim
        inv.linear(f"{lp}.self_attention.query_key_value", attention_out + 2 * n_kv * head_dim, h,
                   S.ROLE_ATTN_QKV, i, bias=qkv_bias or linear_bias)
        inv.linear(f"{lp}.self_attention.dense", h, attention_out, S.ROLE_ATTN_O, i, bias=linear_bias)
        inv.norm(f"{lp}.post_attention_layernorm", h, i, bias=layernorm)
        inv.linear(f"{lp}.mlp.dense_h_to_4h", 2 * ffn, h, S.ROLE_FFN_GATE_UP, i, bias=linear_bias)
        inv.linear(f"{lp}.mlp.dense_4h_to_h", h, ffn, S.ROLE_FFN_DOWN, i, bias=linear_bias)
        layers.append(S.Layer(i, attn, S.MLP(S.MLP_DENSE, intermediate_size=ffn, gated=True, activation="swiglu")))
    if cfg.bool("post_layer_norm", True):
        inv.norm("transformer.encoder.final_layernorm", h, bias=layernorm)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied,
                     cfg.opt_int("seq_length", "max_position_embeddings"))


_QWEN2 = AttnStyle(qkv_bias=True)

# Defaults of transformers' GemmaConfig / Gemma2Config / Gemma3TextConfig (v5.23) for the
# architecture keys; Gemma 3's multimodal configs leave most of them out of text_config.
_GEMMA_DEFAULTS = {"vocab_size": 256000, "num_attention_heads": 16, "num_key_value_heads": 16, "head_dim": 256}
_GEMMA2_DEFAULTS = {"vocab_size": 256000, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                    "sliding_window": 4096}
_GEMMA3_DEFAULTS = {"vocab_size": 262208, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                    "sliding_window": 4096, "max_position_embeddings": 131072}

#: model_type → layout of the standard decoder families.
STYLES: dict[str, Style] = {
    "llama": Style(),
    "mistral": Style(sliding="mistral", mlp_bias_key=None),
    "qwen2": Style(attn=_QWEN2, sliding="qwen2", mlp_bias_key=None),
    "qwen3": Style(attn=AttnStyle(qk_norm=True), sliding="qwen2", mlp_bias_key=None),
    "gemma": Style(tied_default=True, activation_default="gelu_pytorch_tanh", mlp_bias_key=None,
                   defaults=_GEMMA_DEFAULTS),
    "gemma2": Style(norms=("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                           "post_feedforward_layernorm"),
                    tied_default=True, activation_default="gelu_pytorch_tanh", sliding="gemma2",
                    sliding_default=4096, mlp_bias_key=None, defaults=_GEMMA2_DEFAULTS),
    "gemma3_text": Style(norms=("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                                "post_feedforward_layernorm"),
                         attn=AttnStyle(qk_norm=True), tied_default=True,
                         activation_default="gelu_pytorch_tanh", sliding="gemma3", sliding_default=4096,
                         mlp_bias_key=None, defaults=_GEMMA3_DEFAULTS),
    "phi3": Style(attn=AttnStyle(fused_qkv=True), fused_gate_up=True, sliding="phi3", mlp_bias_key=None),
    "glm": Style(attn=_QWEN2, fused_gate_up=True, attention_bias_default=True, mlp_bias_key=None),
    "glm4": Style(norms=("input_layernorm", "post_self_attn_layernorm", "post_attention_layernorm",
                         "post_mlp_layernorm"),
                  attn=_QWEN2, fused_gate_up=True, attention_bias_default=True, mlp_bias_key=None),
    "mixtral": Style(sliding="mistral", moe="mixtral", mlp_bias_key=None),
    "qwen2_moe": Style(attn=_QWEN2, sliding="qwen2", moe="qwen2_moe", mlp_bias_key=None),
    "qwen3_moe": Style(attn=AttnStyle(qk_norm=True), sliding="qwen2", moe="qwen3_moe", mlp_bias_key=None),
    "gpt_oss": Style(attn=AttnStyle(qkv_bias=True, o_bias=True, sinks=True), moe="gpt_oss",
                     attention_bias_default=True, sliding="layer_types", mlp_bias_key=None),
}

# transformers v5.23.0 (https://github.com/huggingface/transformers/tree/v5.23.0/src/transformers/models/):
# starcoder2/modeling_starcoder2.py: LayerNorms with bias, q/k/v/o and an ungated c_fc/c_proj MLP with
#   biases when use_bias (default true), tied head by default, sliding_window on every layer;
# olmo2/modeling_olmo2.py: no input norm, post_attention + post_feedforward RMSNorms, q_norm (n_h·d) and
#   k_norm (n_kv·d); olmoe/modeling_olmoe.py: input + post_attention norms, q_norm (h), k_norm (n_kv·d),
#   every layer a MoE of num_experts experts of width intermediate_size;
# granite/modeling_granite.py: Llama's layout (its multipliers scale activations, not tensors);
# granitemoe(shared)/modeling_*.py: block_sparse_moe.router (E, h), experts gate_up (E, 2I, h) / down,
#   optional shared_mlp of width shared_intermediate_size;
# cohere/modeling_cohere.py: one LayerNorm (weight only) per layer, attention and MLP in parallel, tied
#   head, per-head q/k LayerNorms when use_qk_norm; cohere2: the same with every 4th layer full
#   attention and the others sliding (Cohere2Config: sliding_window_pattern 4, sliding_window 4096).
_COHERE_NORMS = ("input_layernorm",)
STYLES.update({
    "starcoder2": Style(norm_bias=True, plain_mlp=("c_fc", "c_proj"), bias_key="use_bias", tied_default=True,
                        activation_default="gelu_pytorch_tanh", sliding="mistral", mlp_bias_key=None),
    "olmo2": Style(norms=("post_attention_layernorm", "post_feedforward_layernorm"),
                   attn=AttnStyle(qk_norm=True, qk_norm_all_heads=True)),
    "olmoe": Style(attn=AttnStyle(qk_norm=True, qk_norm_all_heads=True), moe="olmoe", mlp_bias_key=None),
    "granite": Style(),
    "granitemoe": Style(moe="granitemoe", mlp_bias_key=None),
    "granitemoeshared": Style(moe="granitemoe", mlp_bias_key=None),
    "cohere": Style(norms=_COHERE_NORMS, attn=AttnStyle(qk_norm_all_heads=True, qk_norm_key="use_qk_norm"),
                    tied_default=True, mlp_bias_key=None),
    "cohere2": Style(norms=_COHERE_NORMS, tied_default=True, sliding="gemma3", sliding_default=4096,
                     sliding_pattern_default=4, mlp_bias_key=None),
})

# model_types whose layout is one of the above.
ALIASES = {"yi": "llama"}

#: family readers that are not a plain Style.
SPECIAL: dict[str, Callable[[Cfg], TextModel]] = {"chatglm": build_chatglm}
