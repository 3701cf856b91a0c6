"""LoRA on the output head and on the input embedding (issue 20, deliverable 5): adapter parameters,
their gradients and optimizer states, what they save for backward, and the combinations refused.

Every expected number is derived by hand below from the model's shapes (Llama-3.2-1B: h = 2048,
I = 8192, 32 query heads and 8 KV heads of 64, 16 layers, V = 128256, tied embeddings).
"""

from __future__ import annotations

import pytest

from conftest import run_cli
from vramscope import api
from vramscope.errors import VramscopeError

M = "meta-llama/Llama-3.2-1B"
h, I, V, L, r = 2048, 8192, 128256, 16, 16
B, S = 4, 2048
T = B * S

# all-linear: Σ (d_in + d_out) per layer: q 2048+2048, k 2048+512, v 2048+512, o 2048+2048, gate / up
# 2048+8192, down 8192+2048 = 44,032; × r × L
ALL_LINEAR = r * L * (4096 + 2560 + 2560 + 4096 + 3 * 10240)
HEAD = r * (h + V)  # lm_head: A r×h, B V×r
EMBED = r * (V + h)  # lora.Embedding: A r×V, B h×r


def _est(**kw):
    base = dict(method="lora", lora_rank=r, batch=B, seq_len=S)
    return api.estimate(M, **{**base, **kw})


def test_all_linear_excludes_the_head_and_naming_it_adds_r_h_plus_v():
    assert ALL_LINEAR == 11_272_192
    assert _est(lora_targets="all-linear").training.adapter_params == ALL_LINEAR
    e = _est(lora_targets="all-linear,lm_head")
    assert e.training.adapter_params == ALL_LINEAR + HEAD == 13_357_056
    assert "lm_head" in e.training.lora_targets


def test_head_adapter_states_but_no_head_gradient():
    """fp32 adapters (PEFT's default): 4 B weights, 4 B gradients, AdamW 2 × 4 B states each; the frozen
    head (tied to the embedding) gets no V×h gradient and no 'backward end' moment of tied gradients."""
    e = _est(lora_targets="all-linear,lm_head")
    n = ALL_LINEAR + HEAD
    assert e.training.states.gradients == 4 * n
    assert e.training.states.optimizer == 8 * n
    assert "backward end" not in {p.name for p in e.training.phases}
    comps = {c.key: c.bytes for c in e.components}
    assert comps["adapter_weights"] == 4 * n


def test_head_lora_saved_bytes_fp32_adapters():
    """PEFT casts the head input (the final norm's bf16 output) to fp32 for lora_A (4·h per token) and
    lora_B saves A's output (4·r): T·(4h + 4r) = 8192 × 8256 more activations."""
    a = _est(lora_targets="all-linear").training.activations_bytes
    b = _est(lora_targets="all-linear,lm_head").training.activations_bytes
    assert b - a == T * (4 * h + 4 * r) == 67_633_152


def test_head_lora_saved_bytes_same_dtype_adapters():
    """bf16 adapters: lora_A saves the norm output itself (2·h; the frozen head saves no input)."""
    a = _est(lora_targets="all-linear", lora_dtype="bf16").training.activations_bytes
    b = _est(lora_targets="all-linear,lm_head", lora_dtype="bf16").training.activations_bytes
    assert b - a == T * (2 * h + 4 * r)


def test_head_lora_dropout_keeps_its_output_and_mask():
    a = _est(lora_targets="q_proj", lora_dropout=0.1).training.activations_bytes
    b = _est(lora_targets="q_proj,lm_head", lora_dropout=0.1).training.activations_bytes
    assert b - a == T * (4 * h + 4 * r + 4 * h + h)


def test_embedding_lora_params_and_saves():
    """lora.Embedding saves only the r-wide lookup of A (fp32 adapters: 4·r per token)."""
    a = _est(lora_targets="q_proj,v_proj")
    b = _est(lora_targets="q_proj,v_proj,embed_tokens")
    assert a.training.adapter_params == r * L * (4096 + 2560)
    assert b.training.adapter_params - a.training.adapter_params == EMBED
    assert b.training.activations_bytes - a.training.activations_bytes == T * 4 * r
    assert b.training.states.gradients - a.training.states.gradients == 4 * EMBED


def test_tied_model_both_targets_are_two_adapters_with_a_note():
    e = _est(lora_targets="lm_head,embed_tokens")
    assert e.training.adapter_params == HEAD + EMBED
    assert any("ensure_weight_tying" in n for n in e.assumptions)


def test_untied_model_head_uses_its_own_shape():
    """Llama-3.1-8B: h = 4096, V = 128256, untied lm_head."""
    a = api.estimate("meta-llama/Llama-3.1-8B", method="lora", lora_rank=8, lora_targets="q_proj,v_proj")
    b = api.estimate("meta-llama/Llama-3.1-8B", method="lora", lora_rank=8, lora_targets="q_proj,v_proj,lm_head")
    assert b.training.adapter_params - a.training.adapter_params == 8 * (4096 + 128256)


def test_chunked_loss_with_fp32_head_lora_holds_the_fp32_head_output():
    """Chunked CE keeps T·V·(2 + 12/8); PEFT's fp32 head adapter makes its scaled output and the sum in
    fp32 beside the bf16 logits: T·V·(2 + 4 + 4)."""
    a = _est(lora_targets="q_proj", loss="chunked").training.logits_loss_bytes
    b = _est(lora_targets="q_proj,lm_head", loss="chunked").training.logits_loss_bytes
    c = _est(lora_targets="q_proj,lm_head", loss="chunked", lora_dtype="bf16").training.logits_loss_bytes
    assert a == int(T * V * (2 + 12 / 8))
    assert b == T * V * 10
    assert c == a  # bf16 adapters: nothing larger than the chunked block


@pytest.mark.parametrize("kw, fragment", [
    (dict(lora_targets="all-linear,lm_head", loss="fused"), "fused linear cross-entropy"),
    (dict(method="dora", lora_targets="q_proj,lm_head"), "DoRA on lm_head"),
    (dict(lora_targets="q_proj,lm_heads"), "lm_head / embed_tokens"),
])
def test_refused(kw, fragment):
    with pytest.raises(VramscopeError) as ex:
        _est(**kw)
    assert fragment in str(ex.value) and "\n" not in str(ex.value)


def test_cli_refusal_one_line(capsys):
    code, out, err = run_cli(["estimate", M, "--method", "lora", "--lora-targets", "all-linear,lm_head",
                              "--loss", "fused"], capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "lm_head" in err


def test_cli_accepts_lm_head(capsys):
    code, out, err = run_cli(["estimate", M, "--method", "lora", "--lora-targets", "all-linear,lm_head",
                              "--json"], capsys)
    assert code == 0, err
    assert '"adapter_params": 13357056' in out and '"lm_head"' in out
