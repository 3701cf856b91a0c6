"""Precision regimes and the frozen base's format (``estimators/training/regime.py``, formulas.md §5.1)."""

from __future__ import annotations

import pytest

import vramscope
from vramscope.estimators.training import regime
from vramscope.sources import load_model
from vramscope.workload import make_training

LLAMA8 = "meta-llama/Llama-3.1-8B"


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


@pytest.mark.parametrize("kw,per_param", [
    (dict(precision="fp32"), (4, 4, 0, 4)),
    (dict(precision="bf16"), (2, 2, 0, 2)),  # pure bf16: torch optimizers keep states like the param
    (dict(precision="mixed"), (4, 4, 0, 4)),  # HF Trainer AMP: fp32 everything, bf16 matmuls
    (dict(precision="mixed", zero=2, gpus=2), (2, 2, 4, 4)),  # DeepSpeed: 2 + 2 + (4 master + 8 Adam)
    (dict(precision="mixed", fsdp="full", gpus=2), (4, 4, 0, 4)),  # FSDP MixedPrecision: fp32 shards
    (dict(precision="fp8"), (2, 2, 4, 4)),
])
def test_regime_bytes_per_param(kw, per_param):
    reg = regime(make_training(method="full", **kw))
    assert (reg.weight, reg.grad, reg.master, reg.state) == per_param
    assert reg.autocast_cache == (kw == dict(precision="mixed"))


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
        assert est.component("autocast_weight_copies").bytes > 1.9 * (psi - 2 * 128256 * 4096)


def test_qlora_base_is_nf4_double_quant():
    spec = load_model(LLAMA8)
    est = _est(method="qlora")
    quant = sum(t.numel for t in spec.tensors if t.quantisable)
    rest = spec.params_total - quant
    # peft.prepare_model_for_kbit_training (TRL's default) casts the non-4-bit params to fp32
    expected = quant * (0.5 + 1 / 64 + 4 / (64 * 256)) + 4 * rest
    assert est.component("frozen_weights").bytes == pytest.approx(expected, rel=1e-6)
    assert est.component("dequantisation_buffer").bytes == 2 * 4096 * 14336
    kept = _est(method="qlora", kbit_prepare=False)  # e.g. Unsloth: embeddings, head and norms stay bf16
    assert est.component("frozen_weights").bytes - kept.component("frozen_weights").bytes == pytest.approx(2 * rest, rel=1e-6)
    assert rest == 2 * 128256 * 4096 + 65 * 4096  # embeddings + untied head + 65 RMSNorm weights


def test_qlora_kbit_prepare_checkpoints_an_fp32_residual_stream():
    """prepare_model_for_kbit_training leaves fp32 embeddings and norms: the residual stream is fp32 and
    each checkpointed layer input costs 4·h per token (traced: 16,384 B/token per layer for h = 4096
    under transformers 4.43 / peft 0.12 / bitsandbytes 0.43), 2·h more than with bf16 embeddings/norms."""
    T, h, L = 8192, 4096, 32
    kw = dict(method="qlora", seq_len=T, batch=1, attn="flash", grad_ckpt="full")
    fp32 = _est(**kw)
    bf16 = _est(kbit_prepare=False, **kw)
    assert fp32.training.activations_bytes - bf16.training.activations_bytes == pytest.approx(2 * h * T * L, rel=1e-9)
    assert "4·h·T × 32 layers" in fp32.component("activations").formula
    assert "2·h·T × 32 layers" in bf16.component("activations").formula
