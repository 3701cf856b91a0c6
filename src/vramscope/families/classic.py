"""GPT-2-lineage decoders whose layout is not Llama's: gpt_bigcode, gpt_neox, falcon, phi.

Tensor shapes from the transformers v5.23.0 modelling files
(https://github.com/huggingface/transformers/tree/v5.23.0/src/transformers/models/):

* ``gpt_bigcode/modeling_gpt_bigcode.py`` (StarCoder, SantaCoder, OctoCoder): learned absolute
  positions ``transformer.wpe`` (n_positions, h); per block LayerNorm ``ln_1``/``ln_2`` (weight +
  bias), a fused ``attn.c_attn`` (h + 2·kv_dim, h) + bias with kv_dim = head_dim when
  ``multi_query`` (one K/V head, cached as one head: ``GPTBigCodeAttention.kv_heads``) else h,
  ``attn.c_proj`` (h, h) + bias, plain MLP ``c_fc`` (n_inner, h) / ``c_proj`` (h, n_inner) with
  biases, n_inner = 4·h when null; ``ln_f``; the head is tied by default.
* ``gpt_neox/modeling_gpt_neox.py`` (Pythia, GPT-NeoX-20B): ``embed_in``; per layer two
  LayerNorms, ``attention.query_key_value`` (3h, h) and ``attention.dense`` (h, h) with biases
  when ``attention_bias`` (default true), plain MLP ``dense_h_to_4h``/``dense_4h_to_h`` with
  biases; ``final_layer_norm``; an untied head by default. Rotary covers only
  ``rotary_pct`` of each head: it changes no tensor and no cache size.
* ``falcon/modeling_falcon.py``: fused ``query_key_value`` of (n_h + 2·n_kv)·d outputs for
  ``new_decoder_architecture`` (n_kv = ``num_kv_heads``), h + 2·d for ``multi_query`` (one KV
  head) and 3h otherwise; ``dense`` (h, h); MLP ``dense_h_to_4h`` (ffn, h) / ``dense_4h_to_h``;
  biases only when ``bias``. LayerNorms: ``input_layernorm`` + ``post_attention_layernorm``
  without ``parallel_attn``; ``ln_attn`` + ``ln_mlp`` when ``num_ln_in_parallel_attn`` is 2 (the
  default of the new architecture); else one ``input_layernorm``. Tied head by default. ALiBi
  adds no parameter.
* ``phi/modeling_phi.py`` (phi-1, phi-1.5, phi-2): q/k/v/``dense`` with biases, optional
  per-head LayerNorms ``q_layernorm``/``k_layernorm`` (``qk_layernorm``), plain MLP ``fc1``/``fc2``
  with biases, one LayerNorm per layer (attention and MLP in parallel), ``final_layernorm`` and an
  untied ``lm_head`` *with a bias*.
"""

from __future__ import annotations

from .. import spec as S
from ..errors import ConfigError
from ._build import Inventory
from ._config import Cfg
from .transformer import TextModel


def _heads(cfg: Cfg, h: int, n_heads: int) -> int:
    if h % n_heads:
        raise ConfigError(f"{cfg.where}: hidden size {h} is not divisible by {n_heads} attention heads")
    return h // n_heads


def _plain_mlp(inv: Inventory, prefix: str, i: int, h: int, inter: int, names: tuple[str, str], bias: bool) -> S.MLP:
    inv.linear(f"{prefix}.{names[0]}", inter, h, S.ROLE_FFN_UP, i, bias=bias)
    inv.linear(f"{prefix}.{names[1]}", h, inter, S.ROLE_FFN_DOWN, i, bias=bias)
    return S.MLP(S.MLP_DENSE, intermediate_size=inter, gated=False, activation="gelu")


def build_gpt_bigcode(cfg: Cfg) -> TextModel:
    h = cfg.int("n_embd", "hidden_size")
    n_layers = cfg.int("n_layer", "num_hidden_layers")
    n_heads = cfg.int("n_head", "num_attention_heads")
    d = _heads(cfg, h, n_heads)
    vocab = cfg.int("vocab_size")
    positions = cfg.int("n_positions", "max_position_embeddings", default=1024,
                        assume="no 'n_positions': using the GPTBigCodeConfig default 1024")
    inter = cfg.int("n_inner", default=4 * h)
    mqa = cfg.bool("multi_query", True)
    n_kv = 1 if mqa else n_heads
    tied = cfg.bool("tie_word_embeddings", True)
    inv = Inventory()
    inv.embeddings("transformer.wte", vocab, h, tied)
    inv.add("transformer.wpe.weight", (positions, h), S.ROLE_OTHER)
    layers = []
    for i in range(n_layers):
        p = f"transformer.h.{i}"
        inv.norm(f"{p}.ln_1", h, i, bias=True)
        inv.linear(f"{p}.attn.c_attn", h + 2 * n_kv * d, h, S.ROLE_ATTN_QKV, i, bias=True)
        inv.linear(f"{p}.attn.c_proj", h, h, S.ROLE_ATTN_O, i, bias=True)
        inv.norm(f"{p}.ln_2", h, i, bias=True)
        mlp = _plain_mlp(inv, f"{p}.mlp", i, h, inter, ("c_fc", "c_proj"), True)
        layers.append(S.Layer(i, S.Attention(S.ATTN_FULL, n_heads, n_kv, d), mlp))
    inv.norm("transformer.ln_f", h, bias=True)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, positions)


