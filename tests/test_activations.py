"""What each layer saves for backward (``estimators/activations.py``): by hand, and against what
autograd really saves on tiny transformers models on the CPU."""

from __future__ import annotations

import pytest

from vramscope.estimators.activations import ActOptions, layer_saves
from vramscope.families import spec_from_config
from vramscope.sources import load_model

LLAMA8 = "meta-llama/Llama-3.1-8B"


def test_llama_layer_saves_by_hand():
    """Llama-3.1-8B layer, bf16, SDPA, everything training: per token
    norms 2·(4h + 4 + 2h + 2h), attention 2·(h + 2·1024) + 2h + 4·32, MLP 2·4·14336."""
    spec = load_model(LLAMA8)
    h, I = 4096, 14336
    o = ActOptions(2, 2, "sdpa", False, True, True, {}, 0)
    expected = 2 * (4 * h + 4 + 2 * h + 2 * h) + 2 * (h + 2 * 1024) + 2 * h + 4 * 32 + 8 * I
    assert layer_saves(spec, spec.layers[0], o).total(2048) == expected


TINY = dict(hidden_size=256, intermediate_size=704, num_attention_heads=8, num_key_value_heads=2, vocab_size=512,
            max_position_embeddings=512, pad_token_id=0)
ARCHS = {
    "llama": dict(model_type="llama"),
    "qwen3": dict(model_type="qwen3", head_dim=32),
    "gemma2": dict(model_type="gemma2", head_dim=32),
    "phi3": dict(model_type="phi3"),
    "mixtral": dict(model_type="mixtral", num_local_experts=4, num_experts_per_tok=2),
    "qwen3_moe": dict(model_type="qwen3_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=128, head_dim=32),
}
CASES = [(a, attn, dt) for a in ARCHS for attn in ("sdpa", "eager") for dt in ("bfloat16", "float32")
         if not (a == "gemma2" and attn == "sdpa")]


def _tiny(arch: str, dtype: str):
    cfg = {**TINY, **ARCHS[arch]}
    return cfg, spec_from_config({**cfg, "num_hidden_layers": 2, "torch_dtype": dtype}, model_id=arch)


@pytest.mark.torch
@pytest.mark.parametrize("arch,attn,dtype", CASES)
def test_layer_saves_equal_autograd(arch, attn, dtype):
    pytest.importorskip("transformers")
    from saved_tensors import per_layer_per_token

    cfg, spec = _tiny(arch, dtype)
    measured = per_layer_per_token(cfg, attn=attn, dtype=dtype, seq=32)
    e = 2 if dtype == "bfloat16" else 4
    mine = layer_saves(spec, spec.layers[1], ActOptions(e, e, attn, False, True, True, {}, 0)).total(32)
    # exact for dense layers; MoE top-k bookkeeping and Gemma's (1 + w) vectors are within 0.5 %
    assert mine == pytest.approx(measured, rel=0.005, abs=0.5)


@pytest.mark.torch
@pytest.mark.parametrize("targets", [("q_proj", "v_proj"), ("q_proj", "k_proj", "v_proj", "o_proj"), "all-linear"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_lora_layer_saves_equal_autograd(targets, dtype):
    pytest.importorskip("peft")
    from saved_tensors import per_layer_per_token

    cfg, spec = _tiny("llama", dtype)
    r = 8
    measured = per_layer_per_token(cfg, attn="sdpa", dtype=dtype, seq=32,
                                   lora=dict(r=r, target_modules=list(targets) if targets != "all-linear" else targets))
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] if targets == "all-linear" else targets
    e = 2 if dtype == "bfloat16" else 4
    o = ActOptions(e, e, "sdpa", False, False, False, {n: r for n in names}, 4 if e == 2 else 0)
    assert layer_saves(spec, spec.layers[1], o).total(32) == measured


@pytest.mark.torch
def test_autocast_saves_one_cast_per_linear_plus_weight_copies():
    pytest.importorskip("transformers")
    from saved_tensors import per_layer_per_token

    cfg, spec = _tiny("llama", "float32")
    measured = per_layer_per_token(cfg, attn="sdpa", dtype="float32", seq=32, autocast=True)
    mine = layer_saves(spec, spec.layers[1], ActOptions(2, 4, "sdpa", False, True, True, {}, 0)).total(32)
    weight_copies = 2 * (256 * 256 * 2 + 64 * 256 * 2 + 3 * 704 * 256) / 64  # bf16 casts the graph saves, per token
    assert mine + weight_copies == measured
