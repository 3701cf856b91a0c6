"""transformers generate (estimators/engines/hf.py): KV with DynamicCache's copy, logits, slack, fit, by hand."""

from __future__ import annotations

from vramscope.estimators.engines import hf
from vramscope.estimators.inference import estimate_inference
from vramscope.estimators.result import Fit, HFSettings, KVCapacity
from vramscope.hardware import find_gpu
from vramscope.sources import load_model
from vramscope.workload import make_inference

LLAMA = load_model("meta-llama/Llama-3.1-8B")


def test_llama31_8b_default_workload_by_hand():
    """1 sequence of 1024 prompt + 256 generated tokens, DynamicCache, SDPA."""
    est = estimate_inference(LLAMA, make_inference())
    per_token = 32 * 2 * 8 * 128 * 2  # 131,072 B
    # every decode step's torch.cat briefly holds one layer's old and new K/V: + 1/32 of the cache
    kv = per_token * 1280 + per_token // 32 * 1280
    assert est.component("kv_cache").bytes == kv == 173_015_040
    assert est.component("logits").bytes == 128_256 * (2 + 4)  # logits_to_keep=1, bf16 + the fp32 copy
    dynamic = kv + est.component("prefill_activations").bytes + est.component("logits").bytes
    assert est.component("allocator_slack").bytes == int(0.05 * dynamic)
    assert est.component("weights").bytes == 2 * 8_030_261_248
    assert est.kv == KVCapacity(bytes_per_token=per_token)
    assert est.settings == HFSettings(tokens_per_sequence=1280, multimodal_tokens=0)
    assert est.fit is None and est.fits is None


def test_fit_is_the_figure_within_usable_memory():
    gpu = find_gpu("RTX-4090")
    for batch, expected in ((1, True), (64, False)):
        est = estimate_inference(LLAMA, make_inference(context=8192, batch=batch), gpu)
        assert est.fit == Fit(gpu.usable_bytes, est.per_gpu_bytes <= gpu.usable_bytes)
        assert est.fits is expected


def test_registry_facts():
    assert hf.ENTRY.context_step(make_inference()) == 1
    assert not hf.ENTRY.gpu_dependent and not hf.ENTRY.kv.sliding_holds_batch
    assert hf.KV_4X.latent_mla is False and {"cache", "attn_impl"} <= set(hf.ENTRY.options)