def build_gpt_neox(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    n_heads = cfg.int("num_attention_heads")
    d = _heads(cfg, h, n_heads)
    vocab = cfg.int("vocab_size")
    inter = cfg.int("intermediate_size")
    tied = cfg.bool("tie_word_embeddings", False)
    attn_bias = cfg.bool("attention_bias", True)
    inv = Inventory()
    inv.embeddings("gpt_neox.embed_in", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        p = f"gpt_neox.layers.{i}"
        inv.norm(f"{p}.input_layernorm", h, i, bias=True)
        inv.norm(f"{p}.post_attention_layernorm", h, i, bias=True)
        inv.linear(f"{p}.attention.query_key_value", 3 * h, h, S.ROLE_ATTN_QKV, i, bias=attn_bias)
        inv.linear(f"{p}.attention.dense", h, h, S.ROLE_ATTN_O, i, bias=attn_bias)
        mlp = _plain_mlp(inv, f"{p}.mlp", i, h, inter, ("dense_h_to_4h", "dense_4h_to_h"), True)
        layers.append(S.Layer(i, S.Attention(S.ATTN_FULL, n_heads, n_heads, d), mlp))
    inv.norm("gpt_neox.final_layer_norm", h, bias=True)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))


def build_falcon(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size", "n_embed")
    n_layers = cfg.int("num_hidden_layers", "n_layer")
    n_heads = cfg.int("num_attention_heads", "n_head")
    d = _heads(cfg, h, n_heads)
    vocab = cfg.int("vocab_size")
    new_arch = cfg.bool("new_decoder_architecture", False)
    mqa = cfg.bool("multi_query", True)
    parallel = cfg.bool("parallel_attn", True)
    bias = cfg.bool("bias", False)
    tied = cfg.bool("tie_word_embeddings", True)
    ffn = cfg.int("ffn_hidden_size", default=4 * h)
    if new_arch:
        n_kv = cfg.int("num_kv_heads", "n_head_kv", default=n_heads)
    elif mqa:
        n_kv = 1
    else:
        n_kv = n_heads
    if n_heads % n_kv:
        raise ConfigError(f"{cfg.where}: {n_heads} attention heads are not a multiple of {n_kv} KV heads")
    n_ln = cfg.opt_int("num_ln_in_parallel_attn") or (2 if new_arch else 1)
    inv = Inventory()
    inv.embeddings("transformer.word_embeddings", vocab, h, tied)
    layers = []
    for i in range(n_layers):
        p = f"transformer.h.{i}"
        inv.linear(f"{p}.self_attention.query_key_value", (n_heads + 2 * n_kv) * d, h, S.ROLE_ATTN_QKV, i,
                   bias=bias)
        inv.linear(f"{p}.self_attention.dense", h, h, S.ROLE_ATTN_O, i, bias=bias)
        mlp = _plain_mlp(inv, f"{p}.mlp", i, h, ffn, ("dense_h_to_4h", "dense_4h_to_h"), bias)
        if not parallel:
            norms = ("input_layernorm", "post_attention_layernorm")
        elif n_ln == 2:
            norms = ("ln_attn", "ln_mlp")
        else:
            norms = ("input_layernorm",)
        for norm in norms:
            inv.norm(f"{p}.{norm}", h, i, bias=True)
        layers.append(S.Layer(i, S.Attention(S.ATTN_FULL, n_heads, n_kv, d), mlp))
    inv.norm("transformer.ln_f", h, bias=True)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))


def build_phi(cfg: Cfg) -> TextModel:
    h = cfg.int("hidden_size")
    n_layers = cfg.int("num_hidden_layers")
    n_heads = cfg.int("num_attention_heads")
    n_kv = cfg.int("num_key_value_heads", default=n_heads)
    d = cfg.head_dim(h, n_heads)
    vocab = cfg.int("vocab_size")
    inter = cfg.int("intermediate_size")
    tied = cfg.bool("tie_word_embeddings", False)
    qk_ln = cfg.bool("qk_layernorm", False)
    inv = Inventory()
    inv.embeddings("model.embed_tokens", vocab, h, tied)
    inv.add("lm_head.bias", (vocab,), S.ROLE_BIAS)  # PhiForCausalLM: Linear(h, V, bias=True), tied or not
    layers = []
    for i in range(n_layers):
        p = f"model.layers.{i}"
        inv.norm(f"{p}.input_layernorm", h, i, bias=True)
        a = f"{p}.self_attn"
        inv.linear(f"{a}.q_proj", n_heads * d, h, S.ROLE_ATTN_Q, i, bias=True)
        inv.linear(f"{a}.k_proj", n_kv * d, h, S.ROLE_ATTN_K, i, bias=True)
        inv.linear(f"{a}.v_proj", n_kv * d, h, S.ROLE_ATTN_V, i, bias=True)
        inv.linear(f"{a}.dense", h, n_heads * d, S.ROLE_ATTN_O, i, bias=True)
        if qk_ln:
            inv.norm(f"{a}.q_layernorm", d, i, bias=True)
            inv.norm(f"{a}.k_layernorm", d, i, bias=True)
        mlp = _plain_mlp(inv, f"{p}.mlp", i, h, inter, ("fc1", "fc2"), True)
        layers.append(S.Layer(i, S.Attention(S.ATTN_FULL, n_heads, n_kv, d), mlp))
    inv.norm("model.final_layernorm", h, bias=True)
    return TextModel(tuple(layers), inv.tensors, h, vocab, tied, cfg.opt_int("max_position_embeddings"))
