"""vLLM (estimators/engines/vllm.py): its memory accounting, KV pool, fit rule and settings, by hand."""

from __future__ import annotations

from math import ceil

import pytest

import vramscope
from vramscope.estimators.engines import vllm
from vramscope.estimators.inference import estimate_inference
from vramscope.estimators.result import Fit, KVCapacity, VLLMSettings
from vramscope.hardware import find_gpu
from vramscope.sources import load_model
from vramscope.units import GiB
from vramscope.workload import make_inference

LLAMA = load_model("meta-llama/Llama-3.1-8B")
H100 = find_gpu("H100-SXM-80GB")


def test_llama31_8b_on_h100_every_part_by_hand():
    """Llama-3.1-8B, 1024 + 256 tokens, util 0.9 on an H100, vLLM 0.24.0 (the default release) as
    ``vllm serve``: T 8192, S 1024 (≥ 70 GiB, not an A100); FlashInfer sampler; CUDA-graph estimate
    taken out of the pool (vllm_releases)."""
    est = estimate_inference(LLAMA, make_inference(engine="vllm"), H100)
    budget = int(H100.usable_bytes * 0.9)
    weights = 2 * 8_030_261_248
    v, t, s, h, inter = 128_256, 8192, 1024, 4096, 14_336
    forward = t * (2 * h + 3 * inter) * 2  # compiled: residual + normed input, gate/up + act output
    sampler = s * v * 14 + t * h * 2  # FlashInfer: bf16 + fp32 + masked + probs per logit; the T×h output held
    peak = max(forward, sampler)
    non_torch = int(0.13 * GiB)
    graphs = 512 * (2 * h + 3 * inter) * 2 + (50 + 50) * 2**20  # 51 capture sizes up to 512, all ≤ S: two modes
    kv = budget - weights - peak - non_torch - graphs
    per_token = 32 * 2 * 8 * 128 * 2  # layers × (K, V) × KV heads × head dim × bf16
    blocks = kv // (per_token * 16)
    assert sampler > forward
    assert [est.component(k).bytes for k in ("weights", "profile_peak", "non_torch_allocations", "kv_cache",
                                             "cuda_graphs")] == [weights, peak, non_torch, kv, graphs]
    assert est.kv == KVCapacity(bytes_per_token=per_token, bytes_needed=per_token * 1280, budget_bytes=budget,
                                kv_bytes=kv, capacity_tokens=blocks * 16, num_blocks=blocks,
                                max_concurrency=blocks / (1280 / 16))
    assert est.settings == VLLMSettings(max_num_batched_tokens=t, max_num_seqs=s, max_model_len=1280, block_size=16,
                                        vllm_version="0.24.0")
    assert est.fit == Fit(H100.usable_bytes, True, est.fit.rule) and est.fits is True
    # the legacy view keeps the old paths
    assert est.details["kv_capacity_tokens"] == blocks * 16 and est.details["fit_limit_bytes"] == H100.usable_bytes
    assert f"GPU KV cache size: {blocks * 16:,} tokens" in est.component("kv_cache").note


def test_fits_is_vllms_rule_not_the_sum():
    """At util 0.98 on 24 GiB the KV budget is positive, but graphs + context no longer fit beside it."""
    gpu = find_gpu("RTX-4090")
    est = estimate_inference(LLAMA, make_inference(engine="vllm", weights="fp8", gpu_memory_utilization=0.98), gpu)
    assert est.kv.kv_bytes > est.kv.bytes_needed  # the pool holds the workload …
    assert est.per_gpu_bytes > gpu.usable_bytes and est.fits is False  # … but the rest overflows the GPU
    # without a GPU there is no pool and no verdict
    bare = estimate_inference(LLAMA, make_inference(engine="vllm"))
    assert bare.fit is None and bare.fits is None and bare.kv.capacity_tokens is None
    assert bare.component("kv_cache").bytes == ceil(131_072 * 1280)


