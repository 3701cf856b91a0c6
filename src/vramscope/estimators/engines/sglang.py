"""SGLang: a static pool of ``mem_fraction_static`` × the GPU's free memory holds the weights and
the KV cache (token pool); activations, CUDA graphs and the context use the rest.

The pool (``model_runner.profile_max_num_token``): ``rest = available_after_load −
total_before_load · (1 − mem_fraction_static)``, where ``total_before_load`` is the free memory
once the CUDA context exists — so

    KV pool = mem_fraction_static · (usable − CUDA context) − weights

and SGLang refuses to start when it is not positive ("Not enough memory. Please try to increase
--mem-fraction-static").

Defaults by GPU (``server_args._handle_gpu_memory_settings``, sglang PR #10975), from the GPU's
total memory in MiB: ``chunked_prefill_size`` 2048 below 35 GiB, 4096 below 60 GiB, 8192 below
160 GiB, else 16384; ``cuda_graph_max_bs`` 8 below 20 GiB, 24 (TP < 4; 80 otherwise) below
35 GiB, 32 / 160 below 60 GiB, 256 / 512 below 160 GiB, else 512; then

    reserved (MiB) = 512 + max(chunked_prefill_size, 2048) · 1.5 + cuda_graph_max_bs · 2 + tp·pp/8 · 1024,
    at least 10240 on GPUs above 60 GiB;   mem_fraction_static = round((total − reserved) / total, 3)

(0.88 when the GPU is not known); a ``--chunked-prefill-size`` given replaces the default in that
reserve, as server_args uses the resolved value. Activations of a chunked-prefill forward are
estimated like vLLM's profile peak over ``chunked_prefill_size`` tokens.

The pool as SGLang logs it (``ModelRunnerKVCacheMixin.profile_max_num_token`` / ``init_memory`` in
``python/sglang/srt/model_executor/model_runner_kv_cache_mixin.py``, sgl-project/sglang commit
001ccef0072a4537d4ec6bdd50a73e6feb2c907d; ``MHATokenToKVPool`` in ``mem_cache/memory_pool.py``,
commit 000ccdba94d4ed75d4fab7b1dac5f8ebcaaee7e8):

* ``cell_size`` = Σ layers · max(1, kv_heads // TP) · (head_dim + v_head_dim) · dtype bytes (MLA:
  ``(kv_lora_rank + qk_rope_head_dim) · layers · bytes``) — the KV bytes per token on one GPU;
* ``max_total_num_tokens = int(rest_GiB · 2^30) // cell_size``, then ``// page_size · page_size``;
* the log line "KV Cache is allocated. #tokens: N, K size: X GB, V size: Y GB": each K (V) buffer is
  ``(N + page_size) × heads × head_dim`` per layer (slot 0 / the first page is padding), summed over
  layers, divided by ``GB = 1024 · 1024 · 1024`` — its "GB" is GiB. MLA pools log one "KV size".

Request slots: ``ReqToTokenPool(size=max_num_reqs, max_context_len=context_len + 4)``, an int32
``size × (context_len + 4)`` table, where ``max_num_reqs`` is ``--max-running-requests`` or
``min(max(int(max_total_num_tokens / context_len · 512), 2048), 4096)``. It is allocated after the
pool was sized, so it comes out of the ``1 − mem_fraction_static`` remainder, beside activations and
graphs, not out of the pool. The scheduler then runs at most ``min(--max-running-requests or
max_total_num_tokens // 2, slots)`` requests (``ModelRunner.initialize``; the attention backend's own
cap, newer releases, is not modelled). ``context_len`` is ``--context-length`` (``max_model_len``
here) or the model's ``max_position_embeddings``.
"""

from __future__ import annotations

from math import ceil

from ...units import GiB, MiB, fmt_gib, fmt_num
from ...workload import Inference
from ..common import cuda_context, setup
from ..kv import KVPolicy, kv_bytes_per_sequence, sequence_kv_formula
from ..result import (
    ACTIVATIONS,
    CACHE,
    ENGINE,
    KV,
    STATE,
    WEIGHTS,
    Component,
    Fit,
    KVCapacity,
    SGLangSettings,
)
from .base import Engine, EngineResult
from .vllm import CUDA_GRAPHS, profile_peak

FALLBACK_FRACTION = 0.88  # SGLang's value when it cannot read the GPU's memory
FALLBACK_CHUNKED_PREFILL = 4096
FALLBACK_GRAPH_MAX_BS = 160

#: MLA caches the latent; a sliding layer keeps ``window − 1 + chunked_prefill_size`` tokens
KV_POLICY = KVPolicy("sglang", sliding_holds_batch=True)


