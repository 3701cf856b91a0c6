"""The moments of a training step and the peak (``estimators/training/phases.py``, formulas.md §5.2)."""

from __future__ import annotations

import vramscope
from vramscope.sources import load_model

LLAMA8 = "meta-llama/Llama-3.1-8B"
MISTRAL = "mistralai/Mistral-7B-v0.1"


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


def test_zero1_optimizer_step_by_hand():
    """ZeRO-1, 8 GPUs, seq 1024: the peak is the step, which holds the whole 16-bit gradients (2ψ),
    DeepSpeed's fp32 partition of them (4ψ/8) and the reduce bucket, beside the model states; the
    activations are gone, so no allocator slack."""
    psi = load_model(MISTRAL).params_total
    est = _est(MISTRAL, method="full", precision="mixed", zero=1, gpus=8, seq_len=1024)
    assert est.details["peak_phase"] == "optimizer step"
    assert est.component("fp32_gradient_partition").bytes == 4 * psi // 8
    assert est.component("gradients").bytes == 2 * psi
    states = 2 * psi + (8 + 4) * psi // 8  # bf16 weights + sharded Adam and master
    context = est.component("cuda_context").bytes
    bucket = 2 * 4096 ** 2
    assert est.details["phases"]["optimizer step"] == context + states + 2 * psi + 4 * psi // 8 + bucket
    assert est.per_gpu_bytes == est.details["phases"]["optimizer step"]
    assert "allocator slack" not in {c.name for c in est.components}


def test_backward_start_holds_activations_loss_and_slack():
    est = _est("Qwen/Qwen2.5-0.5B", method="full", batch=8, seq_len=1024)
    assert est.details["peak_phase"] == "backward start"
    acts = est.component("activations").bytes
    loss = est.component("logits_loss").bytes
    assert est.component("allocator_slack").bytes == int(0.05 * (acts + loss))
    assert est.per_gpu_bytes == est.details["phases"]["backward start"]


def test_foreach_step_adds_one_intermediate_and_can_be_the_peak():
    psi = load_model(LLAMA8).params_total
    fused = _est(method="full", batch=1, seq_len=128)
    fe = _est(method="full", batch=1, seq_len=128, optimizer_impl="foreach")
    assert fe.details["phases"]["optimizer step"] - fused.details["phases"]["optimizer step"] == 2 * psi
    assert fe.details["peak_phase"] == "optimizer step"
