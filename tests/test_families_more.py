"""The families added for issue 17: KV bytes per token derived by hand from each config, layer
structure, published / hub counts, library defaults and bad input.

Every expected number below is written out from the config values (the test reads the catalog
config and does the arithmetic itself), not taken from the package's own formulas.
"""

from __future__ import annotations

import pytest

from conftest import catalog_config
from vramscope import spec as S
from vramscope.errors import UnsupportedModelError
from vramscope.estimators.engines import ENGINES
from vramscope.estimators.kv import kv_bytes_per_token, kv_groups, ssm_state_bytes
from vramscope.families import SUPPORTED, spec_from_config
from vramscope.families.defaults import hf_defaults

BF16 = 2  # bytes per cached element with --kv-dtype bf16
VLLM = ENGINES["vllm"].kv  # the KV policy of the engine the figures are for


def spec_of(stem: str) -> S.ModelSpec:
    return spec_from_config(catalog_config(stem), model_id=stem)


def kv_per_token(stem: str, engine: str = "vllm") -> float:
    return kv_bytes_per_token(spec_of(stem), ENGINES[engine].kv, kv_dtype="bf16")


# --- KV bytes per token: 2 (K and V) × layers × KV heads × head_dim × 2 bytes ------------------------
def test_gpt_bigcode_multi_query_caches_one_head():
    c = catalog_config("bigcode__octocoder")
    d = c["n_embd"] // c["n_head"]  # 6144 / 48 = 128
    assert kv_per_token("bigcode__octocoder") == 2 * c["n_layer"] * 1 * d * BF16 == 20_480
    c = catalog_config("bigcode__gpt_bigcode-santacoder")
    assert kv_per_token("bigcode__gpt_bigcode-santacoder") == 2 * 24 * 1 * (2048 // 16) * BF16 == 12_288
    # learned absolute positions: n_positions × h parameters
    pos = [t for t in spec_of("bigcode__octocoder").tensors if t.name == "transformer.wpe.weight"]
    assert pos[0].shape == (8192, 6144)


def test_gpt_bigcode_without_multi_query_caches_every_head():
    config = {**catalog_config("bigcode__gpt_bigcode-santacoder"), "multi_query": False}
    spec = spec_from_config(config, model_id="mha")
    assert kv_bytes_per_token(spec, VLLM, kv_dtype="bf16") == 2 * 24 * 16 * 128 * BF16


def test_starcoder2_sliding_window_on_every_layer():
    c = catalog_config("bigcode__starcoder2-7b")
    d = c["hidden_size"] // c["num_attention_heads"]  # 4608 / 36 = 128
    assert kv_per_token("bigcode__starcoder2-7b") == 2 * 32 * c["num_key_value_heads"] * d * BF16 == 65_536
    groups = kv_groups(spec_of("bigcode__starcoder2-7b"), VLLM, "bf16")
    assert [(g.kind, g.layers, g.window) for g in groups] == [("sliding", 32, 4096)]


def test_gpt_neox_full_heads_and_rotary_fraction_changes_nothing():
    c = catalog_config("EleutherAI__pythia-6.9b")
    assert kv_per_token("EleutherAI__pythia-6.9b") == 2 * 32 * 32 * (4096 // 32) * BF16 == 524_288
    # rotary_pct (0.25) rotates part of each head; the cache still holds whole heads
    other = spec_from_config({**c, "rotary_pct": 1.0}, model_id="x")
    assert kv_bytes_per_token(other, VLLM, kv_dtype="bf16") == 524_288


def test_falcon_multi_query_and_new_decoder_architecture():
    assert kv_per_token("tiiuae__falcon-7b") == 2 * 32 * 1 * (4544 // 71) * BF16 == 8_192
    # new decoder architecture: num_kv_heads (8) groups of 128 query heads, head_dim 8192/128
    assert kv_per_token("tiiuae__falcon-40b") == 2 * 60 * 8 * 64 * BF16 == 122_880
    # falcon-40b fused qkv: (128 + 2·8)·64 outputs
    qkv = [t for t in spec_of("tiiuae__falcon-40b").tensors if t.name == "transformer.h.0.self_attention.query_key_value.weight"]
    assert qkv[0].shape == ((128 + 16) * 64, 8192)


def test_phi2_partial_rotary_dense_biases():
    c = catalog_config("microsoft__phi-2")
    assert kv_per_token("microsoft__phi-2") == 2 * c["num_hidden_layers"] * 32 * (2560 // 32) * BF16 == 327_680
    h, V, I, L = 2560, 51200, 10240, 32
    per_layer = 4 * (h * h + h) + (h * I + I) + (I * h + h) + 2 * h  # q,k,v,dense + fc1 + fc2 + one LayerNorm
    assert spec_of("microsoft__phi-2").params_total == L * per_layer + 2 * V * h + V + 2 * h == 2_779_683_840


def test_olmo2_and_olmoe():
    assert kv_per_token("allenai__OLMo-2-1124-7B") == 2 * 32 * 32 * 128 * BF16 == 524_288
    assert kv_per_token("allenai__OLMo-2-0325-32B") == 2 * 64 * 8 * 128 * BF16 == 262_144
    assert kv_per_token("allenai__OLMoE-1B-7B-0924") == 2 * 16 * 16 * 128 * BF16 == 131_072
    spec = spec_of("allenai__OLMoE-1B-7B-0924")
    # the hub's full tensor count and its active share (code index id 70181782850)
    assert (spec.params_total, spec.params_active) == (6_919_161_856, 1_282_017_280)


def test_granite_dense_and_moe():
    assert kv_per_token("ibm-granite__granite-3.1-8b-instruct") == 2 * 40 * 8 * (4096 // 32) * BF16 == 163_840
    assert kv_per_token("ibm-granite__granite-3.1-3b-a800m-instruct") == 2 * 32 * 8 * (1536 // 24) * BF16 == 65_536
    spec = spec_of("ibm-granite__granite-3.1-3b-a800m-instruct")
    h, I, E, k, L, V = 1536, 512, 40, 8, 32, 49155
    attn = h * h + 2 * h * 512 + h * h
    expert_all, expert_active = E * 3 * h * I, k * 3 * h * I
    common = L * (attn + h * E + 2 * h) + V * h + h  # router, two norms, tied embedding, final norm
    assert (spec.params_total, spec.params_active) == (common + L * expert_all, common + L * expert_active)


def test_cohere_and_cohere2_interleave():
    assert kv_per_token("CohereForAI__c4ai-command-r-v01") == 2 * 40 * 64 * 128 * BF16 == 1_310_720
    spec = spec_of("CohereForAI__c4ai-command-r7b-12-2024")
    kinds = [layer.attention.kind for layer in spec.layers]
    assert kinds == (["sliding"] * 3 + ["full"]) * 8  # sliding_window_pattern 4: every 4th layer full
    groups = {(g.kind, g.window): (g.layers, g.bytes_per_token) for g in kv_groups(spec, VLLM, "bf16")}
    per_layer = 2 * 8 * 128 * BF16
    assert groups == {("sliding", 4096): (24, 24 * per_layer), ("full", None): (8, 8 * per_layer)}
    # Command R: parallel attention and MLP behind one weight-only LayerNorm, tied head
    h, I, V, L = 8192, 22528, 256000, 40
    assert spec_of("CohereForAI__c4ai-command-r-v01").params_total == L * (4 * h * h + 3 * h * I + h) + V * h + h


def test_llama4_chunked_nope_layers_and_interleaved_moe():
    spec = spec_of("meta-llama__Llama-4-Scout-17B-16E-Instruct")
    c = catalog_config("meta-llama__Llama-4-Scout-17B-16E-Instruct")["text_config"]
    kinds = [layer.attention.kind for layer in spec.layers]
    assert kinds == (["chunked"] * 3 + ["full"]) * 12  # NoPE (full) every 4th layer
    assert {layer.attention.chunk for layer in spec.layers if layer.attention.kind == "chunked"} == {8192}
    per_layer = 2 * c["num_key_value_heads"] * c["head_dim"] * BF16  # 4,096 B
    assert kv_bytes_per_token(spec, VLLM, kv_dtype="bf16") == 48 * per_layer
    groups = {(g.kind, g.window): g.layers for g in kv_groups(spec, VLLM, "bf16")}
    assert groups == {("chunked", 8192): 36, ("full", None): 12}
    # every Scout layer is MoE (16 experts, top-1, shared expert); Maverick alternates dense and MoE
    assert all(layer.mlp.kind == "moe" and layer.mlp.shared_intermediate_size == 8192 for layer in spec.layers)
    maverick = spec_of("meta-llama__Llama-4-Maverick-17B-128E-Instruct")
    assert [layer.mlp.kind for layer in maverick.layers[:4]] == ["dense", "moe", "dense", "moe"]
    with_vision = {**catalog_config("meta-llama__Llama-4-Scout-17B-16E-Instruct"), "vision_config": {"hidden_size": 1408}}
    assert any("vision encoder is not modelled" in a for a in spec_from_config(with_vision, model_id="x").assumptions)


def test_qwen3_next_deltanet_state_and_gated_attention():
    spec = spec_of("Qwen__Qwen3-Next-80B-A3B-Instruct")
    c = catalog_config("Qwen__Qwen3-Next-80B-A3B-Instruct")
    full = [layer for layer in spec.layers if layer.attention is not None]
    linear = [layer for layer in spec.layers if layer.ssm is not None]
    assert (len(full), len(linear)) == (12, 36)  # full_attention_interval 4
    assert kv_bytes_per_token(spec, VLLM, kv_dtype="bf16") == 12 * 2 * c["num_key_value_heads"] * c["head_dim"] * BF16 == 24_576
    # DeltaNet state per layer: conv (2·n_k·d_k + n_v·d_v)·(kernel − 1) + recurrent n_v·d_v·d_k elements
    conv = (2 * 16 * 128 + 32 * 128) * (4 - 1)
    state = 32 * 128 * 128
    assert ssm_state_bytes(spec, e=BF16) == 36 * (conv + state) * BF16 == 39_518_208
    # the hub's total and active counts (code index id 70181782850, Qwen3-Coder-Next, same architecture)
    assert (spec.params_total, spec.params_active) == (79_674_391_296, 3_874_929_408)
    q = [t for t in spec.tensors if t.name == "model.layers.3.self_attn.q_proj.weight"]
    assert q[0].shape == (2 * 16 * 256, 2048)  # query and output gate


def test_nemotron_h_pattern_kv_and_mamba2_state():
    c = catalog_config("nvidia__Nemotron-H-56B-Base-8K")
    spec = spec_of("nvidia__Nemotron-H-56B-Base-8K")
    pattern = c["hybrid_override_pattern"]
    n_attn, n_mamba = pattern.count("*"), pattern.count("M")
    assert len(spec.layers) == len(pattern)
    assert kv_bytes_per_token(spec, VLLM, kv_dtype="bf16") == n_attn * 2 * c["num_key_value_heads"] * c["attention_head_dim"] * BF16
    d_in = c["mamba_num_heads"] * c["mamba_head_dim"]
    conv = (d_in + 2 * c["n_groups"] * c["ssm_state_size"]) * (c["conv_kernel"] - 1)
    state = c["mamba_num_heads"] * c["mamba_head_dim"] * c["ssm_state_size"]
    assert ssm_state_bytes(spec, e=BF16) == n_mamba * (conv + state) * BF16
    assert [layer.mixer for layer in spec.layers[:2]] == ["ssm", "none"]  # "M-": a Mamba block, then an MLP block


_SMALL = {"hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 3, "num_attention_heads": 8,
          "num_key_value_heads": 2, "vocab_size": 1000, "max_position_embeddings": 2048}


def test_falcon_h1_every_layer_holds_kv_and_mamba_state():
    config = {**_SMALL, "model_type": "falcon_h1", "mamba_d_ssm": 320, "mamba_n_heads": 8, "mamba_d_state": 16,
              "mamba_n_groups": 2, "mamba_d_conv": 4}
    spec = spec_from_config(config, model_id="h1")
    assert all(layer.attention is not None and layer.ssm is not None for layer in spec.layers)
    assert kv_bytes_per_token(spec, VLLM, kv_dtype="bf16") == 3 * 2 * 2 * (256 // 8) * BF16
    conv = (320 + 2 * 2 * 16) * 3
    state = 8 * (320 // 8) * 16  # heads × head_dim ("auto": d_ssm / heads) × d_state
    assert ssm_state_bytes(spec, e=BF16) == 3 * (conv + state) * BF16


# --- published counts (exact where the publisher gives an exact figure) -----------------------------
@pytest.mark.parametrize(("size", "count"), [
    ("70m", 70_426_624), ("160m", 162_322_944), ("410m", 405_334_016), ("1b", 1_011_781_632),
    ("1.4b", 1_414_647_808), ("2.8b", 2_775_208_960), ("6.9b", 6_857_302_016), ("12b", 11_846_072_320),
])
def test_pythia_counts_equal_the_pythia_readme(size, count):
    assert spec_of(f"EleutherAI__pythia-{size}").params_total == count


def test_starcoder_count_by_hand():
    h, L, I, V, P, d = 6144, 40, 24576, 49152, 8192, 128
    layer = (h * (h + 2 * d) + h + 2 * d) + (h * h + h) + (h * I + I) + (I * h + h) + 4 * h
    total = L * layer + V * h + P * h + 2 * h
    assert spec_of("bigcode__starcoder").params_total == total == 15_517_456_384
    assert spec_of("bigcode__octocoder").params_total == total  # a fine-tune of StarCoder


# --- defaults as transformers applies them ----------------------------------------------------------
def test_library_defaults_attention_and_dtype():
    olmo = hf_defaults(spec_of("allenai__OLMo-2-1124-7B"))  # stored in float32
    assert (olmo.attn_implementation, olmo.dtype) == ("sdpa", "float32")
    assert any("--weights bf16" in line for line in olmo.lines)
    gemma2 = hf_defaults(spec_of("google__gemma-2-9b"))
    assert gemma2.attn_implementation == "eager" and "soft-capping" in gemma2.lines[0]
    assert hf_defaults(spec_of("openai__gpt-oss-20b")).attn_implementation == "eager"
    assert hf_defaults(spec_of("state-spaces__mamba-130m-hf")).attn_implementation is None
    assert hf_defaults(spec_of("bigcode__starcoder2-3b")).dtype == "float32"


# --- bad input --------------------------------------------------------------------------------------
def test_remote_code_config_is_never_run_and_says_so():
    config = {"model_type": "phi-msft", "auto_map": {"AutoConfig": "configuration_phi.PhiConfig",
                                                      "AutoModelForCausalLM": "modeling_phi.PhiForCausalLM"},
              "n_embd": 2560, "n_layer": 32, "n_head": 32, "vocab_size": 51200}
    with pytest.raises(UnsupportedModelError) as err:
        spec_from_config(config, model_id="old-phi")
    msg = str(err.value)
    assert "\n" not in msg and "remote code" in msg and "never runs" in msg and "modeling_phi.PhiForCausalLM" in msg
    assert "hidden_size" in msg  # names what is missing


def test_llama_like_remote_code_is_read_as_data_with_its_assumption():
    config = {**_SMALL, "model_type": "internlm2", "auto_map": {"AutoModelForCausalLM": "modeling_internlm2.X"}}
    spec = spec_from_config(config, model_id="x")
    assert spec.family == "generic"
    assert any("Llama-like guess" in a and "never runs" in a for a in spec.assumptions)


def test_new_families_are_supported():
    for model_type in ("gpt_bigcode", "starcoder2", "gpt_neox", "falcon", "phi", "olmo2", "olmoe", "granite",
                       "granitemoe", "granitemoeshared", "cohere", "cohere2", "llama4", "llama4_text",
                       "qwen3_next", "falcon_h1", "nemotron_h", "granitemoehybrid", "minimax"):
        assert model_type in SUPPORTED


def test_minimax_lightning_state_and_published_counts():
    spec = spec_of("MiniMaxAI__MiniMax-Text-01-hf")
    c = catalog_config("MiniMaxAI__MiniMax-Text-01-hf")
    n_full = c["layer_types"].count("full_attention")
    n_lightning = c["layer_types"].count("linear_attention")
    assert (n_full, n_lightning) == (10, 70)
    assert kv_bytes_per_token(spec, VLLM, kv_dtype="bf16") == n_full * 2 * 8 * 128 * BF16 == 40_960
    # lightning attention keeps the running K^T·V per head: heads × head_dim × head_dim, no convolution
    assert ssm_state_bytes(spec, e=BF16) == n_lightning * 64 * 128 * 128 * BF16
    V, h = c["vocab_size"], c["hidden_size"]
    assert spec.params_total == 456_089_655_296  # card: 456B total
    assert spec.params_active - 2 * V * h == 45_944_920_064  # card: 45.9B activated, without embedding and head


def test_granite4_hybrid_layers():
    config = {**_SMALL, "model_type": "granitemoehybrid", "num_hidden_layers": 4,
              "layer_types": ["mamba", "attention", "mamba", "mamba"], "mamba_n_heads": 8, "mamba_d_state": 16,
              "mamba_n_groups": 2, "num_local_experts": 4, "num_experts_per_tok": 2, "shared_intermediate_size": 384}
    spec = spec_from_config(config, model_id="g4")
    assert [layer.mixer for layer in spec.layers] == ["ssm", "attention", "ssm", "ssm"]
    assert all(layer.mlp.kind == "moe" and layer.mlp.shared_intermediate_size == 384 for layer in spec.layers)
    assert kv_bytes_per_token(spec, VLLM, kv_dtype="bf16") == 1 * 2 * 2 * 32 * BF16
    d_in, heads = 2 * 256, 8
    conv = (d_in + 2 * 2 * 16) * 3
    assert ssm_state_bytes(spec, e=BF16) == 3 * (conv + heads * (d_in // heads) * 16) * BF16


def test_falcon_h1_tiny_catalog_entry():
    c = catalog_config("tiiuae__Falcon-H1-Tiny-90M-Base")
    spec = spec_of("tiiuae__Falcon-H1-Tiny-90M-Base")
    L = c["num_hidden_layers"]
    assert kv_bytes_per_token(spec, kv_dtype="bf16") == L * 2 * c["num_key_value_heads"] * c["head_dim"] * BF16 == 12_288
    conv = (c["mamba_d_ssm"] + 2 * c["mamba_n_groups"] * c["mamba_d_state"]) * (c["mamba_d_conv"] - 1)
    state = c["mamba_n_heads"] * c["mamba_d_head"] * c["mamba_d_state"]
    assert ssm_state_bytes(spec, e=BF16) == L * (conv + state) * BF16
