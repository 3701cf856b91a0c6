"""Buffers of the training runtime (``estimators/training/buffers.py``), by hand.

Mistral-7B: h = 4096; one decoder layer L = 218,112,000 params; embedding E = 32,000·4096."""

from __future__ import annotations

import pytest

import vramscope
from vramscope.estimators.training.buffers import fsdp_gathered, zero_reduce_bucket
from vramscope.sources import load_model

LLAMA8 = "meta-llama/Llama-3.1-8B"
MISTRAL = "mistralai/Mistral-7B-v0.1"
L = 2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14336 * 4096 + 2 * 4096


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


def test_zero_buffers_by_hand():
    est = _est(MISTRAL, method="full", precision="mixed", zero=3, gpus=8)
    # HF 'auto': persistence threshold 10·h = 40,960 keeps the 65 norms (4096 each) gathered. Without
    # checkpointing the last layer's forward turns into its backward through the head (32,000 × 4096):
    # module j stays gathered while 2·Σ(later modules, head included) < stage3_max_reuse_distance 1e9;
    # q_proj has 2·(L − 2·4096 − 4096² + 32,000·4096) ≈ 665M after it, so the whole layer and the head stay
    layer, head = L - 2 * 4096, 32000 * 4096
    assert est.component("zero3_gathered_parameters").bytes == 2 * (layer + head) + 2 * int(0.9 * 4096 ** 2)
    assert est.component("zero3_gathered_parameters").bytes == 728_550_604
    assert est.component("zero3_persistent_parameters").bytes == 2 * (2 * 32 + 1) * 4096
    assert est.component("zero_reduce_bucket").bytes == 2 * 4096 ** 2
    assert zero_reduce_bucket(10) == 20 and zero_reduce_bucket(10, 4) == 40
    # DeepSpeed's own defaults (an accelerate config without a DeepSpeed file): 5e8-element bucket, 5e7 prefetch
    dflt = _est(MISTRAL, method="full", precision="mixed", zero=3, gpus=8, zero_config="defaults")
    assert dflt.component("zero_reduce_bucket").bytes == 2 * 500_000_000
    assert dflt.component("zero3_gathered_parameters").bytes == 2 * (layer + head) + 2 * 50_000_000


def test_fsdp_buffers_by_hand():
    full = _est(MISTRAL, method="full", precision="mixed", fsdp="full", gpus=8)
    # bf16 current + prefetched layer unit + the root unit (embedding), fp32 reduce-scatter of one unit
    assert full.component("fsdp_gathered_units").bytes == 2 * (2 * L + 32000 * 4096) + 4 * L == 2_007_040_000
    assert fsdp_gathered(10, 3) == 2 * 23 + 40
    psi = load_model(MISTRAL).params_total
    grad_op = _est(MISTRAL, method="full", precision="mixed", fsdp="grad-op", gpus=8)
    assert grad_op.component("fsdp_unsharded_parameters").bytes == 2 * psi  # bf16, gathered all step


def test_fsdp_and_ddp_buffers():
    ddp = _est(method="lora", gpus=4)
    assert ddp.details["data_parallel"] == 4
    fsdp = _est(method="full", precision="mixed", fsdp="full", gpus=8)
    psi = load_model(LLAMA8).params_total
    assert fsdp.details["model_states_bytes"] == pytest.approx(16 * psi / 8, rel=0.001)
    assert fsdp.component("fsdp_gathered_units").bytes > 0
    ddp_full = _est(method="full", gpus=2)
    assert ddp_full.component("ddp_gradient_buckets").bytes == 2 * psi
