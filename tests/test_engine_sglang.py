"""SGLang (estimators/engines/sglang.py): per-GPU server defaults, the token pool and its fit rule, by hand."""

from __future__ import annotations

import pytest

from conftest import run_cli
from test_cli_bad_input import _assert_one_line_error
from vramscope.estimators.engines import sglang
from vramscope.estimators.inference import estimate_inference
from vramscope.estimators.result import SGLangSettings
from vramscope.hardware import custom_gpu, find_gpu
from vramscope.sources import load_model
from vramscope.units import MiB
from vramscope.workload import make_inference

LLAMA = load_model("meta-llama/Llama-3.1-8B")
H100 = find_gpu("H100-SXM-80GB")


def test_server_defaults_follow_server_args():
    """server_args._handle_gpu_memory_settings: chunk / graph batch by memory class, then the reserve."""
    mem = H100.memory_bytes / MiB
    reserved = 512 + 8192 * 1.5 + 256 * 2 + 1 * 1 / 8 * 1024  # 13,440 MiB (above the 10,240 floor)
    assert sglang.server_defaults(H100) == (8192, 256, round((mem - reserved) / mem, 3))
    small = custom_gpu("16GiB")  # below 20 GiB: 2048 / 8
    assert sglang.server_defaults(small)[:2] == (2048, 8)
    assert sglang.server_defaults(None) == (4096, 160, 0.88)  # when it cannot read the GPU's memory


