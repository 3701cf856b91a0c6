"""What one pipeline stage holds on one GPU (``estimators/training/stage.py``), by hand.

Llama-3.2-1B: h = 2048, 16 layers, tied embedding V·h = 128,256 · 2048 = E. One layer holds
q + o = 2·2048², k + v = 2·512·2048, gate/up/down = 3·8192·2048 and two norms of 2048: L params.
"""

from __future__ import annotations

import pytest

from vramscope.errors import InvariantError
from vramscope.estimators.trainable import trainables
from vramscope.estimators.training import Step, estimate_step, estimate_training, regime
from vramscope.estimators.training.stage import stage_params
from vramscope.sources import load_model
from vramscope.workload import make_training

L = 2 * 2048 * 2048 + 2 * 512 * 2048 + 3 * 8192 * 2048 + 2 * 2048
E = 128256 * 2048


def _stages(**kw):
    spec = load_model("meta-llama/Llama-3.2-1B")
    tr = make_training(**kw)
    return spec, stage_params(spec, tr, trainables(spec, tr), regime(tr))


def test_counts():
    assert L == 60_821_504 and E == 262_668_288
    assert load_model("meta-llama/Llama-3.2-1B").params_total == 16 * L + E + 2048  # + the final norm


def test_two_stages_of_a_tied_model():
    _, (first, last) = _stages(method="full", pp=2, gpus=2)
    assert first.layers == tuple(range(8)) and last.layers == tuple(range(8, 16))
    assert first.trainable == 8 * L + E  # the embedding
    assert last.trainable == 8 * L + E + 2048  # the tied head needs the matrix again, + the final norm
    assert first.largest_layer == last.largest_layer == L  # the FSDP unit
    assert first.largest_module == E
    assert first.matrix == 8 * (L - 2 * 2048) + E  # norms are not matrices
    assert first.embed_head == last.embed_head == E  # Muon gives them to AdamW
    assert (first.has_embed, first.has_head, last.has_embed, last.has_head) == (True, False, False, True)


def test_tp_splits_matrices_and_replicates_norms():
    _, (one,) = _stages(method="full", tp=2, gpus=2)
    norms = 16 * 2 * 2048 + 2048
    assert one.trainable == (16 * L + E + 2048 - norms) / 2 + norms


def test_freeze_trains_the_last_layers_only():
    _, (one,) = _stages(method="freeze", trainable_layers=2, precision="bf16")
    assert one.trainable == 2 * L
    assert one.frozen == 14 * L + E + 2048
    assert one.frozen_bytes == 2 * (14 * L + E + 2048)  # bf16


def test_rl_workloads_go_to_the_rl_estimate():
    spec = load_model("meta-llama/Llama-3.2-1B")
    with pytest.raises(InvariantError, match="estimate_rl"):
        estimate_training(spec, make_training(method="lora", rl="dpo"))
    tr = make_training(method="lora", batch=2, seq_len=512)
    same = estimate_step(spec, tr, None, Step(tokens_per_seq=512, sequences=2))
    assert same.per_gpu_bytes == estimate_training(spec, tr).per_gpu_bytes
    assert estimate_step(spec, tr, None, Step(512, 2, mode="rl-dpo")).mode == "rl-dpo"
