"""vLLM memory accounting, release by release (``gpu_worker.determine_available_memory``).

vLLM claims ``gpu_memory_utilization × total`` of the GPU (``total`` as CUDA reports it) and fills
what its weights, the profile run's peak, the memory outside PyTorch and — from 0.20 — its CUDA-graph
estimate leave with KV-cache blocks:

    KV = util · total − weights − profile peak − non-torch [− CUDA-graph estimate]

What each term is, and the batch defaults, depend on the release: ``vllm_releases.py`` holds them per
range of releases, read in each release's code (``--vllm-version``, default
:data:`~.vllm_releases.DEFAULT_RELEASE`). The profile peak is the larger of the forward over
``max_num_batched_tokens`` tokens and the sampler warm-up on ``min(max_num_batched_tokens,
max_num_seqs)`` rows of logits; non-torch memory is measured by vLLM at run time and modelled from
its components. ``--kv-cache-memory`` (vLLM ``--kv-cache-memory-bytes``, 0.10.2+) makes the pool that
many bytes with no profiling; ``--cpu-offload-gb`` keeps that many GiB of weights per GPU on the host.

Before 0.20 CUDA graphs are captured after the KV cache is allocated and, with the CUDA context, live
outside that budget, so ``nvidia-smi`` shows ``util · total + graphs + context``; from 0.20 the graphs
are estimated first and taken out of the pool.

It fits when vLLM would start and serve the workload: the KV budget is positive ("No available
memory for the cache blocks" otherwise), holds ``batch`` sequences of ``max_model_len`` tokens, and
the graphs and context captured after it still fit the GPU (``util`` close to 1 leaves no room).
The KV component's note gives the pool as vLLM logs it (``GPU KV cache size: N tokens``,
``Maximum concurrency for L tokens per request: X``).
"""

from __future__ import annotations

from math import ceil

from ... import spec as S
from ...errors import VramscopeError
from ...units import GiB, fmt_gib, fmt_num
from ...workload import Inference
from ..common import CUDA_CONTEXT, cuda_context, setup, widest_mlp
from ..kv import KVPolicy, kv_bytes_per_sequence, sequence_kv_formula
from ..result import (
    ACTIVATIONS,
    CACHE,
    DRIVER,
    ENGINE,
    KV,
    STATE,
    WEIGHTS,
    Component,
    Fit,
    KVCapacity,
    VLLMSettings,
)
from . import vllm_releases as R
from .base import Engine, EngineResult

CUDA_GRAPHS = int(0.3 * GiB)  # before 0.20, outside the budget: measured −0.88 … +1.03 GiB (llm-d), 2.02 GiB for a large capture set (vllm #14286)

#: MLA caches the latent (``MLAAttentionSpec``); a sliding layer keeps ``window − 1 + max_num_batched_tokens``
#: tokens (``SlidingWindowSpec.max_memory_usage_bytes``)
KV_POLICY = KVPolicy("vllm", sliding_holds_batch=True)

#: SGLang's estimate (``sglang.py``) still uses this calibrated peak; vLLM's own is per release (vllm_releases)
PROFILE_FLOOR = int(0.35 * GiB)


def profile_peak(spec, layers, t: int, s: int, tp: int, floor: int = PROFILE_FLOOR) -> float:
    """SGLang's prefill peak (``sglang.py``): max(T·V·2 + S·V·4, T·h·2·4 + 3·T·I·2/tp) + floor, fitted to
    llm-d's vLLM 0.11 H100 rows (``llm-d/llm-d-benchmark:config_explorer/empirical-vllm-memory-results.md``)."""
    v, h = spec.vocab_size, spec.hidden_size
    logits = t * v * 2 + min(s, t) * v * 4
    mlp = t * h * 2 * 4 + 3 * t * widest_mlp(layers) * 2 / tp
    return max(logits, mlp) + floor


