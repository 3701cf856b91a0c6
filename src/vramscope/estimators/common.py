"""Pieces every inference engine shares: validation of the parallel layout, the CUDA context,
multimodal tokens, transient activation formulas and the per-GPU view of the model.

Constants and where they come from:

* CUDA context: 287,047,680 B measured with lazy module loading (pytorch PR #86509), 426 MiB on
  an RTX 6000 Ada with torch 2.10 / CUDA 13 (unsloth-zoo PR #1053), plus cuBLAS workspaces
  (32 MiB per handle on Hopper, ``CublasHandlePool.cpp``): expected 500 MiB, band 300–700 MiB.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import spec as S
from ..units import MiB
from ..workload import Inference
from .kv import KVGroup, KVPolicy, kv_groups, ssm_state_bytes
from .result import CONTEXT, DRIVER, Component
from .sharding import check_layout
from .weights import StagedWeights, staged_weights

CUDA_CONTEXT = 500 * MiB
CUDA_CONTEXT_LOW = 300 * MiB
CUDA_CONTEXT_HIGH = 700 * MiB


def cuda_context() -> Component:
    return Component("CUDA context", CUDA_CONTEXT, "CUDA context + cuBLAS workspaces (lazy module loading)",
                     CONTEXT, CUDA_CONTEXT_LOW, CUDA_CONTEXT_HIGH,
                     "torch/CUDA runtime before any tensor: 290–430 MiB measured, plus library workspaces",
                     key="cuda_context", memory=DRIVER)  # the driver's, outside torch's allocator


@dataclass
class Setup:
    """The per-GPU view of one inference workload, shared by the engine modules."""

    spec: S.ModelSpec
    wl: Inference
    weights: StagedWeights
    layers: tuple[S.Layer, ...]  # layers on the busiest GPU
    groups: list[KVGroup]
    state_per_seq: float  # recurrent state bytes per sequence on that GPU
    tokens: int  # tokens per sequence (text + multimodal)
    mm_tokens: int = 0
    encoder_tokens: int = 0
    encoder_item_tokens: int = 0  # longest single image / frame pair: eager attention is per item
    assumptions: list[str] = field(default_factory=list)

    @property
    def e_model(self) -> float:
        return 2.0 if self.spec.dtype != "float32" else 4.0


def multimodal_tokens(spec: S.ModelSpec, wl: Inference) -> tuple[int, int, int, list[str]]:
    """(LLM tokens, encoder sequence, longest item, assumptions) added by images / video / audio."""
    if not (wl.images or wl.video_seconds or wl.audio_seconds):
        return 0, 0, 0, []
    from .multimodal import tokens_for

    mm = tokens_for(spec, images=wl.images, image_size=wl.image_size, video_seconds=wl.video_seconds,
                    fps=wl.fps, audio_seconds=wl.audio_seconds)
    return mm.llm_tokens, mm.encoder_tokens, mm.encoder_tokens_per_item, list(mm.assumptions)


def setup(spec: S.ModelSpec, wl: Inference, *, kv: KVPolicy, weights: str | None = None) -> Setup:
    """The busiest GPU's layers, weights and KV groups (cached as the engine's ``kv`` policy says)."""
    check_layout(spec, wl.tp, wl.pp, wl.ep)
    sw = staged_weights(spec, weights if weights is not None else wl.weights, wl.tp, wl.pp, wl.ep)
    busiest = max(range(len(sw.stage_bytes)), key=lambda s: sw.stage_bytes[s])
    layer_ids = set(sw.stage_layers[busiest])
    layers = tuple(layer for layer in spec.layers if layer.index in layer_ids)
    groups = kv_groups(spec, kv, wl.kv_dtype, wl.tp, layers)
    state = ssm_state_bytes(spec, 2.0, wl.tp, layers)
    mm, enc, item, mm_notes = multimodal_tokens(spec, wl)
    return Setup(spec, wl, sw, layers, groups, state, wl.tokens + mm, mm, enc, item, list(spec.assumptions) + mm_notes)


def widest_mlp(layers: tuple[S.Layer, ...]) -> int:
    """Intermediate width alive per token in the widest MLP (MoE: k experts + shared)."""
    best = 0
    for layer in layers:
        m = layer.mlp
        width = m.intermediate_size if m.kind == S.MLP_DENSE else m.top_k * m.expert_intermediate_size + m.shared_intermediate_size
        best = max(best, width)
    return best


def qkvo_width(a: S.Attention) -> int:
    """Elements per token of q, k, v and the attention output in one layer: 2·n_h·d + 2·n_kv·d_k."""
    return 2 * a.num_heads * max(a.head_dim, a.head_dim_v) + 2 * a.num_kv_heads * a.head_dim


def layer_transient_bytes(spec: S.ModelSpec, layers: tuple[S.Layer, ...], tokens: int, *, tp: int = 1,
                          e: float = 2.0) -> float:
    """Peak transient activations of one forward layer over ``tokens`` tokens (formulas.md §4.4),
    for fused attention kernels (SDPA / flash; HF's eager score matrices are added by
    ``engines.hf.eager_prefill_attention_bytes``).

    residual stream + normed input (2 × T·h·e) + fp32 norm copy (T·h·4), then the larger of
    the MLP (gate, up and act·up: 3·T·I·e / tp) and attention (q, k, v, out: T·(2·n_h + 2·n_kv)·d·e / tp).
    """
    h = spec.hidden_size
    base = tokens * h * (2 * e + 4)
    mlp = 3 * tokens * widest_mlp(layers) * e / tp
    attn = max((tokens * qkvo_width(layer.attention) * e / tp for layer in layers if layer.attention is not None),
               default=0.0)
    ssm = 0.0
    for layer in layers:
        if layer.ssm is not None:
            ssm = max(ssm, tokens * 4 * layer.ssm.d_inner * e / tp)
    return base + max(mlp, attn, ssm)
