"""Model states of a stage on one GPU (``estimators/training/states.py``): weights, adapters,
gradients, optimizer states, fp32 master, offload."""

from __future__ import annotations

import pytest

import vramscope
from vramscope.sources import load_model

LLAMA8 = "meta-llama/Llama-3.1-8B"


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


def test_lora_adapter_weights_and_gradients_by_hand():
    """r = 16 on q_proj, v_proj (PEFT's default) of 32 layers: r·(4096 + 4096) + r·(4096 + 1024) each;
    PEFT keeps adapters in fp32: 4 B each, and so are their gradients; the frozen base stays bf16."""
    spec = load_model(LLAMA8)
    est = _est(method="lora", lora_rank=16)
    adapter = 32 * 16 * ((4096 + 4096) + (4096 + 1024))
    assert adapter == 6_815_744
    assert est.component("adapter_weights").bytes == 4 * adapter
    assert est.component("frozen_weights").bytes == 2 * spec.params_total
    s = est.details["states"]
    assert s["gradients"] == 4 * adapter
    assert s["optimizer"] == 8 * adapter  # fp32 AdamW: 2 states × 4 B
    assert s["weights"] == 2 * spec.params_total + 4 * adapter


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


def test_offload_moves_states_to_host():
    est = _est(method="full", precision="mixed", zero=3, gpus=8, offload="optimizer")
    assert est.details["states"]["optimizer"] == 0
    assert est.host_bytes > 0


def test_fsdp_parameter_offload_moves_the_gradient_shards_to_host():
    """FSDP CPUOffload(offload_params=True) offloads the gradients with the parameters (PyTorch's
    docstring): Llama-3.1-8B full bf16 over 8 GPUs keeps no gradient on the GPU, and the host holds the
    bf16 weights, gradients and both AdamW states of each shard: (2 + 2 + 2·2) B × P / 8."""
    import vramscope
    from vramscope.sources import load_model

    psi = load_model("meta-llama/Llama-3.1-8B").params_total
    kw = dict(method="full", precision="bf16", fsdp="full", gpus=8, grad_ckpt="full", seq_len=1024)
    off = vramscope.estimate("meta-llama/Llama-3.1-8B", offload="params", **kw)
    assert "gradients" not in {c.key for c in off.components}
    assert off.host_bytes == (2 + 2 + 4) * psi // 8
    on = vramscope.estimate("meta-llama/Llama-3.1-8B", **kw)
    assert on.training.states.gradients == 2 * psi // 8
