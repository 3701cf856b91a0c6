"""Training estimates: hand-derived model states, activations checked against what autograd really
saves (tiny transformers models on the CPU), parallel sharding, RL, properties and bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vramscope
from conftest import run_cli
from vramscope.errors import VramscopeError
from vramscope.estimators.activations import ActOptions, layer_saves, loss_bytes
from vramscope.estimators.trainable import trainables
from vramscope.families import spec_from_config
from vramscope.sources import load_model
from vramscope.workload import make_training

LLAMA8 = "meta-llama/Llama-3.1-8B"


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


# --- model states by regime (formulas.md §5.1) -------------------------------------------------
def test_pure_bf16_adamw_is_8_bytes_per_param():
    psi = load_model(LLAMA8).params_total
    s = _est(method="full", precision="bf16").details["states"]
    assert s["weights"] == 2 * psi
    assert s["gradients"] == 2 * psi
    assert s["optimizer"] == 4 * psi  # AdamW states take the bf16 parameter dtype
    assert s["master"] == 0


@pytest.mark.parametrize("precision", ["fp32", "mixed"])
def test_fp32_and_amp_are_16_bytes_per_param(precision):
    psi = load_model(LLAMA8).params_total
    est = _est(method="full", precision=precision)
    assert est.details["model_states_bytes"] == 16 * psi
    if precision == "mixed":  # autocast keeps a bf16 copy of every Linear weight until backward
        assert est.component("autocast weight copies").bytes > 1.9 * (psi - 2 * 128256 * 4096)


def test_8bit_adam_states():
    spec = load_model(LLAMA8)
    matrix = sum(t.numel for t in spec.tensors if len(t.shape) >= 2)
    other = spec.params_total - matrix
    opt = _est(method="full", optimizer="adamw-8bit").details["states"]["optimizer"]
    assert opt == int(2 * (1 + 4 / 256) * matrix + 8 * other)


@pytest.mark.parametrize("optimizer,per_param", [("sgd", 0), ("sgd-momentum", 2), ("lion", 2), ("rmsprop", 2), ("adamw", 4)])
def test_optimizer_state_bytes_bf16(optimizer, per_param):
    psi = load_model(LLAMA8).params_total
    assert _est(method="full", optimizer=optimizer).details["states"]["optimizer"] == per_param * psi


def test_foreach_step_adds_one_intermediate_and_can_be_the_peak():
    psi = load_model(LLAMA8).params_total
    fused = _est(method="full", batch=1, seq_len=128)
    fe = _est(method="full", batch=1, seq_len=128, optimizer_impl="foreach")
    assert fe.details["phases"]["optimizer step"] - fused.details["phases"]["optimizer step"] == 2 * psi
    assert fe.details["peak_phase"] == "optimizer step"


# --- PEFT parameter counts (formulas.md §7) -------------------------------------------------------
def test_lora_counts_match_peft():
    spec = load_model("meta-llama/Meta-Llama-3-8B")
    t = trainables(spec, make_training(method="lora", lora_rank=16, lora_targets="all-linear"))
    assert t.adapter == 16 * (8192 + 5120 + 5120 + 8192 + 3 * 18432) * 32 == 41_943_040
    t = trainables(load_model("meta-llama/Llama-3.2-3B"), make_training(method="lora", lora_rank=32,
                                                                           lora_targets="q_proj,v_proj"))
    assert t.adapter == 9_175_040  # num_trainable_params in PEFT's published results
    d = trainables(spec, make_training(method="dora", lora_rank=16, lora_targets="q_proj,v_proj"))
    assert d.adapter == 16 * (4096 + 4096 + 4096 + 1024) * 32 + (4096 + 1024) * 32


def test_lora_default_targets_are_peft_defaults():
    est = _est(method="lora")
    assert est.details["lora_targets"] == ["q_proj", "v_proj"]
    assert any("PEFT's default" in a for a in est.assumptions)


def test_qlora_base_is_nf4_double_quant():
    spec = load_model(LLAMA8)
    est = _est(method="qlora")
    quant = sum(t.numel for t in spec.tensors if t.quantisable)
    rest = spec.params_total - quant
    # peft.prepare_model_for_kbit_training (TRL's default) casts the non-4-bit params to fp32
    expected = quant * (0.5 + 1 / 64 + 4 / (64 * 256)) + 4 * rest
    assert est.component("frozen weights").bytes == pytest.approx(expected, rel=1e-6)
    assert est.component("dequantisation buffer").bytes == 2 * 4096 * 14336
    kept = _est(method="qlora", kbit_prepare=False)  # e.g. Unsloth: embeddings, head and norms stay bf16
    assert est.component("frozen weights").bytes - kept.component("frozen weights").bytes == pytest.approx(2 * rest, rel=1e-6)
    assert rest == 2 * 128256 * 4096 + 65 * 4096  # embeddings + untied head + 65 RMSNorm weights


# --- activations: hand-derived and measured ------------------------------------------------------
def test_llama_layer_saves_by_hand():
    """Llama-3.1-8B layer, bf16, SDPA, everything training: per token
    norms 2·(4h + 4 + 2h + 2h), attention 2·(h + 2·1024) + 2h + 4·32, MLP 2·4·14336."""
    spec = load_model(LLAMA8)
    h, I = 4096, 14336
    o = ActOptions(2, 2, "sdpa", False, True, True, {}, 0)
    expected = 2 * (4 * h + 4 + 2 * h + 2 * h) + 2 * (h + 2 * 1024) + 2 * h + 4 * 32 + 8 * I
    assert layer_saves(spec, spec.layers[0], o).total(2048) == expected


def test_logits_block_is_the_peak_for_small_models_with_large_vocab():
    b, s = 8, 1024
    est = _est("Qwen/Qwen2.5-0.5B", method="full", batch=b, seq_len=s)
    ce = est.component("logits + cross-entropy").bytes
    assert ce == 12 * b * s * 151936
    assert ce > est.component("weights").bytes + est.component("optimizer states").bytes
    assert loss_bytes(151936, b * s, 2, "fused")[0] == 0


def test_full_checkpointing_keeps_layer_inputs():
    spec = load_model(LLAMA8)
    none = _est(method="full", batch=2, seq_len=2048).details["activations_bytes"]
    full = _est(method="full", batch=2, seq_len=2048, grad_ckpt="full").details["activations_bytes"]
    T, h = 4096, 4096
    o = ActOptions(2, 2, "sdpa", False, True, True, {}, 0)
    one_layer = layer_saves(spec, spec.layers[0], o).total(2048) * T
    head = (4 * h + 4 + 2 * h + 2 * h) * T
    assert full == int(2 * h * T * 32 + one_layer + head)
    assert none == int(one_layer * 32 + head)


def test_eager_attention_adds_the_softmax():
    sdpa = _est(method="full", seq_len=4096, attn="sdpa").details["activations_bytes"]
    eager = _est(method="full", seq_len=4096, attn="eager").details["activations_bytes"]
    # per layer: 32 heads × 4096 keys × (4 fp32 + 2 bf16) per token, + K/V repeated to 32 heads, + o_proj's copy
    extra = 32 * (32 * 4096 * 6 + 2 * (4096 - 1024) * 2 + 2 * 4096 - 2 * 4096 - 4 * 32) * 4096
    assert eager - sdpa == pytest.approx(extra, rel=1e-6)


# --- checked against autograd on tiny real models --------------------------------------------------
TINY = dict(hidden_size=256, intermediate_size=704, num_attention_heads=8, num_key_value_heads=2, vocab_size=512,
            max_position_embeddings=512, pad_token_id=0)
ARCHS = {
    "llama": dict(model_type="llama"),
    "qwen3": dict(model_type="qwen3", head_dim=32),
    "gemma2": dict(model_type="gemma2", head_dim=32),
    "phi3": dict(model_type="phi3"),
    "mixtral": dict(model_type="mixtral", num_local_experts=4, num_experts_per_tok=2),
    "qwen3_moe": dict(model_type="qwen3_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=128, head_dim=32),
}
CASES = [(a, attn, dt) for a in ARCHS for attn in ("sdpa", "eager") for dt in ("bfloat16", "float32")
         if not (a == "gemma2" and attn == "sdpa")]


def _tiny(arch: str, dtype: str):
    cfg = {**TINY, **ARCHS[arch]}
    return cfg, spec_from_config({**cfg, "num_hidden_layers": 2, "torch_dtype": dtype}, model_id=arch)


@pytest.mark.torch
@pytest.mark.parametrize("arch,attn,dtype", CASES)
def test_layer_saves_equal_autograd(arch, attn, dtype):
    pytest.importorskip("transformers")
    from saved_tensors import per_layer_per_token

    cfg, spec = _tiny(arch, dtype)
    measured = per_layer_per_token(cfg, attn=attn, dtype=dtype, seq=32)
    e = 2 if dtype == "bfloat16" else 4
    mine = layer_saves(spec, spec.layers[1], ActOptions(e, e, attn, False, True, True, {}, 0)).total(32)
    # exact for dense layers; MoE top-k bookkeeping and Gemma's (1 + w) vectors are within 0.5 %
    assert mine == pytest.approx(measured, rel=0.005, abs=0.5)


@pytest.mark.torch
@pytest.mark.parametrize("targets", [("q_proj", "v_proj"), ("q_proj", "k_proj", "v_proj", "o_proj"), "all-linear"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_lora_layer_saves_equal_autograd(targets, dtype):
    pytest.importorskip("peft")
    from saved_tensors import per_layer_per_token

    cfg, spec = _tiny("llama", dtype)
    r = 8
    measured = per_layer_per_token(cfg, attn="sdpa", dtype=dtype, seq=32,
                                   lora=dict(r=r, target_modules=list(targets) if targets != "all-linear" else targets))
    names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] if targets == "all-linear" else targets
    e = 2 if dtype == "bfloat16" else 4
    o = ActOptions(e, e, "sdpa", False, False, False, {n: r for n in names}, 4 if e == 2 else 0)
    assert layer_saves(spec, spec.layers[1], o).total(32) == measured


@pytest.mark.torch
def test_autocast_saves_one_cast_per_linear_plus_weight_copies():
    pytest.importorskip("transformers")
    from saved_tensors import per_layer_per_token

    cfg, spec = _tiny("llama", "float32")
    measured = per_layer_per_token(cfg, attn="sdpa", dtype="float32", seq=32, autocast=True)
    mine = layer_saves(spec, spec.layers[1], ActOptions(2, 4, "sdpa", False, True, True, {}, 0)).total(32)
    weight_copies = 2 * (256 * 256 * 2 + 64 * 256 * 2 + 3 * 704 * 256) / 64  # bf16 casts the graph saves, per token
    assert mine + weight_copies == measured


# --- parallelism ----------------------------------------------------------------------------------
def test_zero3_over_8_gpus_is_16_psi_over_8():
    psi = load_model("mistralai/Mistral-7B-v0.1").params_total
    est = _est("mistralai/Mistral-7B-v0.1", method="full", precision="mixed", zero=3, gpus=8)
    assert est.details["model_states_bytes"] == pytest.approx(16 * psi / 8, rel=0.01)
    names = {c.name for c in est.components}
    assert {"ZeRO-3 gathered parameters", "ZeRO reduce bucket"} <= names
    assert est.num_gpus == 8


@pytest.mark.parametrize("zero,expected", [(1, 2 + 2 + 12 / 8), (2, 2 + (2 + 12) / 8), (3, 16 / 8)])
def test_zero_stages(zero, expected):
    psi = load_model("mistralai/Mistral-7B-v0.1").params_total
    est = _est("mistralai/Mistral-7B-v0.1", method="full", precision="mixed", zero=zero, gpus=8)
    assert est.details["model_states_bytes"] == pytest.approx(expected * psi, rel=0.001)


def test_fsdp_and_ddp_buffers():
    ddp = _est(method="lora", gpus=4)
    assert ddp.details["data_parallel"] == 4
    fsdp = _est(method="full", precision="mixed", fsdp="full", gpus=8)
    psi = load_model(LLAMA8).params_total
    assert fsdp.details["model_states_bytes"] == pytest.approx(16 * psi / 8, rel=0.001)
    assert fsdp.component("FSDP gathered units").bytes > 0
    ddp_full = _est(method="full", gpus=2)
    assert ddp_full.component("DDP gradient buckets").bytes == 2 * psi


def test_tensor_and_pipeline_parallel_split_states():
    psi = load_model(LLAMA8).params_total
    one = _est(method="full").details["states"]["weights"]
    tp = _est(method="full", tp=4, gpus=4).details["states"]["weights"]
    pp = _est(method="full", pp=4, gpus=4).details["states"]["weights"]
    assert one == 2 * psi
    assert tp == pytest.approx(one / 4, rel=0.01)  # norms are replicated
    assert one / 4 < pp < one / 3  # the busiest stage holds the embedding or the head


def test_offload_moves_states_to_host():
    est = _est(method="full", precision="mixed", zero=3, gpus=8, offload="optimizer")
    assert est.details["states"]["optimizer"] == 0
    assert est.host_bytes > 0


# --- RL ---------------------------------------------------------------------------------------------
def test_grpo_reference_only_when_beta_positive_and_not_peft():
    psi = load_model(LLAMA8).params_total
    names = {c.name for c in _est(rl="grpo", method="full").components}
    assert "reference model" not in names  # TRL's default beta = 0.0
    ref = _est(rl="grpo", method="full", beta=0.04).component("reference model").bytes
    assert ref == 2 * psi
    assert "reference model" not in {c.name for c in _est(rl="grpo", method="lora", beta=0.04).components}


def test_grpo_colocated_vllm_takes_its_share_of_total_memory():
    est = _est(rl="grpo", method="lora", use_vllm=True, gpu="H100-SXM-80GB")
    assert est.component("colocated vLLM").bytes == int(0.3 * est.gpu["memory_bytes"])


def test_dpo_runs_chosen_and_rejected():
    dpo = _est(rl="dpo", method="lora", batch=2, seq_len=1024)
    sft = _est(method="lora", batch=4, seq_len=1024)
    assert dpo.details["activations_bytes"] == sft.details["activations_bytes"]
    assert "reference model" not in {c.name for c in dpo.components}
    full = _est(rl="dpo", method="full", batch=2, seq_len=1024)
    assert full.component("reference model").bytes == 2 * load_model(LLAMA8).params_total


def test_ppo_holds_four_models():
    names = {c.name for c in _est(rl="ppo", method="full").components}
    assert {"critic model (weights, grads, optimizer)", "reference model", "reward model"} <= names


# --- properties -------------------------------------------------------------------------------------
MODELS = ["meta-llama/Llama-3.2-1B", "Qwen/Qwen2.5-0.5B", "mistralai/Mixtral-8x7B-v0.1"]


@settings(max_examples=25, deadline=None)
@given(model=st.sampled_from(MODELS), batch=st.integers(1, 16), seq=st.integers(16, 8192), rank=st.sampled_from([4, 8, 16, 64]),
       ckpt=st.sampled_from(["none", "full"]))
def test_qlora_never_above_lora_and_monotonic(model, batch, seq, rank, ckpt):
    kw = dict(batch=batch, seq_len=seq, lora_rank=rank, grad_ckpt=ckpt)
    lora = _est(model, method="lora", **kw).per_gpu_bytes
    qlora = _est(model, method="qlora", **kw).per_gpu_bytes
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
