"""torch.compile (issue 20, deliverable 5): what a decoder layer saves under AOTAutograd's min-cut
partition, by hand and against the partition itself on tiny transformers models (CPU), and what it
changes in a training estimate."""

from __future__ import annotations

import pytest

from conftest import run_cli
from vramscope import api
from vramscope.estimators.activations import ActOptions, layer_saves
from vramscope.families import spec_from_config
from vramscope.sources import load_model

L3B = "meta-llama/Llama-3.2-3B"
h, I, Hq, Hkv, nh = 3072, 8192, 3072, 1024, 24  # Llama-3.2-3B: 24 heads, 8 KV heads of 128


def _o(compile_: bool, trains: bool = True, lora: dict | None = None, lora_in: float = 0, e: float = 2):
    return ActOptions(e, e, "flash", False, trains, trains, lora or {}, lora_in, compile=compile_)


def test_llama_layer_saves_with_and_without_compile_by_hand():
    """bf16, flash, everything training, bytes per token of one layer.

    eager:    norms 2·(4h + 4 + 2h + 2h) (fp32 copy, rsqrt, normalised output, the Linear input)
              attention 2·(Hq + 2·Hkv) + 2·Hq + 4·n_h, MLP 2·4I (gate, SiLU out, up, product)
    compiled: the layer input 2h, rsqrt 4 + output 2h per norm, o_proj's output 2h (the residual sum is
              recomputed from it), attention as eager, MLP 2·3I (SiLU's output recomputed)
    """
    spec = load_model(L3B)
    attn = 2 * (Hq + 2 * Hkv) + 2 * Hq + 4 * nh
    eager = 2 * (4 * h + 4 + 2 * h + 2 * h) + attn + 2 * 4 * I
    compiled = 2 * h + 2 * (4 + 2 * h) + 2 * h + attn + 2 * 3 * I
    assert eager == 131_176 and compiled == 90_216
    layer = spec.layers[5]
    assert layer_saves(spec, layer, _o(False)).total(4096) == eager
    assert layer_saves(spec, layer, _o(True)).total(4096) == compiled


def test_frozen_and_lora_layer_under_compile_by_hand():
    """Frozen base: 2h (input) + 2·4 (rsqrt) + 2h (o_proj out) + attention + 2·2I (gate, up).
    PEFT LoRA on all seven Linears with fp32 adapters (bf16 compute) adds one fp32 cast per distinct
    input — the first norm's output (shared by q/k/v), the attention output (o_proj), the second norm's
    (gate/up) and the product (down): 3·4h + 4I — and A's output 4r per module."""
    spec = load_model(L3B)
    r = 16
    attn = 2 * (Hq + 2 * Hkv) + 2 * Hq + 4 * nh
    frozen = 2 * h + 8 + 2 * h + attn + 2 * 2 * I
    assert layer_saves(spec, spec.layers[3], _o(True, trains=False)).total(4096) == frozen
    names = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    o = _o(True, trains=False, lora={n: r for n in names}, lora_in=4)
    assert layer_saves(spec, spec.layers[3], o).total(4096) == frozen + 3 * 4 * h + 4 * I + 7 * 4 * r
    # bf16 adapters: the norm outputs (2h each) and the product (2I) themselves, A's outputs 2r
    o = _o(True, trains=False, lora={n: r for n in names}, lora_in=0)
    assert layer_saves(spec, spec.layers[3], o).total(4096) == frozen + 2 * 2 * h + 2 * I + 7 * 2 * r


def test_compile_lowers_the_torchtune_3b_full_step_by_the_layer_difference():
    """torchtune-3b-full-compile's workload (b2 × 4096, flash, no checkpointing): the activations fall by
    (131,176 − 90,216) B × 28 layers × 8192 tokens; the loss block (hf) is unchanged."""
    kw = dict(method="full", precision="bf16", batch=2, seq_len=4096, attn="flash", optimizer="adamw",
              optimizer_impl="foreach", gpu="A100-SXM-80GB")
    a = api.estimate(L3B, **kw)
    b = api.estimate(L3B, compile=True, **kw)
    assert a.training.activations_bytes - b.training.activations_bytes == (131_176 - 90_216) * 28 * 8192
    assert a.training.logits_loss_bytes == b.training.logits_loss_bytes
    assert any("torch.compile" in n for n in b.assumptions)


