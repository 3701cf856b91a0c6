"""llama.cpp (estimators/engines/llamacpp.py): offloaded layers, n_ctx cells, compute buffer, host placement."""

from __future__ import annotations

import pytest

import vramscope
from vramscope.errors import VramscopeError
from vramscope.estimators.engines import llamacpp
from vramscope.estimators.inference import estimate_inference
from vramscope.estimators.result import LlamaCppSettings
from vramscope.hardware import find_gpu
from vramscope.sources import load_model
from vramscope.workload import make_inference

LLAMA = load_model("meta-llama/Llama-3.1-8B")


def test_cells_settings_and_placement_by_hand():
    """-ngl 20 of 32 layers, 3 slots of 3000 tokens: n_ctx = pad(9000, 256) = 9216 cells."""
    wl = make_inference(engine="llamacpp", weights="Q4_K_M", context=3000, n_parallel=3, n_gpu_layers=20)
    est = estimate_inference(LLAMA, wl, find_gpu("RTX-4090"))
    # not unified (llama.cpp's default): n_ctx_seq = pad(9216 / 3) = 3072, n_ctx = 3 × 3072
    assert est.settings == LlamaCppSettings(n_ctx=9216, n_gpu_layers=20, n_seq_max=3, n_ctx_seq=3072,
                                            kv_unified=False, n_devices=1, split_mode="layer",
                                            tensor_split=(1.0,), main_gpu=0)
    per_layer_cell = 2 * 8 * 128 * 2  # K and V, 8 KV heads × 128, f16
    assert est.component("kv_cache").bytes == 20 * per_layer_cell * 9216
    assert est.placement.host_kv_bytes == 12 * per_layer_cell * 9216
    assert est.host_bytes == est.placement.host_weight_bytes + est.placement.host_kv_bytes
    assert est.kv.bytes_per_token == 32 * per_layer_cell
    # 'fits' speaks of the GPU alone: the per-GPU figure within usable memory
    assert est.fits is (est.per_gpu_bytes <= find_gpu("RTX-4090").usable_bytes) is True


def test_spans_up_to_llama_max_devices_and_steps_by_256_cells():
    assert llamacpp.ENTRY.max_gpus == 16 and llamacpp.ENTRY.context_step(make_inference(engine="llamacpp")) == 256
    with pytest.raises(VramscopeError, match="tp"):  # llama.cpp has no tensor parallelism: --gpus N is its split
        vramscope.estimate(LLAMA, engine="llamacpp", tp=2)


# --- llama.cpp ----------------------------------------------------------------------------------------
def test_llamacpp_token_embd_stays_on_host_and_ngl_splits():
    full = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=4096)
    from vramscope.formats import weight_bytes

    file_bytes = weight_bytes(LLAMA, "Q4_K_M").total
    embd = 128256 * 4096 * 144 / 256  # token_embd is Q4_K in a Q4_K_M file
    assert full.component("weights").bytes == pytest.approx(file_bytes - embd, abs=1)
    half = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=4096, n_gpu_layers=16)
    assert half.component("weights").bytes < full.component("weights").bytes / 1.8
    assert half.component("kv_cache").bytes == full.component("kv_cache").bytes / 2
    assert half.host_bytes > full.host_bytes


def test_llamacpp_compute_buffer_without_flash_attention_grows_with_context():
    fa = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=32768)
    no = vramscope.estimate(LLAMA, engine="llamacpp", weights="Q4_K_M", context=32768, flash_attn=False)
    extra = no.component("compute_buffer").bytes - fa.component("compute_buffer").bytes
    assert extra == 4 * 32768 * 512 * 32


