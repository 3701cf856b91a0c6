"""llama.cpp (``llama-server`` / ``llama-cli``) on one GPU (formulas.md §4.3).

* weights: the GGUF tensors of offloaded layers. ``-ngl N`` puts the last N repeating layers on
  the GPU (``i_gpu_start = n_layer − N``), and the output layer too when N > n_layer;
  ``token_embd`` always stays on the host ("little benefit to offloading the input layer").
* KV: ``n_ctx`` cells (context × parallel slots, padded to 256) × Σ offloaded layers of
  ``n_embd_k_gqa·size(type_k) + n_embd_v_gqa·size(type_v)``; sliding layers hold
  ``pad(min(n_ctx, n_swa·slots + n_ubatch), 256)``; MLA caches only the 576-wide latent;
  ``--no-kv-offload`` keeps it on the host.
* compute buffer: with flash attention ≈ 4·n_ubatch·(V + 4·h + 2·n_ff) bytes (logits dominate);
  without, add the KQ matrix 4·n_ctx·n_ubatch·n_head.
"""

from __future__ import annotations

from math import ceil

from ... import spec as S
from ...errors import VramscopeError
from ...formats.kv_dtypes import kv_bytes_per_element
from ...units import fmt_gib, fmt_num
from ...workload import Inference
from ..common import cuda_context, setup, widest_mlp
from ..kv import KVPolicy, layer_kv_bytes_per_token, ssm_state_bytes
from ..result import ACTIVATIONS, KV, STATE, WEIGHTS, Component, Fit, KVCapacity, LlamaCppSettings, Placement
from .base import Engine, EngineResult

PAD = 256  # n_ctx and sliding cells are padded to 256 (llama_context: GGML_PAD(n_ctx, 256)); the context step

#: MLA caches the 576-wide latent; a sliding layer keeps ``n_swa + n_ubatch`` cells per slot
KV_POLICY = KVPolicy("llamacpp", sliding_holds_batch=True)


def _pad(n: int) -> int:
    return ceil(n / PAD) * PAD


