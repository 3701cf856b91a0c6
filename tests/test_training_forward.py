"""What the forward of a training step leaves for backward (``estimators/training/forward.py``):
saved activations, checkpointing, eager attention, the logits + loss block."""

from __future__ import annotations

import pytest

import vramscope
from vramscope.estimators.activations import ActOptions, layer_saves, loss_bytes
from vramscope.sources import load_model

LLAMA8 = "meta-llama/Llama-3.1-8B"


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


def test_logits_block_is_the_peak_for_small_models_with_large_vocab():
    b, s = 8, 1024
    est = _est("Qwen/Qwen2.5-0.5B", method="full", batch=b, seq_len=s)
    ce = est.component("logits_loss").bytes
    assert ce == 12 * b * s * 151936
    assert ce > est.component("weights").bytes + est.component("optimizer_states").bytes
    assert loss_bytes(151936, b * s, 2, "fused")[0] == 0


def test_full_checkpointing_keeps_layer_inputs():
    spec = load_model(LLAMA8)
    none = _est(method="full", batch=2, seq_len=2048).details["activations_bytes"]
    full = _est(method="full", batch=2, seq_len=2048, grad_ckpt="full").details["activations_bytes"]
    T, h = 4096, 4096
    o = ActOptions(2, 2, "sdpa", False, True, True, {}, 0)
    one_layer = layer_saves(spec, spec.layers[0], o).total(2048) * T
    head = (4 * h + 4 + 2 * h + 2 * h) * T
    assert full == int(2 * h * T * 32 + one_layer + head)
    assert none == int(one_layer * 32 + head)


def test_eager_attention_adds_the_softmax():
    sdpa = _est(method="full", seq_len=4096, attn="sdpa").details["activations_bytes"]
    eager = _est(method="full", seq_len=4096, attn="eager").details["activations_bytes"]
    # per layer: 32 heads × 4096 keys × (4 fp32 + 2 bf16) per token, + K/V repeated to 32 heads, + o_proj's copy
    extra = 32 * (32 * 4096 * 6 + 2 * (4096 - 1024) * 2 + 2 * 4096 - 2 * 4096 - 4 * 32) * 4096
    assert eager - sdpa == pytest.approx(extra, rel=1e-6)
