"""Inference end to end: fit solvers, CLI, bad input, speed (the engines: test_engine_*.py, KV: test_kv.py)."""

from __future__ import annotations

import json

import pytest

import vramscope
from conftest import run_cli
from vramscope import solve
from vramscope.errors import VramscopeError
from vramscope.estimators.inference import estimate_inference
from vramscope.hardware import custom_gpu, find_gpu
from vramscope.sources import load_model
from vramscope.workload import make_inference

GiB = 2**30
LLAMA = load_model("meta-llama/Llama-3.1-8B")
H100 = find_gpu("H100-SXM-80GB")


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
