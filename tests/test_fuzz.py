"""Property tests: no input of any kind makes vramscope raise anything but a VramscopeError, hang,
or answer with an estimate that breaks its invariants.

Kept small for ``make test`` (a few hundred inputs per target, ~20 s in all); ``benchmarks/fuzz.py``
runs the same targets over a million inputs. Every estimate made here is invariant-checked
(``VRAMSCOPE_CHECK=1``, set in conftest).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import catalog_config
from tests.fuzz_inputs import Fuzzer

SOUND = ("ok", "refused")
FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    return Fuzzer(seed=0, scratch=tmp_path_factory.mktemp("fuzz"))


def _sound(result: tuple[str, str]) -> None:
    outcome, detail = result
    assert outcome in SOUND, f"{outcome}: {detail}"


# --- config.json: hostile values in the keys the readers use ------------------------------------
HOSTILE = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 2, 3, 4096, 2**31, 10**12, 1e300, -1e300, math.inf, math.nan]),
    st.text(max_size=8), st.booleans(), st.none(),
    st.lists(st.integers(min_value=-3, max_value=70000), max_size=4),
    st.dictionaries(st.sampled_from(["type", "factor", "a"]), st.integers(-3, 9), max_size=2),
)
KEYS = ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
        "intermediate_size", "vocab_size", "max_position_embeddings", "sliding_window", "tie_word_embeddings",
        "torch_dtype", "num_experts", "num_local_experts", "num_experts_per_tok", "moe_intermediate_size",
        "rope_scaling", "layer_types", "quantization_config", "model_type", "architectures"]
BASES = ["meta-llama__Llama-3.1-8B", "Qwen__Qwen3-30B-A3B", "mistralai__Mixtral-8x7B-v0.1", "google__gemma-3-1b-it",
         "deepseek-ai__DeepSeek-V3", "state-spaces__mamba-2.8b-hf", "Qwen__Qwen2.5-VL-7B-Instruct", "openai__gpt-oss-20b"]


@given(base=st.sampled_from(BASES), edits=st.dictionaries(st.sampled_from(KEYS), HOSTILE, min_size=1, max_size=4))
@FAST
def test_config_values(fuzzer, base, edits):
    cfg = catalog_config(base)
    cfg.update(edits)
    for key in ("num_hidden_layers", "num_layers"):  # keep each input quick: few layers unless the key is fuzzed
        if key in cfg and key not in edits:
            cfg[key] = 2
    _sound(fuzzer.config(json.dumps(cfg, allow_nan=True).encode()))


@given(st.randoms(use_true_random=False))
@FAST
def test_config_mutations(fuzzer, rng):
    from tests.fuzz_inputs import mutate_config

    _sound(fuzzer.config(mutate_config(rng.choice(fuzzer.configs), rng)))


@given(st.binary(max_size=400))
@FAST
def test_config_bytes(fuzzer, data):
    _sound(fuzzer.config(data))


# --- GGUF ---------------------------------------------------------------------------------------
@given(st.randoms(use_true_random=False))
@FAST
def test_gguf_mutations(fuzzer, rng):
    from tests.fuzz_inputs import mutate_gguf

    _sound(fuzzer.gguf(mutate_gguf(rng)))


@given(st.binary(max_size=300).map(lambda b: b"GGUF\x03\x00\x00\x00" + b))
@FAST
def test_gguf_bytes(fuzzer, data):
    _sound(fuzzer.gguf(data))


# --- safetensors headers ------------------------------------------------------------------------
@given(st.randoms(use_true_random=False))
@FAST
def test_safetensors_headers(fuzzer, rng):
    pytest.importorskip("vramscope.sources.hub")
    from tests.fuzz_inputs import mutate_safetensors_header

    _sound(fuzzer.safetensors(mutate_safetensors_header(rng)))


# --- the command line and the web page ----------------------------------------------------------
@given(st.randoms(use_true_random=False))
@settings(FAST, max_examples=60)
def test_cli_argument_lists(fuzzer, rng):
    from tests.fuzz_inputs import CliArgs

    if fuzzer._cli is None:
        fuzzer._cli = CliArgs()
    _sound(fuzzer.cli(fuzzer._cli.draw(rng)))


@given(st.randoms(use_true_random=False))
@FAST
def test_web_inputs(fuzzer, rng):
    from tests.fuzz_inputs import web_values

    _sound(fuzzer.web(web_values(rng)))


def test_the_harness_catches_a_bug_and_a_hang(fuzzer, monkeypatch):
    """The fuzz targets must be able to fail: a planted bug and a planted hang are named as such."""
    import time

    from tests.fuzz_inputs import classify

    assert classify(lambda: 1 / 0)[0] == "bug"
    assert classify(lambda: time.sleep(3), blocked_s=0.2)[0] == "hang"  # waits
    assert classify(lambda: time.sleep(0.3), hang_s=0.2)[0] == "ok"  # waiting is not computing

    def spin():
        end = time.process_time() + 3
        while time.process_time() < end:
            pass

    assert classify(spin, hang_s=0.2)[0] == "hang"  # computes
    monkeypatch.setattr("vramscope.families.spec_from_config", lambda *a, **k: {}["boom"])
    assert fuzzer.config(json.dumps(catalog_config(BASES[0])).encode())[0] == "bug"
