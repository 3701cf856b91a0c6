"""Estimate results (estimators/result.py): typed parts, component keys, the legacy details view, the lazy
runs-on list, the engine registry and the JSON document's schema."""

from __future__ import annotations

import dataclasses
import json

import pytest

import vramscope
from vramscope import solve
from vramscope.estimators.engines import ENGINES, engine_options, inapplicable
from vramscope.estimators.result import Component, GPUCount, RunsOn
from vramscope.schema import EstimateDocument, estimate_schema
from vramscope.sources import load_model
from vramscope.workload import make_inference

H100 = "H100-SXM-80GB"
LLAMA = load_model("meta-llama/Llama-3.1-8B")


def test_an_estimate_and_its_parts_are_immutable():
    est = vramscope.estimate(LLAMA, engine="vllm", gpu=H100)
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.fit = None  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.kv.kv_bytes = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        est.details["fits"] = False  # the legacy view is read-only for inference


def test_components_are_found_by_key():
    est = vramscope.estimate(LLAMA, engine="vllm", gpu=H100)
    assert [c.key for c in est.components] == ["weights", "profile_peak", "non_torch_allocations", "kv_cache",
                                               "cuda_graphs", "cuda_context"]
    assert est.component("kv_cache").name == "KV cache"
    with pytest.raises(KeyError):
        est.component("KV cache")  # a display name is not a key
    assert Component("fp32 master weights", 1, "", "optimizer").key == "fp32_master_weights"


def test_runs_on_is_computed_only_when_asked_and_equals_the_solver():
    calls = []
    lazy = RunsOn(lambda: calls.append(1) or [GPUCount("X", 1, 1, 1)])
    assert calls == [] and "…" in repr(lazy)
    assert lazy.entries == (GPUCount("X", 1, 1, 1),) and lazy.entries and calls == [1]  # once, then kept
    est = vramscope.estimate(LLAMA, context=8192)
    wl = make_inference(context=8192)
    expected = [{"gpu": p.gpu.id, "count": p.count, "tp": p.tp, "pp": p.pp} for p in solve.fit_gpus(LLAMA, wl, max_gpus=8)]
    assert est.details["fits_on"] == expected == est.to_dict()["runs_on"] == est.to_dict()["details"]["fits_on"]
    assert len(expected) > 10


def test_legacy_details_keep_the_old_paths():
    est = vramscope.estimate(LLAMA, engine="vllm", gpu=H100)
    d = est.to_dict()
    old = {"fits", "fit_limit_bytes", "kv_bytes_per_token", "kv_bytes_needed", "gpu_memory_budget_bytes",
           "kv_cache_bytes", "kv_capacity_tokens", "num_gpu_blocks", "max_concurrency", "max_num_batched_tokens",
           "max_num_seqs", "max_model_len", "block_size", "speed", "fits_on"}
    assert set(d["details"]) == old
    assert d["details"]["kv_capacity_tokens"] == d["kv"]["capacity_tokens"] == est.kv.capacity_tokens
    assert d["details"]["speed"] == d["speed"] and d["fits"] is d["fit"]["fits"] is True
    assert {"key", "name", "category", "bytes", "low_bytes", "high_bytes"} <= set(d["components"][0])


@pytest.mark.parametrize("kw", [{}, {"engine": "vllm", "gpu": H100}, {"engine": "sglang", "gpu": H100},
                                {"engine": "llamacpp", "weights": "Q4_K_M", "gpu": "RTX-4090", "n_gpu_layers": 20},
                                {"method": "lora", "gpu": H100}, {"rl": "dpo", "gpu": H100}])
def test_the_schema_spells_out_every_part_and_validates_real_output(kw):
    d = json.loads(vramscope.estimate(LLAMA, **kw).to_json())
    EstimateDocument.model_validate(d)
    props = estimate_schema()["properties"]
    assert {"fit", "kv", "settings", "placement", "speed", "runs_on"} <= set(props)
    assert "LEGACY" in estimate_schema()["$defs"]["LegacyDetails"]["description"]


def test_the_registry_holds_each_engines_facts():
    assert list(ENGINES) == ["hf", "vllm", "llamacpp", "sglang", "ollama"]
    opts = engine_options()
    assert opts["tp"] == ("hf", "vllm", "sglang") and opts["gpu_memory_utilization"] == ("vllm",)
    assert opts["max_model_len"] == ("vllm", "sglang") and opts["n_gpu_layers"] == ("llamacpp", "ollama")
    assert inapplicable("hf", ["block_size", "batch", "cache"]) == {"block_size": ("vllm",)}
    assert [e.name for e in ENGINES.values() if e.gpu_dependent] == ["vllm", "sglang", "ollama"]


def test_an_estimate_pickles_with_its_runs_on_list():
    import pickle

    est = vramscope.estimate(LLAMA, context=8192)
    back = pickle.loads(pickle.dumps(est))
    assert back.to_dict() == est.to_dict() and back.runs_on.entries == est.runs_on.entries


def test_training_parts_are_typed_and_set_by_their_owners():
    """Llama-3.1-8B full fine-tune, bf16 + fp32 AdamW states in mixed precision, ZeRO-3 over 8 GPUs."""
    est = vramscope.estimate(LLAMA, method="full", precision="mixed", zero=3, gpus=8, gpu=H100)
    t = est.training
    psi = 8_030_261_248
    # ZeRO-3 shards all of it: bf16 weights 2 + bf16 grads 2 + Adam m, v 8 + fp32 master 4 = 16 B per param / 8
    assert t.states.total == pytest.approx(16 * psi / 8, rel=0.01) == est.details["model_states_bytes"]
    assert t.phase(t.peak_phase) == pytest.approx(est.per_gpu_bytes, abs=len(est.components) + 1)
    assert est.placement.data_parallel == 8 and est.placement.shard_degree == 8 and est.placement.pipeline_stage == 0
    assert est.fit.limit_bytes == est.gpu["usable_bytes"] and est.fits is (est.per_gpu_bytes <= est.fit.limit_bytes)
    assert t.rules_of_thumb and t.rules_of_thumb[0].bytes > 0  # api adds the seeds' rules beside it
    assert est.details["phases"] == {p.name: p.bytes for p in t.phases}
    rl = vramscope.estimate(LLAMA, rl="grpo", gpu=H100)
    assert "generation" in rl.details["phases"] and rl.details["quick_rules"]["k"] == 8
    assert [c.key for c in rl.components if c.key.startswith("generation")] in ([], ["generation_kv_cache",
                                                                                     "generation_logits"])
