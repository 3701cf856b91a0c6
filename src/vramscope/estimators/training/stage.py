"""What one pipeline stage holds on one GPU (parameters that train or stay frozen, after TP / EP
sharding), and the frozen context every piece of the training estimate reads."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ... import spec as S
from ...memo import per_spec
from ...workload import Training
from ..sharding import StateSharding, pipeline_stages, stage_index, tensor_split, tensor_stages
from ..trainable import Trainables
from .regime import Regime, frozen_format, frozen_format_key

#: bitsandbytes pages an optimizer state only for tensors of at least 1e5 elements; smaller ones get
#: ordinary ``torch.zeros_like`` states (``Optimizer8bit.get_state_buffer``, bitsandbytes/optim/
#: optimizer.py at 51294d909e914f80d2f2c85f9e9229dd4386ef85)
PAGED_MIN_NUMEL = 100_000


@dataclass(frozen=True)
class StageParams:
    """Model-state quantities of one pipeline stage on one GPU (after TP/EP sharding)."""

    trainable: float = 0.0  # base params that train
    frozen: float = 0.0
    frozen_bytes: float = 0.0  # frozen base weights in their stored format
    matrix: float = 0.0  # trainable params in 2-D+ tensors
    factored: float = 0.0  # Σ rows + cols (Adafactor)
    embed_head: float = 0.0  # trainable embedding/head params (Muon gives them to AdamW)
    paged_matrix: float = 0.0  # trainable params in 2-D+ tensors of >= PAGED_MIN_NUMEL local elements
    paged_other: float = 0.0  # trainable params in other tensors of >= PAGED_MIN_NUMEL local elements
    linear_params: float = 0.0  # Linear weights used by autocast (copies)
    largest_layer: float = 0.0  # params of the largest decoder layer (FSDP unit)
    largest_module: float = 0.0
    quant_largest: float = 0.0  # largest quantised matrix (QLoRA dequantisation)
    layers: tuple[int, ...] = ()
    has_embed: bool = False
    has_head: bool = False


class _Tally:
    """Mutable sums while the tensors are walked; frozen into a :class:`StageParams` at the end."""

    def __init__(self, layers: tuple[int, ...]) -> None:
        for f in fields(StageParams):
            setattr(self, f.name, f.default)
        self.layers = layers

    def freeze(self) -> StageParams:
        return StageParams(**{f.name: getattr(self, f.name) for f in fields(StageParams)})


def stage_params(spec: S.ModelSpec, tr: Training, trn: Trainables, reg: Regime) -> tuple[StageParams, ...]:
    """Per pipeline stage: trainable / frozen parameters on one GPU of it (each tensor divided by its
    TP / EP split and placed on its stages by :mod:`..sharding`; MTP heads are not loaded)."""
    layers = trn.trainable_layers if tr.method == "freeze" else frozenset()
    return _stage_params(spec, tr.tp, tr.pp, tr.ep, tr.method, layers, frozen_format_key(tr, reg))


@per_spec
def _stage_params(spec: S.ModelSpec, tp: int, pp: int, ep: int, method: str, trainable_layers: frozenset[int],
                  frozen_key: tuple) -> tuple[StageParams, ...]:
    """:func:`stage_params` of the hashable inputs it depends on (memoised: solvers and the web ask
    for many workloads of one layout)."""
    frozen_fmt = frozen_format(frozen_key)
    stages = pipeline_stages(spec.num_layers, pp)
    stage_of = stage_index(stages)
    out = [_Tally(stages[s]) for s in range(pp)]
    out[0].has_embed = True
    out[-1].has_head = True
    layer_params: dict[int, float] = {}
    for t in spec.tensors:
        if t.component == S.COMPONENT_MTP:
            continue
        div = tensor_split(t, tp, ep)
        n = t.numel / div
        where = tensor_stages(spec, t, stage_of, pp)
        if t.layer is not None and t.component == S.COMPONENT_TEXT and t.layer in stage_of:
            layer_params[t.layer] = layer_params.get(t.layer, 0) + n
        trains = method in ("full", "galore") or (method == "freeze" and t.layer in trainable_layers)
        for s in where:
            st = out[s]
            st.largest_module = max(st.largest_module, n)
            if t.role in S.LINEAR_ROLES or t.role == S.ROLE_LM_HEAD or (t.role == S.ROLE_EMBED and spec.tie_word_embeddings):
                st.linear_params += n
            if trains:
                st.trainable += n
                if n >= PAGED_MIN_NUMEL:
                    if len(t.shape) >= 2:
                        st.paged_matrix += n
                    else:
                        st.paged_other += n
                if len(t.shape) >= 2:
                    st.matrix += n
                    st.factored += (t.shape[-1] + t.shape[-2]) * (t.numel // (t.shape[-1] * t.shape[-2])) / div
                    if t.role in (S.ROLE_EMBED, S.ROLE_LM_HEAD):
                        st.embed_head += n
            else:
                st.frozen += n
                st.frozen_bytes += frozen_fmt(t) / div
                if t.quantisable:
                    st.quant_largest = max(st.quant_largest, n / (t.experts or 1))
    for i, n in layer_params.items():
        st = out[stage_of[i]]
        st.largest_layer = max(st.largest_layer, n)
    return tuple(t.freeze() for t in out)


@dataclass(frozen=True)
class Step:
    """The micro-batch one training step runs: ``sequences`` of ``tokens_per_seq`` tokens, logits for
    ``logits_tokens`` of them (all when ``None``), and the estimate's ``mode`` label."""

    tokens_per_seq: int
    sequences: int
    logits_tokens: int | None = None
    mode: str = "training"


@dataclass(frozen=True)
class StageContext:
    """Everything one stage's estimate reads: the model, the workload, its regime, what trains, the
    stage and its index, the data-parallel sharding and the step."""

    spec: S.ModelSpec
    tr: Training
    reg: Regime
    trn: Trainables
    st: StageParams
    index: int
    shard: StateSharding
    step: Step
