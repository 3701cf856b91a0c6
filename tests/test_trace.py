"""Exact mode on tiny configs: fake-tensor traces, layer extrapolation, and the estimator beside them."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.torch

TINY = dict(model_type="llama", hidden_size=256, intermediate_size=704, num_attention_heads=8, num_key_value_heads=2,
            vocab_size=2048, max_position_embeddings=4096, num_hidden_layers=6)


@pytest.fixture(scope="module")
def trace():
    pytest.importorskip("transformers")
    from vramscope.exact.trace import trace_training

    return trace_training


@pytest.mark.parametrize("kw", [dict(batch=2, seq_len=256), dict(batch=4, seq_len=512), dict(batch=2, seq_len=256, precision="fp32")])
def test_extrapolation_equals_full_trace_and_estimate_within_5_percent(trace, kw):
    from vramscope.estimators.training import estimate_training
    from vramscope.families import spec_from_config
    from vramscope.workload import make_training

    full = trace(TINY, extrapolate=False, **kw)
    ex = trace(TINY, **kw)
    assert ex.extrapolated and not full.extrapolated
    assert ex.peak_bytes == pytest.approx(full.peak_bytes, rel=0.005)
    params = 2 * (2048 * 256 * 2 + 6 * (256 * 256 * 2 + 64 * 256 * 2 + 3 * 256 * 704 + 2 * 256) + 256)
    scale = 2 if kw.get("precision") == "fp32" else 1
    assert full.categories["parameters"] == params * scale
    spec = spec_from_config({**TINY, "torch_dtype": "bfloat16"}, model_id="tiny")
    est = estimate_training(spec, make_training(method="full", optimizer_impl="forloop", **kw))
    mine = est.per_gpu_bytes - est.component("CUDA context").bytes - est.component("allocator slack").bytes
    assert mine == pytest.approx(full.peak_bytes, rel=0.05)


def test_trace_cli(tmp_path, capsys):
    pytest.importorskip("transformers")
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(TINY))
    code, out, err = run_cli(["trace", str(cfg), "--batch", "2", "--seq-len", "128", "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["extrapolated"] and doc["peak_bytes"] > doc["categories"]["parameters"] > 0
    code, out, err = run_cli(["trace", str(cfg), "--attn", "flash"], capsys)
    assert code == 2 and "FlashAttention-2 needs CUDA" in err
