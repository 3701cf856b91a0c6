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


# --- optimizer in backward and paged optimizers, phase by phase (issue 20, items 2 and 3) ------------
# Llama-3.2-1B by hand: P = 1,235,814,400 params (tied embeddings), the largest tensor the embedding
# 128,256 × 2048 = 262,668,288; the 33 RMSNorm weights (2 per layer × 16 + the final one) of 2048
# elements are its only tensors under bitsandbytes' 1e5-element paging threshold.
LLAMA1 = "meta-llama/Llama-3.2-1B"
P1, E1, NORMS1 = 1_235_814_400, 128_256 * 2048, 33 * 2048
MIB = 1 << 20


def _phases(est):
    return dict(est.details["phases"])


def test_optimizer_in_backward_steps_one_parameter_at_a_time():
    """foreach AdamW in bf16: the step's intermediate is 2 B × all params without the option and
    2 B × the largest parameter with it (each parameter steps alone from its hook), and the
    gradients at the step are that one parameter's. No activations at the step, so no slack."""
    kw = dict(method="full", precision="bf16", optimizer="adamw", optimizer_impl="foreach", grad_ckpt="full",
              batch=1, seq_len=512)
    states = 500 * MIB + 2 * P1 + 2 * 2 * P1  # context + bf16 weights + two bf16 Adam states
    plain = _phases(_est(LLAMA1, **kw))["optimizer step"]
    inbwd = _phases(_est(LLAMA1, optimizer_in_backward=True, **kw))["optimizer step"]
    assert plain == states + 2 * P1 + 2 * P1
    assert inbwd == states + 2 * E1 + 2 * E1


def test_optimizer_in_backward_frees_gradients_before_the_first_layers_recompute():
    """Checkpointed, batch 1 × 512 (activations far below one gradient): at the first layer's recompute
    every gradient exists (2 B × P; tied embeddings, none is still missing) unless the optimizer steps
    in backward, which leaves one parameter's gradient (2 B × the embedding's). Same activations
    either way: the phases differ by exactly 2·P − 2·E."""
    kw = dict(method="full", precision="bf16", optimizer="adamw", optimizer_impl="fused", grad_ckpt="full",
              batch=1, seq_len=512)
    plain, inbwd = _est(LLAMA1, **kw), _est(LLAMA1, optimizer_in_backward=True, **kw)
    assert _phases(plain)["recompute"] - _phases(inbwd)["recompute"] == 2 * P1 - 2 * E1
    assert "backward end" in _phases(plain)  # tied embeddings: the head's gradient waits for the embedding's
    assert "backward end" not in _phases(inbwd)  # no tied-gradient sum: the head's gradient stepped already


def test_activation_offload_keeps_two_layer_inputs_at_backward_start():
    """grad_ckpt=offload: the checkpointed inputs go to host RAM and two are on the GPU (the one in use
    and the one prefetched): backward start holds 14 layer inputs (2·h·T B each) fewer than full
    checkpointing for Llama-3.2-1B's 16 layers; slack 5% of the difference."""
    kw = dict(method="full", precision="bf16", optimizer="adamw", optimizer_impl="fused",
              optimizer_in_backward=True, batch=2, seq_len=2048)
    full, off = _est(LLAMA1, grad_ckpt="full", **kw), _est(LLAMA1, grad_ckpt="offload", **kw)
    layer_input = 2 * 2048 * 2 * 2048
    diff = _phases(full)["backward start"] - _phases(off)["backward start"]
    assert abs(diff - 14 * layer_input * 1.05) <= 2


def test_paged_adamw_states_are_unified_memory_outside_the_torch_figures():
    """PagedAdamW (32-bit): 8 B × the params of tensors >= 1e5 elements live in unified memory (all of
    Llama-3.2-1B but its norms); the norms' 8 B × 67,584 are ordinary tensors. Without a GPU every
    page is resident; the allocated / reserved figures leave them out."""
    from vramscope.exact import published_runs as pr

    kw = dict(method="full", precision="bf16", optimizer="paged-adamw", grad_ckpt="full", batch=1, seq_len=1024)
    est = _est(LLAMA1, **kw)
    paged = est.component("paged_optimizer_states")
    assert paged.bytes == paged.high == 8 * (P1 - NORMS1) and paged.low == 0
    assert est.component("optimizer_states").bytes == 8 * NORMS1
    d = est.to_dict()
    allocated = pr.figure(d, "allocated")[0]
    torch_sum = sum(c.bytes for c in est.components if c.key not in ("cuda_context", "allocator_slack",
                                                                      "paged_optimizer_states"))
    slack = sum(c.bytes for c in est.components if c.key == "allocator_slack")
    assert allocated == torch_sum == est.per_gpu_bytes - paged.bytes - 500 * MIB - slack
    assert est.host_bytes == 0


def test_paged_states_page_out_on_a_gpu_without_room():
    """On a 24 GB card the 8-bit paged states of Llama-3.1-8B (2 B × 8.0 B params ≈ 15 GiB) do not all
    fit beside the 15 GiB of bf16 weights: resident = usable − the torch peak, the rest in host RAM;
    the job fits (torchtune's 8B full fine-tune on one RTX 4090)."""
    from vramscope.hardware import find_gpu

    gpu = find_gpu("RTX-4090-24GB")
    kw = dict(method="full", precision="bf16", optimizer="paged-adamw-8bit", optimizer_in_backward=True,
              grad_ckpt="full", loss="chunked", batch=2, seq_len=2048)
    est = vramscope.estimate(LLAMA8, gpu="RTX-4090-24GB", **kw)
    paged = est.component("paged_optimizer_states")
    rest = est.per_gpu_bytes - paged.bytes
    psi = load_model(LLAMA8).params_total
    small = sum(t.numel for t in load_model(LLAMA8).tensors if t.numel < 100_000)
    full = 2 * (psi - small)
    assert paged.bytes == gpu.usable_bytes - rest < full
    assert est.host_bytes == full - paged.bytes
    rest_low = est.low_bytes - paged.low
    assert paged.low == 0 and paged.high == min(full, gpu.usable_bytes - rest_low)
    assert est.fits is True and est.per_gpu_bytes == gpu.usable_bytes


def test_lora_adapters_under_the_paging_threshold_stay_torch_tensors():
    """LoRA r=8 on Llama-3.2-1B: every A (8 × d_in) and B (d_out × 8) has < 1e5 elements (at most
    8 × 8192), so bitsandbytes gives them ordinary states: no unified memory. At r=64 the A and B of
    q/k/v/o (64 × 2048 = 131,072) and of the MLP (64 × 8192) cross it."""
    base = dict(method="lora", optimizer="paged-adamw", batch=1, seq_len=512, lora_targets="all-linear")
    small = _est(LLAMA1, lora_rank=8, **base)
    assert "paged_optimizer_states" not in {c.key for c in small.components}
    big = _est(LLAMA1, lora_rank=64, **base)
    # per layer: q,o: A 64×2048, B 2048×64; k,v: A 64×2048 (B 512×64 = 32,768 < 1e5); gate/up: A 64×2048,
    # B 8192×64; down: A 64×8192, B 2048×64 → 13 matrices of >= 1e5 elements per layer
    per_layer = 64 * (2048 * 2 * 2 + 2048 * 2 + 2048 * 2 + 8192 * 2 + 8192 + 2048)
    assert big.component("paged_optimizer_states").bytes == 8 * 16 * per_layer
