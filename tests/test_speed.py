"""The roofline speed figures (``estimators/speed.py``), derived by hand."""

from __future__ import annotations

import pytest

import vramscope
from vramscope.hardware import find_gpu

H100 = find_gpu("H100-SXM-80GB")


@pytest.mark.parametrize("engine", ["vllm", "hf", "sglang"])
def test_decode_at_tensor_parallel_4_reads_each_gpus_share_once(engine):
    """Qwen3-8B, TP 4, batch 8, 8192-token context on H100s.

    Per GPU one decode step reads its share of the weights and of the KV cache: Qwen3-8B has 36 layers
    with 8 KV heads of 128 dims, so a rank holds 2 of them: 36 · 2 · 128 · 2 (K, V) · 2 bytes = 36,864
    bytes per token (the bug divided this by TP a second time, reading 9,216 bytes and giving about
    twice the speed at this context).
    """
    est = vramscope.estimate("Qwen/Qwen3-8B", engine=engine, gpus=4, gpu="H100-SXM-80GB", context=8192, batch=8)
    per_token = 36 * 2 * 128 * 2 * 2
    assert per_token == 36_864
    weights = est.component("weights").bytes  # this GPU's quarter of the weights (and its replicated parts)
    step_seconds = (weights + 8 * 8192 * per_token) / (H100.bandwidth_gbs * 1e9 * 0.75)
    compute_seconds = 2 * est.model["params_active"] * 8 / (H100.bf16_tflops * 1e12 * 0.3 * 4)
    assert step_seconds > compute_seconds  # memory-bound: the bandwidth roofline decides
    sp = est.details["speed"]
    assert sp["decode_tokens_per_s"] == pytest.approx(8 / step_seconds, rel=1e-9)
    assert sp["decode_tokens_per_s_per_seq"] == pytest.approx(1 / step_seconds, rel=1e-9)


def test_tensor_parallel_speeds_decode_by_less_than_the_gpu_count_when_kv_dominates():
    """TP 4 divides both the weights and the KV read by 4 per GPU, so the step is ~4× shorter, never ~8×."""
    kw = dict(engine="vllm", gpu="H100-SXM-80GB", context=32768, batch=32)
    one = vramscope.estimate("Qwen/Qwen3-8B", **kw).details["speed"]["decode_tokens_per_s"]
    four = vramscope.estimate("Qwen/Qwen3-8B", gpus=4, **kw).details["speed"]["decode_tokens_per_s"]
    assert 3.5 < four / one <= 4.2
