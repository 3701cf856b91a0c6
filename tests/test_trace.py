"""Exact mode on tiny configs: fake-tensor traces checked against byte counts made by hand,
layer extrapolation against full traces, and the estimator beside them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import run_cli

pytestmark = [pytest.mark.torch, pytest.mark.slow]  # fake-tensor traces of real models: minutes

# h 256, 8 heads of 32, 2 KV heads, I 704, V 2048, 6 layers, untied — every tensor a multiple of 512 B
TINY = dict(model_type="llama", hidden_size=256, intermediate_size=704, num_attention_heads=8, num_key_value_heads=2,
            vocab_size=2048, max_position_embeddings=4096, num_hidden_layers=6)
H, I, V, L, HKV = 256, 704, 2048, 6, 64
LAYER = H * H * 2 + HKV * H * 2 + 3 * H * I + 2 * H  # q, o; k, v; gate, up, down; two RMSNorms
PARAMS = 2 * V * H + L * LAYER + H  # embeddings, lm_head, layers, final norm
LINEAR = L * (H * H * 2 + HKV * H * 2 + 3 * H * I) + V * H  # what autocast casts: every Linear incl. lm_head

# a small MoE (Qwen2-MoE: 4 experts, top-2, shared expert) and a sliding/full mix (Gemma 3)
MOE = dict(model_type="qwen2_moe", hidden_size=128, intermediate_size=256, moe_intermediate_size=64,
           shared_expert_intermediate_size=128, num_experts=4, num_experts_per_tok=2, num_attention_heads=4,
           num_key_value_heads=2, vocab_size=1024, num_hidden_layers=5, max_position_embeddings=2048)
SLIDING = dict(model_type="gemma3_text", hidden_size=128, intermediate_size=256, num_attention_heads=4,
               num_key_value_heads=1, head_dim=32, vocab_size=1024, num_hidden_layers=7, sliding_window=32,
               layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2 + ["sliding_attention"],
               max_position_embeddings=2048)


@pytest.fixture(scope="module")
def tr():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from vramscope.exact import trace

    return trace


def test_pure_bf16_sgd_counts_params_and_grads_by_hand(tr):
    r = tr.trace_training(TINY, optimizer="sgd", optimizer_impl="forloop", batch=2, seq_len=64, extrapolate=False)
    assert r.param_bytes == r.categories["parameters"] == 2 * PARAMS
    assert r.trainable_params == r.total_params == PARAMS
    step = r.phase_categories["optimizer"]
    assert step["gradients"] == 2 * PARAMS  # every .grad alive during the step, bf16
    assert step["optimizer"] == 0  # plain SGD keeps no state
    assert r.final_categories["gradients"] == 0  # zero_grad(set_to_none=True)


@pytest.mark.parametrize("precision,state_bytes", [("bf16", 2 * 2), ("fp32", 2 * 4)])
def test_adamw_states_take_the_param_dtype(tr, precision, state_bytes):
    r = tr.trace_training(TINY, precision=precision, optimizer_impl="forloop", batch=1, seq_len=32, extrapolate=False)
    assert r.optimizer_bytes == state_bytes * PARAMS  # exp_avg + exp_avg_sq; step counters live on the host
    assert r.param_bytes == state_bytes // 2 * PARAMS
    fused = tr.trace_training(TINY, precision=precision, optimizer_impl="fused", batch=1, seq_len=32, extrapolate=False)
    n_tensors = 2 + L * 9 + 1
    assert fused.optimizer_bytes == state_bytes * PARAMS + n_tensors * 512  # fused: a GPU step tensor per param


def test_mixed_precision_keeps_fp32_states_and_caches_bf16_weight_copies(tr):
    r = tr.trace_training(TINY, precision="mixed", optimizer_impl="forloop", batch=2, seq_len=64, extrapolate=False)
    fwd = r.phase_categories["forward"]
    assert fwd["parameters"] == 4 * PARAMS and fwd["optimizer"] == 8 * PARAMS
    assert fwd["weight_copies"] == 2 * LINEAR  # autocast's bf16 copies of every Linear weight (not embeddings/norms)
    pure = tr.trace_training(TINY, precision="bf16", optimizer_impl="forloop", batch=2, seq_len=64, extrapolate=False)
    assert r.peak_bytes > 1.9 * pure.peak_bytes


def test_lora_adapters_are_fp32_and_counted_by_hand(tr):
    r = tr.trace_training(TINY, method="lora", lora_rank=8, lora_targets=("q_proj", "v_proj"), optimizer_impl="forloop",
                          batch=2, seq_len=64, extrapolate=False)
    lora = L * 8 * ((H + H) + (H + HKV))  # r·(d_in + d_out) for q and v
    assert r.trainable_params == lora and r.total_params == PARAMS + lora
    assert r.param_bytes == 2 * PARAMS + 4 * lora  # frozen bf16 base + fp32 adapters (PEFT's default)
    assert r.optimizer_bytes == 8 * lora
    assert r.phase_categories["optimizer"]["gradients"] == 4 * lora
    allr = tr.trace_training(TINY, method="lora", lora_rank=8, lora_targets="all-linear", batch=2, seq_len=64,
                             extrapolate=False)
    assert allr.trainable_params == L * 8 * (2 * (H + H) + 2 * (H + HKV) + 3 * (H + I))


def test_inference_kv_cache_at_the_end(tr):
    b, p, g = 3, 40, 5
    r = tr.trace_inference(TINY, batch=b, prompt_len=p, gen_len=g)
    kv = 2 * L * 2 * 32 * 2 * b * (p + g)  # K and V · layers · n_kv · head_dim · bf16 · tokens
    assert r.final_categories["kv_cache"] == pytest.approx(kv, rel=0.01)
    assert r.param_bytes == 2 * PARAMS and r.phase in ("prefill", "decode")
    assert r.grad_bytes == r.optimizer_bytes == 0


@pytest.mark.parametrize("config,kw", [
    (TINY, dict(batch=2, seq_len=128)),
    (TINY, dict(batch=2, seq_len=128, method="lora", grad_ckpt=True)),
    (MOE, dict(batch=2, seq_len=64)),
    (SLIDING, dict(batch=1, seq_len=96, precision="mixed")),
], ids=["dense-gqa", "dense-lora-ckpt", "moe", "sliding-mixed"])
def test_extrapolation_equals_full_trace(tr, config, kw):
    full = tr.trace_training(config, extrapolate=False, **kw)
    ex = tr.trace_training(config, **kw)
    assert ex.extrapolated and not full.extrapolated and max(ex.traced_layers) < config["num_hidden_layers"]
    assert ex.peak_bytes == pytest.approx(full.peak_bytes, rel=0.005)
    assert ex.phase == full.phase
    for c, v in full.categories.items():
        assert abs(ex.categories[c] - v) <= 0.005 * full.peak_bytes, c


def test_extrapolated_inference_equals_full_trace_with_sliding_layers(tr):
    full = tr.trace_inference(SLIDING, batch=2, prompt_len=80, gen_len=3, extrapolate=False)
    ex = tr.trace_inference(SLIDING, batch=2, prompt_len=80, gen_len=3)
    assert ex.extrapolated and ex.peak_bytes == pytest.approx(full.peak_bytes, rel=0.005)
    assert ex.final_categories["kv_cache"] == pytest.approx(full.final_categories["kv_cache"], rel=0.005)
    # sliding layers keep their 32-token window: less than 7 full layers of 83 tokens
    assert full.final_categories["kv_cache"] < 2 * 7 * 32 * 2 * 2 * 83


def test_gradient_checkpointing_lowers_activations(tr):
    plain = tr.trace_training(TINY, batch=2, seq_len=256)
    ckpt = tr.trace_training(TINY, batch=2, seq_len=256, grad_ckpt=True)
    assert ckpt.phase_categories["forward"]["activations"] < 0.5 * plain.phase_categories["forward"]["activations"]
    assert ckpt.peak_bytes < plain.peak_bytes
    assert any("use_reentrant=False" in n for n in ckpt.notes)


def test_eager_attention_saves_more_than_sdpa_at_long_sequences(tr):
    sdpa = tr.trace_training(TINY, batch=1, seq_len=1024, attn="sdpa")
    eager = tr.trace_training(TINY, batch=1, seq_len=1024, attn="eager")
    # eager keeps the b·n_h·s² scores and probabilities per layer: ≥ 2 B·8·1024² per layer
    assert eager.phase_categories["forward"]["activations"] - sdpa.phase_categories["forward"]["activations"] \
        >= L * 2 * 8 * 1024 * 1024
    assert any("flash_attention" in n for n in sdpa.notes)


def test_estimator_within_5_percent_of_the_trace(tr):
    from vramscope.estimators.training import estimate_training
    from vramscope.families import spec_from_config
    from vramscope.workload import make_training

    kw = dict(batch=2, seq_len=256)
    full = tr.trace_training(TINY, extrapolate=False, optimizer_impl="forloop", **kw)
    spec = spec_from_config({**TINY, "torch_dtype": "bfloat16"}, model_id="tiny")
    est = estimate_training(spec, make_training(method="full", optimizer_impl="forloop", **kw))
    mine = est.per_gpu_bytes - est.component("cuda_context").bytes - est.component("allocator_slack").bytes
    assert mine == pytest.approx(full.peak_bytes, rel=0.05)


@pytest.mark.parametrize("kw,message", [
    (dict(method="qlora"), "bitsandbytes"),
    (dict(attn="flash_attention_2"), "FlashAttention-2 needs CUDA"),
    (dict(precision="int8"), "precision"),
    (dict(seq_len=0), "seq_len"),
])
def test_bad_requests_are_vramscope_errors(tr, kw, message):
    from vramscope.errors import VramscopeError

    with pytest.raises(VramscopeError, match=message):
        tr.trace_training(TINY, **kw)


def test_missing_peft_names_the_extra(tr, monkeypatch):
    from vramscope.errors import VramscopeError

    monkeypatch.setitem(sys.modules, "peft", None)
    with pytest.raises(VramscopeError, match=r"vramscope\[exact\]"):
        tr.trace_training(TINY, method="lora")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(VramscopeError, match=r"pip install 'vramscope\[exact\]'"):
        tr.trace_inference(TINY)


def test_result_to_dict_is_json():
    from vramscope.exact.result import TraceResult

    r = TraceResult("m", "training", 10, {"parameters": 10}, "forward", 10, 0, 0, 1, 1, 2, True, (2, 3), 0.1,
                    notes=("a",))
    assert json.loads(json.dumps(r.to_dict()))["traced_layers"] == [2, 3]


def test_importing_exact_does_not_import_torch():
    code = "import sys, vramscope.exact, vramscope.exact.measure, vramscope.exact.suite; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_trace_cli(tmp_path, capsys, tr):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(TINY))
    code, out, err = run_cli(["trace", str(cfg), "--batch", "2", "--seq-len", "128", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["extrapolated"] and doc["traced_layers"] == [2, 3]
    assert doc["categories"]["parameters"] == 2 * PARAMS and doc["peak_bytes"] == sum(doc["categories"].values())
    code, out, err = run_cli(["trace", str(cfg), "--method", "lora", "--lora-targets", "q_proj,k_proj,v_proj,o_proj",
                              "--seq-len", "64"], capsys)
    assert code == 0, err
    assert "parameters" in out and "activations" in out and "GiB" in out and "peak" in out
    code, out, err = run_cli(["trace", str(cfg), "--inference", "--prompt-len", "32", "--gen-len", "2"], capsys)
    assert code == 0 and "kv_cache" in out.replace("KV cache", "kv_cache")
    code, out, err = run_cli(["trace", str(cfg), "--attn", "flash"], capsys)
    assert code == 2 and "FlashAttention-2 needs CUDA" in err and len(err.strip().splitlines()) == 1
