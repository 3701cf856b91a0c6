"""The invariant checker (vramscope.invariants) and the absurd answers it was built to catch, each
pinned by its reproducer with the figures worked out by hand ("Nothing misread, nothing absurd").

conftest sets VRAMSCOPE_CHECK=1, so every estimate of the whole suite is checked as it is made;
these tests hold the checker itself and the fixes of what it found.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import vramscope
from conftest import run_cli
from vramscope.errors import InvariantError, VramscopeError
from vramscope.estimators.result import Component
from vramscope.invariants import assert_sound, check_estimate, formula_problem, formula_value

GiB = 2 ** 30
MiB = 2 ** 20
CTX = 500 * MiB  # the CUDA context component (estimators.common)
GRAPHS = int(0.3 * GiB)  # vLLM's / SGLang's CUDA graphs component


# --- the checker --------------------------------------------------------------------------------------
def test_formula_texts_are_read_as_arithmetic():
    # 8 is exact (a bare integer below 1000); 8192 and 131,072 may be rounded by half a unit each
    assert formula_value("8 seq × 8192 tokens × 131,072 B/token (dynamic cache)") == (
        8 * 8192 * 131072, 8 * 0.5 * 131072 + 8 * 8192 * 0.5 + 8 * 0.5 * 0.5)
    # a label before a number, a parenthesised sum as a factor, a remark after a comma
    assert formula_value("1 × V 128256 × (2 B bf16 + 4 B fp32 copy), logits_to_keep=1")[0] == 128256 * 6
    assert formula_value("0.5 × 24.00 GiB")[0] == 12 * GiB
    assert formula_value("2 B × 1,000 params / TP 2")[0] == 1000
    # texts that do not start with numbers multiplied, or that name what else is in them, are not judged
    assert formula_value("Σ tensor bytes in bf16 / TP 1") is None
    assert formula_value("util 0.9 × 24.00 GiB − weights − peak") is None
    assert formula_value("0.35 GiB") is None  # no operator: a figure, not a product
    assert formula_problem("8192 tokens × 131,072 B/token", 8192 * 131072 + 32 * MiB) is not None
    assert formula_problem("8192 tokens × 131,072 B/token", 8192 * 131072) is None


def _sound_estimate():
    est = vramscope.estimate("meta-llama/Llama-3.1-8B", gpu="RTX-4090", context=4096)
    assert check_estimate(est) == []
    return est


def test_violations_are_named_and_raise_an_invariant_error():
    est = _sound_estimate()
    bad = replace(est, components=est.components + (Component("mystery", -5, "2 × 3 B", "engine"),))
    problems = check_estimate(bad)
    assert "mystery: negative bytes (-5 B)" in problems
    assert any("mystery: band out of order" in p for p in problems) is False  # low = high = bytes when unset
    assert any(p.startswith("mystery: formula '2 × 3 B' multiplies out to 6 B") for p in problems)
    wrong_fit = replace(est, fit=replace(est.fit, fits=not est.fits))
    assert any("fits is" in p for p in check_estimate(wrong_fit))
    with pytest.raises(InvariantError) as exc:
        assert_sound(bad)
    assert isinstance(exc.value, VramscopeError)
    assert str(exc.value).endswith("please report")
    assert "  - mystery: negative bytes (-5 B)" in str(exc.value).splitlines()


def test_params_and_bands_are_checked():
    est = _sound_estimate()
    odd = replace(est, model={**est.model, "params_active": est.model["params_total"] + 1})
    assert any("params_active" in p and "exceeds" in p for p in check_estimate(odd))
    c = est.components[0]
    flipped = replace(est, components=(replace(c, low=c.bytes + 1),) + est.components[1:])
    assert any("band out of order" in p for p in check_estimate(flipped))


def test_check_flag_fails_with_the_violation_lines(monkeypatch, capsys):
    """--check turns a broken estimate into exit 3 (a bug, as every internal error) and the violations; the
    bug is seeded by hand here."""
    from vramscope.estimators.engines import hf

    monkeypatch.setattr(hf, "cuda_context", lambda: Component("CUDA context", -1, "nothing", "cuda_context"))
    monkeypatch.setenv("VRAMSCOPE_CHECK", "0")  # only the flag checks in this test
    code, out, err = run_cli(["estimate", "meta-llama/Llama-3.1-8B", "--json"], capsys)
    assert code == 0  # unchecked, the broken figure goes out
    code, out, err = run_cli(["estimate", "meta-llama/Llama-3.1-8B", "--check"], capsys)
    assert code == 3 and out == ""
    lines = err.strip().splitlines()
    assert lines[0].startswith("error: the inference estimate of meta-llama/Llama-3.1-8B (hf) breaks")
    assert "  - CUDA context: negative bytes (-1 B)" in lines
    assert lines[-1] == "this is a bug in vramscope: please report"
    code, _, err = run_cli(["fit", "meta-llama/Llama-3.1-8B", "--gpu", "RTX-4090", "--check"], capsys)
    assert code == 3 and "negative bytes" in err
    code, _, err = run_cli(["plan", "meta-llama/Llama-3.1-8B", "--check"], capsys)
    assert code == 3 and "negative bytes" in err


@pytest.mark.parametrize("args", [
    ["estimate", "Qwen/Qwen3-0.6B", "--engine", "sglang", "--gpu", "RTX-4090", "--check"],
    ["estimate", "meta-llama/Llama-3.1-8B", "--method", "lora", "--gpu", "H100", "--check"],
    ["fit", "meta-llama/Llama-3.1-8B", "--engine", "vllm", "--gpu", "L4", "--check"],
    ["plan", "meta-llama/Llama-3.1-8B", "--engine", "llamacpp", "-w", "Q4_K_M", "--check"],
])
def test_check_flag_passes_on_sound_answers(args, capsys, monkeypatch):
    monkeypatch.setenv("VRAMSCOPE_CHECK", "0")
    code, out, err = run_cli(args, capsys)
    assert code == 0, err


# --- SGLang: fits true at 24.37 GiB on a 24 GiB card --------------------------------------------------
def test_sglang_qwen3_on_rtx4090_uses_sglangs_own_defaults_and_fits_honestly(capsys):
    code, out, _ = run_cli(["estimate", "Qwen/Qwen3-0.6B", "--engine", "sglang", "--gpu", "RTX-4090", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    total = 24 * GiB  # the catalog's RTX 4090
    # server_args._handle_gpu_memory_settings at 24576 MiB: chunked prefill 2048, cuda_graph_max_bs 24,
    # reserved 512 + 2048·1.5 + 24·2 + 1·1/8·1024 = 3760 MiB
    frac = round((24576 - 3760) / 24576, 3)
    assert frac == 0.847 and d["details"]["mem_fraction_static"] == frac
    weights = 2 * 596_049_920
    pool = int(frac * (total - CTX)) - weights
    v = 151_936
    acts = 2048 * v * 2 + 256 * v * 4  # logits of a 2048-token chunk + the sampler's fp32 rows
    # SGLang's request table: min(max(int(tokens / 40,960 × 512), 2048), 4096) rows of 40,960 + 4 int32
    tokens = pool // (28 * 8 * 128 * 2 * 2)
    slots = min(max(int(tokens / 40_960 * 512), 2048), 4096)
    req = slots * 40_964 * 4
    by_name = {c["name"]: c["bytes"] for c in d["components"]}
    assert by_name == {"weights": weights, "KV cache (token pool)": pool, "request slots (req_to_token)": req,
                       "activations": acts, "CUDA graphs": GRAPHS, "CUDA context": CTX}
    assert d["per_gpu_bytes"] == int(frac * (total - CTX)) + req + acts + GRAPHS + CTX <= total
    assert d["fits"] is True


def test_sglang_does_not_fit_when_its_rest_does_not():
    """With mem_fraction_static 0.97 the pool is large, but activations, graphs and context no longer fit."""
    est = vramscope.estimate("Qwen/Qwen3-0.6B", engine="sglang", gpu="RTX-4090", mem_fraction_static=0.97)
    v = 151_936
    tokens = (int(0.97 * (24 * GiB - CTX)) - 2 * 596_049_920) // (28 * 8 * 128 * 2 * 2)
    req = min(max(int(tokens / 40_960 * 512), 2048), 4096) * 40_964 * 4
    per_gpu = int(0.97 * (24 * GiB - CTX)) + req + 2048 * v * 2 + 256 * v * 4 + GRAPHS + CTX
    assert est.per_gpu_bytes == per_gpu > 24 * GiB
    assert est.fits is False


def test_sglang_refuses_to_start_without_a_pool():
    est = vramscope.estimate("meta-llama/Llama-3.1-70B", engine="sglang", gpu="RTX-4090")
    assert est.component("kv_cache").bytes == 0 and est.fits is False
    assert any("SGLang refuses to start" in a for a in est.assumptions)


# --- llama.cpp: 10^13 parameters (bare sizes now stop at 5T: 5000B) ----------------------------------------------------------------------
def test_llamacpp_a_model_larger_than_the_gpu_does_not_fit(capsys):
    code, out, _ = run_cli(["estimate", "5000B", "--engine", "llamacpp", "--gpu", "H100-SXM-80GB", "--json"], capsys)
    d = json.loads(out)
    weights = next(c["bytes"] for c in d["components"] if c["name"] == "weights")
    assert weights > 5_000e9 * 2 * 0.99  # every layer in bf16 on the GPU (token_embd on the host)
    assert d["fits"] is False and d["per_gpu_bytes"] > d["gpu"]["memory_bytes"]


def test_llamacpp_cpu_only_says_what_fits_means():
    est = vramscope.estimate("5000B", engine="llamacpp", gpu="H100-SXM-80GB", n_gpu_layers=0)
    assert est.component("weights").bytes == 0 and est.component("kv_cache").bytes == 0
    assert est.fits is True  # the GPU holds the compute buffer and the context only …
    assert est.host_bytes > 5_000e9 * 2 * 0.99  # … and the weights are in host RAM, which the note says
    assert any(a.startswith("-ngl 0: every layer runs on the CPU") and "'fits' speaks of the GPU alone" in a
               for a in est.assumptions)


def test_llamacpp_batch_means_slots_and_gpus_split_layers():
    """llama-server serves -np slots at once: --batch 4 needs 4 slots of n_ctx each."""
    one = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="llamacpp", context=4096)
    four = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="llamacpp", context=4096, batch=4)
    per_cell = 32 * 8 * 128 * 2 * 2  # f16 K and V of 32 layers × 8 KV heads × 128
    assert one.component("kv_cache").bytes == 4096 * per_cell
    assert four.component("kv_cache").bytes == 4 * 4096 * per_cell
    assert four.details["n_ctx"] == 16384
    two = vramscope.estimate("meta-llama/Llama-3.1-8B", engine="llamacpp", context=4096, gpus=2)
    assert [d.kv_bytes for d in two.placement.devices] == [17 * 4096 * per_cell // 32, 15 * 4096 * per_cell // 32]
    with pytest.raises(VramscopeError, match="tp"):
        vramscope.estimate("meta-llama/Llama-3.1-8B", engine="llamacpp", tp=2)
    # the fit solver no longer answers a batch llama.cpp never read (it used to say 1,000,000)
    res = vramscope.fit("meta-llama/Llama-3.1-8B", engine="llamacpp", weights="Q4_K_M", gpu="RTX-4090", context=8192)
    assert 1 < res.max_batch < 100


# --- no negative figure; clamps say so ------------------------------------------------------------------
def test_vllm_without_room_for_kv_says_so_and_keeps_every_figure_non_negative():
    est = vramscope.estimate("meta-llama/Llama-3.1-70B", engine="vllm", gpu="RTX-4090")
    kv = est.component("kv_cache")
    assert kv.bytes == 0 and "vLLM refuses to start" in kv.note and est.fits is False
    budget = int(24 * GiB * 0.9)
    short = est.component("weights").bytes + est.component("profile_peak").bytes + est.component(
        "non_torch_allocations").bytes + est.component("cuda_graphs").bytes - budget  # 0.24: graphs estimated first
    assert f"by {short / GiB:,.2f} GiB" in kv.note
    assert est.details["kv_capacity_tokens"] == 0 and est.details["num_gpu_blocks"] == 0


def test_hybrid_state_is_counted_once_and_concurrency_is_never_negative():
    jamba = "ai21labs/AI21-Jamba-1.5-Mini"
    est = vramscope.estimate(jamba, engine="vllm")  # no GPU: KV of the workload
    assert est.component("kv_cache").bytes == 1280 * 4 * 8 * 128 * 2 * 2  # 4 attention layers, 8 KV heads
    state = est.component("recurrent_state").bytes
    assert sum(c.bytes for c in est.components if c.category in ("kv_cache", "recurrent_state")) == (
        1280 * 16384 + state)
    on_4090 = vramscope.estimate(jamba, engine="vllm", gpu="RTX-4090")
    assert on_4090.details["max_concurrency"] == 0 and on_4090.fits is False


def test_vllm_utilisation_near_one_leaves_no_room_for_the_graphs():
    """Before 0.20 CUDA graphs and the context live outside gpu_memory_utilization: at 0.98 they overflow
    24 GiB. From 0.20 the graphs are estimated inside the budget; the context alone still overflows."""
    old = vramscope.estimate("01-ai/Yi-6B", engine="vllm", gpu="RTX-4090", gpu_memory_utilization=0.98,
                             vllm_version="0.19.1")
    assert old.per_gpu_bytes == int(24 * GiB * 0.98) + GRAPHS + CTX > 24 * GiB
    assert old.fits is False
    new = vramscope.estimate("01-ai/Yi-6B", engine="vllm", gpu="RTX-4090", gpu_memory_utilization=0.98)
    assert new.per_gpu_bytes == int(24 * GiB * 0.98) + CTX > 24 * GiB
    assert new.fits is False


# --- HF: the KV text multiplies out to its bytes -----------------------------------------------------
def test_hf_kv_names_the_decode_copy_and_drops_it_without_decode():
    llama = "meta-llama/Llama-3.1-8B"
    per_token, layer = 131_072, 131_072 // 32
    gen = vramscope.estimate(llama, context=8192).component("kv_cache")
    assert gen.bytes == 8192 * per_token + 8192 * layer  # + one layer's torch.cat copy in a decode step
    assert "+ 1 seq × 8,192 tokens × 4,096 B/token (one layer's K/V copied by DynamicCache's torch.cat" in gen.formula
    prefill = vramscope.estimate(llama, prompt_len=8192, gen_len=0).component("kv_cache")
    assert prefill.bytes == 8192 * per_token and "torch.cat" not in prefill.formula
    for c in (gen, prefill):
        assert formula_problem(c.formula, c.bytes) is None


def test_hf_gemma2_prefill_kv_shows_the_uncapped_bytes_per_token():
    kv = vramscope.estimate("google/gemma-2-27b", context=8192).component("kv_cache")
    full = 46 * 16 * 128 * 2 * 2  # every layer, the sliding ones too, holds the prompt at the prefill
    assert kv.bytes == (8192 - 256) * full
    assert kv.formula.startswith("1 seq × 7,936 prompt tokens × 376,832 B/token (the prefill")


# --- training texts and phases --------------------------------------------------------------------------
def test_training_peak_is_the_largest_phase_with_its_slack():
    est = vramscope.estimate("meta-llama/Llama-2-7b-hf", method="full")
    phases = est.details["phases"]
    assert est.details["peak_phase"] == max(phases, key=phases.get) == "backward start"
    assert abs(phases["backward start"] - est.per_gpu_bytes) <= len(est.components)


def test_offloaded_and_reference_weights_say_what_their_bytes_are():
    z3 = vramscope.estimate("Qwen/Qwen3-0.6B", method="full", precision="mixed", zero=3, gpus=8, offload="params")
    w = z3.component("weights")
    assert w.bytes == 0 and w.formula.startswith("offloaded to host RAM, none on the GPU")
    grpo = vramscope.estimate("Qwen/Qwen3-0.6B", method="full", rl="grpo", beta=0.1, tp=2, gpus=2)
    ref = grpo.component("reference_model")
    assert ref.bytes == 2 * 596_049_920 // 2 and ref.formula.endswith("/ TP 2")
