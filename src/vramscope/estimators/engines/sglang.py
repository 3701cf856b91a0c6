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

(0.88 when the GPU is not known). Activations of a chunked-prefill forward are estimated like
vLLM's profile peak over ``chunked_prefill_size`` tokens.
"""

from __future__ import annotations

from math import ceil

from ...units import GiB, MiB, fmt_gib, fmt_num
from ...workload import Inference
from ..common import cuda_context, setup
from ..kv import KVPolicy, kv_bytes_per_sequence, sequence_kv_formula
from ..result import ACTIVATIONS, ENGINE, KV, STATE, WEIGHTS, Component, Fit, KVCapacity, SGLangSettings
from .base import Engine, EngineResult
from .vllm import CUDA_GRAPHS, profile_peak

FALLBACK_FRACTION = 0.88  # SGLang's value when it cannot read the GPU's memory
FALLBACK_CHUNKED_PREFILL = 4096
FALLBACK_GRAPH_MAX_BS = 160

#: MLA caches the latent; a sliding layer keeps ``window − 1 + chunked_prefill_size`` tokens
KV_POLICY = KVPolicy("sglang", sliding_holds_batch=True)


def server_defaults(gpu, tp: int = 1, pp: int = 1) -> tuple[int, int, float]:
    """(chunked_prefill_size, cuda_graph_max_bs, mem_fraction_static) SGLang picks for this GPU."""
    if gpu is None:
        return FALLBACK_CHUNKED_PREFILL, FALLBACK_GRAPH_MAX_BS, FALLBACK_FRACTION
    mem = gpu.memory_bytes / MiB
    small = tp < 4
    if mem < 20 * 1024:
        chunk, max_bs = 2048, 8
    elif mem < 35 * 1024:
        chunk, max_bs = 2048, 24 if small else 80
    elif mem < 60 * 1024:
        chunk, max_bs = 4096, 32 if small else 160
    elif mem < 160 * 1024:
        chunk, max_bs = 8192, 256 if small else 512
    else:
        chunk, max_bs = 16384, 512
    reserved = 512 + max(chunk, 2048) * 1.5 + max_bs * 2 + tp * pp / 8 * 1024
    if mem > 60 * 1024:
        reserved = max(reserved, 10 * 1024)
    return chunk, max_bs, round((mem - reserved) / mem, 3)


def estimate(spec, wl: Inference, gpu=None) -> EngineResult:
    s = setup(spec, wl, kv=KV_POLICY)
    chunk, _, default_frac = server_defaults(gpu, wl.tp, wl.pp)
    frac = wl.mem_fraction_static or default_frac
    if wl.mem_fraction_static is None and frac <= 0:
        # SGLang's reserve exceeds this GPU: its rest_memory comes out negative and it refuses to start
        # ("Not enough memory"); the static pool is nothing, never a negative budget
        s.assumptions.append(f"SGLang's default reserve is larger than {gpu.id}'s memory (it would set "
                             f"mem_fraction_static = {frac}): no static pool, SGLang refuses to start; "
                             "pass --mem-fraction-static to choose one")
        frac = 0.0
    elif wl.mem_fraction_static is None:
        s.assumptions.append(f"mem_fraction_static = {frac} and chunked_prefill_size = {chunk}, as SGLang picks them "
                             + (f"for {gpu.id}" if gpu is not None else "when it cannot read the GPU's memory"))
    max_len = wl.max_model_len or s.tokens
    kv_seq = kv_bytes_per_sequence(s.groups, max_len, KV_POLICY, chunk_budget=chunk)
    per_seq = kv_seq + s.state_per_seq
    per_token = sum(g.bytes_per_token for g in s.groups)
    peak = int(profile_peak(spec, s.layers, chunk, wl.max_num_seqs or 256, wl.tp, floor=0))
    comps = [Component("weights", s.weights.per_gpu, f"Σ tensor bytes in {s.weights.format} / TP {wl.tp}", WEIGHTS,
                       key="weights")]
    needed = ceil(per_seq * wl.batch)
    context = cuda_context()
    pool = None
    kv = KVCapacity(per_token, needed)
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
        kv = KVCapacity(per_token, needed, budget_bytes=budget, kv_bytes=max(0, pool),
                        capacity_tokens=int(pool // per_token) if per_token and pool > 0 else 0,
                        max_concurrency=pool / per_seq if per_seq and pool > 0 else 0)
    else:
        comps.append(Component("KV cache (token pool)", int(kv_seq * wl.batch), f"{wl.batch} seq × ("
                               + sequence_kv_formula(s.groups, max_len, KV_POLICY, chunk_budget=chunk) + ")", KV,
                               key="kv_cache"))
        if s.state_per_seq:
            comps.append(Component("recurrent state", int(s.state_per_seq * wl.batch),
                                   f"{wl.batch} seq × {fmt_num(s.state_per_seq)} B", STATE, key="recurrent_state"))
    comps.append(Component("activations", peak, f"chunked prefill of {chunk} tokens: logits + sampler",
                           ACTIVATIONS, int(peak * 0.7), int(peak * 1.3), key="activations"))
    comps.append(Component("CUDA graphs", 0 if wl.enforce_eager else CUDA_GRAPHS, "captured decode batches", ENGINE,
                           0, 0 if wl.enforce_eager else 2 * GiB, key="cuda_graphs"))
    comps.append(context)
    fit = None
    if pool is not None:
        # SGLang's rule: a positive pool that holds the workload's KV, and room beside it for the
        # activations, graphs and context
        fit = Fit(gpu.usable_bytes, pool > 0 and pool >= needed and sum(c.bytes for c in comps) <= gpu.usable_bytes,
                  "SGLang: a positive token pool holding the workload's KV; the rest within the GPU")
    return EngineResult(tuple(comps), s.weights.format, tuple(s.assumptions), fit, kv,
                        SGLangSettings(max_len, frac, chunk))


ENTRY = Engine("sglang", estimate, context_step=lambda wl: 1, gpu_dependent=True, kv=KV_POLICY,
                options=("tp", "pp", "ep", "max_model_len", "max_num_seqs", "enforce_eager", "mem_fraction_static"))
