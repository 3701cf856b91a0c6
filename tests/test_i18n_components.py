"""Every component an estimate emits has a stable key and a label in English and Chinese, looked up by key."""

from __future__ import annotations

import pytest

import vramscope
from vramscope.errors import VramscopeError
from vramscope.estimators.result import Component
from vramscope.sources import catalog
from vramscope.web.i18n import COMPONENTS, component_name
from vramscope.workload import METHODS

H100 = "H100-SXM-80GB"

#: the workloads walked over every catalog model: each engine with and without a GPU, every training
#: method, the sharded / offloaded / parallel training paths, and the RL algorithms
WORKLOADS: tuple[dict, ...] = (
    {}, {"gpu": H100}, {"images": 1}, {"engine": "vllm"}, {"engine": "vllm", "gpu": H100},
    {"engine": "sglang"}, {"engine": "sglang", "gpu": H100}, {"engine": "llamacpp", "weights": "Q4_K_M"},
    {"engine": "ollama", "gpu": H100},
    *({"method": m} for m in METHODS),
    {"method": "full", "precision": "mixed"}, {"method": "full", "precision": "fp8"},
    {"method": "full", "zero": 3, "gpus": 8}, {"method": "full", "zero": 2, "gpus": 4, "offload": "optimizer"},
    {"method": "full", "fsdp": "full", "gpus": 8}, {"method": "full", "fsdp": "grad-op", "gpus": 8},
    {"method": "full", "gpus": 4}, {"method": "full", "zero": 1, "gpus": 4}, {"method": "full", "zero": 2, "gpus": 8},
    {"method": "full", "cp": 2, "gpus": 2}, {"method": "full", "optimizer": "adamw", "optimizer_impl": "foreach"},
    {"method": "full", "precision": "mixed", "zero": 1, "gpus": 2, "seq_len": 128},  # peak at the optimizer step
    {"rl": "grpo"}, {"rl": "grpo", "use_vllm": True}, {"rl": "grpo", "beta": 0.04}, {"rl": "dpo"}, {"rl": "ppo"},
    {"rl": "grpo", "method": "lora", "completion_len": 4096, "batch": 8, "grad_accum": 16},  # generation peak
)


@pytest.fixture(scope="module")
def emitted() -> dict[str, set[str]]:
    """key -> the display names it was emitted with, over the catalog × WORKLOADS."""
    out: dict[str, set[str]] = {}
    for entry in catalog.entries():
        for kw in WORKLOADS:
            try:
                est = vramscope.estimate(entry.id, **kw)
            except VramscopeError:
                continue  # a layout or option that does not apply to this model
            for c in est.components:
                out.setdefault(c.key, set()).add(c.name)
    return out


@pytest.mark.slow
def test_every_emitted_component_has_english_and_chinese_text(emitted):
    assert len(emitted) >= 30  # the walk reaches the inference, training and RL components
    missing = sorted(k for k in emitted if k not in COMPONENTS)
    assert not missing, f"components without a translation: {missing}"
    for key, names in emitted.items():
        en, zh = COMPONENTS[key]
        assert en in names or key == "kv_cache", (key, names)  # SGLang's pool says "KV cache (token pool)"
        assert en and zh, key


@pytest.mark.slow
def test_keys_are_snake_case_identifiers(emitted):
    for key in emitted:
        assert key.isidentifier() and key == key.lower(), key


def test_labels_are_looked_up_by_key_not_by_name():
    c = Component("KV cache (token pool)", 1, "1 B", "kv_cache", key="kv_cache")
    assert component_name(c, "zh") == "KV 缓存" and component_name(c, "en") == "KV cache (token pool)"
    # a component the table does not know shows its own name in both languages
    odd = Component("mystery", 1, "1 B", "engine")
    assert odd.key == "mystery" and component_name(odd, "zh") == "mystery"


@pytest.mark.slow
def test_the_table_has_no_stale_keys(emitted):
    """Every labelled key is still emitted by some estimate of the walk (a renamed component fails here)."""
    assert sorted(set(COMPONENTS) - set(emitted)) == []