def server_defaults(gpu, tp: int = 1, pp: int = 1, chunk: int | None = None) -> tuple[int, int, float]:
    """(chunked_prefill_size, cuda_graph_max_bs, mem_fraction_static) SGLang picks for this GPU; a
    ``chunk`` given (``--chunked-prefill-size``) is kept and sizes the activation reserve instead."""
    if gpu is None:
        return chunk or FALLBACK_CHUNKED_PREFILL, FALLBACK_GRAPH_MAX_BS, FALLBACK_FRACTION
    mem = gpu.memory_bytes / MiB
    small = tp < 4
    if mem < 20 * 1024:
        default_chunk, max_bs = 2048, 8
    elif mem < 35 * 1024:
        default_chunk, max_bs = 2048, 24 if small else 80
    elif mem < 60 * 1024:
        default_chunk, max_bs = 4096, 32 if small else 160
    elif mem < 160 * 1024:
        default_chunk, max_bs = 8192, 256 if small else 512
    else:
        default_chunk, max_bs = 16384, 512
    chunk = chunk or default_chunk
    reserved = 512 + max(chunk, 2048) * 1.5 + max_bs * 2 + tp * pp / 8 * 1024
    if mem > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    return chunk, max_bs, round((mem - reserved) / mem, 3)


def req_to_token_slots(max_total_num_tokens: int, context_len: int, max_running_requests: int | None) -> int:
    """Rows of SGLang's ReqToTokenPool: ``--max-running-requests``, else
    ``min(max(int(max_total_num_tokens / context_len · 512), 2048), 4096)`` (``init_memory``)."""
    if max_running_requests is not None:
        return max_running_requests
    return min(max(int(max_total_num_tokens / context_len * 512), 2048), 4096)


def req_to_token_bytes(slots: int, context_len: int) -> int:
    """The int32 table ``slots × (context_len + 4)`` (4 extra positions: ``extra_max_context_len``)."""
    return slots * (context_len + 4) * 4


