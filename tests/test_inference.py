"""Inference memory: KV per attention kind, engines, fit solvers (issue 3's must-show numbers)."""

from __future__ import annotations

import json

import pytest

import vramscope
from conftest import run_cli
from vramscope import solve
from vramscope.errors import VramscopeError
from vramscope.estimators.inference import estimate_inference
from vramscope.estimators.kv import kv_bytes_per_sequence, kv_bytes_per_token, kv_groups
from vramscope.hardware import custom_gpu, find_gpu
from vramscope.sources import load_model
from vramscope.workload import make_inference

GiB = 2**30
LLAMA = load_model("meta-llama/Llama-3.1-8B")
H100 = find_gpu("H100-SXM-80GB")


# --- KV cache per attention kind ------------------------------------------------------------------
def test_llama31_8b_kv_per_token():
    assert kv_bytes_per_token(LLAMA, "vllm", "auto") == 32 * 2 * 8 * 128 * 2 == 131_072
    assert kv_bytes_per_token(LLAMA, "vllm", "fp8") == 65_536
    assert kv_bytes_per_token(LLAMA, "llamacpp", "q8_0") == 32 * 2 * 8 * 128 * 34 / 32


def test_deepseek_v3_mla_latent_in_every_engine():
    ds = load_model("deepseek-v3")
    assert kv_bytes_per_token(ds, "vllm") == 61 * 576 * 2 == 70_272
    assert kv_bytes_per_token(ds, "llamacpp") == 70_272
    # transformers 5 caches the compressed latent too ("Cache read / write is performed while the latent
    # KV is still compressed"); 4.x cached per-head K (192) and V (128): the HF estimate's high band
    assert kv_bytes_per_token(ds, "hf") == 70_272
    est = estimate_inference(ds, make_inference(engine="hf", batch=2, prompt_len=1000, gen_len=24))
    kv = est.component("KV cache")
    assert kv.high >= 2 * 1024 * 61 * 128 * (192 + 128) * 2 > 50 * kv.bytes
    # the latent has one "head": replicated on every TP rank
    assert kv_bytes_per_token(ds, "vllm", tp=8) == 70_272


def test_gemma2_sliding_layers_capped_at_window():
    g = load_model("google/gemma-2-9b")
    per_layer = 2 * 8 * 256 * 2  # 8 KV heads × head_dim 256, K and V; float32 checkpoint cached in 16-bit
    groups = kv_groups(g, "hf")
    seq = kv_bytes_per_sequence(groups, 8192, "hf")
    assert seq == 21 * per_layer * 8192 + 21 * per_layer * 4096
    assert seq < kv_bytes_per_token(g, "hf") * 8192


def test_qwen3_235b_kv_per_gpu_at_tp4():
    # formulas.md §3.2: vLLM log for Qwen3-235B-A22B-FP8 at TP 4 → 48,128 B/token per GPU
    q = load_model("Qwen/Qwen3-235B-A22B")
    assert kv_bytes_per_token(q, "vllm", tp=4) == 94 * 2 * 1 * 128 * 2 == 48_128


def test_kv_heads_replicate_when_tp_exceeds_them():
    assert kv_bytes_per_token(LLAMA, "vllm", tp=8) == 32 * 2 * 1 * 128 * 2
    assert kv_bytes_per_token(LLAMA, "vllm", tp=16) == 32 * 2 * 1 * 128 * 2  # stops shrinking


def test_mamba_state_does_not_grow_with_context():
    m = load_model("state-spaces/mamba-2.8b-hf")
    short = estimate_inference(m, make_inference(context=1000))
    long = estimate_inference(m, make_inference(context=100_000))
    assert short.component("recurrent state").bytes == long.component("recurrent state").bytes
    assert short.component("recurrent state").bytes == 64 * (5120 * 3 + 5120 * 16) * 2
    assert not any(c.name == "KV cache" for c in long.components)


