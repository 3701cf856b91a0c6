"""llama.cpp over several GPUs (estimators/engines/llamacpp.py, llamacpp_split.py): layers, weights, KV and
compute buffers per device as ``llama_model::load_tensors`` places them, derived by hand here."""

from __future__ import annotations

import pytest

import vramscope
from vramscope import spec as S
from vramscope.estimators.engines.llamacpp import n_ctx_cells, sliding_cells
from vramscope.estimators.engines.llamacpp_split import layer_devices, row_shares
from vramscope.estimators.weights import tensor_bytes
from vramscope.sources import load_model

LLAMA = load_model("meta-llama/Llama-3.1-8B")
KV_PER_LAYER_CELL = 2 * 8 * 128 * 2  # K and V, 8 KV heads × 128, f16
GiB = 2**30


def _layer_bytes(first: int, last: int) -> int:
    """Σ GGUF Q4_K_M bytes of the repeating layers first..last, from the spec's own tensors."""
    _, items = tensor_bytes(LLAMA, "Q4_K_M")
    return sum(b for t, b in items if t.layer is not None and first <= t.layer <= last)


def _output_bytes() -> int:
    _, items = tensor_bytes(LLAMA, "Q4_K_M")
    return sum(b for t, b in items if t.layer is None and t.role != S.ROLE_EMBED)


def _est(**kw):
    return vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=32768, **kw)


def test_two_even_gpus_split_33_slots_at_half():
    """-ngl all = 33 slots (32 layers + output), splits [0.5, 1]: layer il goes to GPU upper_bound(il/33), so
    layers 0–16 (16/33 < 0.5) on GPU 0, 17–31 and the output on GPU 1 — not 16/16: the output counts."""
    est = _est(gpus=2)
    d0, d1 = est.placement.devices
    assert (d0.first_layer, d0.last_layer, d0.layers, d0.output) == (0, 16, 17, False)
    assert (d1.first_layer, d1.last_layer, d1.layers, d1.output) == (17, 31, 15, True)
    assert d0.weights_bytes == _layer_bytes(0, 16)
    assert d1.weights_bytes == _layer_bytes(17, 31) + _output_bytes()
    assert d0.kv_bytes == 17 * KV_PER_LAYER_CELL * 32768
    assert d1.kv_bytes == 15 * KV_PER_LAYER_CELL * 32768
    # about half the layers' weights and KV on each: together exactly the one-GPU figures
    one = _est()
    assert d0.weights_bytes + d1.weights_bytes == one.component("weights").bytes
    assert d0.kv_bytes + d1.kv_bytes == one.component("kv_cache").bytes
    # compute: the logits part (4·ub·V) on the output's GPU, the layer part on both, + 3 pipeline copies of 4·ub·h
    ub, h, v, n_ff = 512, 4096, 128256, 14336
    copies = 3 * 4 * ub * h
    assert d0.compute_bytes == 4 * ub * (4 * h + 2 * n_ff) + copies
    assert d1.compute_bytes == 4 * ub * v + 4 * ub * (4 * h + 2 * n_ff) + copies
    # the headline is the busiest GPU's, and fits is judged on it
    busy = max((d0, d1), key=lambda d: d.total_bytes)
    assert est.placement.busiest_device == busy.index == 1
    assert est.per_gpu_bytes == busy.total_bytes
    assert est.component("weights").bytes == d1.weights_bytes
    assert est.num_gpus == 2 and est.host_bytes == one.host_bytes  # token_embd stays on the host


def test_tensor_split_3_1_moves_the_boundary_to_three_quarters():
    """splits [0.75, 1]: il/33 < 0.75 for il ≤ 24, so GPU 0 holds layers 0–24, GPU 1 25–31 + output."""
    d0, d1 = _est(gpus=2, tensor_split=(3, 1)).placement.devices
    assert (d0.first_layer, d0.last_layer, d1.first_layer, d1.last_layer) == (0, 24, 25, 31)
    assert d0.weights_bytes == _layer_bytes(0, 24)
    assert d1.weights_bytes == _layer_bytes(25, 31) + _output_bytes()
    assert (d0.kv_bytes, d1.kv_bytes) == (25 * KV_PER_LAYER_CELL * 32768, 7 * KV_PER_LAYER_CELL * 32768)


