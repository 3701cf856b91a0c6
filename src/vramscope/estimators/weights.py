"""Weight bytes per GPU: each tensor in its format, sharded by tensor / pipeline / expert parallelism.

Which tensor goes where (TP / EP split, pipeline stage) is :mod:`.sharding`'s; this module adds up
the bytes. The figure per GPU is the largest pipeline stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import spec as S
from ..formats import checkpoint_format, get_format
from ..memo import per_spec
from .sharding import pipeline_stages, stage_index, tensor_split, tensor_stages


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


@per_spec
def staged_weights(spec: S.ModelSpec, weights: str | None, tp: int = 1, pp: int = 1, ep: int = 1) -> StagedWeights:
    """Weight bytes per GPU under TP × PP (× EP) sharding."""
    name, items = tensor_bytes(spec, weights)
    stages = pipeline_stages(spec.num_layers, pp)
    stage_of = stage_index(stages)
    sums = [0.0] * pp
    total = 0
    for t, nbytes in items:
        total += nbytes
        share = nbytes / tensor_split(t, tp, ep)
        for s in tensor_stages(spec, t, stage_of, pp):
            sums[s] += share
    per_stage = tuple(int(round(s)) for s in sums)
    return StagedWeights(name, max(per_stage), per_stage, tuple(stages), total, items)
