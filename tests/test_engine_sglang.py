"""SGLang (estimators/engines/sglang.py): per-GPU server defaults, the token pool and its fit rule, by hand."""

from __future__ import annotations

import pytest

from vramscope.estimators.engines import sglang
from vramscope.estimators.inference import estimate_inference
from vramscope.estimators.result import SGLangSettings
from vramscope.hardware import custom_gpu, find_gpu
from vramscope.sources import load_model
from vramscope.units import MiB
from vramscope.workload import make_inference

LLAMA = load_model("meta-llama/Llama-3.1-8B")
H100 = find_gpu("H100-SXM-80GB")


def test_server_defaults_follow_server_args():
    """server_args._handle_gpu_memory_settings: chunk / graph batch by memory class, then the reserve."""
    mem = H100.memory_bytes / MiB
    reserved = 512 + 8192 * 1.5 + 256 * 2 + 1 * 1 / 8 * 1024  # 13,440 MiB (above the 10,240 floor)
    assert sglang.server_defaults(H100) == (8192, 256, round((mem - reserved) / mem, 3))
    small = custom_gpu("16GiB")  # below 20 GiB: 2048 / 8
    assert sglang.server_defaults(small)[:2] == (2048, 8)
    assert sglang.server_defaults(None) == (4096, 160, 0.88)  # when it cannot read the GPU's memory


def test_token_pool_on_h100_by_hand():
    est = estimate_inference(LLAMA, make_inference(engine="sglang"), H100)
    _, _, frac = sglang.server_defaults(H100)
    context = 500 * MiB
    budget = int(frac * (H100.usable_bytes - context))
    pool = budget - 2 * 8_030_261_248
    per_token = 131_072
    assert est.component("kv_cache").bytes == pool and est.component("kv_cache").name == "KV cache (token pool)"
    assert est.kv.budget_bytes == budget and est.kv.kv_bytes == pool
    assert est.kv.capacity_tokens == pool // per_token
    assert est.kv.max_concurrency == pytest.approx(pool / (per_token * 1280))
    assert est.kv.bytes_needed == per_token * 1280
    assert est.settings == SGLangSettings(max_model_len=1280, mem_fraction_static=frac, chunked_prefill_size=8192)
    assert est.fits is True and est.fit.limit_bytes == H100.usable_bytes
    assert est.details["mem_fraction_static"] == frac  # legacy path


def test_no_pool_does_not_fit():
    """Llama-3.1-70B in bf16 on one H100: the weights exceed mem_fraction_static × free memory."""
    est = estimate_inference(load_model("meta-llama/Llama-3.1-70B"), make_inference(engine="sglang"), H100)
    assert est.component("kv_cache").bytes == 0 and est.kv.capacity_tokens == 0 and est.kv.max_concurrency == 0
    assert est.fits is False and "Not enough memory" in est.component("kv_cache").note


def test_registry_facts():
    assert sglang.ENTRY.context_step(make_inference(engine="sglang")) == 1
    assert sglang.ENTRY.gpu_dependent and "mem_fraction_static" in sglang.ENTRY.options


def test_gpu_smaller_than_sglangs_reserve_has_no_pool_not_a_negative_one():
    """Fuzz find (1M run): on a 2 GiB card SGLang's reserve (512 + 2048·1.5 + 8·2 + 128 = 3,728 MiB)
    exceeds the memory, so its default fraction is negative; the estimate says so, reports a zero
    fraction and budget, and does not fit (the invariant checker runs under the test suite)."""
    tiny = custom_gpu("2GiB")
    mem = tiny.memory_bytes / MiB
    assert sglang.server_defaults(tiny)[2] == round((mem - 3728) / mem, 3) < 0
    est = estimate_inference(LLAMA, make_inference(engine="sglang"), tiny)
    assert est.settings.mem_fraction_static == 0.0
    assert est.kv.budget_bytes == 0 and est.kv.kv_bytes == 0 and est.kv.capacity_tokens == 0
    assert est.fits is False
    assert any("refuses to start" in a and "--mem-fraction-static" in a for a in est.assumptions)
