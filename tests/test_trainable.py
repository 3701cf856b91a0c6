"""What trains (``estimators/trainable.py``): PEFT parameter counts against PEFT's own (formulas.md §7)."""

from __future__ import annotations

import vramscope
from vramscope.estimators.trainable import trainables
from vramscope.sources import load_model
from vramscope.workload import make_training


def _est(model="meta-llama/Llama-3.1-8B", **kw):
    return vramscope.estimate(model, **kw)


def test_lora_counts_match_peft():
    spec = load_model("meta-llama/Meta-Llama-3-8B")
    t = trainables(spec, make_training(method="lora", lora_rank=16, lora_targets="all-linear"))
    assert t.adapter == 16 * (8192 + 5120 + 5120 + 8192 + 3 * 18432) * 32 == 41_943_040
    t = trainables(load_model("meta-llama/Llama-3.2-3B"), make_training(method="lora", lora_rank=32,
                                                                           lora_targets="q_proj,v_proj"))
    assert t.adapter == 9_175_040  # num_trainable_params in PEFT's published results
    d = trainables(spec, make_training(method="dora", lora_rank=16, lora_targets="q_proj,v_proj"))
    assert d.adapter == 16 * (4096 + 4096 + 4096 + 1024) * 32 + (4096 + 1024) * 32


def test_lora_default_targets_are_peft_defaults():
    est = _est(method="lora")
    assert est.details["lora_targets"] == ["q_proj", "v_proj"]
    assert any("PEFT's default" in a for a in est.assumptions)
