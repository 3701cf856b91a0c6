"""Training estimates end to end: properties, bad input, the CLI, rules of thumb, export.

The formulas have a test module each: test_training_regime / _states / _forward / _buffers /
_phases (estimators/training/), test_sharding, test_activations, test_trainable, test_rl."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vramscope
from conftest import run_cli
from vramscope.errors import VramscopeError
from vramscope.sources import load_model

LLAMA8 = "meta-llama/Llama-3.1-8B"


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


# --- properties -------------------------------------------------------------------------------------
MODELS = ["meta-llama/Llama-3.2-1B", "Qwen/Qwen2.5-0.5B", "mistralai/Mixtral-8x7B-v0.1"]


@settings(max_examples=25, deadline=None)
@given(model=st.sampled_from(MODELS), batch=st.integers(1, 16), seq=st.integers(16, 8192), rank=st.sampled_from([4, 8, 16, 64]),
       ckpt=st.sampled_from(["none", "full"]))
def test_qlora_never_above_lora_and_monotonic(model, batch, seq, rank, ckpt):
    kw = dict(batch=batch, seq_len=seq, lora_rank=rank, grad_ckpt=ckpt)
    lora = _est(model, method="lora", **kw).per_gpu_bytes
    # same residual dtype: PEFT's prepare_model_for_kbit_training makes QLoRA's residual stream fp32
    # (4·h per checkpointed layer), which can cost more than the 4-bit base saves at long sequences
    qlora = _est(model, method="qlora", kbit_prepare=False, **kw).per_gpu_bytes
    assert qlora <= lora
    assert _est(model, method="lora", **{**kw, "batch": batch + 1}).per_gpu_bytes >= lora
    assert _est(model, method="lora", **{**kw, "seq_len": seq + 64}).per_gpu_bytes >= lora
    assert _est(model, method="lora", **{**kw, "lora_rank": rank * 2}).per_gpu_bytes >= lora


# --- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw,message", [
    (dict(method="lora", lora_rank=0), "lora_rank must be a positive integer"),
    (dict(method="lora", lora_rank=-3), "lora_rank must be a positive integer"),
    (dict(method="lora", lora_targets="q_proj,wq"), "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj"),
    (dict(method="full", zero=4), "stages 0, 1, 2 and 3"),
    (dict(method="full", gpus=6, tp=4), "not divisible by tp×pp×cp"),
    (dict(method="full", tp=3, gpus=3), "does not divide the 32 attention heads"),
    (dict(method="full", ep=2, gpus=2), "needs an MoE model"),
    (dict(method="full", offload="params"), "needs ZeRO-3 or FSDP"),
    (dict(method="full", grad_accum=4, optimizer_in_backward=True), "cannot accumulate"),
    (dict(method="sft"), "method"),
    (dict(method="full", engine="vllm"), "apply to inference"),
])
def test_bad_training_input(kw, message):
    with pytest.raises(VramscopeError, match=None) as exc:
        _est(**kw)
    assert message in str(exc.value)


@pytest.mark.parametrize("args,message", [
    (["--method", "lora", "--lora-rank", "0"], "lora_rank must be a positive integer"),
    (["--method", "lora", "--lora-targets", "foo"], "its Linear layers are: q_proj"),
    (["--method", "full", "--zero", "4"], "stages 0, 1, 2 and 3"),
    (["--method", "full", "--gpus", "6", "--tp", "4"], "not divisible"),
    (["--lora-rank", "8"], "add --method"),
    (["--method", "full", "--engine", "vllm"], "inference option"),
])
def test_cli_training_errors(capsys, args, message):
    code, out, err = run_cli(["estimate", LLAMA8, *args], capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out and len(err.strip().splitlines()) == 1


def test_cli_training_json(capsys):
    import json

    code, out, err = run_cli(["estimate", LLAMA8, "--method", "qlora", "--batch", "2", "--seq-len", "1024", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["mode"] == "training"
    assert doc["workload"]["method"] == "qlora" and doc["workload"]["seq_len"] == 1024
    from vramscope.schema import EstimateDocument

    EstimateDocument.model_validate(doc)


def test_seed_rules_of_thumb_are_listed_beside_the_estimate():
    from vramscope import pai

    spec = load_model("mistralai/Mistral-7B-v0.1")
    P = spec.params_total
    est = _est("mistralai/Mistral-7B-v0.1", method="full", batch=2, seq_len=1024)
    rules = {r["rule"]: r for r in est.details["rules_of_thumb"]}
    assert rules["×16: mixed precision 2 + 2 + 12 (ZeRO paper)"]["bytes"] == 16 * P
    assert rules["×8: parameter, gradient, 2 optimizer states in bf16"]["bytes"] == 8 * P
    W, A = 2 * P, 2 * 1024 * 4096 * 32 * 2
    assert rules["4.1·W + (2–3)·A"]["low_bytes"] == int(4.1 * W + 2 * A)
    assert rules["PAI quick mode: full fine-tuning"]["bytes"] == int(pai.finetune("full", P / 1e9, batch_size=2).total_gb * 1e9)
    grpo = _est(rl="grpo", method="lora", num_generations=4)
    k4 = [r for r in grpo.details["rules_of_thumb"] if r["rule"].startswith("GRPO")][0]
    acts = grpo.details["activations_bytes"]
    assert k4["bytes"] == grpo.per_gpu_bytes + 3 * acts


def test_export_deepspeed_picks_the_lowest_stage_that_fits(capsys):
    import json

    code, out, err = run_cli(["export", "deepspeed", LLAMA8, "--gpus", "8", "--gpu", "H100-SXM-80GB", "--batch", "2",
                              "--seq-len", "2048", "--precision", "mixed", "--grad-ckpt", "full"], capsys)
    assert code == 0, err
    cfg = json.loads(out)
    stage = cfg["zero_optimization"]["stage"]
    assert cfg["train_batch_size"] == 2 * 8 and cfg["bf16"]["enabled"]
    kw = dict(method="full", gpus=8, batch=2, seq_len=2048, precision="mixed", grad_ckpt="full", gpu="H100-SXM-80GB")
    assert _est(zero=stage, **kw).fits
    if stage > 0:
        assert not _est(zero=stage - 1, **kw).fits


def test_export_fsdp_accelerate_config(capsys):
    code, out, err = run_cli(["export", "fsdp", "Qwen/Qwen3-8B", "--gpus", "16", "--method", "lora", "--grad-ckpt", "full"], capsys)
    assert code == 0, err
    assert "fsdp_transformer_layer_cls_to_wrap: Qwen3DecoderLayer" in out
    assert "num_processes: 16" in out and "num_machines: 2" in out and "fsdp_use_orig_params: true" in out
    code, out, err = run_cli(["export", "vllm", LLAMA8, "--method", "lora"], capsys)
    assert code == 2 and "describe training" in err


def test_moe_with_quantization_config_trains():
    """DeepSeek-V3's spec carries its FP8 quantization_config (a dict): the per-spec caches must cope."""
    est = _est("deepseek-ai/DeepSeek-V3", method="lora")
    assert est.details["trainable_params"] > 0
