"""vLLM's start-up terms by release (``estimators/engines/vllm_releases.py``), each figure worked out
by hand from the code paths the module cites."""

from __future__ import annotations

import pytest

from vramscope.errors import VramscopeError
from vramscope.estimators.engines import vllm_releases as R

GiB = 1 << 30
MiB = 1 << 20


@pytest.mark.parametrize(("version", "label"), [
    ("0.6.4.post1", "0.6.4–0.7.3"), ("0.7.3", "0.6.4–0.7.3"), ("0.8.0", "0.8.0–0.8.5.post1"),
    ("0.8.5.post1", "0.8.0–0.8.5.post1"), ("0.9.0.1", "0.9.0–0.9.0.1"), ("0.9.1", "0.9.1–0.10.1.1"),
    ("0.10.1.1", "0.9.1–0.10.1.1"), ("0.10.2", "0.10.2–0.11.1"), ("0.11.2", "0.11.2"), ("0.15.1", "0.12.0–0.16.0"), ("0.17.0", "0.17.0–0.17.1"),
    ("0.19.1", "0.18.0–0.19.1"), ("0.20.2", "0.20.0–0.20.2"), ("0.24.0", "0.22.0–0.26.0"),
    ("0.27.1", "0.27.0–0.27.1"), ("0.34.0", "0.28.0–0.34.0"), ("v0.23.0", "0.22.0–0.26.0"),
])
def test_each_release_falls_in_its_range(version: str, label: str) -> None:
    assert R.release(version).label == label


def test_the_ranges_cover_every_known_release_once() -> None:
    for version in R.KNOWN_RELEASES:
        assert sum(r.contains(version) for r in R.RANGES) == 1, version
    assert R.release(None).contains(R.DEFAULT_RELEASE)


@pytest.mark.parametrize("bad", ["0.21.0", "0.5.4", "1.0", "latest", "0.35.0"])
def test_an_unknown_version_names_the_known_releases(bad: str) -> None:
    with pytest.raises(R.UnknownVllmVersion) as info:
        R.release(bad)
    message = str(info.value)
    assert isinstance(info.value, VramscopeError)
    assert repr(bad) in message and "0.10.1.1" in message and "0.34.0" in message and "\n" not in message


def test_what_the_budget_subtracts_changes_at_the_releases_read() -> None:
    assert R.release("0.8.5").budget == "torch-peak" and R.release("0.9.1").budget == "profiling"
    assert R.release("0.27.0").budget == "consumed"
    assert not R.release("0.19.1").cudagraph_subtracted and R.release("0.19.1").cudagraph_profiled
    assert R.release("0.20.0").cudagraph_subtracted
    assert not R.release("0.10.1.1").kv_cache_memory_option and R.release("0.10.2").kv_cache_memory_option
    assert R.release("0.6.6").engine == "V0" and R.release("0.8.0").engine == "V1"


H100 = int(79.19 * GiB)
A100_80 = int(79.25 * GiB)
B200 = int(178.36 * GiB)
L4 = int(22.03 * GiB)


@pytest.mark.parametrize(("version", "total", "name", "entry", "expected"), [
    ("0.10.1.1", H100, "H100-SXM-80GB", "serve", (8192, 1024)),
    ("0.10.1.1", H100, "H100-SXM-80GB", "LLM", (16384, 1024)),
    ("0.10.1.1", A100_80, "A100-SXM-80GB", "serve", (2048, 256)),   # A100 rule (0.9.0+)
    ("0.8.5.post1", A100_80, "A100-SXM-80GB", "serve", (8192, 1024)),  # before the A100 rule
    ("0.24.0", L4, "L4-24GB", "LLM", (8192, 256)),
    ("0.24.0", B200, "B200-180GB", "serve", (8192, 1024)),
    ("0.30.0", B200, "B200-180GB", "serve", (16384, 1024)),          # ≥ 160 GiB (0.28+)
])
def test_batch_defaults(version, total, name, entry, expected) -> None:
    assert R.batch_defaults(R.release(version), total, name, entry) == expected


def test_v0_profiles_the_whole_context_without_chunked_prefill() -> None:
    v0 = R.release("0.6.4.post1")
    assert R.batch_defaults(v0, H100, "H100", "serve", 20000) == (20000, 256)
    assert R.batch_defaults(v0, H100, "H100", "serve", 1000) == (2048, 256)
    assert R.batch_defaults(v0, H100, "H100", "serve", 40000) == (2048, 256)  # chunked above 32K


