"""llama.cpp (``llama-server`` / ``llama-cli``) on one GPU or split over several (formulas.md §4.3).

Modelled release: ggml-org/llama.cpp at commit 00342301d01add50835550e8a916f12097d94517 (file and
function named at each rule; where a rule was read in another snapshot, its commit is named).

* placement (``llamacpp_split.py``, from ``llama_model::load_tensors``): ``-ngl N`` puts the last N
  repeating layers on the GPUs (``i_gpu_start = n_layer − N``), and the output layer too when
  N > n_layer; ``--tensor-split`` proportions cut the GPU layers into consecutive runs per device
  (``--split-mode layer``, the default); ``--split-mode row`` also cuts every 2-D matrix by rows over
  all devices; ``--split-mode none`` keeps everything on ``--main-gpu``. ``token_embd`` always stays on
  the host ("little benefit to offloading the input layer"); a tied output matrix is a second copy on
  the output layer's device.
* KV (``src/llama-kv-cache.cpp``, ``llama_kv_cache::llama_kv_cache``): each layer's K and V on that
  layer's device (``model.dev_layer(il)``), or on the host with ``--no-kv-offload``. Cells
  (``src/llama-context.cpp``, ``llama_context::llama_context``, read in Ollama's vendored copy at
  ollama/ollama 04db8a0bdd748e572513db1c02c0262ecdc37209): ``n_ctx = pad(ctx_size, 256)``; with the
  default non-unified cache each of the ``n_seq_max`` slots gets ``n_ctx_seq = pad(n_ctx / n_seq_max,
  256)`` cells and ``n_ctx = n_ctx_seq · n_seq_max``; ``--kv-unified`` keeps one buffer of ``n_ctx``
  cells any slot may use. Sliding layers (``src/llama-kv-cache-iswa.cpp``) hold
  ``pad(min(size_base, n_swa · (unified ? n_seq_max : 1) + n_ubatch), 256)`` cells per stream (one
  stream unified, ``n_seq_max`` otherwise). MLA caches only the 576-wide latent.
* compute buffer: with flash attention ≈ 4·n_ubatch·(V + 4·h + 2·n_ff) bytes (logits dominate);
  without, add the KQ matrix 4·n_ctx·n_ubatch·n_head. Over several devices the logits part
  (4·n_ubatch·V) is on the output layer's device and the per-layer part on each device holding
  layers; what runs on the host (CPU layers, a host output layer) is offloaded to the first device
  (``ggml_backend_sched`` ``op_offload``: a higher-priority backend takes ops whose weights are in
  host memory). With pipeline parallelism (``llama_context``: several devices, every layer offloaded,
  ``--split-mode layer``, KV offloaded) the scheduler keeps ``GGML_SCHED_MAX_COPIES`` = 4 copies of
  each device's input activations (``ggml/src/ggml-backend.cpp``): 3 more ``4·n_ubatch·h`` each.
"""

from __future__ import annotations

from math import ceil

from ... import spec as S
from ...errors import VramscopeError
from ...formats.kv_dtypes import kv_bytes_per_element
from ...units import fmt_gib, fmt_num
from ...workload import Inference
from ..common import CUDA_CONTEXT, cuda_context, setup, widest_mlp
from ..kv import KVPolicy, layer_kv_bytes_per_token, ssm_state_bytes
from ..result import (
    ACTIVATIONS,
    CONTEXT,
    DRIVER,
    KV,
    STATE,
    WEIGHTS,
    Component,
    DeviceMemory,
    Fit,
    KVCapacity,
    LlamaCppSettings,
    Placement,
)
from .base import Engine, EngineResult
from .llamacpp_split import layer_devices, row_shares

#: llama.cpp allocates through ggml's CUDA backend (cudaMalloc per buffer), not torch
NO_TORCH = ("llama.cpp allocates through ggml's CUDA backend, not PyTorch: there is no torch allocated / reserved "
            "figure, only device memory (nvidia-smi)")

PAD = 256  # n_ctx and sliding cells are padded to 256 (llama_context: GGML_PAD(n_ctx, 256)); the context step