def pool_tokens(pool_bytes: int, cell_size: float, page_size: int) -> int:
    """``max_total_num_tokens``: the pool over the per-token cell, floored to whole pages."""
    if pool_bytes <= 0 or cell_size <= 0:
        return 0
    return int(pool_bytes // cell_size) // page_size * page_size


def kv_log_sizes(layers, tokens: int, page_size: int, kv_dtype: str, model_dtype: str, tp: int,
                 ) -> tuple[int | None, int | None, int | None]:
    """(K size, V size, KV size) in bytes as SGLang logs them for ``tokens``: every buffer holds
    ``tokens + page_size`` slots. MHA / GQA models log K and V (heads replicated when TP exceeds
    them); MLA models one latent buffer; None where this model has neither."""
    from ...formats.kv_dtypes import kv_bytes_per_element
    from ...spec import ATTN_MLA

    e = kv_bytes_per_element(kv_dtype, model_dtype)
    slots = tokens + page_size
    attns = [layer.attention for layer in layers if layer.attention is not None]
    mla = [a for a in attns if a.kind == ATTN_MLA]
    if mla:
        return None, None, int(sum(slots * (a.kv_lora_rank + a.qk_rope_head_dim) * e for a in mla))
    if not attns:
        return None, None, None
    k = sum(slots * max(1, a.num_kv_heads // tp) * a.head_dim * e for a in attns)
    v = sum(slots * max(1, a.num_kv_heads // tp) * a.head_dim_v * e for a in attns)
    return int(k), int(v), None


def estimate(spec, wl: Inference, gpu=None) -> EngineResult:
    s = setup(spec, wl, kv=KV_POLICY)
    chunk, _, default_frac = server_defaults(gpu, wl.tp, wl.pp, wl.chunked_prefill_size)
    frac = wl.mem_fraction_static or default_frac
    page = wl.page_size or 1
    if wl.mem_fraction_static is None and frac <= 0:
        # SGLang's reserve exceeds this GPU: its rest_memory comes out negative and it refuses to start
        # ("Not enough memory"); the static pool is nothing, never a negative budget
        s.assumptions.append(f"SGLang's default reserve is larger than {gpu.id}'s memory (it would set "
                             f"mem_fraction_static = {frac}): no static pool, SGLang refuses to start; "
                             "pass --mem-fraction-static to choose one")
        frac = 0.0
    elif wl.mem_fraction_static is None:
        s.assumptions.append(f"mem_fraction_static = {frac} and chunked_prefill_size = {chunk}, as SGLang picks them "
                             + (f"for {gpu.id}" if gpu is not None else "when it cannot read the GPU's memory")
                             + (" (its reserve sized with the --chunked-prefill-size given)"
                                if wl.chunked_prefill_size is not None else ""))
    max_len = wl.max_model_len or s.tokens
    context_len = wl.max_model_len or spec.max_position_embeddings or max_len
    kv_seq = kv_bytes_per_sequence(s.groups, max_len, KV_POLICY, chunk_budget=chunk)
    per_seq = kv_seq + s.state_per_seq
    per_token = sum(g.bytes_per_token for g in s.groups)
    peak = int(profile_peak(spec, s.layers, chunk, wl.max_running_requests or 256, wl.tp, floor=0))
    comps = [Component("weights", s.weights.per_gpu, f"Σ tensor bytes in {s.weights.format} / TP {wl.tp}", WEIGHTS,
                       key="weights")]
    needed = ceil(per_seq * wl.batch)
    context = cuda_context()
    pool = None
    kv = KVCapacity(per_token, needed)
    logged: dict = {}
    if gpu is not None:
        free = gpu.usable_bytes - context.bytes
        budget = int(frac * free)
        pool = budget - s.weights.per_gpu
        short = ""
        if pool <= 0:
            short = (f"no token pool: the weights exceed mem_fraction_static × free memory by {fmt_gib(-pool)} "
                     "(SGLang refuses to start: 'Not enough memory')")
            s.assumptions.append(short)
        comps.append(Component("KV cache (token pool)", max(0, pool),
                               f"mem_fraction_static {frac} × ({fmt_gib(gpu.usable_bytes)} − CUDA context) − weights",
                               KV, note=short, key="kv_cache"))
        tokens = pool_tokens(pool, per_token, page)
        kv = KVCapacity(per_token, needed, budget_bytes=budget, kv_bytes=max(0, pool),
                        capacity_tokens=tokens,
                        max_concurrency=pool / per_seq if per_seq and pool > 0 else 0)
        if tokens > 0:
            k_size, v_size, kv_size = kv_log_sizes(s.layers, tokens, page, wl.kv_dtype, spec.dtype, wl.tp)
            slots = req_to_token_slots(tokens, context_len, wl.max_running_requests)
            logged = {"max_total_num_tokens": tokens, "k_size_bytes": k_size, "v_size_bytes": v_size,
                      "kv_size_bytes": kv_size, "req_to_token_slots": slots,
                      "max_running_requests": min(wl.max_running_requests or tokens // 2, slots)}
            comps.append(Component("request slots (req_to_token)", req_to_token_bytes(slots, context_len),
                                   f"{slots:,} requests × {context_len + 4:,} positions × 4 B (int32), beside the pool",
                                   ENGINE, key="req_to_token"))
            if wl.max_running_requests is None:
                s.assumptions.append(f"{slots:,} request slots, SGLang's default for a {tokens:,}-token pool and a "
                                     f"{context_len:,}-token context (--max-running-requests sets them)")
    else:
        comps.append(Component("KV cache (token pool)", int(kv_seq * wl.batch), f"{wl.batch} seq × ("
                               + sequence_kv_formula(s.groups, max_len, KV_POLICY, chunk_budget=chunk) + ")", KV,
                               key="kv_cache"))
        if s.state_per_seq:
            comps.append(Component("recurrent state", int(s.state_per_seq * wl.batch),
                                   f"{wl.batch} seq × {fmt_num(s.state_per_seq)} B", STATE, key="recurrent_state"))
    comps.append(Component("activations", peak, f"chunked prefill of {chunk} tokens: logits + sampler",
                           ACTIVATIONS, int(peak * 0.7), int(peak * 1.3), key="activations"))
    # captured into a torch graph pool as vLLM's are (reserved by the caching allocator, not live tensors)
    comps.append(Component("CUDA graphs", 0 if wl.enforce_eager else CUDA_GRAPHS, "captured decode batches", ENGINE,
                           0, 0 if wl.enforce_eager else 2 * GiB, key="cuda_graphs", memory=CACHE))
    comps.append(context)
    fit = None
    if pool is not None:
        # SGLang's rule: a positive pool that holds the workload's KV, and room beside it for the
        # activations, graphs and context
        fit = Fit(gpu.usable_bytes, pool > 0 and pool >= needed and sum(c.bytes for c in comps) <= gpu.usable_bytes,
                  "SGLang: a positive token pool holding the workload's KV; the rest within the GPU")
    return EngineResult(tuple(comps), s.weights.format, tuple(s.assumptions), fit, kv,
                        SGLangSettings(max_len, frac, chunk, page_size=page, context_len=context_len, **logged))


ENTRY = Engine("sglang", estimate, context_step=lambda wl: 1, gpu_dependent=True, kv=KV_POLICY,
                options=("tp", "pp", "ep", "max_model_len", "enforce_eager", "mem_fraction_static", "chunked_prefill_size",
                         "max_running_requests", "page_size"))