def test_compiled_chunked_loss():
    """torchtune compiles compute_cross_entropy: the 16-bit logits stay (the chunks' graphs keep their
    inputs) and one chunk's 16-bit gradient is made: T·V·(2 + 2/8) instead of T·V·(2 + 12/8)."""
    T, V = 2 * 4096, 128256
    kw = dict(method="full", batch=2, seq_len=4096, attn="flash", loss="chunked")
    assert api.estimate(L3B, **kw).training.logits_loss_bytes == int(T * V * (2 + 12 / 8))
    assert api.estimate(L3B, compile=True, **kw).training.logits_loss_bytes == int(T * V * (2 + 2 / 8))


def test_checkpointing_recomputes_the_compiled_layer():
    """Full checkpointing keeps the layer inputs (2h·T per layer) and one recomputed layer, compiled."""
    kw = dict(method="full", batch=2, seq_len=4096, attn="flash", grad_ckpt="full")
    a = api.estimate(L3B, **kw).training.activations_bytes
    b = api.estimate(L3B, compile=True, **kw).training.activations_bytes
    assert a - b == (131_176 - 90_216) * 8192


def test_layers_not_derived_keep_eager_saves():
    """Eager attention is not in the compiled list: the layer's saves are eager's."""
    spec = load_model(L3B)
    e = ActOptions(2, 2, "eager", False, True, True, {}, 0)
    c = ActOptions(2, 2, "eager", False, True, True, {}, 0, compile=True)
    assert layer_saves(spec, spec.layers[0], c) == layer_saves(spec, spec.layers[0], e)


def test_cli_compile_flag(capsys):
    code, out, err = run_cli(["estimate", L3B, "--method", "full", "--compile", "--json"], capsys)
    assert code == 0, err
    assert '"compile": true' in out


# --- against the partition itself ------------------------------------------------------------------
TINY = dict(hidden_size=256, intermediate_size=704, num_attention_heads=8, num_key_value_heads=2, vocab_size=512,
            max_position_embeddings=512, pad_token_id=0)
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CASES = {  # name: (architecture, probe keywords, trains, LoRA targets, fp32 adapters, dropout)
    "full": ("llama", {}, True, (), False, False),
    "frozen": ("llama", dict(frozen=True), False, (), False, False),
    "lora-fp32": ("llama", dict(lora=dict(r=8, target_modules=ALL)), False, ALL, True, False),
    "lora-bf16": ("llama", dict(lora=dict(r=8, target_modules=ALL), lora_fp32=False), False, ALL, False, False),
    "lora-qv": ("llama", dict(lora=dict(r=8, target_modules=["q_proj", "v_proj"])), False, ("q_proj", "v_proj"),
                True, False),
    "lora-dropout": ("llama", dict(lora=dict(r=8, target_modules=ALL, lora_dropout=0.1)), False, ALL, True, True),
    "qwen3-full": ("qwen3", {}, True, (), False, False),
    "phi3-full": ("phi3", {}, True, (), False, False),
}
EXTRA = {"qwen3": dict(head_dim=32), "phi3": {}, "llama": {}}


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
@pytest.mark.parametrize("case", list(CASES))
def test_compiled_layer_saves_equal_the_partition(case, dtype):
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from compiled_saves import compiled_layer_bytes_per_token

    arch, kw, trains, targets, fp32, dropout = CASES[case]
    if arch == "phi3":
        targets = ()
    cfg = {**TINY, "model_type": arch, **EXTRA[arch]}
    spec = spec_from_config({**cfg, "num_hidden_layers": 2, "torch_dtype": dtype}, model_id=arch)
    e = 2 if dtype == "bfloat16" else 4
    o = ActOptions(e, e, "sdpa", False, trains, trains, {n: 8 for n in targets}, 4 if (fp32 and e == 2) else 0,
                   lora_dropout=dropout, compile=True)
    measured = compiled_layer_bytes_per_token(cfg, dtype=dtype, **kw)
    assert layer_saves(spec, spec.layers[0], o).total(32) == measured
