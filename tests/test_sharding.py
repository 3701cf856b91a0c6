"""Sharding and pipeline placement (``estimators/sharding.py``): TP / EP splits, pipeline stages and
the busiest one, ZeRO / FSDP shard degrees and TP validity, each checked against a hand count.

Llama-3.1-8B: h = 4096, 32 layers, vocab V = 128,256, untied head. One decoder layer holds
q + o = 2·4096², k + v = 2·1024·4096, gate/up/down = 3·14336·4096 and two norms of 4096:
L = 218,112,000 parameters; the embedding (and the head) E = V·h = 525,336,576.
Mistral-7B has the same layer (L) and E = 32,000·4096 = 131,072,000; ψ = 7,241,732,096.
"""

from __future__ import annotations

import pytest

import vramscope
from vramscope import solve
from vramscope import spec as S
from vramscope.errors import VramscopeError
from vramscope.estimators.activations import ActOptions, layer_saves
from vramscope.estimators.sharding import (
    TP_SIZES,
    busiest_stage_candidates,
    check_layout,
    microbatches_in_flight,
    pipeline_stages,
    stage_index,
    state_sharding,
    tensor_split,
    tensor_stages,
    tp_problem,
    tp_valid,
)
from vramscope.estimators.weights import staged_weights
from vramscope.sources import catalog, load_model
from vramscope.workload import make_training

LLAMA8 = "meta-llama/Llama-3.1-8B"
MISTRAL = "mistralai/Mistral-7B-v0.1"
L = 2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14336 * 4096 + 2 * 4096
E = 128256 * 4096
PSI = 7_241_732_096  # Mistral-7B


def _est(model=LLAMA8, **kw):
    return vramscope.estimate(model, **kw)


def test_layer_and_embedding_counts():
    assert L == 218_112_000 and E == 525_336_576
    assert load_model(LLAMA8).params_total == 32 * L + 2 * E + 4096  # + the final norm
    assert load_model(MISTRAL).params_total == PSI == 32 * L + 2 * 32000 * 4096 + 4096


# --- tensor and pipeline placement ----------------------------------------------------------------
def test_pipeline_stages_give_the_remainder_to_the_last_stages():
    stages = pipeline_stages(30, 4)
    assert [len(s) for s in stages] == [7, 7, 8, 8]  # divmod(30, 4) = (7, 2): the last two get one more
    assert [i for s in stages for i in s] == list(range(30))
    assert stage_index(stages)[7] == 1 and stage_index(stages)[29] == 3
    with pytest.raises(VramscopeError, match="exceeds the model's 4 layers"):
        pipeline_stages(4, 5)


def test_tensor_split_tp_for_matrices_ep_for_experts():
    spec = load_model(LLAMA8)
    by_role = {}
    for t in spec.tensors:
        by_role.setdefault((t.role, len(t.shape)), t)
    matrices = [t for (role, nd), t in by_role.items() if nd >= 2]
    vectors = [t for (role, nd), t in by_role.items() if nd == 1]
    assert matrices and vectors
    assert {tensor_split(t, 4, 1) for t in matrices} == {4}  # q/k/v/o, MLP, embedding, head
    assert {tensor_split(t, 4, 1) for t in vectors} == {1}  # norms are replicated
    mixtral = load_model("mistralai/Mixtral-8x7B-v0.1")
    expert = next(t for t in mixtral.tensors if t.experts)
    assert tensor_split(expert, 2, 1) == 2  # experts follow TP without EP
    assert tensor_split(expert, 2, 4) == 4  # and EP alone with it


def test_tensor_stages_tied_embedding_on_first_and_last():
    spec = load_model("meta-llama/Llama-3.2-1B")  # tied: the head is the embedding matrix
    assert spec.tie_word_embeddings
    stage_of = stage_index(pipeline_stages(spec.num_layers, 2))
    embed = next(t for t in spec.tensors if t.role == S.ROLE_EMBED)
    final_norm = next(t for t in spec.tensors if t.layer is None and t.role != S.ROLE_EMBED)
    first = next(t for t in spec.tensors if t.layer == 0)
    assert tensor_stages(spec, embed, stage_of, 2) == (0, 1)
    assert tensor_stages(spec, embed, stage_of, 1) == (0,)
    assert tensor_stages(spec, final_norm, stage_of, 2) == (1,)
    assert tensor_stages(spec, first, stage_of, 2) == (0,)