# --- vLLM against its own accounting ---------------------------------------------------------------
def test_vllm_llama31_8b_h100_matches_measured_kv():
    """llm-d measured vLLM 0.11 on H100 (79.18 GiB), util 0.9: KV cache 51.38 GiB
    (llm-d/llm-d-benchmark config_explorer/empirical-vllm-memory-results.md)."""
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="vllm", gpu="H100-SXM-80GB", gpu_memory_utilization=0.9)
    kv_gib = est.component("KV cache").bytes / GiB
    assert kv_gib == pytest.approx(51.38, rel=0.05)
    assert est.details["kv_capacity_tokens"] == pytest.approx(51.38 * GiB / 131_072, rel=0.05)
    # and vLLM's budget adds up: util × total = weights + peak + non-torch + KV
    parts = sum(est.component(n).bytes for n in ("weights", "profile peak (activations)", "non-torch allocations", "KV cache"))
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


# --- llama.cpp ----------------------------------------------------------------------------------------
def test_llamacpp_token_embd_stays_on_host_and_ngl_splits():
    full = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=4096)
    from vramscope.formats import weight_bytes

    file_bytes = weight_bytes(LLAMA, "Q4_K_M").total
    embd = 128256 * 4096 * 144 / 256  # token_embd is Q4_K in a Q4_K_M file
    assert full.component("weights").bytes == pytest.approx(file_bytes - embd, abs=1)
    half = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=4096, n_gpu_layers=16)
    assert half.component("weights").bytes < full.component("weights").bytes / 1.8
    assert half.component("KV cache").bytes == full.component("KV cache").bytes / 2
    assert half.host_bytes > full.host_bytes


def test_llamacpp_compute_buffer_without_flash_attention_grows_with_context():
    fa = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=32768)
    no = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=32768, flash_attn=False)
    extra = no.component("compute buffer").bytes - fa.component("compute buffer").bytes
    assert extra == 4 * 32768 * 512 * 32


# --- solvers ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["hf", "vllm", "llamacpp"])
def test_max_context_round_trip(engine):
    gpu = find_gpu("RTX-4090") if engine != "vllm" else H100
    wl = make_inference(engine=engine, batch=8 if engine == "vllm" else 2, n_parallel=4 if engine == "llamacpp" else 1,
                        weights="Q4_K_M" if engine == "llamacpp" else None)
    n = solve.max_context(LLAMA, wl, gpu)
    step = solve.context_step(wl)
    assert n > 0
    at = wl.replace(**{"context": n, **({"max_model_len": n} if engine == "vllm" else {})})
    over = wl.replace(**{"context": n + step, **({"max_model_len": n + step} if engine == "vllm" else {})})
    assert estimate_inference(LLAMA, at, gpu).fits
    assert not estimate_inference(LLAMA, over, gpu).fits


def test_max_batch_round_trip():
    wl = make_inference(engine="hf", context=4096)
    gpu = find_gpu("RTX-4090")
    b = solve.max_batch(LLAMA, wl, gpu)
    assert b > 1
    assert estimate_inference(LLAMA, wl.replace(batch=b), gpu).fits
    assert not estimate_inference(LLAMA, wl.replace(batch=b + 1), gpu).fits


def test_max_ngl_round_trip():
    gpu = custom_gpu("6GiB")
    wl = make_inference(engine="llamacpp", weights="Q4_K_M", context=8192)
    n = solve.max_ngl(LLAMA, wl, gpu)
    assert 0 < n < 33
    assert estimate_inference(LLAMA, wl.replace(n_gpu_layers=n), gpu).fits
    assert not estimate_inference(LLAMA, wl.replace(n_gpu_layers=n + 1), gpu).fits


def test_min_gpus_for_llama70b_on_h100():
    spec = load_model("meta-llama/Llama-3.1-70B")
    wl = make_inference(engine="vllm", context=8192)
    p = solve.min_gpus(spec, wl, H100)
    assert p.estimate.fits and p.count >= 2  # 131 GiB of bf16 weights need more than one 80 GB card
    # minimal: no layout with fewer GPUs fits
    for tp, pp in ((1, 1), (2, 1), (1, 2)):
        if tp * pp < p.count:
            assert not estimate_inference(spec, wl.replace(tp=tp, pp=pp), H100).fits
    # at util 0.95 two GPUs with TP 2 are enough (the common deployment)
    p95 = solve.min_gpus(spec, wl.replace(gpu_memory_utilization=0.95), H100)
    assert (p95.count, p95.tp) == (2, 2)


