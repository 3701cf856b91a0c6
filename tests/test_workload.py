"""Workloads: validated, immutable inputs with one-line errors and a JSON Schema of their bounds."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import run_cli
from vramscope.errors import VramscopeError
from vramscope.workload import MAX_BATCH, Inference, Training, make_inference, make_training


def _error(fn, **kwargs) -> str:
    with pytest.raises(VramscopeError) as exc:
        fn(**kwargs)
    return str(exc.value)


def test_numbers_given_as_text_or_whole_floats_are_read_as_numbers():
    wl = make_inference(batch="4", context=8192.0, gpu_memory_utilization="0.85")
    assert (wl.batch, wl.context, wl.gpu_memory_utilization) == (4, 8192, 0.85)
    assert type(wl.batch) is int and type(wl.context) is int


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"batch": 2.5}, "invalid workload: batch: must be a whole number (got 2.5)"),
    ({"batch": "four"}, "invalid workload: batch: must be a whole number (got 'four')"),
    ({"batch": 0}, "invalid workload: batch: must be a whole number >= 1 (got 0)"),
    ({"engine": "tgi"}, "invalid workload: engine: must be one of hf, vllm, llamacpp, sglang, ollama (got 'tgi')"),
    ({"gpu_memory_utilization": 1.5}, "gpu_memory_utilization: must be a number <= 1.0 (got 1.5)"),
    ({"image_size": 5}, "image_size: must be a (width, height) pair (got 5)"),
    ({"n_ubatch": 4096}, "n_ubatch (4096) cannot exceed n_batch (2048)"),
])
def test_inference_errors_name_the_field_and_the_value(kwargs, message):
    text = _error(make_inference, **kwargs)
    assert message in text and "\n" not in text


def test_unknown_option_lists_the_valid_ones():
    text = _error(make_training, lora_alpha=32)
    assert "unknown option 'lora_alpha'" in text and "lora_rank" in text and "grad_accum" in text


def test_replace_validates_like_a_fresh_workload():
    wl = make_inference(batch=3)
    assert wl.replace(batch=4).batch == 4 and wl.batch == 3  # immutable original
    with pytest.raises(VramscopeError, match="batch"):
        wl.replace(batch=0)
    with pytest.raises(AttributeError):
        wl.batch = 5  # type: ignore[misc]


def test_grpo_checkpoints_by_default_like_trl_and_explicit_choices_stay():
    assert make_training(rl="grpo").grad_ckpt == "full"  # TRL GRPOConfig: gradient_checkpointing=True
    assert make_training(rl="grpo", grad_ckpt="none").grad_ckpt == "none"
    assert make_training(rl="dpo").grad_ckpt == "none"
    assert make_training().grad_ckpt == "none"


@given(st.integers(min_value=-10, max_value=MAX_BATCH + 10))
def test_batch_bounds(batch):
    if 1 <= batch <= MAX_BATCH:
        assert make_inference(batch=batch).batch == batch
    else:
        with pytest.raises(VramscopeError, match="batch"):
            make_inference(batch=batch)


def test_schema_of_inputs_states_the_bounds_the_validator_enforces(capsys):
    code, out, _ = run_cli(["schema", "--input", "inference"], capsys)
    props = json.loads(out)["$defs"]["Inference"]["properties"]
    assert code == 0 and props["batch"]["minimum"] == 1 and props["batch"]["maximum"] == MAX_BATCH
    assert set(props["engine"]["enum"]) == {"hf", "vllm", "llamacpp", "sglang", "ollama"}
    assert set(props) == set(Inference.field_names())
    code, out, _ = run_cli(["schema", "--input", "training"], capsys)
    assert code == 0 and set(json.loads(out)["$defs"]["Training"]["properties"]) == set(Training.field_names())
    code, _, err = run_cli(["schema", "--input", "serving"], capsys)
    assert code == 2 and "choose inference or training" in err