def test_token_pool_on_h100_by_hand():
    est = estimate_inference(LLAMA, make_inference(engine="sglang"), H100)
    _, _, frac = sglang.server_defaults(H100)
    context = 500 * MiB
    budget = int(frac * (H100.usable_bytes - context))
    pool = budget - 2 * 8_030_261_248
    per_token = 131_072
    assert est.component("kv_cache").bytes == pool and est.component("kv_cache").name == "KV cache (token pool)"
    assert est.kv.budget_bytes == budget and est.kv.kv_bytes == pool
    assert est.kv.capacity_tokens == pool // per_token
    assert est.kv.max_concurrency == pytest.approx(pool / (per_token * 1280))
    assert est.kv.bytes_needed == per_token * 1280
    tokens = pool // per_token  # page_size 1
    # K (V) size as SGLang logs it: 32 layers × (tokens + 1 padding slot) × 8 heads × 128 × 2 B each
    k = 32 * (tokens + 1) * 8 * 128 * 2
    slots = min(max(int(tokens / 131_072 * 512), 2048), 4096)  # Llama-3.1's max_position_embeddings
    assert est.settings == SGLangSettings(max_model_len=1280, mem_fraction_static=frac, chunked_prefill_size=8192,
                                          page_size=1, context_len=131_072, max_total_num_tokens=tokens,
                                          k_size_bytes=k, v_size_bytes=k, req_to_token_slots=slots,
                                          max_running_requests=min(tokens // 2, slots))
    assert est.component("req_to_token").bytes == slots * 131_076 * 4
    assert est.fits is True and est.fit.limit_bytes == H100.usable_bytes
    assert est.details["mem_fraction_static"] == frac  # legacy path


def test_no_pool_does_not_fit():
    """Llama-3.1-70B in bf16 on one H100: the weights exceed mem_fraction_static × free memory."""
    est = estimate_inference(load_model("meta-llama/Llama-3.1-70B"), make_inference(engine="sglang"), H100)
    assert est.component("kv_cache").bytes == 0 and est.kv.capacity_tokens == 0 and est.kv.max_concurrency == 0
    assert est.fits is False and "Not enough memory" in est.component("kv_cache").note


def test_registry_facts():
    assert sglang.ENTRY.context_step(make_inference(engine="sglang")) == 1
    assert sglang.ENTRY.gpu_dependent and "mem_fraction_static" in sglang.ENTRY.options
    assert {"chunked_prefill_size", "max_running_requests", "page_size"} <= set(sglang.ENTRY.options)
    assert "max_num_seqs" not in sglang.ENTRY.options  # SGLang's name is --max-running-requests


def test_gpu_smaller_than_sglangs_reserve_has_no_pool_not_a_negative_one():
    """Fuzz find (1M run): on a 2 GiB card SGLang's reserve (512 + 2048·1.5 + 8·2 + 128 = 3,728 MiB)
    exceeds the memory, so its default fraction is negative; the estimate says so, reports a zero
    fraction and budget, and does not fit (the invariant checker runs under the test suite)."""
    tiny = custom_gpu("2GiB")
    mem = tiny.memory_bytes / MiB
    assert sglang.server_defaults(tiny)[2] == round((mem - 3728) / mem, 3) < 0
    est = estimate_inference(LLAMA, make_inference(engine="sglang"), tiny)
    assert est.settings.mem_fraction_static == 0.0
    assert est.kv.budget_bytes == 0 and est.kv.kv_bytes == 0 and est.kv.capacity_tokens == 0
    assert est.fits is False
    assert any("refuses to start" in a and "--mem-fraction-static" in a for a in est.assumptions)


def test_qwen3_235b_fp8_pool_by_hand():
    """vllm-project/vllm#21348's setup: Qwen3-235B-A22B in FP8 on 4 × H100, --mem-fraction-static 0.93.
    cell size = 94 layers × (4 KV heads / TP 4 = 1) × 128 × 2 (K and V) × 2 B = 48,128 B per token;
    #tokens = pool // cell size; each of K and V = 94 × (#tokens + 1) × 1 × 128 × 2 B."""
    spec = load_model("Qwen/Qwen3-235B-A22B")
    est = estimate_inference(spec, make_inference(engine="sglang", tp=4, weights="fp8-block", mem_fraction_static=0.93),
                             H100)
    cell = 94 * 1 * 128 * 2 * 2
    assert est.kv.bytes_per_token == cell
    pool = int(0.93 * (H100.usable_bytes - 500 * MiB)) - est.component("weights").bytes
    assert est.component("kv_cache").bytes == pool
    tokens = pool // cell
    s = est.settings
    assert s.max_total_num_tokens == tokens == est.kv.capacity_tokens
    assert s.k_size_bytes == s.v_size_bytes == 94 * (tokens + 1) * 128 * 2 and s.kv_size_bytes is None
    assert s.context_len == 40_960  # Qwen3's max_position_embeddings


def test_page_size_floors_the_pool_to_whole_pages():
    """--page-size 64 (trtllm_mha on Blackwell sets it): #tokens = (pool // cell) // 64 × 64, and each
    buffer holds one page more."""
    est1 = estimate_inference(LLAMA, make_inference(engine="sglang"), H100)
    est64 = estimate_inference(LLAMA, make_inference(engine="sglang", page_size=64), H100)
    raw = est1.component("kv_cache").bytes // 131_072
    assert est1.settings.max_total_num_tokens == raw
    assert est64.settings.max_total_num_tokens == raw // 64 * 64
    assert est64.settings.k_size_bytes == 32 * (raw // 64 * 64 + 64) * 8 * 128 * 2


def test_max_running_requests_sizes_the_request_table_outside_the_pool():
    """--max-running-requests 64: a 64 × (context_len + 4) int32 table, allocated after the pool was sized
    (so the pool does not change), and the scheduler's cap is min(64, slots) = 64."""
    base = estimate_inference(LLAMA, make_inference(engine="sglang"), H100)
    est = estimate_inference(LLAMA, make_inference(engine="sglang", max_running_requests=64, max_model_len=8192), H100)
    assert est.component("req_to_token").bytes == 64 * (8192 + 4) * 4
    assert est.component("kv_cache").bytes == base.component("kv_cache").bytes
    assert est.settings.req_to_token_slots == 64 and est.settings.max_running_requests == 64
    assert est.settings.context_len == 8192


def test_default_request_slots_follow_the_pool_and_context():
    """Without --max-running-requests: min(max(int(tokens / context_len × 512), 2048), 4096) slots."""
    assert sglang.req_to_token_slots(415_164, 131_072, None) == 2048  # 1,621 → the 2048 floor
    assert sglang.req_to_token_slots(992_896, 4_096, None) == 4096  # 124,112 → the 4096 cap
    assert sglang.req_to_token_slots(600_000, 100_000, None) == 3072  # 600,000 / 100,000 × 512
    assert sglang.req_to_token_slots(10, 100, 7) == 7
    assert sglang.req_to_token_bytes(2048, 131_072) == 2048 * 131_076 * 4


def test_chunked_prefill_size_sets_the_reserve_and_the_prefill():
    """server_args uses the resolved chunked_prefill_size in the reserve: --chunked-prefill-size 2048 on an
    H100 reserves 512 + 2048·1.5 + 256·2 + 128 = 4,224 MiB, below the 10,240 MiB floor above 60 GiB;
    16384 reserves 512 + 24,576 + 512 + 128 = 25,728 MiB."""
    mem = H100.memory_bytes / MiB
    assert sglang.server_defaults(H100, chunk=2048) == (2048, 256, round((mem - 10_240) / mem, 3))
    assert sglang.server_defaults(H100, chunk=16_384) == (16_384, 256, round((mem - 25_728) / mem, 3))
    small = estimate_inference(LLAMA, make_inference(engine="sglang", chunked_prefill_size=2048), H100)
    big = estimate_inference(LLAMA, make_inference(engine="sglang", chunked_prefill_size=16_384), H100)
    assert small.settings.chunked_prefill_size == 2048 and big.settings.chunked_prefill_size == 16_384
    assert small.component("activations").bytes < big.component("activations").bytes
    assert small.settings.mem_fraction_static > big.settings.mem_fraction_static
    assert small.settings.max_total_num_tokens > big.settings.max_total_num_tokens


def test_mla_pool_logs_one_kv_size():
    """MLA (DeepSeek-V2-Lite): SGLang's MLATokenToKVPool logs "KV size"; cell = 27 layers × (512 + 64) × 2 B."""
    spec = load_model("deepseek-ai/DeepSeek-V2-Lite")
    est = estimate_inference(spec, make_inference(engine="sglang"), H100)
    cell = 27 * (512 + 64) * 2
    assert est.kv.bytes_per_token == cell
    tokens = est.component("kv_cache").bytes // cell
    s = est.settings
    assert s.max_total_num_tokens == tokens
    assert s.kv_size_bytes == 27 * (tokens + 1) * 576 * 2 and s.k_size_bytes is None and s.v_size_bytes is None


@pytest.mark.parametrize(("flag", "value", "fragment"), [
    ("--chunked-prefill-size", "0", "chunked_prefill_size: must be a whole number >= 1"),
    ("--max-running-requests", "0", "max_running_requests: must be a whole number >= 1"),
    ("--mem-fraction-static", "0", "mem_fraction_static: must be a number > 0.0"),
    ("--mem-fraction-static", "1.5", "mem_fraction_static: must be a number <= 1.0"),
    ("--page-size", "0", "page_size: must be a whole number >= 1"),
])
def test_bad_sglang_values_are_one_line_exit_2(flag, value, fragment, capsys):
    code, out, err = run_cli(["estimate", "meta-llama/Llama-3.1-8B", "--engine", "sglang", "--gpu", "H100-SXM-80GB",
                              flag, value], capsys)
    _assert_one_line_error(code, out, err, fragment)


def test_cli_prints_the_pool_as_sglang_logs_it(capsys):
    code, out, _ = run_cli(["estimate", "meta-llama/Llama-3.1-8B", "--engine", "sglang", "--gpu", "H100-SXM-80GB",
                            "--max-running-requests", "64"], capsys)
    assert code == 0
    est = estimate_inference(LLAMA, make_inference(engine="sglang", max_running_requests=64), H100)
    s = est.settings
    flat = " ".join(out.split())
    assert (f"KV Cache is allocated. #tokens: {s.max_total_num_tokens}, K size: {s.k_size_bytes / 2**30:.2f} GB, "
            f"V size: {s.v_size_bytes / 2**30:.2f} GB") in flat
    assert f"max_total_num_tokens={s.max_total_num_tokens}, chunked_prefill_size=8192, max_running_requests=64" in flat
