"""Weight bytes per GPU: each tensor in its format, sharded by tensor / pipeline / expert parallelism.

* TP ``t``: attention and MLP matrices, the vocab-parallel embedding and output head, and vision
  matrices are split ``t`` ways; norms, biases, routers and other small tensors are replicated
  (formulas.md §8.2).
* EP ``e``: routed experts are split ``e`` ways instead of ``t`` (vLLM ``--enable-expert-parallel``
  with EP over the TP group).
* PP ``p``: layers are split into ``p`` contiguous stages (remainder to the last stages); the
  embedding lives on the first stage, the final norm and head on the last (a tied head is stored
  there again). The figure per GPU is the largest stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import spec as S
from ..errors import VramscopeError
from ..formats import checkpoint_format, get_format
from ..memo import per_spec

_SHARDED_ROLES = S.LINEAR_ROLES | {S.ROLE_EMBED, S.ROLE_LM_HEAD, S.ROLE_VISION, S.ROLE_ATTN_SINKS}


@dataclass(frozen=True)
class StagedWeights:
    format: str
    per_gpu: int  # bytes on the busiest GPU
    stage_bytes: tuple[int, ...]
    stage_layers: tuple[tuple[int, ...], ...]  # layer indices per pipeline stage
    total: int  # all tensors once (unsharded)
    tensor_bytes: tuple[tuple[S.Tensor, int], ...]


@per_spec
def tensor_bytes(spec: S.ModelSpec, weights: str | None, *, include_encoders: bool = True) -> tuple[str, tuple[tuple[S.Tensor, int], ...]]:
    """(format name, [(tensor, bytes)]) for every loaded tensor (MTP excluded).

    ``weights=None`` means as stored: a GGUF file's own tensor bytes, else the checkpoint's format
    (its ``quantization_config`` or dtype).
    """
    tensors = [t for t in spec.tensors if t.component != S.COMPONENT_MTP
               and (include_encoders or t.component == S.COMPONENT_TEXT)]
    if weights is None and all(t.nbytes is not None for t in tensors) and tensors:
        return f"{spec.quantization.get('gguf_file_type', 'gguf') if spec.quantization else 'gguf'} (file)", tuple(
            (t, int(t.nbytes)) for t in tensors)
    fmt = checkpoint_format(spec) if weights is None else get_format(weights)
    if fmt.gguf_preset is not None:
        planned = _planned_bytes(spec, fmt.gguf_preset)
        # tensors llama.cpp keeps in a separate mmproj file are counted at 16 bits
        return fmt.name, tuple((t, planned.get(id(t), t.numel * 2)) for t in tensors)
    return fmt.name, tuple((t, round(fmt.tensor_bytes(t))) for t in tensors)


@per_spec
def _planned_bytes(spec: S.ModelSpec, preset: str) -> dict[int, int]:
    """llama.cpp's per-tensor bytes for a preset (memoised: solvers ask many times)."""
    from ..formats.gguf_mix import plan

    return {id(p.tensor): p.nbytes for p in plan(preset, spec)}


def pipeline_stages(num_layers: int, pp: int) -> list[tuple[int, ...]]:
    if pp > num_layers:
        raise VramscopeError(f"pipeline parallel size {pp} exceeds the model's {num_layers} layers")
    base, extra = divmod(num_layers, pp)
    stages, start = [], 0
    for s in range(pp):
        n = base + (1 if s >= pp - extra else 0)
        stages.append(tuple(range(start, start + n)))
        start += n
    return stages


@per_spec
def staged_weights(spec: S.ModelSpec, weights: str | None, tp: int = 1, pp: int = 1, ep: int = 1) -> StagedWeights:
    """Weight bytes per GPU under TP × PP (× EP) sharding."""
    name, items = tensor_bytes(spec, weights)
    stages = pipeline_stages(spec.num_layers, pp)
    stage_of = {i: s for s, layers in enumerate(stages) for i in layers}
    sums = [0.0] * pp
    total = 0
    for t, nbytes in items:
        total += nbytes
        if t.experts:
            share = nbytes / (ep if ep > 1 else tp)
        elif t.role in _SHARDED_ROLES and len(t.shape) >= 2:
            share = nbytes / tp
        else:
            share = nbytes
        if t.layer is not None and t.component == S.COMPONENT_TEXT and t.layer in stage_of:
            sums[stage_of[t.layer]] += share
        elif t.role == S.ROLE_EMBED or t.component != S.COMPONENT_TEXT:
            sums[0] += share  # embedding and encoders on the first stage
            if t.role == S.ROLE_EMBED and spec.tie_word_embeddings and pp > 1:
                sums[-1] += share  # the tied head needs the matrix on the last stage too
        else:
            sums[-1] += share  # final norm, output head
    per_stage = tuple(int(round(s)) for s in sums)
    return StagedWeights(name, max(per_stage), per_stage, tuple(stages), total, items)