#: MLA caches the 576-wide latent; a sliding layer keeps ``n_swa + n_ubatch`` cells per slot
KV_POLICY = KVPolicy("llamacpp", sliding_holds_batch=True)


def _pad(n: int) -> int:
    return ceil(n / PAD) * PAD


GGML_SCHED_MAX_COPIES = 4  # ggml/src/ggml-backend.cpp: pipeline-parallel copies of each split's inputs

#: the roles of 2-D weights a MUL_MAT reads (the ops the row-split buffer supports)
_ROW_SPLIT_ROLES = S.LINEAR_ROLES | {S.ROLE_LM_HEAD, S.ROLE_ROUTER}


def n_ctx_cells(tokens: int, slots: int, unified: bool) -> tuple[int, int]:
    """(n_ctx, n_ctx_seq) for ``slots`` sequences of ``tokens`` each: ``--ctx-size tokens·slots`` as
    ``llama_context`` pads and divides it (see the module docstring)."""
    n_ctx = _pad(tokens * slots)
    if unified:
        return n_ctx, n_ctx
    per_slot = _pad(n_ctx // slots)
    return per_slot * slots, per_slot


def sliding_cells(window: int, n_ctx: int, n_ctx_seq: int, slots: int, n_ubatch: int, unified: bool) -> int:
    """Cells of a sliding-window layer over all its streams (``llama_kv_cache_iswa``)."""
    if unified:
        return _pad(min(n_ctx, window * slots + n_ubatch))
    return slots * _pad(min(n_ctx_seq, window + n_ubatch))


def _check_split(wl: Inference, n_dev: int) -> None:
    """The split options must describe the GPUs there are (one clear line each)."""
    if wl.tensor_split is not None and len(wl.tensor_split) != n_dev:
        raise VramscopeError(f"--tensor-split has {len(wl.tensor_split)} proportion(s) for {n_dev} GPU(s): give one "
                             f"per GPU (e.g. --gpus {len(wl.tensor_split)}, or --tensor-split "
                             f"{','.join(['1'] * n_dev)})")
    if wl.main_gpu >= n_dev:
        raise VramscopeError(f"--main-gpu {wl.main_gpu} is out of range for {n_dev} GPU(s) (0–{n_dev - 1})")
    if wl.split_mode != "none" and wl.main_gpu:
        raise VramscopeError("--main-gpu picks the one GPU of --split-mode none; with --split-mode "
                             f"{wl.split_mode} the layers follow --tensor-split (llama.cpp places nothing by "
                             "--main-gpu there)")
    if wl.split_mode == "none" and wl.tensor_split is not None and n_dev > 1:
        raise VramscopeError("--tensor-split does not apply to --split-mode none: one GPU (--main-gpu) holds "
                             "everything")


def estimate(spec, wl: Inference, gpu=None) -> EngineResult:
    if wl.pp > 1 or wl.ep > 1:
        raise VramscopeError("llama.cpp splits a model over GPUs with --gpus N and --split-mode layer|row "
                             "(--tensor-split a,b,…); --pp / --ep do not apply")
    n_dev = wl.tp  # the GPUs llama.cpp sees (--gpus N)
    _check_split(wl, n_dev)
    one = wl.replace(tp=1) if wl.tp > 1 else wl  # llama.cpp shards nothing by tensor parallelism
    weights = wl.weights
    s = setup(spec, one, kv=KV_POLICY, weights=weights)
    if weights is None and spec.source != "gguf":
        s.assumptions.append(f"weights as stored ({s.weights.format}); pass --weights Q4_K_M etc. for a GGUF quant")
    n_layer = spec.num_layers
    ngl = n_layer + 1 if wl.n_gpu_layers is None else min(wl.n_gpu_layers, n_layer + 1)
    # the devices llama.cpp uses: all of them, or only --main-gpu with --split-mode none
    used = (wl.main_gpu,) if wl.split_mode == "none" else tuple(range(n_dev))
    proportions = (tuple(wl.tensor_split) if wl.tensor_split is not None and wl.split_mode != "none"
                   else (1.0,) * len(used))
    where = tuple(None if d is None else used[d] for d in layer_devices(n_layer, ngl, proportions))
    out_dev = where[n_layer]
    row = wl.split_mode == "row" and n_dev > 1
    shares_cache: dict[int, tuple[float, ...]] = {}
    w_dev = [0.0] * n_dev
    host_bytes = 0
    for t, nbytes in s.weights.tensor_bytes:
        if t.component != S.COMPONENT_TEXT:
            host_bytes += nbytes  # vision / audio towers and MTP layers are not the text model's layers
            continue
        if t.layer is None and t.role == S.ROLE_EMBED:
            host_bytes += nbytes  # the input embedding stays on the CPU
            if not (spec.tie_word_embeddings and out_dev is not None):
                continue
            dev = out_dev  # the tied output needs the matrix on the output layer's device as well
        else:
            dev = where[min(t.layer, n_layer - 1)] if t.layer is not None else out_dev
        if dev is None:
            host_bytes += nbytes
        elif row and t.experts == 0 and len(t.shape) == 2 and (t.role in _ROW_SPLIT_ROLES or t.role == S.ROLE_EMBED):
            rows = t.shape[0]
            shares = shares_cache.get(rows) or shares_cache.setdefault(rows, row_shares(rows, proportions))
            for i, share in enumerate(shares):
                w_dev[i] += nbytes * share
        else:
            w_dev[dev] += nbytes
    # llama-server serves -np slots at once: `batch` concurrent sequences need that many slots
    slots = max(wl.n_parallel, wl.batch)
    unified = wl.kv_unified
    n_ctx, n_ctx_seq = n_ctx_cells(s.tokens, slots, unified)
    kv_dev = [0.0] * n_dev
    kv_host = 0.0
    e = kv_bytes_per_element(wl.kv_dtype, spec.dtype)
    cells_rows: list[dict[int, list[float]]] = [{} for _ in range(n_dev)]  # device -> cells -> [bytes/cell, layers]
    layers_on: list[list[int]] = [[] for _ in range(n_dev)]
    for layer in spec.layers:
        dev = where[layer.index] if layer.index < n_layer else None
        if dev is not None:
            layers_on[dev].append(layer.index)
        a = layer.attention
        if a is None:
            continue
        per_tok = layer_kv_bytes_per_token(a, KV_POLICY, e)
        cells = (sliding_cells(a.window, n_ctx, n_ctx_seq, slots, wl.n_ubatch, unified)
                 if a.kind == S.ATTN_SLIDING and a.window else n_ctx)
        if dev is not None and wl.kv_offload:
            kv_dev[dev] += per_tok * cells
            r = cells_rows[dev].setdefault(cells, [0.0, 0])
            r[0] += per_tok
            r[1] += 1
        else:
            kv_host += per_tok * cells
    state_dev = [0.0] * n_dev
    if s.state_per_seq:
        for d in range(n_dev):
            mine = tuple(layer for layer in spec.layers if layer.index in set(layers_on[d]))
            if mine:  # llama.cpp keeps recurrent state in f32, one per slot, on the layer's device
                state_dev[d] = ssm_state_bytes(spec, 4.0, 1, mine) * slots
    n_ff = widest_mlp(spec.layers) or 4 * spec.hidden_size
    heads = max((layer.attention.num_heads for layer in spec.attention_layers), default=0)
    out_part = 4 * wl.n_ubatch * spec.vocab_size
    layer_part = 4 * wl.n_ubatch * (4 * spec.hidden_size + 2 * n_ff)
    if not wl.flash_attn:
        layer_part += 4 * n_ctx * wl.n_ubatch * heads
    first = used[0]
    host_layers = any(d is None for d in where[:n_layer])
    pipeline = (len(used) > 1 and ngl > n_layer and wl.split_mode == "layer" and wl.kv_offload)
    comp_dev = [0.0] * n_dev
    for d in used:
        if layers_on[d] or (d == first and host_layers):
            comp_dev[d] += layer_part
        if d == (out_dev if out_dev is not None else first):
            comp_dev[d] += out_part
        if pipeline and comp_dev[d]:
            comp_dev[d] += (GGML_SCHED_MAX_COPIES - 1) * 4 * wl.n_ubatch * spec.hidden_size
    ctx_dev = [CUDA_CONTEXT if d in used else 0 for d in range(n_dev)]
    totals = [int(w_dev[d]) + int(kv_dev[d]) + int(state_dev[d]) + int(comp_dev[d]) + ctx_dev[d] for d in range(n_dev)]
    busy = max(range(n_dev), key=lambda d: (totals[d], -d))
    devices = tuple(DeviceMemory(
        d, len(layers_on[d]), min(layers_on[d]) if layers_on[d] else None, max(layers_on[d]) if layers_on[d] else None,
        out_dev == d, int(w_dev[d]), int(kv_dev[d]), int(state_dev[d]), int(comp_dev[d]), ctx_dev[d], totals[d])
        for d in range(n_dev))
    comps = _components(spec, wl, s.weights.format, devices[busy], cells_rows[busy], n_ctx, slots, ngl, n_dev,
                        n_ff, heads, comp_dev[busy], pipeline)
    on_gpu_layers = min(ngl, n_layer)
    if on_gpu_layers == 0:
        s.assumptions.append(f"-ngl 0: every layer runs on the CPU — all weights and the KV cache are in host RAM "
                             f"({fmt_gib(host_bytes + kv_host)}); the GPU holds only the compute buffer and the CUDA "
                             "context, and 'fits' speaks of the GPU alone")
    elif on_gpu_layers < n_layer or kv_host:
        s.assumptions.append(f"-ngl {ngl}: {on_gpu_layers} of {n_layer} layers on the GPU; "
                             f"{fmt_gib(host_bytes + kv_host)} of weights and KV stay in host RAM, and 'fits' speaks "
                             "of the GPU alone")
    s.assumptions.extend(_slot_assumptions(wl, slots, n_ctx, n_ctx_seq))
    if n_dev > 1:
        s.assumptions.append(_split_assumption(wl, n_dev, devices, busy, proportions))
    settings = LlamaCppSettings(n_ctx, ngl, slots, n_ctx_seq, unified, n_dev, wl.split_mode,
                                tuple(round(p / sum(proportions), 6) for p in proportions)
                                if wl.split_mode != "none" else (1.0,), wl.main_gpu)
    return EngineResult(tuple(comps), s.weights.format, tuple(s.assumptions),
                        Fit.within(sum(c.bytes for c in comps), gpu),  # the busiest GPU within usable memory
                        KVCapacity(sum(g.bytes_per_token for g in s.groups)), settings,
                        Placement(host_bytes, int(kv_host), devices=devices, busiest_device=busy),
                        host_bytes + int(kv_host), no_torch=NO_TORCH)


def _components(spec, wl: Inference, fmt: str, dev: DeviceMemory, cells_rows: dict[int, list[float]], n_ctx: int,
                slots: int, ngl: int, n_dev: int, n_ff: int, heads: int, compute: float, pipeline: bool) -> list[Component]:
    """The busiest device's components (on one GPU: the GPU's)."""
    n_layer = spec.num_layers
    if n_dev == 1:
        what = f"GGUF tensors of {min(ngl, n_layer)}/{n_layer} layers" + (" + output" if ngl > n_layer else "")
    else:
        span = f"layers {dev.first_layer}–{dev.last_layer}" if dev.layers else "no layer"
        what = (f"GPU {dev.index} of {n_dev} (--split-mode {wl.split_mode}): GGUF tensors of {span} "
                f"({dev.layers}/{n_layer})" + (" + output" if dev.output else "")
                + (", and its share of every matrix's rows" if wl.split_mode == "row" else ""))
    kv_text = " + ".join(f"{cells:,} cells × {fmt_num(per)} B/cell ({n} layers)"
                         for cells, (per, n) in sorted(cells_rows.items(), reverse=True))
    kv_text = (kv_text or "0 B: no layer's KV on this GPU") + f" — n_ctx {n_ctx} for {slots} slot(s), type {wl.kv_dtype}"
    parts = []
    if dev.layers or (dev.compute_bytes and not dev.output):
        parts.append(f"4 × n_ubatch {wl.n_ubatch} × (4 × h {spec.hidden_size} + 2 × n_ff {n_ff})")
        if not wl.flash_attn:
            parts.append(f"4 × n_ctx {n_ctx} × n_ubatch {wl.n_ubatch} × n_head {heads} (KQ, no flash attention)")
    if dev.output or (n_dev == 1 and dev.compute_bytes):
        parts.insert(0, f"4 × n_ubatch {wl.n_ubatch} × V {spec.vocab_size}")
    if pipeline and dev.compute_bytes:
        parts.append(f"{GGML_SCHED_MAX_COPIES - 1} × 4 × n_ubatch {wl.n_ubatch} × h {spec.hidden_size} "
                     "(pipeline-parallel input copies)")
    compute_text = " + ".join(parts) if parts else "0 B: nothing runs on this GPU"
    if n_dev == 1:  # the one-GPU wording of before
        compute_text = (f"4 × n_ubatch {wl.n_ubatch} × (V {spec.vocab_size} + 4 × h {spec.hidden_size} + 2 × n_ff {n_ff})"
                        + (f" + 4 × n_ctx {n_ctx} × n_ubatch {wl.n_ubatch} × n_head {heads} (KQ, no flash attention)"
                           if not wl.flash_attn else ""))
    comps = [
        Component("weights", dev.weights_bytes, what + f" ({fmt}); token_embd on host", WEIGHTS, key="weights"),
        Component("KV cache", dev.kv_bytes, kv_text, KV, key="kv_cache"),
    ]
    if dev.state_bytes:
        comps.append(Component("recurrent state", dev.state_bytes, f"{slots} slot(s) × f32 conv + SSM state", STATE,
                               key="recurrent_state"))
    comps.append(Component("compute buffer", int(compute), compute_text, ACTIVATIONS, int(compute * 0.6),
                           int(compute * 1.5), key="compute_buffer"))
    comps.append(cuda_context() if dev.context_bytes else Component(
        "CUDA context", 0, "0 B: llama.cpp does not use this GPU (--split-mode none)", CONTEXT, key="cuda_context",
        memory=DRIVER))
    return comps


def _slot_assumptions(wl: Inference, slots: int, n_ctx: int, n_ctx_seq: int) -> list[str]:
    """Say how the slots share the context (llama.cpp's default is not unified)."""
    if slots == 1:
        return []
    if wl.kv_unified:
        return [f"{slots} slots (-np) share one unified KV buffer of n_ctx {n_ctx} cells (--kv-unified): any slot "
                "may use what the others leave"]
    return [f"{slots} slots (-np), KV not unified (llama.cpp's default): each slot gets n_ctx_seq {n_ctx_seq} of the "
            f"n_ctx {n_ctx} cells (--ctx-size = slots × context); current llama-server started without -np uses 4 "
            "unified slots (tools/server/server.cpp at 00dd0816: n_parallel < 0 → 4, kv_unified) — pass "
            "-np 4 --kv-unified for that"]


def _split_assumption(wl: Inference, n_dev: int, devices: tuple[DeviceMemory, ...], busy: int,
                      proportions: tuple[float, ...]) -> str:
    per = "; ".join(f"GPU {d.index}: " + (f"layers {d.first_layer}–{d.last_layer}" if d.layers else "no layer")
                    + (" + output" if d.output else "") + f", {fmt_gib(d.total_bytes)}" for d in devices)
    how = ("--split-mode none: only --main-gpu is used" if wl.split_mode == "none" else
           f"--split-mode {wl.split_mode}, --tensor-split "
           + (",".join(f"{p:g}" for p in proportions) if wl.tensor_split is not None
              else "even (llama.cpp's default splits by each GPU's free memory: even on equal, empty GPUs)"))
    return (f"llama.cpp over {n_dev} GPUs ({how}): {per}. The components are GPU {busy}'s, the busiest; 'fits' "
            "and the per-GPU figure speak of it, and the total counts every GPU as the busiest")


#: llama.cpp spans up to llama_max_devices() = 16 GPUs (src/llama.cpp)
ENTRY = Engine("llamacpp", estimate, context_step=lambda wl: PAD, gpu_dependent=False, kv=KV_POLICY,
               options=("n_gpu_layers", "n_batch", "n_ubatch", "flash_attn", "n_parallel", "kv_offload", "kv_unified",
                        "tensor_split", "split_mode", "main_gpu"), max_gpus=16)