def estimate(spec, wl: Inference, gpu=None) -> EngineResult:
    if wl.tp > 1 or wl.pp > 1 or wl.ep > 1:
        raise VramscopeError("llama.cpp is modelled on one GPU (its --split-mode over several GPUs is not); "
                             "drop --tp/--pp/--ep/--gpus and use -ngl to split layers between the GPU and the host")
    weights = wl.weights
    s = setup(spec, wl, kv=KV_POLICY, weights=weights)
    if weights is None and spec.source != "gguf":
        s.assumptions.append(f"weights as stored ({s.weights.format}); pass --weights Q4_K_M etc. for a GGUF quant")
    n_layer = spec.num_layers
    ngl = n_layer + 1 if wl.n_gpu_layers is None else min(wl.n_gpu_layers, n_layer + 1)
    first_gpu = n_layer - min(ngl, n_layer)
    gpu_bytes = host_bytes = 0
    for t, nbytes in s.weights.tensor_bytes:
        on_gpu = (t.layer is not None and t.component == S.COMPONENT_TEXT and t.layer >= first_gpu) or (
            t.layer is None and t.role != S.ROLE_EMBED and t.component == S.COMPONENT_TEXT and ngl > n_layer)
        if t.role == S.ROLE_EMBED and spec.tie_word_embeddings and ngl > n_layer:
            gpu_bytes += nbytes  # the tied output needs the matrix on the GPU; the input copy stays on the host
            host_bytes += nbytes
            continue
        if on_gpu:
            gpu_bytes += nbytes
        else:
            host_bytes += nbytes
    # llama-server serves -np slots at once: `batch` concurrent sequences need that many slots
    slots = max(wl.n_parallel, wl.batch)
    n_ctx = _pad(s.tokens * slots)
    kv_gpu = kv_host = 0.0
    e = kv_bytes_per_element(wl.kv_dtype, spec.dtype)
    on_gpu_cells: dict[int, list[float]] = {}  # cells -> [bytes per cell, layers]
    for layer in spec.layers:
        a = layer.attention
        if a is None:
            continue
        per_tok = layer_kv_bytes_per_token(a, KV_POLICY, e)
        cells = _pad(min(n_ctx, a.window * slots + wl.n_ubatch)) if a.kind == S.ATTN_SLIDING and a.window else n_ctx
        if layer.index >= first_gpu and wl.kv_offload:
            kv_gpu += per_tok * cells
            row = on_gpu_cells.setdefault(cells, [0.0, 0])
            row[0] += per_tok
            row[1] += 1
        else:
            kv_host += per_tok * cells
    state = 0.0
    if s.state_per_seq:
        gpu_layers = tuple(layer for layer in spec.layers if layer.index >= first_gpu)
        state = ssm_state_bytes(spec, 4.0, 1, gpu_layers) * slots  # llama.cpp keeps recurrent state in f32
    n_ff = widest_mlp(spec.layers) or 4 * spec.hidden_size
    compute = 4 * wl.n_ubatch * (spec.vocab_size + 4 * spec.hidden_size + 2 * n_ff)
    compute_text = (f"4 × n_ubatch {wl.n_ubatch} × (V {spec.vocab_size} + 4 × h {spec.hidden_size} + 2 × n_ff {n_ff})")
    heads = max((layer.attention.num_heads for layer in spec.attention_layers), default=0)
    if not wl.flash_attn:
        compute += 4 * n_ctx * wl.n_ubatch * heads
        compute_text += f" + 4 × n_ctx {n_ctx} × n_ubatch {wl.n_ubatch} × n_head {heads} (KQ, no flash attention)"
    kv_text = " + ".join(f"{cells:,} cells × {fmt_num(per)} B/cell ({n} layers)"
                         for cells, (per, n) in sorted(on_gpu_cells.items(), reverse=True))
    kv_text = (kv_text or "0 B: no layer's KV on the GPU") + f" — n_ctx {n_ctx} for {slots} slot(s), type {wl.kv_dtype}"
    comps = [
        Component("weights", gpu_bytes, f"GGUF tensors of {min(ngl, n_layer)}/{n_layer} layers"
                  + (" + output" if ngl > n_layer else "") + f" ({s.weights.format}); token_embd on host", WEIGHTS, key="weights"),
        Component("KV cache", int(kv_gpu), kv_text, KV, key="kv_cache"),
    ]
    if state:
        comps.append(Component("recurrent state", int(state), f"{slots} slot(s) × f32 conv + SSM state", STATE,
                               key="recurrent_state"))
    comps.append(Component("compute buffer", int(compute), compute_text, ACTIVATIONS, int(compute * 0.6),
                           int(compute * 1.5), key="compute_buffer"))
    comps.append(cuda_context())
    on_gpu_layers = min(ngl, n_layer)
    if on_gpu_layers == 0:
        s.assumptions.append(f"-ngl 0: every layer runs on the CPU — all weights and the KV cache are in host RAM "
                             f"({fmt_gib(host_bytes + kv_host)}); the GPU holds only the compute buffer and the CUDA "
                             "context, and 'fits' speaks of the GPU alone")
    elif on_gpu_layers < n_layer or kv_host:
        s.assumptions.append(f"-ngl {ngl}: {on_gpu_layers} of {n_layer} layers on the GPU; "
                             f"{fmt_gib(host_bytes + kv_host)} of weights and KV stay in host RAM, and 'fits' speaks "
                             "of the GPU alone")
    return EngineResult(tuple(comps), s.weights.format, tuple(s.assumptions),
                        Fit.within(sum(c.bytes for c in comps), gpu),  # 'fits' speaks of the GPU alone
                        KVCapacity(sum(g.bytes_per_token for g in s.groups)), LlamaCppSettings(n_ctx, ngl),
                        Placement(host_bytes, int(kv_host)), host_bytes + int(kv_host))


ENTRY = Engine("llamacpp", estimate, context_step=lambda wl: PAD, gpu_dependent=False, kv=KV_POLICY,
                options=("n_gpu_layers", "n_batch", "n_ubatch", "flash_attn", "n_parallel", "kv_offload"), max_gpus=1)
