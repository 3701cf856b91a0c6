"""What DeepSpeed ZeRO-3 holds on one GPU beside the partitioned model states: the parameters it has
gathered (live, kept for reuse, prefetched), the small parameters it never partitions, and the
gradient bucket.

Read from DeepSpeed v0.16.5 (microsoft/DeepSpeed@38327e07f6cd39b63418f60cedd1651b0be3e7c3):

* ``runtime/zero/partitioned_param_coordinator.py``, ``PartitionedParamCoordinator``:
  ``fetch_sub_module`` all-gathers the parameters of the module about to run, then prefetches the
  next parameters of the recorded trace while the prefetched numel is below
  ``min(stage3_max_live_parameters - available, stage3_prefetch_bucket_size)``;
  ``release_sub_module`` → ``__params_to_release`` keeps a parameter gathered when it reappears
  among the modules of the trace within ``stage3_max_reuse_distance`` elements (the walk adds every
  parameter of every later module, repeats included). With activation checkpointing a layer's
  recompute runs its modules in forward order and its backward runs them in reverse right after, so
  module ``j`` of a layer of modules ``u_1 … u_k`` (elements) is seen again after
  ``2·Σ_{l>j} u_l`` elements: the modules at the layer's end stay gathered until their backward.
  Without checkpointing the same holds for the last layer at the turn from forward to backward, with
  the output head between them.
* ``runtime/zero/parameter_offload.py``, ``mark_persistent_parameters``: a parameter of at most
  ``stage3_param_persistence_threshold`` elements is ``ds_persist``: gathered once and never
  released; its partition stays too (``partition_parameters.py``, ``_partition_param``: a
  persistent partition lives on the local device even with parameter offload).
* ``runtime/zero/stage3.py``, ``DeepSpeedZeroOptimizer_Stage3.__init__``: with
  ``contiguous_gradients`` (default True) ``__ipg_bucket_flat_buffer`` = ``torch.empty(
  reduce_bucket_size, dtype=self.dtype)`` on the GPU for the whole run; the bucket is all-reduced in
  place (``__avg_scatter_contiguous_grads``), so no second copy.

Element counts are of the parameters' storage: a 4-bit matrix packed in bf16 storage
(``bnb_4bit_quant_storage=bfloat16``, which PEFT's ZeRO-3 QLoRA guide sets) has bytes / 2 elements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ... import spec as S
from ...deepspeed_auto import ZeroSizes, zero_sizes
from ...memo import per_spec
from ..sharding import tensor_split
from .regime import frozen_format
from .stage import StageContext

#: forward order of a decoder layer's parameters by role (a norm before its block, attention
#: before the MLP); roles not named keep their place after the named ones of rank 0
ROLE_ORDER: dict[str, int] = {
    S.ROLE_NORM: 0, S.ROLE_ATTN_Q: 1, S.ROLE_ATTN_QKV: 1, S.ROLE_ATTN_Q_A: 1, S.ROLE_ATTN_Q_B: 2,
    S.ROLE_ATTN_K: 3, S.ROLE_ATTN_KV_A: 3, S.ROLE_ATTN_V: 4, S.ROLE_ATTN_KV_B: 4, S.ROLE_ATTN_SINKS: 5,
    S.ROLE_ATTN_O: 6, S.ROLE_ROUTER: 7, S.ROLE_FFN_GATE: 8, S.ROLE_FFN_GATE_UP: 8, S.ROLE_FFN_UP: 9,
    S.ROLE_FFN_DOWN: 10, S.ROLE_SSM_IN: 1, S.ROLE_SSM_CONV: 2, S.ROLE_SSM_X: 3, S.ROLE_SSM_DT: 4,
    S.ROLE_SSM_A: 5, S.ROLE_SSM_D: 5, S.ROLE_SSM_OUT: 6,
}


@dataclass(frozen=True)
class Param:
    """One parameter as ZeRO-3 sees it: its storage elements and their bytes on one GPU (after TP)."""

    name: str
    numel: float
    nbytes: float


def reuse_window(modules: Sequence[Param], max_reuse: float) -> tuple[Param, ...]:
    """The parameters of ``modules`` (forward order) still gathered when the last one has run and
    the same modules run again in reverse: module ``j`` is kept while ``2·Σ_{l>j} numel`` is below
    ``max_reuse`` (``__params_to_release``); the last module is always kept (it runs next)."""
    kept: list[Param] = []
    after = 0.0
    for p in reversed(modules):
        if 2 * after >= max_reuse:
            break
        kept.append(p)
        after += p.numel
    return tuple(reversed(kept))


def persistent(params: Sequence[Param], threshold: float) -> tuple[Param, ...]:
    """Parameters of at most ``threshold`` elements (``mark_persistent_parameters``: ``ds_numel <= threshold``)."""
    return tuple(p for p in params if p.numel <= threshold)


@per_spec
def _model_params(spec: S.ModelSpec, tp: int, ep: int, frozen_key: tuple, trains: bool, weight_bytes: float,
                  adapters: tuple[tuple[int, str, int, int, int], ...], adapter_bytes: float) -> tuple[tuple[Param, ...], dict[int, tuple[Param, ...]]]:
    """Every parameter on one GPU (after TP), and each decoder layer's parameters in forward order.

    ``adapters`` = (layer, role, d_in, d_out, r) per LoRA-targeted Linear: its ``lora_A`` (r·d_in) and
    ``lora_B`` (r·d_out) follow their base weight in the trace (PEFT ``lora.Linear.forward``)."""
    fmt = frozen_format(frozen_key)
    out: list[Param] = []
    layers: dict[int, list[tuple[int, int, Param]]] = {}
    for i, t in enumerate(spec.tensors):
        if t.component == S.COMPONENT_MTP:
            continue
        div = tensor_split(t, tp, ep)
        nbytes = (t.numel * weight_bytes if trains else fmt(t)) / div
        # quantised storage is packed in 16-bit elements; everything else keeps one element per param
        numel = nbytes / 2 if (t.quantisable and not trains and frozen_key[0] != "regime") else t.numel / div
        p = Param(t.name, numel, nbytes)
        out.append(p)
        if t.layer is not None and t.component == S.COMPONENT_TEXT:
            layers.setdefault(t.layer, []).append((ROLE_ORDER.get(t.role, 0), i, p))
    for j, (layer, role, d_in, d_out, r) in enumerate(adapters):
        for side, n in (("lora_A", r * d_in / tp), ("lora_B", r * d_out / tp)):
            p = Param(f"layers.{layer}.{role}.{side}", n, n * adapter_bytes)
            out.append(p)
            # right after the base weight of the same role (its rank), before the next role's
            layers.setdefault(layer, []).append((ROLE_ORDER.get(role, 0), len(spec.tensors) + 2 * j + (side == "lora_B"), p))
    ordered = {k: tuple(p for _, _, p in sorted(v, key=lambda x: (x[0], x[1]))) for k, v in layers.items()}
    return tuple(out), ordered


@dataclass(frozen=True)
class Zero3Buffers:
    """ZeRO-3's gathered parameters on one GPU at the layer's peak, and its persistent parameters."""

    sizes: ZeroSizes
    kept: tuple[Param, ...]  # gathered and kept for reuse at the end of the largest layer
    prefetch: float  # elements prefetched beyond them
    element_bytes: float
    persistent: tuple[Param, ...]

    @property
    def gathered_bytes(self) -> float:
        return (self.kept_numel + self.prefetch) * self.element_bytes

    @property
    def kept_numel(self) -> float:
        return sum(p.numel for p in self.kept)

    @property
    def persistent_numel(self) -> float:
        return sum(p.numel for p in self.persistent)

    @property
    def persistent_bytes(self) -> float:
        return self.persistent_numel * self.element_bytes


def zero3_buffers(ctx: StageContext, adapter_bytes: float) -> Zero3Buffers:
    """The gathered and persistent parameters of ZeRO-3 on one GPU of the stage (module docstring).

    The window is taken at the end of the stage's largest layer: under checkpointing its recompute
    turns into its backward there; without, the last layer's forward turns into the backward through
    the output head (counted on the stage that holds it). Prefetch adds up to
    ``min(prefetch_bucket, max_live − kept)`` elements of the next modules, in 16-bit storage."""
    from .regime import frozen_format_key

    spec, tr, reg, st = ctx.spec, ctx.tr, ctx.reg, ctx.st
    sizes = zero_sizes(spec.hidden_size, tr.zero_config)
    trains = tr.method in ("full", "galore")
    adapters = tuple((lin.layer, lin.role, lin.d_in, lin.d_out, tr.lora_rank) for lin in ctx.trn.lora)
    params, layers = _model_params(spec, tr.tp, tr.ep, frozen_format_key(tr, reg), trains, reg.weight, adapters,
                                   adapter_bytes)
    pers = persistent(params, sizes.persistence_threshold)
    kept: tuple[Param, ...] = ()
    for layer in st.layers:
        modules = [p for p in layers.get(layer, ()) if p.numel > sizes.persistence_threshold]
        if tr.grad_ckpt == "none" and st.has_head and layer == st.layers[-1]:
            head = [p for p in params if p.name.startswith("lm_head") and p.numel > sizes.persistence_threshold]
            modules += head
        window = reuse_window(modules, sizes.max_reuse)
        if sum(p.nbytes for p in window) > sum(p.nbytes for p in kept):
            kept = window
    kept_numel = sum(p.numel for p in kept)
    prefetch = max(0.0, min(sizes.prefetch_bucket, sizes.max_live - kept_numel))
    element_bytes = reg.weight if trains else 2.0 if tr.method == "qlora" else reg.frozen
    return Zero3Buffers(sizes, kept, prefetch, element_bytes, pers)