def test_registry_facts():
    assert vllm.ENTRY.context_step(make_inference(engine="vllm", block_size=32)) == 32
    assert vllm.ENTRY.gpu_dependent and vllm.ENTRY.kv.sliding_holds_batch and vllm.ENTRY.kv.latent_mla
    assert {"gpu_memory_utilization", "block_size", "max_num_batched_tokens"} <= set(vllm.ENTRY.options)


# --- vLLM against its own accounting ---------------------------------------------------------------
def test_vllm_llama31_8b_h100_matches_measured_kv():
    """llm-d measured vLLM 0.11 on H100 (79.18 GiB), util 0.9, T 16384, S 1024: KV cache 51.38 GiB
    (llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md)."""
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="vllm", gpu="H100-SXM-80GB", gpu_memory_utilization=0.9,
                             vllm_version="0.11.0", vllm_entrypoint="llm")
    kv_gib = est.component("kv_cache").bytes / GiB
    assert kv_gib == pytest.approx(51.38, rel=0.05)
    assert est.details["kv_capacity_tokens"] == pytest.approx(51.38 * GiB / 131_072, rel=0.05)
    # and vLLM's budget adds up: util × total = weights + peak + non-torch + KV
    parts = sum(est.component(n).bytes for n in ("weights", "profile_peak", "non_torch_allocations", "kv_cache"))
    assert parts == pytest.approx(0.9 * H100.memory_bytes, abs=2)


def test_vllm_capacity_and_concurrency_are_block_rounded():
    est = vramscope.estimate(LLAMA, engine="vllm", gpu="H100-SXM-80GB", max_model_len=8192, block_size=16)
    d = est.details
    assert d["kv_capacity_tokens"] % 16 == 0
    assert d["max_concurrency"] == pytest.approx(d["num_gpu_blocks"] / (8192 / 16))


def test_vllm_tp_shards_weights():
    one = vramscope.estimate("Qwen/Qwen2.5-72B-Instruct", engine="vllm", gpu="H100-SXM-80GB", tp=1)
    four = vramscope.estimate("Qwen/Qwen2.5-72B-Instruct", engine="vllm", gpu="H100-SXM-80GB", tp=4)
    assert four.component("weights").bytes == pytest.approx(one.component("weights").bytes / 4, rel=0.01)
    assert one.fits is False and four.fits is True




def test_vllm_pads_mxfp4_experts_to_its_moe_kernel_tiles():
    """vLLM's Mxfp4MoEMethod.create_weights: Marlin (A100, SM80) rounds I/tp up to 128 and H to 256."""
    spec = load_model("openai/gpt-oss-120b")  # 36 layers × 128 experts, H = I = 2880
    a100, h100 = find_gpu("A100-SXM-80GB"), find_gpu("H100-SXM-80GB")
    wl = make_inference(engine="vllm", tp=4, context=4096)
    plain = estimate_inference(spec, wl).component("weights").bytes  # no GPU: stored bytes
    on_a100 = estimate_inference(spec, wl, a100).component("weights").bytes
    per_layer = 128 * (2 * 768 * 3072 + 3072 * 768 - 3 * 720 * 2880)  # padded − stored elements
    assert on_a100 - plain == int(36 * per_layer * 4.25 / 8)
    # Triton on SM90 rounds only I/tp to 64: 720 → 768, H stays 2880
    triton_layer = 128 * (2 * 768 * 2880 + 2880 * 768 - 3 * 720 * 2880)
    assert estimate_inference(spec, wl, h100).component("weights").bytes - plain == int(36 * triton_layer * 4.25 / 8)
    # at TP 1, I = 2880 is 64-aligned: no padding on H100
    wl1 = make_inference(engine="vllm", context=4096)
    assert estimate_inference(spec, wl1, h100).component("weights").bytes == estimate_inference(
        spec, wl1).component("weights").bytes
    assert estimate_inference(spec, make_inference(engine="hf", tp=4, context=4096), a100).component(
        "weights").bytes == plain  # transformers keeps the stored layout