@pytest.mark.parametrize(("version", "rows", "flashinfer", "path"), [
    ("0.10.1.1", 256, None, "sort"),         # pip wheel: FlashInfer only an extra
    ("0.10.1.1", 256, True, "flashinfer"),   # "Using FlashInfer for top-p & top-k sampling."
    ("0.11.2", 256, None, "flashinfer"),     # bundled and enabled
    ("0.15.1", 256, None, "sort"),           # opt-in from 0.12
    ("0.19.1", 256, None, "triton"),         # Triton kernel for ≥ 8 rows (0.17+)
    ("0.19.1", 4, None, "sort"),
    ("0.24.0", 256, None, "flashinfer"),     # default again from 0.22
    ("0.24.0", 256, False, "triton"),        # VLLM_USE_FLASHINFER_SAMPLER=0
    ("0.7.3", 256, None, "sort-v0"),
])
def test_sampler_path(version, rows, flashinfer, path) -> None:
    assert R.sampler_path(R.release(version), rows, flashinfer) == path


def test_sampler_warmup_bytes_by_hand() -> None:
    n = 256 * 152064                     # Qwen2 vocabulary, 256 rows
    assert R.sampler_warmup_bytes("sort", 256, 152064) == n * 28 == 1_089_994_752
    assert R.sampler_warmup_bytes("sort-v0", 256, 152064) == n * 32
    assert R.sampler_warmup_bytes("flashinfer", 256, 152064) == n * 14 == 544_997_376
    # Triton: 14 B per element plus one min(SMs, rows) x V fp32 scratch buffer (132 SMs)
    assert R.sampler_warmup_bytes("triton", 256, 152064) == 544_997_376 + 132 * 152064 * 4
    assert R.sampler_warmup_bytes("triton", 64, 152064) == 64 * 152064 * 14 + 64 * 152064 * 4


def test_forward_peak_compiled_and_eager() -> None:
    # Qwen2-7B, T = 2048: compiled 2048·(2·3584 + 3·18944)·2, eager 2048·(4·3584 + 3·18944)·2
    assert R.forward_peak_bytes(2048, 3584, 18944) == 262_144_000
    assert R.forward_peak_bytes(2048, 3584, 18944, compiled=False) == 291_504_128


def test_profile_peak_is_the_larger_phase() -> None:
    # T = 2048: the sampler (plus the T×h output still held) beats the forward's 0.24 GiB
    sampler = 544_997_376 + 2048 * 3584 * 2
    assert R.profile_peak_bytes(2048, 256, 3584, 152064, 18944, "flashinfer") == sampler
    # T = 16384, Llama-3.1-70B (h 8192, I 28672) with FlashInfer on 1024 rows: the forward wins
    forward = 16384 * (2 * 8192 + 3 * 28672) * 2
    assert R.profile_peak_bytes(16384, 1024, 8192, 128256, 28672, "flashinfer") == forward


def test_non_torch_and_the_cuda_context_of_the_old_budget() -> None:
    ctx = 400 * MiB
    assert R.non_torch_bytes(R.release("0.10.1.1"), 1, ctx) == int(0.13 * GiB)
    assert R.non_torch_bytes(R.release("0.10.1.1"), 2, ctx) == int(0.54 * GiB)
    assert R.non_torch_bytes(R.release("0.8.5"), 1, ctx) == int(0.13 * GiB) + ctx


def test_capture_sizes() -> None:
    sizes = R.capture_sizes(256, 2048)
    assert sizes[:4] == [1, 2, 4, 8] and sizes[-1] == 512 and len(sizes) == 3 + 31 + 17
    assert R.capture_sizes(8, 8192) == [1, 2, 4, 8, 16]
    assert R.capture_sizes(256, 100)[-1] == 96  # never above max_num_batched_tokens


def test_cudagraph_estimate_only_where_subtracted() -> None:
    # 0.24.0, S 256, T 2048, Qwen3-8B (h 4096, I 12288): first capture = forward at 512 tokens,
    # then 1 MiB per further graph: 50 PIECEWISE + 34 FULL decode (sizes ≤ 256: 35)
    first = 512 * (2 * 4096 + 3 * 12288) * 2
    assert R.cudagraph_estimate_bytes(R.release("0.24.0"), 256, 2048, 4096, 12288) == first + 84 * MiB
    assert R.cudagraph_estimate_bytes(R.release("0.19.1"), 256, 2048, 4096, 12288) == 0
    assert R.cudagraph_estimate_bytes(R.release("0.24.0"), 256, 2048, 4096, 12288, enforce_eager=True) == 0


def test_every_range_cites_the_code_it_was_read_in() -> None:
    for r in R.RANGES:
        assert r.facts, r.label
        assert all(f.startswith(R.REPO + "/v") or "METADATA" in f for f in r.facts), r.label