def test_plan_ranks_by_price():
    rows = vramscope.plan("meta-llama/Llama-3.1-8B", engine="hf", context=4096)
    assert rows and all(r["per_gpu_bytes"] <= r["gpu_memory_bytes"] for r in rows)
    priced = [r["price_usd"] for r in rows if r["price_usd"]]
    assert priced == sorted(priced)


# --- CLI and bad input -------------------------------------------------------------------------------
def test_cli_estimate_vllm_json_offline(capsys):
    code, out, err = run_cli(["estimate", "meta-llama/Llama-3.1-8B", "--engine", "vllm", "--gpu", "H100-SXM-80GB", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["model"]["params_total"] == 8_030_261_248 and doc["fits"] is True
    assert {"name", "bytes", "formula"} <= set(doc["components"][0])
    assert doc["low_bytes"] <= doc["per_gpu_bytes"] <= doc["high_bytes"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"context": 0}, "context"),
        ({"context": -5}, "context"),
        ({"batch": 10**9}, "batch"),
        ({"batch": 0}, "batch"),
        ({"engine": "tgi"}, "engine"),
        ({"gpu": "H1000"}, "H1000"),
        ({"tp": 3}, "does not divide the 32 attention heads"),
        ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization"),
        ({"kv_dtype": "q9"}, "KV-cache dtype"),
    ],
)
def test_bad_inference_input(kwargs, fragment):
    with pytest.raises(VramscopeError, match=fragment):
        vramscope.estimate("meta-llama/Llama-3.1-8B", **kwargs)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--context", "0"], "context"), (["--gpu", "nonsense-gpu"], "nonsense-gpu"), (["--engine", "foo"], "engine"),
    (["--tp", "5"], "does not divide"), (["--batch", "-1"], "batch"),
])
def test_cli_bad_inference_input_exits_2(args, fragment, capsys):
    code, _, err = run_cli(["estimate", "llama-3.1-8b", *args], capsys)
    assert code == 2 and fragment in err and err.startswith("error:")


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


def test_decode_speed_is_the_bandwidth_roofline():
    # batch 1, short context: one step reads the weights once; tokens/s = 0.75 · bandwidth / bytes read
    est = vramscope.estimate(LLAMA, engine="vllm", gpu="H100-SXM-80GB", context=1)
    sp = est.details["speed"]
    weights = 2 * 8_030_261_248
    read = weights + 1 * 1 * 131_072
    assert sp["decode_tokens_per_s"] == pytest.approx(0.75 * H100.bandwidth_gbs * 1e9 / read)
    assert sp["prefill_seconds"] > 0


@pytest.mark.parametrize("engine", ["hf", "llamacpp", "vllm"])
@pytest.mark.parametrize(("model", "batch", "context"), [
    ("meta-llama/Llama-3.1-70B", 8, 32768), ("Qwen/Qwen3-8B", 64, 8192), ("mistralai/Mixtral-8x7B-v0.1", 4, 4096)])
def test_fit_list_shortcut_equals_asking_each_gpu(engine, model, batch, context):
    """fit_gpus skips layouts by a GPU-independent demand; the answers must equal per-GPU min_gpus."""
    from vramscope.hardware import gpus

    spec = load_model(model)
    if engine == "llamacpp":  # one GPU, `batch` slots of the context: the quantised file a llama.cpp user runs
        wl = make_inference(engine=engine, batch=1, context=context, weights="Q4_K_M")
    else:
        wl = make_inference(engine=engine, batch=batch, context=context)
    listed = [(p.gpu.id, p.count, p.tp, p.pp, p.estimate.per_gpu_bytes) for p in solve.fit_gpus(spec, wl, max_gpus=16)]
    each = [(p.gpu.id, p.count, p.tp, p.pp, p.estimate.per_gpu_bytes)
            for g in gpus() if (p := solve.min_gpus(spec, wl, g, 16)) is not None]
    assert listed == each and len(listed) > 5


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
