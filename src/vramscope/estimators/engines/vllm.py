"""vLLM (v1) memory accounting (formulas.md §4.2, ``gpu_worker.determine_available_memory``).

vLLM claims ``gpu_memory_utilization × total GPU memory`` and fills whatever its weights, the
profile-run peak and non-torch allocations leave with KV-cache blocks:

    KV = util · total − weights − profile peak − non-torch

CUDA graphs are captured after the KV cache is allocated and, with the CUDA context, live outside
that budget, so ``nvidia-smi`` shows ``util · total + graphs + context``.

It fits when vLLM would start and serve the workload: the KV budget is positive ("No available
memory for the cache blocks" otherwise), holds ``batch`` sequences of ``max_model_len`` tokens, and
the graphs and context captured after it still fit the GPU (``util`` close to 1 leaves no room).

Profile peak (calibrated): the dummy forward over ``max_num_batched_tokens`` T tokens ends in
logits of every token (T·V bf16) plus the sampler's fp32 logits for ``max_num_seqs`` S rows
(S·V·4), over a 0.35 GiB floor, or the MLP phase when larger:

    peak = max(T·V·2 + S·V·4, T·h·2·4 + 3·T·I·2 / tp) + 0.35 GiB

Fitted to llm-d's measured H100 rows (vLLM 0.11, util 0.9, T 16384, S 1024;
``llm-d/llm-d-benchmark:config_explorer/empirical-vllm-memory-results.md``): Llama-3.1-8B 4.76
(formula 4.75), Qwen3-0.6B 5.56 (5.57), Qwen3-32B 5.64 (5.57), gpt-oss-20b 7.38 (7.25) GiB.
Non-torch: 0.13 GiB at TP 1, 0.54 GiB with NCCL at TP > 1 (same file).
Defaults (``arg_utils.get_batch_defaults``): GPUs with ≥ 70 GiB that are not A100: T 16384,
S 1024; others T 8192, S 256. ``block_size`` 16.
"""

from __future__ import annotations

from math import ceil

from ... import spec as S
from ...units import GiB, fmt_gib, fmt_num
from ...workload import Inference
from ..common import cuda_context, setup
from ..kv import KVPolicy, kv_bytes_per_sequence, sequence_kv_formula
from ..result import ACTIVATIONS, ENGINE, KV, STATE, WEIGHTS, Component, Fit, KVCapacity, VLLMSettings
from .base import Engine, EngineResult

PROFILE_FLOOR = int(0.35 * GiB)  # calibrated, see the module docstring
NON_TORCH_TP1 = int(0.13 * GiB)
NON_TORCH_TPN = int(0.54 * GiB)
CUDA_GRAPHS = int(0.3 * GiB)  # measured −0.88 … +1.03 GiB (llm-d), 2.02 GiB for a large capture set (vllm #14286)

#: MLA caches the latent (``MLAAttentionSpec``); a sliding layer keeps ``window − 1 + max_num_batched_tokens``
#: tokens (``SlidingWindowSpec.max_memory_usage_bytes``)
KV_POLICY = KVPolicy("vllm", sliding_holds_batch=True)