def test_describe_says_what_the_budget_subtracts() -> None:
    assert "CUDA-graph estimate subtracted" in R.describe(R.release("0.24.0"))
    assert "outside the budget" in R.describe(R.release("0.19.1"))
    assert "CUDA context" in R.describe(R.release("0.8.5"))
    assert R.describe(R.release("0.6.6")).startswith("V0 engine")


# --- the vLLM estimate by release, end to end (estimators/engines/vllm.py) ---------------------------
def _vllm(**kw):
    import vramscope

    return vramscope.estimate("meta-llama/Llama-3.1-8B", engine="vllm", gpu="H100-SXM-80GB", context=4096, **kw)


def test_the_release_picks_the_sampler_and_the_graph_term():
    h, v, inter, t, s = 4096, 128_256, 14_336, 8192, 1024
    held = t * h * 2
    old = _vllm(vllm_version="0.10.1.1")  # pip wheel: PyTorch sort sampler, graphs outside the budget
    assert old.component("profile_peak").bytes == s * v * 28 + held
    assert old.component("cuda_graphs").bytes == int(0.3 * GiB)
    new = _vllm()  # 0.24.0: FlashInfer sampler, CUDA-graph estimate inside the budget
    assert new.component("profile_peak").bytes == s * v * 14 + held
    assert new.component("cuda_graphs").bytes == 512 * (2 * h + 3 * inter) * 2 + 100 * MiB
    assert new.settings.vllm_version == R.DEFAULT_RELEASE and old.settings.vllm_version == "0.10.1.1"
    assert any("vLLM 0.24.0 (default release" in a for a in new.assumptions)


def test_the_entrypoint_picks_the_batch_defaults():
    assert _vllm().settings.max_num_batched_tokens == 8192
    assert _vllm(vllm_entrypoint="llm").settings.max_num_batched_tokens == 16384


def test_kv_cache_memory_is_the_pool():
    est = _vllm(kv_cache_memory=8 * GiB, gpu_memory_utilization=0.5)
    assert est.component("kv_cache").bytes == 8 * GiB
    assert est.kv.capacity_tokens == 8 * GiB // (131_072 * 16) * 16
    with pytest.raises(VramscopeError, match="0.10.2 or newer"):
        _vllm(kv_cache_memory=8 * GiB, vllm_version="0.10.1.1")


def test_cpu_offload_moves_weights_to_the_host():
    plain, offloaded = _vllm(), _vllm(cpu_offload_gb=4)
    assert plain.component("weights").bytes - offloaded.component("weights").bytes == 4 * GiB
    assert offloaded.host_bytes == 4 * GiB
    assert offloaded.component("kv_cache").bytes - plain.component("kv_cache").bytes == 4 * GiB


def test_enforce_eager_turns_off_compilation_and_graphs():
    h, inter, t = 4096, 14_336, 32_768
    eager = _vllm(enforce_eager=True, max_num_batched_tokens=t, max_num_seqs=8)
    compiled = _vllm(max_num_batched_tokens=t, max_num_seqs=8)
    assert eager.component("profile_peak").bytes == t * (4 * h + 3 * inter) * 2
    assert compiled.component("profile_peak").bytes == t * (2 * h + 3 * inter) * 2
    assert eager.component("cuda_graphs").bytes == 0


def test_cli_refuses_an_unknown_release_in_one_line(capsys):
    from conftest import run_cli

    code, out, err = run_cli(["estimate", "meta-llama/Llama-3.1-8B", "--engine", "vllm", "--gpu", "H100-SXM-80GB",
                              "--vllm-version", "0.21.0"], capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and out == "" and len(lines) == 1
    assert "unknown vLLM version '0.21.0'" in lines[0] and "0.24.0" in lines[0] and "Traceback" not in err
    code, out, err = run_cli(["estimate", "meta-llama/Llama-3.1-8B", "--engine", "vllm", "--gpu", "H100-SXM-80GB",
                              "--vllm-version", "0.10.1.1", "--kv-cache-memory", "8589934592"], capsys)
    assert code == 2 and "0.10.2 or newer" in err


def test_cli_logs_the_pool_as_vllm_does(capsys, monkeypatch):
    from conftest import run_cli

    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run_cli(["estimate", "meta-llama/Llama-3.1-8B", "--engine", "vllm", "--gpu", "H100-SXM-80GB",
                              "--context", "32768", "--kv-cache-memory", "8GiB"], capsys)
    tokens = 8 * GiB // (131_072 * 16) * 16  # 65,536
    assert code == 0, err
    assert f"GPU KV cache size: {tokens:,} tokens; Maximum concurrency for 32,768 tokens per request: 2.00x" in out
