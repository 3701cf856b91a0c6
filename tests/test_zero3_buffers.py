"""DeepSpeed ZeRO-3's buffers (``estimators/training/zero3.py``) by hand, on Llama-2/3.1-70B shapes.

Llama-2-70B: h = 8192, 80 layers, q/o 8192×8192, k/v 1024×8192, gate/up 28672×8192, down 8192×28672,
two norms of 8192 per layer and a final one, embedding and head 32,000×8192.
"""

from __future__ import annotations

import vramscope
from vramscope.estimators.training.zero3 import Param, persistent, reuse_window
from vramscope.formats.weight_formats import get_format
from vramscope.sources import load_model

LLAMA2 = "meta-llama/Llama-2-70b-hf"
LLAMA31 = "meta-llama/Llama-3.1-70B"
H, I, KV = 8192, 28672, 1024
NORMS = 2 * 80 + 1
ROW1 = dict(method="lora", precision="mixed", lora_rank=8, lora_targets="all-linear", batch=8, seq_len=2048,
            grad_ckpt="full", attn="flash", zero=3, gpus=8, zero_config="defaults")


def test_reuse_window_rule():
    # modules of 4, 3, 2, 1 elements: kept while 2·(elements after) < the distance
    mods = [Param(n, float(v), 2.0 * v) for n, v in zip("abcd", (4, 3, 2, 1), strict=True)]
    # walking back from d: d (0 after), c (2·1 = 2), b (2·3 = 6), a (2·6 = 12)
    assert [p.name for p in reuse_window(mods, 7)] == ["b", "c", "d"]
    assert [p.name for p in reuse_window(mods, 6)] == ["c", "d"]  # 6 is not below 6
    assert [p.name for p in reuse_window(mods, 1)] == ["d"]  # the module about to run stays
    assert [p.name for p in reuse_window(mods, 1e9)] == ["a", "b", "c", "d"]
    assert [p.name for p in persistent(mods, 2)] == ["c", "d"]  # ds_numel <= threshold


def test_persistent_parameters_llama31_70b_full():
    spec = load_model(LLAMA31)
    small = [t for t in spec.tensors if t.numel <= 100_000]
    assert len(small) == NORMS and sum(t.numel for t in small) == NORMS * H == 1_318_912  # only the norms
    est = vramscope.estimate(LLAMA31, method="full", precision="mixed", zero=3, gpus=8, grad_ckpt="full",
                             zero_config="defaults")
    assert est.component("zero3_persistent_parameters").bytes == 2 * 1_318_912
    # HF 'auto' threshold 10·h = 81,920: the same 161 norms
    auto = vramscope.estimate(LLAMA31, method="full", precision="mixed", zero=3, gpus=8, grad_ckpt="full")
    assert auto.component("zero3_persistent_parameters").bytes == 2 * 1_318_912


def test_persistent_parameters_lora_r8_all_linear():
    est = vramscope.estimate(LLAMA2, **ROW1)
    r = 8
    # per layer, LoRA matrices of ≤ 1e5 elements: q A, B (r·8192 each), k A (r·8192) B (r·1024), v the same,
    # o A, B, gate A, up A, down B (r·8192 each); gate B, up B (r·28672) and down A (r·28672) are larger
    per_layer = 2 * r * H + 2 * (r * H + r * KV) + 2 * r * H + 3 * r * H
    assert per_layer == 606_208
    assert r * I > 100_000 >= r * H
    assert est.component("zero3_persistent_parameters").bytes == 2 * (80 * per_layer + NORMS * H) == 99_631_104


def test_gathered_parameters_lora_checkpointed():
    est = vramscope.estimate(LLAMA2, **ROW1)
    r = 8
    mlp = H * I + r * I  # gate / up / down base weight + its LoRA matrix above the threshold
    # down: 0 after; up: 2·mlp = 470,220,800 < 1e9; gate: 4·mlp = 940,441,600 < 1e9; o_proj: 6·mlp ≥ 1e9
    assert 4 * mlp < 1e9 <= 6 * mlp
    assert est.component("zero3_gathered_parameters").bytes == 2 * (3 * mlp) + 2 * 50_000_000 == 1_510_662_400
    assert est.component("zero_reduce_bucket").bytes == 2 * 500_000_000  # DeepSpeed default, bf16


def test_gathered_parameters_lora_without_checkpointing():
    est = vramscope.estimate(LLAMA2, **(ROW1 | {"grad_ckpt": "none", "batch": 1}))
    r, head = 8, 32000 * H
    mlp = H * I + r * I
    # the last layer turns into its backward through the head: down 2·head, up 2·(head + mlp) < 1e9, gate not
    assert 2 * (head + mlp) < 1e9 <= 2 * (head + 2 * mlp)
    assert est.component("zero3_gathered_parameters").bytes == 2 * (head + 2 * mlp) + 2 * 50_000_000


def test_gathered_parameters_qlora_bf16_storage():
    est = vramscope.estimate(LLAMA2, method="qlora", lora_rank=8, lora_targets="all-linear", batch=2, seq_len=2048,
                             grad_ckpt="full", attn="flash", zero=3, gpus=2, zero_config="defaults", kbit_prepare=False,
                             lora_dtype="bf16")
    spec, fmt, r = load_model(LLAMA2), get_format("nf4-dq"), 8
    layer0 = [t for t in spec.tensors if t.layer == 0 and t.quantisable]
    storage = sum(fmt.tensor_bytes(t) for t in layer0) / 2  # 4-bit data + constants packed in bf16 elements
    q = fmt.tensor_bytes(next(t for t in layer0 if t.role == "attn_q")) / 2
    assert 2 * (storage - q + 3 * r * I) < 1e9  # the whole layer stays gathered for its backward
    got = est.component("zero3_gathered_parameters").bytes
    assert abs(got - (2 * (storage + 3 * r * I) + 2 * 50_000_000)) <= 2