def _round_up(n: int, k: int) -> int:
    return -(-n // k) * k


def mxfp4_moe_padding(weights, wl: Inference, gpu) -> tuple[int, str]:
    """Bytes vLLM adds per GPU by padding MXFP4 expert matrices to its MoE kernel's tile sizes.

    vLLM's ``Mxfp4MoEMethod.create_weights`` (model_executor/layers/quantization/mxfp4.py) rounds
    the per-partition intermediate size I/tp and the hidden size H up by backend: Marlin — GPUs
    below SM90 and SM120 (triton_kernels run on SM90–SM10x only) — I to 128 and H to 256;
    FlashInfer on SM100 I and H to 256; Triton on SM90 I to 64. Each padded expert holds
    2·I'·H' + H'·I' elements at 4.25 bits (E2M1 + an E8M0 scale per 32) and 2·I' + H' bf16 biases.
    gpt-oss-120b at TP 4 on A100: H 2880 → 3072, I/tp 720 → 768, +13.8% expert bytes (a published
    A100 log measured 17.22 GiB of weights where the stored bytes give 15.21 GiB; with the padding
    17.17). Open: llm-d's H100 rows (vLLM 0.11) show gpt-oss-20b at 13.47 GiB where the stored bytes,
    which Triton's 64-alignment leaves unpadded at TP 1, give 12.82 — triton_kernels' own swizzled
    layout may pad further; not modelled.
    """
    if not weights.format.startswith("mxfp4") or gpu is None or wl.ep > 1:
        return 0, ""
    cap = getattr(gpu, "cuda_capability", None)
    if cap is None:
        return 0, ""
    align_i, align_h = (64, 1) if cap[0] == 9 else (256, 256) if cap[0] == 10 else (128, 256)
    extra = 0.0
    for t, _ in weights.tensor_bytes:
        if not t.experts or len(t.shape) != 3 or t.role not in (S.ROLE_FFN_GATE_UP, S.ROLE_FFN_DOWN):
            continue
        e, rows, cols = t.shape
        if t.role == S.ROLE_FFN_GATE_UP:  # (E, 2I, H)
            i, h = rows // 2, cols
            padded = e * 2 * _round_up(i // wl.tp, align_i) * _round_up(h, align_h)
            plain = e * 2 * (i // wl.tp) * h
        else:  # down_proj (E, H, I)
            h, i = rows, cols
            padded = e * _round_up(h, align_h) * _round_up(i // wl.tp, align_i)
            plain = e * h * (i // wl.tp)
        extra += (padded - plain) * 4.25 / 8
    if extra <= 0:
        return 0, ""
    backend = {9: "Triton"}.get(cap[0], "FlashInfer" if cap[0] == 10 else "Marlin")
    return int(extra), (f"MXFP4 experts padded to the {backend} MoE kernel's tiles on SM{cap[0]}{cap[1]} "
                        f"(+{fmt_gib(int(extra))} per GPU; vLLM mxfp4.py create_weights)")


def estimate(spec, wl: Inference, gpu=None) -> EngineResult:
    s = setup(spec, wl, kv=KV_POLICY)
    version = wl.vllm_version or R.DEFAULT_RELEASE
    rel = R.release(version)
    release_note = (f"vLLM {version} ({'default release; --vllm-version names another' if wl.vllm_version is None else 'as given'}): "
                    f"releases {rel.label} — " + R.describe(rel))
    s.assumptions.append(release_note)
    if wl.kv_cache_memory is not None and not rel.kv_cache_memory_option:
        raise VramscopeError(f"--kv-cache-memory needs vLLM 0.10.2 or newer (kv_cache_memory_bytes); "
                             f"vLLM {version} sizes the KV pool from --gpu-memory-utilization only")
    max_len = wl.max_model_len or s.tokens
    total = gpu.usable_bytes if gpu is not None else 0
    t_def, s_def = R.batch_defaults(rel, total, gpu.id if gpu is not None else "", wl.vllm_entrypoint, max_len)
    t = wl.max_num_batched_tokens or t_def
    n_seqs = wl.max_num_seqs or s_def
    if wl.max_num_batched_tokens is None or wl.max_num_seqs is None:
        s.assumptions.append(f"max_num_batched_tokens {t}, max_num_seqs {n_seqs}: vLLM {version}'s defaults for "
                             f"{'vllm serve' if wl.vllm_entrypoint == 'serve' else 'the LLM class'} on "
                             f"{'this GPU' if gpu is not None else 'a GPU under 70 GiB'} (--vllm-entrypoint llm for offline use)")
    block = wl.block_size
    if wl.max_model_len is None:
        s.assumptions.append(f"max_model_len = the workload's {max_len} tokens per sequence (vLLM's own default is "
                             f"the model's max_position_embeddings, {spec.max_position_embeddings})")
    weights = s.weights.per_gpu
    pad, pad_note = mxfp4_moe_padding(s.weights, wl, gpu)
    if pad:
        weights += pad
        s.assumptions.append(pad_note)
    offloaded = min(weights, int(wl.cpu_offload_gb * GiB))
    if offloaded:
        weights -= offloaded
        s.assumptions.append(f"--cpu-offload-gb {wl.cpu_offload_gb:g}: {fmt_gib(offloaded)} of weights per GPU stay in "
                             "pinned host memory, read over UVA each forward (vLLM moves whole parameters until the "
                             "amount is reached, so up to one parameter more)")
    rows = min(t, n_seqs)
    path = R.sampler_path(rel, rows, {"auto": None, "flashinfer": True, "pytorch": False}[wl.vllm_sampler])
    compiled = rel.engine == "V1" and not wl.enforce_eager
    width = widest_mlp(s.layers) // wl.tp
    peak = R.profile_peak_bytes(t, rows, spec.hidden_size, spec.vocab_size, width, path, compiled=compiled)
    non_torch = R.non_torch_bytes(rel, wl.num_gpus, CUDA_CONTEXT)
    graphs_in_budget = R.cudagraph_estimate_bytes(rel, n_seqs, t, spec.hidden_size, width, enforce_eager=wl.enforce_eager)
    kv_seq = kv_bytes_per_sequence(s.groups, max_len, KV_POLICY, chunk_budget=t, block=block)
    per_seq = kv_seq + s.state_per_seq  # hybrid models keep their recurrent state in the same pool
    full_per_token = sum(g.bytes_per_token for g in s.groups)
    sampler_text = {"flashinfer": "FlashInfer top-k/top-p (14 B per logit)", "sort": "PyTorch sort top-k/top-p (28 B)",
                    "sort-v0": "V0 sort top-k/top-p (32 B)", "triton": "Triton top-k/top-p (14 B + SMs×V×4)"}[path]
    comps = [
        Component("weights", weights, f"Σ tensor bytes in {s.weights.format} / TP {wl.tp} (PP {wl.pp})"
                  + (f" + {fmt_gib(pad)} MXFP4 MoE padding" if pad else "")
                  + (f" − {fmt_gib(offloaded)} offloaded to the host" if offloaded else ""), WEIGHTS,
                  note=f"{fmt_gib(s.weights.total)} for the whole model", key="weights"),
        Component("profile peak (activations)", peak,
                  f"max(forward over T={t} tokens ({'compiled' if compiled else 'eager'}), sampler warm-up on "
                  f"{rows} rows × V={spec.vocab_size}: {sampler_text})", ACTIVATIONS,
                  int(peak * 0.8), int(peak * 1.3), "vLLM's profile_run, per release (vllm_releases)", key="profile_peak"),
        Component("non-torch allocations", non_torch, "NCCL / kernel images / workspaces outside PyTorch"
                  + (" + the CUDA context (this release's budget counts it)" if rel.budget == "torch-peak" else ""),
                  ENGINE, int(non_torch * 0.5), int(non_torch * 2), "measured by vLLM at start-up; modelled",
                  key="non_torch_allocations", memory=DRIVER),  # outside torch's allocator, by vLLM's own definition
    ]
    needed_kv = ceil(per_seq * wl.batch)
    available = None
    kv = KVCapacity(full_per_token, needed_kv)
    if gpu is not None:
        budget = int(total * wl.gpu_memory_utilization)
        if wl.kv_cache_memory is not None:
            available = wl.kv_cache_memory
            formula = f"--kv-cache-memory {fmt_num(wl.kv_cache_memory)} B (no profiling; utilization ignored)"
        else:
            available = budget - weights - peak - non_torch - graphs_in_budget
            formula = (f"util {wl.gpu_memory_utilization} × {fmt_gib(total)} − weights − peak − non-torch"
                       + (" − CUDA-graph estimate" if graphs_in_budget else ""))
        kv_fill = max(0, available)
        short = ""
        if available <= 0:
            # vLLM stops here: "No available memory for the cache blocks" (kv_cache_utils)
            what = "weights, profile peak, non-torch" + (" and the CUDA-graph estimate" if graphs_in_budget else "")
            short = f"nothing left for KV blocks: {what} exceed the budget by {fmt_gib(-available)} (vLLM refuses to start)"
            s.assumptions.append(short)
        bytes_per_block = full_per_token * block
        num_blocks = int(available // bytes_per_block) if bytes_per_block and available > 0 else 0
        capacity = num_blocks * block
        blocks_per_seq = ceil(max_len / block)
        concurrency = (num_blocks / blocks_per_seq) if blocks_per_seq else None
        if s.state_per_seq:
            concurrency = max(0, available) / per_seq if per_seq else None
        log = (f"GPU KV cache size: {capacity:,} tokens; Maximum concurrency for {max_len:,} tokens per request: "
               f"{concurrency:.2f}x" if concurrency is not None else f"GPU KV cache size: {capacity:,} tokens")
        comps.append(Component("KV cache", kv_fill, formula, KV, note=short or f"as vLLM {version} logs it: {log}",
                               key="kv_cache"))
        kv = KVCapacity(full_per_token, needed_kv, budget_bytes=budget, kv_bytes=kv_fill, capacity_tokens=capacity,
                        num_blocks=num_blocks, max_concurrency=concurrency)
    else:
        comps.append(Component("KV cache", int(kv_seq * wl.batch), f"{wl.batch} seq × ("
                               + sequence_kv_formula(s.groups, max_len, KV_POLICY, chunk_budget=t, block=block)
                               + f") — block {block}", KV, key="kv_cache"))
        if s.state_per_seq:
            comps.append(Component("recurrent state", int(s.state_per_seq * wl.batch),
                                   f"{wl.batch} seq × {fmt_num(s.state_per_seq)} B", STATE, key="recurrent_state"))
    if wl.enforce_eager:
        graphs, graphs_text = 0, "none: --enforce-eager"
    elif graphs_in_budget:
        graphs, graphs_text = graphs_in_budget, "estimated before the KV pool and taken out of it (vLLM ≥ 0.20)"
    else:
        graphs, graphs_text = CUDA_GRAPHS, "captured after the KV cache, outside gpu_memory_utilization"
    # the graphs' memory pool is torch's (vllm/platforms/interface.py Platform.get_global_graph_pool →
    # torch.cuda.graph_pool_handle()): reserved by the caching allocator, its blocks free between replays
    # (vLLM keeps only weak references to the outputs), so reserved, not allocated
    comps.append(Component("CUDA graphs", graphs, graphs_text, ENGINE, 0, 0 if wl.enforce_eager else 2 * GiB,
                           key="cuda_graphs", memory=CACHE))
    comps.append(cuda_context())
    fit = None
    if available is not None:
        # vLLM's own rule: a positive KV budget that holds the workload's sequences — and the CUDA graphs
        # and context, which live outside gpu_memory_utilization, still within the GPU
        fit = Fit(gpu.usable_bytes,
                  available > 0 and available >= needed_kv and sum(c.bytes for c in comps) <= gpu.usable_bytes,
                  "vLLM: a positive KV budget holding the workload's KV; graphs and context within the GPU")
    return EngineResult(tuple(comps), s.weights.format, tuple(s.assumptions), fit, kv,
                        VLLMSettings(t, n_seqs, max_len, block, version), host_bytes=offloaded)


ENTRY = Engine("vllm", estimate, context_step=lambda wl: wl.block_size, gpu_dependent=True, kv=KV_POLICY,
                options=("tp", "pp", "ep", "gpu_memory_utilization", "max_num_batched_tokens", "block_size",
                         "vllm_version", "vllm_entrypoint", "vllm_sampler", "kv_cache_memory", "cpu_offload_gb",
                         "max_model_len", "max_num_seqs", "enforce_eager"))
