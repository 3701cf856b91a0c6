"""RL and preference training (``estimators/rl.py``), built on the training estimate."""

from __future__ import annotations

import vramscope
from vramscope.sources import load_model

LLAMA8 = "meta-llama/Llama-3.1-8B"


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


def test_grpo_reference_only_when_beta_positive_and_not_peft():
    psi = load_model(LLAMA8).params_total
    names = {c.name for c in _est(rl="grpo", method="full").components}
    assert "reference model" not in names  # TRL's default beta = 0.0
    ref = _est(rl="grpo", method="full", beta=0.04).component("reference_model").bytes
    assert ref == 2 * psi
    assert "reference model" not in {c.name for c in _est(rl="grpo", method="lora", beta=0.04).components}


def test_grpo_colocated_vllm_takes_its_share_of_total_memory():
    est = _est(rl="grpo", method="lora", use_vllm=True, gpu="H100-SXM-80GB")
    assert est.component("colocated_vllm").bytes == int(0.3 * est.gpu["memory_bytes"])


def test_dpo_runs_chosen_and_rejected():
    dpo = _est(rl="dpo", method="lora", batch=2, seq_len=1024)
    sft = _est(method="lora", batch=4, seq_len=1024)
    assert dpo.details["activations_bytes"] == sft.details["activations_bytes"]
    assert "reference model" not in {c.name for c in dpo.components}
    full = _est(rl="dpo", method="full", batch=2, seq_len=1024)
    assert full.component("reference_model").bytes == 2 * load_model(LLAMA8).params_total


def test_ppo_holds_four_models():
    names = {c.name for c in _est(rl="ppo", method="full").components}
    assert {"critic model (weights, grads, optimizer)", "reference model", "reward model"} <= names


def test_reference_model_is_sharded_like_the_policy():
    """A frozen bf16 reference (DPO, full fine-tuning): 2 B × ψ, over the parameter shard group —
    HYBRID_SHARD shards within a node of 8 even on 16 GPUs; ZeRO-2 keeps parameters whole."""
    psi = load_model("mistralai/Mistral-7B-v0.1").params_total
    kw = dict(rl="dpo", method="full", precision="mixed")
    hybrid = _est("mistralai/Mistral-7B-v0.1", fsdp="hybrid", gpus=16, fsdp_node_gpus=8, **kw)
    assert hybrid.component("reference_model").bytes == 2 * psi // 8
    zero2 = _est("mistralai/Mistral-7B-v0.1", zero=2, gpus=8, **kw)
    assert zero2.component("reference_model").bytes == 2 * psi
    tp = _est("mistralai/Mistral-7B-v0.1", tp=2, gpus=2, **kw)
    assert tp.component("reference_model").bytes == psi  # 2 B × ψ / TP 2