def batch_defaults(gpu) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) vLLM picks for this GPU (LLM class defaults)."""
    if gpu is not None and gpu.memory_bytes >= 70 * GiB and "A100" not in gpu.id.upper():
        return 16384, 1024
    return 8192, 256


def profile_peak(spec, layers, t: int, s: int, tp: int, floor: int = PROFILE_FLOOR) -> float:
    v, h = spec.vocab_size, spec.hidden_size
    from ..common import widest_mlp

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
    t_def, s_def = batch_defaults(gpu)
    t = wl.max_num_batched_tokens or t_def
    n_seqs = wl.max_num_seqs or s_def
    max_len = wl.max_model_len or s.tokens
    block = wl.block_size
    if wl.max_model_len is None:
        s.assumptions.append(f"max_model_len = the workload's {max_len} tokens per sequence (vLLM's own default is "
                             f"the model's max_position_embeddings, {spec.max_position_embeddings})")
    weights = s.weights.per_gpu
    pad, pad_note = mxfp4_moe_padding(s.weights, wl, gpu)
    if pad:
        weights += pad
        s.assumptions.append(pad_note)
    peak = int(profile_peak(spec, s.layers, t, n_seqs, wl.tp))
    non_torch = NON_TORCH_TP1 if wl.num_gpus == 1 else NON_TORCH_TPN
    kv_seq = kv_bytes_per_sequence(s.groups, max_len, KV_POLICY, chunk_budget=t, block=block)
    per_seq = kv_seq + s.state_per_seq  # hybrid models keep their recurrent state in the same pool
    full_per_token = sum(g.bytes_per_token for g in s.groups)
    comps = [
        Component("weights", weights, f"Σ tensor bytes in {s.weights.format} / TP {wl.tp} (PP {wl.pp})"
                  + (f" + {fmt_gib(pad)} MXFP4 MoE padding" if pad else ""), WEIGHTS,
                  note=f"{fmt_gib(s.weights.total)} for the whole model", key="weights"),
        Component("profile peak (activations)", peak,
                  f"max(T·V·2 + S·V·4, MLP) + 0.35 GiB with T={t}, S={n_seqs}, V={spec.vocab_size}", ACTIVATIONS,
                  int(peak * 0.9), int(peak * 1.15), "calibrated on measured H100 rows (module docstring)",
                  key="profile_peak"),
        Component("non-torch allocations", non_torch, "NCCL / driver allocations seen by the profiler", ENGINE,
                  int(non_torch * 0.5), int(non_torch * 2), key="non_torch_allocations"),
    ]
    needed_kv = ceil(per_seq * wl.batch)
    available = None
    kv = KVCapacity(full_per_token, needed_kv)
    if gpu is not None:
        budget = int(gpu.usable_bytes * wl.gpu_memory_utilization)
        available = budget - weights - peak - non_torch
        kv_fill = max(0, available)
        short = ""
        if available <= 0:
            # vLLM stops here: "No available memory for the cache blocks" (kv_cache_utils)
            short = (f"nothing left for KV blocks: weights, profile peak and non-torch exceed the budget by "
                     f"{fmt_gib(-available)} (vLLM refuses to start)")
            s.assumptions.append(short)
        comps.append(Component("KV cache", kv_fill, f"util {wl.gpu_memory_utilization} × {fmt_gib(gpu.usable_bytes)} − weights − peak − non-torch",
                               KV, note=short or "vLLM pre-allocates all of it as blocks", key="kv_cache"))
        bytes_per_block = full_per_token * block
        num_blocks = int(available // bytes_per_block) if bytes_per_block and available > 0 else 0
        capacity = num_blocks * block
        blocks_per_seq = ceil(max_len / block)
        concurrency = (num_blocks / blocks_per_seq) if blocks_per_seq else None
        if s.state_per_seq:
            concurrency = max(0, available) / per_seq if per_seq else None
        kv = KVCapacity(full_per_token, needed_kv, budget_bytes=budget, kv_bytes=kv_fill, capacity_tokens=capacity,
                        num_blocks=num_blocks, max_concurrency=concurrency)
    else:
        comps.append(Component("KV cache", int(kv_seq * wl.batch), f"{wl.batch} seq × ("
                               + sequence_kv_formula(s.groups, max_len, KV_POLICY, chunk_budget=t, block=block)
                               + f") — block {block}", KV, key="kv_cache"))
        if s.state_per_seq:
            comps.append(Component("recurrent state", int(s.state_per_seq * wl.batch),
                                   f"{wl.batch} seq × {fmt_num(s.state_per_seq)} B", STATE, key="recurrent_state"))
    graphs = 0 if wl.enforce_eager else CUDA_GRAPHS
    comps.append(Component("CUDA graphs", graphs, "captured after the KV cache, outside gpu_memory_utilization", ENGINE,
                           0, 0 if wl.enforce_eager else 2 * GiB, key="cuda_graphs"))
    comps.append(cuda_context())
    fit = None
    if available is not None:
        # vLLM's own rule: a positive KV budget that holds the workload's sequences — and the CUDA graphs
        # and context, which live outside gpu_memory_utilization, still within the GPU
        fit = Fit(gpu.usable_bytes,
                  available > 0 and available >= needed_kv and sum(c.bytes for c in comps) <= gpu.usable_bytes,
                  "vLLM: a positive KV budget holding the workload's KV; graphs and context within the GPU")
    return EngineResult(tuple(comps), s.weights.format, tuple(s.assumptions), fit, kv,
                        VLLMSettings(t, n_seqs, max_len, block))


ENTRY = Engine("vllm", estimate, context_step=lambda wl: wl.block_size, gpu_dependent=True, kv=KV_POLICY,
                options=("tp", "pp", "ep", "gpu_memory_utilization", "max_num_batched_tokens", "block_size",
                         "max_model_len", "max_num_seqs", "enforce_eager"))