def test_inference_weights_per_pipeline_stage_by_hand():
    sw = staged_weights(load_model(LLAMA8), "bf16", 1, 4)
    # 8 layers a stage; the embedding on the first, the final norm and the head on the last
    assert sw.stage_bytes == (2 * (E + 8 * L), 2 * 8 * L, 2 * 8 * L, 2 * (8 * L + 4096 + E))
    assert sw.per_gpu == 2 * (8 * L + 4096 + E)


def test_inference_weights_under_tp_by_hand():
    sw = staged_weights(load_model(LLAMA8), "bf16", 2, 1)
    norms = 2 * 4096 * 32 + 4096  # replicated on both GPUs
    assert sw.per_gpu == round(2 * ((32 * L + 2 * E + 4096 - norms) / 2 + norms))


# --- ZeRO / FSDP ----------------------------------------------------------------------------------
@pytest.mark.parametrize("zero,weights,grads", [
    (1, 2 * PSI, 2 * PSI),  # stage 1: optimizer states (and master) only
    (2, 2 * PSI, 2 * PSI // 8),  # stage 2: + gradients
    (3, 2 * PSI // 8, 2 * PSI // 8),  # stage 3: + parameters
])
def test_zero_stage_shards_by_hand(zero, weights, grads):
    """DeepSpeed mixed precision over 8 GPUs: 2 B weights, 2 B grads, fp32 Adam 8 B + master 4 B."""
    est = _est(MISTRAL, method="full", precision="mixed", zero=zero, gpus=8)
    assert est.details["states"] == {"weights": weights, "gradients": grads, "optimizer": 8 * PSI // 8,
                                     "master": 4 * PSI // 8}
    assert est.details["shard_degree"] == 8


@pytest.mark.parametrize("fsdp,gpus,weights", [
    ("full", 8, 4 * PSI // 8),  # FULL_SHARD: fp32 shards of everything
    ("hybrid", 16, 4 * PSI // 8),  # HYBRID_SHARD: sharded within a node of 8, replicated across the 2 nodes
    ("grad-op", 8, 4 * PSI),  # SHARD_GRAD_OP: parameters whole, gradients and states sharded
])
def test_fsdp_shards_by_hand(fsdp, gpus, weights):
    est = _est(MISTRAL, method="full", precision="mixed", fsdp=fsdp, gpus=gpus)
    assert est.details["states"] == {"weights": weights, "gradients": 4 * PSI // 8, "optimizer": 8 * PSI // 8,
                                     "master": 0}
    assert est.details["shard_degree"] == 8 and est.details["data_parallel"] == gpus


def test_state_sharding_degrees():
    assert state_sharding(make_training(method="full", gpus=8)).degree == 1  # plain DDP replicates
    s = state_sharding(make_training(method="full", zero=1, gpus=8))
    assert (s.degree, s.params, s.grads, s.states, s.params_degree) == (8, False, False, True, 1)
    s = state_sharding(make_training(method="full", fsdp="hybrid", gpus=32, fsdp_node_gpus=8))
    assert (s.degree, s.params, s.params_degree) == (8, True, 8)
    assert s.of_params(80.0) == 10.0 and s.of_grads(80.0) == 10.0
    assert state_sharding(make_training(method="full", fsdp="hybrid", gpus=4)).degree == 4  # fewer than a node


# --- pipeline: which stage is the busiest ---------------------------------------------------------
def test_microbatches_in_flight_1f1b():
    assert microbatches_in_flight(4, 8, 0) == 4  # warm-up: pp forwards before the first backward
    assert microbatches_in_flight(4, 2, 0) == 2  # capped by the step's micro-batches
    assert microbatches_in_flight(4, 8, 3) == 1  # counted on the first stage only
    assert microbatches_in_flight(1, 8, 0) == 1
    assert busiest_stage_candidates(1) == (0,) and busiest_stage_candidates(6) == (0, 5)


def test_pp_busiest_stage_is_the_last_with_one_micro_batch():
    est = _est(method="full", pp=4, gpus=4, batch=1, seq_len=512)
    assert est.details["pipeline_stage"] == 3  # the head and the logits block
    assert est.details["states"]["weights"] == 2 * (8 * L + 4096 + E)


def test_pp_busiest_stage_is_the_first_with_four_micro_batches_in_flight():
    spec = load_model(LLAMA8)
    est = _est(method="full", pp=4, gpus=4, batch=1, seq_len=2048, grad_accum=8)
    assert est.details["pipeline_stage"] == 0
    assert est.details["states"]["weights"] == 2 * (E + 8 * L)
    per_token = layer_saves(spec, spec.layers[0], ActOptions(2, 2, "sdpa", False, True, True, {}, 0)).total(2048)
    assert per_token == 200_840  # test_activations: the Llama-3.1-8B layer by hand
    assert est.details["activations_bytes"] == 200_840 * 2048 * 8 * 4  # T × 8 layers × 4 in flight


# --- TP validity: one rule for the estimate and the solvers ---------------------------------------
def test_tp_validity_by_heads():
    spec = load_model(LLAMA8)  # 32 heads, 8 KV heads
    assert [t for t in TP_SIZES if tp_valid(spec, t)] == [1, 2, 4, 8, 16, 32]  # KV heads replicated past 8
    assert "does not divide the 32 attention heads" in tp_problem(spec, 3)
    qwen = load_model("Qwen/Qwen2.5-0.5B")  # 14 heads, 2 KV heads
    assert [t for t in TP_SIZES if tp_valid(qwen, t)] == [1, 2]
    mamba = load_model("state-spaces/mamba-2.8b-hf")  # no attention: Mamba1, d_inner 5120
    assert tp_problem(mamba, 3) == "tensor parallel size 3 does not divide the 5120 Mamba inner channels of " + mamba.id
    assert tp_valid(mamba, 2)


def test_serving_adds_the_kv_head_rule():
    spec = load_model(LLAMA8)
    assert tp_valid(spec, 16, serving=False)
    with pytest.raises(VramscopeError, match="expert parallelism runs over the TP group"):
        check_layout(load_model("mistralai/Mixtral-8x7B-v0.1"), 2, 1, 4)
    check_layout(load_model("mistralai/Mixtral-8x7B-v0.1"), 2, 1, 4, serving=False)


def test_solver_tries_exactly_the_tp_sizes_the_estimate_accepts():
    """solve._tp_candidates and check_layout cannot drift: same answer for every catalog model."""
    for entry in catalog.entries():
        spec = load_model(entry.id)
        accepted = []
        for t in TP_SIZES:
            try:
                check_layout(spec, t, 1, 1)
            except VramscopeError:
                continue
            accepted.append(t)
        assert solve._tp_candidates(spec) == accepted, spec.id


def test_zero3_over_8_gpus_is_16_psi_over_8():
    psi = load_model("mistralai/Mistral-7B-v0.1").params_total
    est = _est("mistralai/Mistral-7B-v0.1", method="full", precision="mixed", zero=3, gpus=8)
    assert est.details["model_states_bytes"] == pytest.approx(16 * psi / 8, rel=0.01)
    names = {c.name for c in est.components}
    assert {"ZeRO-3 gathered parameters", "ZeRO reduce bucket"} <= names
    assert est.num_gpus == 8


@pytest.mark.parametrize("zero,expected", [(1, 2 + 2 + 12 / 8), (2, 2 + (2 + 12) / 8), (3, 16 / 8)])
def test_zero_stages(zero, expected):
    psi = load_model("mistralai/Mistral-7B-v0.1").params_total
    est = _est("mistralai/Mistral-7B-v0.1", method="full", precision="mixed", zero=zero, gpus=8)
    assert est.details["model_states_bytes"] == pytest.approx(expected * psi, rel=0.001)


def test_tensor_and_pipeline_parallel_split_states():
    psi = load_model(LLAMA8).params_total
    one = _est(method="full").details["states"]["weights"]
    tp = _est(method="full", tp=4, gpus=4).details["states"]["weights"]
    pp = _est(method="full", pp=4, gpus=4).details["states"]["weights"]
    assert one == 2 * psi
    assert tp == pytest.approx(one / 4, rel=0.01)  # norms are replicated
    assert one / 4 < pp < one / 3  # the busiest stage holds the embedding or the head
