"""The training estimate of one step: each candidate pipeline stage assembled from its model states,
forward, buffers and phases, and the busiest one returned.

The peak is the largest of the moments of a steady-state step (:mod:`.phases`). Optimizer states
exist from the first step on and count in every moment. Each component states its formula; the
estimate's ``training`` part has every candidate moment (``phases``) and the model states' full sizes.

RL and preference training (:mod:`..rl`) build on :func:`estimate_step`; this package never
imports them (``api`` sends a workload with ``rl`` set there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ... import spec as S
from ...errors import InvariantError
from ...workload import Training
from ..common import cuda_context
from ..result import UNIFIED, Component, Estimate, Fit, ModelStates, Phase, Placement, TrainingStep
from ..sharding import busiest_stage_candidates, state_sharding
from ..trainable import trainables
from .buffers import buffers
from .forward import forward
from .phases import moments, peak_components
from .regime import check_training_layout, regime, weights_label
from .stage import StageContext, Step, stage_params
from .states import model_states


def gpu_dict(gpu) -> dict[str, Any] | None:
    """The ``gpu`` block of an estimate (the same keys the inference estimate writes)."""
    if gpu is None:
        return None
    return {"id": gpu.id, "name": gpu.name, "memory_bytes": gpu.memory_bytes, "usable_bytes": gpu.usable_bytes}


def paged_states(paged: float, torch_bytes: int, torch_low: int, gpu, optimizer: str) -> Component:
    """The bitsandbytes optimizer states in CUDA unified memory, as far as they are resident on the GPU.

    ``cudaMallocManaged`` pages (bitsandbytes ``F.get_paged``; csrc/pythonInterface.cpp
    ``cget_managed_ptr``) live on the device while it has room and are evicted to host RAM when
    ``cudaMalloc`` needs the space (CUDA Programming Guide, "Unified Memory: oversubscription"); the
    optimizer prefetches them back before each update (``prefetch_state``). So they are in neither
    torch's allocated nor its reserved figure, and on a chosen GPU only what the torch peak leaves
    free (``usable − torch_bytes``) is counted as resident; the rest is host memory. Without a GPU
    all of it is resident (a GPU with room). The band runs from none resident to all of it, or on a
    chosen GPU to what the torch figure's low end leaves free.
    """
    room = paged if gpu is None else max(0.0, min(paged, gpu.usable_bytes - torch_bytes))
    most = paged if gpu is None else max(room, min(paged, gpu.usable_bytes - torch_low))
    where = ("all resident (no GPU chosen: a GPU with room keeps every page)" if gpu is None else
             "all resident" if room >= paged else f"{room / paged:.0%} resident on {gpu.id}, the rest evicted to host RAM")
    return Component("paged optimizer states", int(room),
                     f"bitsandbytes {'8-bit' if optimizer.endswith('8bit') else '32-bit'} states of tensors >= 1e5 "
                     f"elements in CUDA unified memory ({paged / (1 << 30):.2f} GiB): {where}; outside torch's "
                     "allocated and reserved figures", "optimizer", 0, int(most),
                     note="evicted to host RAM when the GPU needs the room", key="paged_optimizer_states",
                     memory=UNIFIED)


def estimate_training(spec: S.ModelSpec, tr: Training, gpu=None) -> Estimate:
    """Peak GPU memory of one training step on the busiest GPU (supervised: ``tr.rl`` unset)."""
    if tr.rl is not None:
        raise InvariantError(f"estimate_training got rl={tr.rl!r}: RL workloads go to estimators.rl.estimate_rl")
    from ...invariants import checked

    return checked(estimate_step(spec, tr, gpu, Step(tokens_per_seq=tr.seq_len, sequences=tr.batch)))


def estimate_step(spec: S.ModelSpec, tr: Training, gpu, step: Step, *, extra: Sequence[Component] = (),
                  assumptions: Sequence[str] = ()) -> Estimate:
    """The busiest GPU of one step of ``step``'s micro-batch, ``extra`` components (RL's reference
    models, logits …) counted as buffers and ``assumptions`` added; not yet invariant-checked."""
    check_training_layout(spec, tr)
    reg = regime(tr)
    trn = trainables(spec, tr)
    notes: list[str] = list(spec.assumptions) + list(trn.notes) + ([reg.note] if reg.note else [])
    notes += assumptions
    if tr.method == "qlora" and tr.kbit_prepare:
        notes.append("QLoRA as PEFT/TRL prepare it (prepare_model_for_kbit_training): embeddings, head and norms "
                     "in fp32, so the residual stream is fp32 too: each checkpointed layer input is 4·h·T "
                     "(traced under transformers 4.43 / peft 0.12 / bitsandbytes 0.43); --no-kbit-prepare for stacks that keep them in bf16 (Unsloth)")
    if tr.compile:
        notes.append("torch.compile: each decoder layer saves what AOTAutograd's min-cut partitioner keeps "
                     "(pointwise outputs recomputed in backward); MoE experts, MLA, Mamba, Gemma's extra norms, "
                     "sliding-window masks, fp8, DoRA and eager attention keep their eager saves; the loss block "
                     "stays eager except torchtune's compiled chunked cross-entropy")
    shard = state_sharding(tr)
    stages = stage_params(spec, tr, trn, reg)
    best: Estimate | None = None
    for si in busiest_stage_candidates(tr.pp):
        ctx = StageContext(spec, tr, reg, trn, stages[si], si, shard, step)
        est = stage_estimate(ctx, gpu, tuple(extra), notes)
        if best is None or est.per_gpu_bytes > best.per_gpu_bytes:
            best = est
    assert best is not None
    return best


def stage_estimate(ctx: StageContext, gpu, extra: tuple[Component, ...], notes: Sequence[str]) -> Estimate:
    """The estimate of one GPU of stage ``ctx.index``: context + model states, then the components
    alive at its peak moment."""
    spec, tr, reg, trn, shard = ctx.spec, ctx.tr, ctx.reg, ctx.trn, ctx.shard
    states = model_states(ctx)
    comps: list[Component] = [cuda_context(), *states.components]
    fwd = forward(ctx, states)
    bufs = buffers(ctx, states, fwd, extra)
    m = moments(ctx, states, fwd, bufs, sum(c.bytes for c in comps))
    comps += peak_components(ctx, states, fwd, bufs, m)
    host = states.host
    resident = 0
    if states.paged:
        paged = paged_states(states.paged, sum(c.bytes for c in comps), sum(c.lo for c in comps), gpu, tr.optimizer)
        resident = paged.bytes
        host += states.paged - resident
        at = next((i for i, c in enumerate(comps) if c.key == "optimizer_states"), len(states.components)) + 1
        comps.insert(at, paged)
    part = TrainingStep(
        phases=tuple(Phase(k, int(v) + resident) for k, v in m.bytes_at.items()),
        peak_phase=m.peak,
        states=ModelStates(int(states.weights + states.frozen + states.adapter * states.adapter_bytes),
                           int(states.grads), int(states.optimizer), int(states.master)),
        activations_bytes=int(fwd.acts),
        logits_loss_bytes=int(fwd.loss),
        trainable_params=int(trn.trainable * 1),
        trainable_params_per_gpu=int(states.trainable),
        adapter_params=int(trn.adapter),
        lora_targets=tuple(trn.targets),
        tokens_per_micro_batch=int(fwd.tokens),
    )
    notes = list(notes)
    if shard.states or tr.offload in ("optimizer", "params"):
        notes.append(f"model states sharded over {shard.degree} data-parallel GPUs" if shard.degree > 1 else "")
    return Estimate(
        model={"id": spec.id, "params_total": spec.params_total, "params_active": spec.params_active,
               "family": spec.family, "weights_format": weights_label(tr, reg)},
        mode=ctx.step.mode, engine="hf", workload=tr.to_dict(), components=tuple(comps), num_gpus=tr.num_gpus,
        gpu=gpu_dict(gpu),
        assumptions=tuple(n for n in dict.fromkeys(notes) if n), host_bytes=int(host),
        fit=Fit.within(sum(c.bytes for c in comps), gpu),  # training's rule: the peak within usable memory
        training=part,
        placement=Placement(data_parallel=tr.data_parallel, shard_degree=shard.degree, pipeline_stage=ctx.index),
    )
