"""KV cache and recurrent state per attention kind, and each engine's KV policy (estimators/kv.py)."""

from __future__ import annotations

from vramscope.estimators.engines import ENGINES, hf, llamacpp, ollama, sglang, vllm
from vramscope.estimators.inference import estimate_inference
from vramscope.estimators.kv import KVGroup, kv_bytes_per_sequence, kv_bytes_per_token, kv_groups
from vramscope.sources import load_model
from vramscope.workload import make_inference

LLAMA = load_model("meta-llama/Llama-3.1-8B")


# --- KV cache per attention kind ------------------------------------------------------------------
def test_llama31_8b_kv_per_token():
    assert kv_bytes_per_token(LLAMA, vllm.KV_POLICY, "auto") == 32 * 2 * 8 * 128 * 2 == 131_072
    assert kv_bytes_per_token(LLAMA, vllm.KV_POLICY, "fp8") == 65_536
    assert kv_bytes_per_token(LLAMA, llamacpp.KV_POLICY, "q8_0") == 32 * 2 * 8 * 128 * 34 / 32


def test_deepseek_v3_mla_latent_in_every_engine():
    ds = load_model("deepseek-v3")
    assert kv_bytes_per_token(ds, vllm.KV_POLICY) == 61 * 576 * 2 == 70_272
    assert kv_bytes_per_token(ds, llamacpp.KV_POLICY) == 70_272
    # transformers 5 caches the compressed latent too ("Cache read / write is performed while the latent
    # KV is still compressed"); 4.x cached per-head K (192) and V (128): the HF estimate's high band
    assert kv_bytes_per_token(ds, hf.KV_POLICY) == 70_272
    est = estimate_inference(ds, make_inference(engine="hf", batch=2, prompt_len=1000, gen_len=24))
    kv = est.component("kv_cache")
    assert kv.high >= 2 * 1024 * 61 * 128 * (192 + 128) * 2 > 50 * kv.bytes
    # the latent has one "head": replicated on every TP rank
    assert kv_bytes_per_token(ds, vllm.KV_POLICY, tp=8) == 70_272


def test_gemma2_sliding_layers_capped_at_window():
    g = load_model("google/gemma-2-9b")
    per_layer = 2 * 8 * 256 * 2  # 8 KV heads × head_dim 256, K and V; float32 checkpoint cached in 16-bit
    groups = kv_groups(g, hf.KV_POLICY)
    seq = kv_bytes_per_sequence(groups, 8192, hf.KV_POLICY)
    assert seq == 21 * per_layer * 8192 + 21 * per_layer * 4096
    assert seq < kv_bytes_per_token(g, hf.KV_POLICY) * 8192


def test_qwen3_235b_kv_per_gpu_at_tp4():
    # formulas.md §3.2: vLLM log for Qwen3-235B-A22B-FP8 at TP 4 → 48,128 B/token per GPU
    q = load_model("Qwen/Qwen3-235B-A22B")
    assert kv_bytes_per_token(q, vllm.KV_POLICY, tp=4) == 94 * 2 * 1 * 128 * 2 == 48_128


def test_kv_heads_replicate_when_tp_exceeds_them():
    assert kv_bytes_per_token(LLAMA, vllm.KV_POLICY, tp=8) == 32 * 2 * 1 * 128 * 2
    assert kv_bytes_per_token(LLAMA, vllm.KV_POLICY, tp=16) == 32 * 2 * 1 * 128 * 2  # stops shrinking


def test_mamba_state_does_not_grow_with_context():
    m = load_model("state-spaces/mamba-2.8b-hf")
    short = estimate_inference(m, make_inference(context=1000))
    long = estimate_inference(m, make_inference(context=100_000))
    assert short.component("recurrent_state").bytes == long.component("recurrent_state").bytes
    assert short.component("recurrent_state").bytes == 64 * (5120 * 3 + 5120 * 16) * 2
    assert not any(c.name == "KV cache" for c in long.components)




def test_state_formulas_per_ssm_kind():
    from vramscope import spec as S
    from vramscope.estimators.kv import ssm_state_bytes

    def one(ssm):
        layer = S.Layer(0, None, S.MLP(S.MLP_NONE), ssm)
        return ssm_state_bytes(S.ModelSpec("x", "x", "x", 8, 8, (layer,), ()), 2.0)

    # Mamba2-2.7B per layer (formulas.md §3.5): conv (5120 + 2·1·128)·3 = 16,128, ssm 80·64·128 = 655,360
    m2 = S.SSM(S.SSM_MAMBA2, d_inner=5120, d_state=128, d_conv=4, num_heads=80, head_dim=64, n_groups=1)
    assert one(m2) == (16_128 + 655_360) * 2
    # Qwen3-Next gated DeltaNet: 16 k-heads × 128, 32 v-heads × 128, kernel 4
    gdn = S.SSM(S.SSM_GATED_DELTANET, d_inner=4096, d_state=128, d_conv=4, num_heads=32, head_dim=128, n_groups=16)
    assert one(gdn) == ((2 * 128 * 16 + 128 * 32) * 3 + 32 * 128 * 128) * 2




# --- each engine's KV policy ------------------------------------------------------------------------
def test_the_policies_are_the_engine_modules_own():
    assert {name: e.kv for name, e in ENGINES.items()} == {
        "hf": hf.KV_POLICY, "vllm": vllm.KV_POLICY, "llamacpp": llamacpp.KV_POLICY, "sglang": sglang.KV_POLICY,
        "ollama": ollama.KV_POLICY}
    assert kv_bytes_per_token(LLAMA, hf.KV_POLICY) == kv_bytes_per_token(LLAMA, vllm.KV_POLICY) == 131_072


def test_sliding_layers_hold_the_window_in_hf_and_window_minus_one_plus_the_chunk_when_serving():
    g = KVGroup("sliding", layers=21, bytes_per_token=21 * 8192.0, window=4096)
    assert g.tokens_held(20_000, hf.KV_POLICY) == 4096  # DynamicSlidingWindowLayer keeps the window
    # vLLM SlidingWindowSpec: window − 1 + max_num_batched_tokens = 4095 + 2048, in blocks of 16 → 6144
    assert g.tokens_held(20_000, vllm.KV_POLICY, chunk_budget=2048, block=16) == 6144
    assert g.tokens_held(20_000, sglang.KV_POLICY, chunk_budget=2048) == 6143
    # llama.cpp n_swa + n_ubatch (its own 256-cell padding is the engine's, not the group's)
    assert g.tokens_held(20_000, llamacpp.KV_POLICY, chunk_budget=512) == 4607
    assert g.tokens_held(1000, vllm.KV_POLICY, chunk_budget=2048, block=16) == 1008  # short sequences: all tokens


def test_transformers_4_cached_mla_decompressed():
    ds = load_model("deepseek-v3")
    # 61 layers × 128 heads × (q/k head 192 + v head 128) × 2 B, against the latent's 61 × 576 × 2
    assert kv_bytes_per_token(ds, hf.KV_4X) == 61 * 128 * (192 + 128) * 2 == 4_997_120
    assert kv_bytes_per_token(ds, hf.KV_POLICY) == 70_272
    groups = kv_groups(ds, hf.KV_4X, tp=8)
    assert kv_bytes_per_sequence(groups, 100, hf.KV_4X) == 100 * 61 * 16 * 320 * 2  # heads split over TP 8