def test_split_mode_none_puts_everything_on_the_main_gpu():
    est = _est(gpus=2, split_mode="none", main_gpu=1)
    d0, d1 = est.placement.devices
    assert d0.total_bytes == 0 and d0.layers == 0
    one = _est()
    assert d1.total_bytes == one.per_gpu_bytes == est.per_gpu_bytes
    assert est.placement.busiest_device == 1


def test_split_mode_row_cuts_matrices_by_rows_and_keeps_norms_and_kv_with_the_layer():
    est = _est(gpus=2, split_mode="row", tensor_split=(1, 1))
    d0, d1 = est.placement.devices
    one = _est()
    assert d0.weights_bytes + d1.weights_bytes == pytest.approx(one.component("weights").bytes, abs=2)
    _, items = tensor_bytes(LLAMA, "Q4_K_M")
    norms_0 = sum(b for t, b in items if t.layer is not None and t.layer <= 16 and t.role == S.ROLE_NORM)
    mats = sum(b for t, b in items if t.role != S.ROLE_EMBED and t.role != S.ROLE_NORM)  # every matrix, halved
    assert d0.weights_bytes == pytest.approx(norms_0 + mats / 2, abs=2)
    assert d0.kv_bytes == 17 * KV_PER_LAYER_CELL * 32768  # KV follows the layer's device


def test_slots_change_the_cells_as_llama_server_does():
    """-np 8 (or 8 concurrent sequences) of 4096 tokens: --ctx-size 32768, n_ctx_seq 4096 per slot."""
    one = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=4096)
    for kw in ({"n_parallel": 8}, {"batch": 8}):
        eight = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=4096, **kw)
        assert eight.settings.n_ctx == 32768 and eight.settings.n_ctx_seq == 4096 and eight.settings.n_seq_max == 8
        assert eight.component("kv_cache").bytes == 32 * KV_PER_LAYER_CELL * 32768 == 8 * one.component("kv_cache").bytes


def test_cells_unified_or_not():
    # 3 slots × 1100 tokens: --ctx-size 3300 → pad 3328; not unified: pad(3328 // 3 = 1109) = 1280 per slot, 3840
    assert n_ctx_cells(1100, 3, unified=False) == (3840, 1280)
    assert n_ctx_cells(1100, 3, unified=True) == (3328, 3328)
    # a 4096-token window, ubatch 512, 4 slots: unified pad(min(n_ctx, 4·4096 + 512)); else 4 × pad(min(seq, 4608))
    assert sliding_cells(4096, 131072, 32768, 4, 512, unified=True) == 16896
    assert sliding_cells(4096, 131072, 32768, 4, 512, unified=False) == 4 * 4608


def test_layer_devices_ties_fall_as_in_float32():
    # -ngl 32 of 32 (output on the CPU): act = 32, il = 24 gives exactly 0.75 = the split point → the next GPU
    where = layer_devices(32, 32, (3.0, 1.0))
    assert where[23] == 0 and where[24] == 1 and where[32] is None
    assert layer_devices(32, 0, (1.0, 1.0)) == (None,) * 33
    # -ngl 10: the last 10 layers over two GPUs, output on the CPU
    assert layer_devices(32, 10, (1.0, 1.0))[:22] == (None,) * 22
    assert row_shares(4096, (3.0, 1.0)) == (0.75, 0.25)


def test_the_table_shows_every_gpu(capsys):
    from conftest import run_cli

    code, out, err = run_cli(["estimate", "llama-3.1-8b", "--engine", "llamacpp", "-w", "Q4_K_M", "--context",
                              "32768", "--gpus", "2"], capsys)
    assert code == 0, err
    assert "per GPU (llamacpp split" in out and "17–31 + output" in out
