"""Where each tensor lives in a parallel layout: the one place for TP / PP / EP / DP sharding rules.

Used by the inference weights (:mod:`.weights`), the training estimate (:mod:`.training`), RL's
frozen copies (:mod:`.rl`), the layout checks (:func:`check_layout`) and the solvers
(``solve.min_gpus`` asks :func:`tp_valid`).

* **TP** ``t`` (Megatron / vLLM column-row split, formulas.md §8.2): attention and MLP matrices,
  the vocab-parallel embedding and output head, vision matrices and attention sinks are split
  ``t`` ways; norms, biases, routers and other 1-D tensors are replicated on every rank.
* **EP** ``e``: routed experts are split ``e`` ways *instead of* ``t`` (vLLM
  ``--enable-expert-parallel`` runs EP over the TP group; Megatron's expert-model-parallel).
* **PP** ``p``: the decoder layers are cut into ``p`` contiguous stages, the remainder going to the
  last stages; the embedding (and every encoder) sits on the first stage, the final norm and the
  output head on the last; a tied head needs the embedding matrix on the last stage again.
* **DP** ``N`` (ZeRO / FSDP, ZeRO paper arXiv:1910.02054 §5): stage 1 shards the optimizer states
  (and the fp32 master) over the ``N`` data-parallel ranks, stage 2 the gradients too, stage 3 the
  parameters too. FSDP ``FULL_SHARD`` = ZeRO-3, ``SHARD_GRAD_OP`` = ZeRO-2 (parameters gathered
  through forward and backward), ``HYBRID_SHARD`` = ZeRO-3 within a node of ``fsdp_node_gpus``
  (``torch.distributed.fsdp.ShardingStrategy``), so its degree is ``min(dp, node GPUs)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import spec as S
from ..errors import VramscopeError
from ..workload import Training

#: Roles whose ≥2-D tensors tensor parallelism splits (the rest is replicated).
SHARDED_ROLES = S.LINEAR_ROLES | {S.ROLE_EMBED, S.ROLE_LM_HEAD, S.ROLE_VISION, S.ROLE_ATTN_SINKS}

#: TP sizes the solvers try (powers of two up to 64, the largest NVLink domains in the catalog).
TP_SIZES = (1, 2, 4, 8, 16, 32, 64)


# --- tensor parallel validity ---------------------------------------------------------------------

def tp_problem(spec: S.ModelSpec, tp: int, *, serving: bool = True) -> str | None:
    """Why ``tp`` cannot split ``spec``, or ``None`` when it can.

    TP must divide every layer's attention heads (each rank holds whole heads), and a state-space
    mixer's heads (Mamba2 / Gated DeltaNet: vLLM ``mamba_mixer2.py`` asserts "Tensor parallel world
    size must divide num heads") or, for Mamba1, its inner width (``in_proj`` is a
    ``ColumnParallelLinear`` of ``2·d_inner`` outputs split evenly). Serving (vLLM / SGLang) adds that
    the KV heads and TP divide one another: vLLM replicates KV heads when TP exceeds them
    (``QKVParallelLinear``); MLA's latent cache has no KV heads to split, so it is exempt.
    """
    heads = sorted({layer.attention.num_heads for layer in spec.attention_layers})
    for h in heads:
        if h % tp:
            return (f"tensor parallel size {tp} does not divide the {h} attention heads of {spec.id}; "
                    f"use one of {', '.join(str(d) for d in range(1, h + 1) if h % d == 0 and d <= 64)}")
    for width, what in sorted({(layer.ssm.num_heads, "state-space heads") if layer.ssm.num_heads else
                               (layer.ssm.d_inner, "Mamba inner channels") for layer in spec.ssm_layers}):
        if width % tp:
            return f"tensor parallel size {tp} does not divide the {width} {what} of {spec.id}"
    if serving:
        kv = sorted({layer.attention.num_kv_heads for layer in spec.attention_layers
                     if layer.attention.kind != S.ATTN_MLA})
        for n in kv:
            if n % tp and tp % n:
                return f"tensor parallel size {tp} and {n} KV heads: one must divide the other"
    return None


def tp_valid(spec: S.ModelSpec, tp: int, *, serving: bool = True) -> bool:
    return tp_problem(spec, tp, serving=serving) is None


def check_layout(spec: S.ModelSpec, tp: int, pp: int, ep: int, *, serving: bool = True) -> None:
    """TP must divide the attention heads; PP at most the layers; EP needs an MoE whose experts it divides.

    Serving (vLLM / SGLang) adds two rules: the KV heads and TP must divide one another (KV heads are
    replicated when TP exceeds them), and EP runs over the TP group (``--enable-expert-parallel``).
    """
    problem = tp_problem(spec, tp, serving=serving)
    if problem:
        raise VramscopeError(problem)
    if ep > 1:
        if not spec.is_moe:
            raise VramscopeError(f"expert parallelism (ep={ep}) needs an MoE model; {spec.id} is dense")
        experts = max(layer.mlp.num_experts for layer in spec.layers)
        if experts % ep:
            raise VramscopeError(f"expert parallel size {ep} does not divide the {experts} experts of {spec.id}")
        if serving and ep != tp:
            raise VramscopeError(f"expert parallelism runs over the TP group here: set ep equal to tp ({tp}) or 1")
    if pp > spec.num_layers:
        raise VramscopeError(f"pipeline parallel size {pp} exceeds the {spec.num_layers} layers of {spec.id}")


# --- one tensor's share ---------------------------------------------------------------------------

def tensor_split(t: S.Tensor, tp: int, ep: int) -> int:
    """How many ways TP / EP cut tensor ``t``: routed experts ``ep`` ways (``tp`` when ``ep`` is 1),
    TP-split matrices ``tp`` ways, everything else not at all."""
    if t.experts:
        return ep if ep > 1 else tp
    if t.role in SHARDED_ROLES and len(t.shape) >= 2:
        return tp
    return 1


# --- pipeline placement ---------------------------------------------------------------------------

def pipeline_stages(num_layers: int, pp: int) -> list[tuple[int, ...]]:
    """Layer indices of each of ``pp`` contiguous stages; the remainder goes to the last stages
    (``divmod``: 30 layers over 4 stages → 7, 7, 8, 8)."""
    if pp > num_layers:
        raise VramscopeError(f"pipeline parallel size {pp} exceeds the model's {num_layers} layers")
    base, extra = divmod(num_layers, pp)
    stages, start = [], 0
    for s in range(pp):
        n = base + (1 if s >= pp - extra else 0)
        stages.append(tuple(range(start, start + n)))
        start += n
    return stages


def stage_index(stages: list[tuple[int, ...]]) -> dict[int, int]:
    """Layer index → its pipeline stage."""
    return {i: s for s, layers in enumerate(stages) for i in layers}


def tensor_stages(spec: S.ModelSpec, t: S.Tensor, stage_of: dict[int, int], pp: int) -> tuple[int, ...]:
    """The pipeline stages that hold tensor ``t``: a decoder layer's tensors on that layer's stage;
    the embedding and every encoder on the first (a tied embedding on the last too, as the head);
    the final norm and the output head on the last."""
    if t.layer is not None and t.component == S.COMPONENT_TEXT and t.layer in stage_of:
        return (stage_of[t.layer],)
    if t.role == S.ROLE_EMBED or t.component != S.COMPONENT_TEXT:
        if t.role == S.ROLE_EMBED and spec.tie_word_embeddings and pp > 1:
            return (0, pp - 1)
        return (0,)
    return (pp - 1,)


def busiest_stage_candidates(pp: int) -> tuple[int, ...]:
    """Training stages that can be the busiest GPU under 1F1B: the first (embeddings, the most
    micro-batches in flight) and the last (output head, logits and loss); middle stages hold no more
    than either (same layer count or fewer, fewer micro-batches in flight than the first)."""
    return (0,) if pp == 1 else (0, pp - 1)


def microbatches_in_flight(pp: int, grad_accum: int, stage: int) -> int:
    """Micro-batches whose activations stage ``stage`` holds at once under the 1F1B schedule:
    the first stage runs ``pp`` forwards before its first backward (Megatron's
    ``forward_backward_pipelining_without_interleaving`` warm-up), capped by the micro-batches of the
    step; counted on the first stage only (later stages hold fewer)."""
    return min(pp, grad_accum) if (pp > 1 and stage == 0) else 1


# --- data-parallel sharding of model states -------------------------------------------------------

@dataclass(frozen=True)
class StateSharding:
    """Over how many data-parallel GPUs (``degree``) which model states are sharded."""

    degree: int  # N: ZeRO / FSDP shard group (1 without sharding)
    params: bool  # ZeRO-3, FSDP FULL_SHARD / HYBRID_SHARD
    grads: bool  # ZeRO-2/3, every FSDP strategy
    states: bool  # ZeRO-1/2/3, every FSDP strategy (optimizer states and fp32 master)

    def of_params(self, n: float) -> float:
        return n / self.degree if self.params else n

    def of_grads(self, n: float) -> float:
        return n / self.degree if self.grads else n

    def of_states(self, n: float) -> float:
        return n / self.degree if self.states else n

    @property
    def params_degree(self) -> int:
        """Divisor of the parameters (1 when they are replicated)."""
        return self.degree if self.params else 1


def state_sharding(tr: Training) -> StateSharding:
    """ZeRO stage / FSDP strategy → shard degree and what is sharded (module docstring, DP)."""
    dp = tr.data_parallel
    zero, fsdp = tr.zero, tr.fsdp
    degree = min(dp, tr.fsdp_node_gpus) if fsdp == "hybrid" else dp if zero or fsdp != "none" else 1
    return StateSharding(degree, params=zero == 3 or fsdp in ("full", "hybrid"), grads=zero >= 2 or fsdp != "none",
                         states=zero >= 1 or fsdp != "none")
