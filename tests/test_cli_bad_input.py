"""Bad input on every command: exit status 2 and one line on stderr saying what is wrong (issue 6).

Unknown model, a config path that does not exist, a malformed config, unknown flags, negative
numbers — for every command that takes them. No traceback, nothing on stdout.
"""

from __future__ import annotations

import pytest

from conftest import run_cli

LLAMA = "meta-llama/Llama-3.1-8B"

# commands that take a MODEL argument, as (prefix before the model, suffix after it)
MODEL_COMMANDS = {
    "info": (["info"], []),
    "estimate": (["estimate"], []),
    "estimate-lora": (["estimate"], ["--method", "lora"]),
    "estimate-grpo": (["estimate"], ["--rl", "grpo"]),
    "fit": (["fit"], ["--gpu", "H100"]),
    "plan": (["plan"], []),
    "export-vllm": (["export", "vllm"], []),
    "export-llamacpp": (["export", "llamacpp"], ["--gpu", "RTX-4090"]),
    "export-deepspeed": (["export", "deepspeed"], ["--method", "full", "--gpu", "H100"]),
    "export-fsdp": (["export", "fsdp"], ["--method", "full", "--gpu", "H100"]),
    "trace": (["trace"], []),
}


def _assert_one_line_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err + out and out == ""
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def bad_files(tmp_path):
    malformed = tmp_path / "malformed" / "config.json"
    malformed.parent.mkdir()
    malformed.write_text('{"model_type": "llama", "hidden_size": 4096,')  # cut off mid-object
    incomplete = tmp_path / "incomplete.json"
    incomplete.write_text('{"model_type": "llama"}')
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"GGUF\x03\x00")
    return {"malformed": malformed, "incomplete": incomplete, "gguf": gguf, "missing": tmp_path / "nope" / "config.json",
            "dir": malformed.parent}


@pytest.mark.parametrize("command", list(MODEL_COMMANDS))
def test_unknown_model(command, capsys):
    prefix, suffix = MODEL_COMMANDS[command]
    _assert_one_line_error(*run_cli([*prefix, "llama-9000-zz", *suffix], capsys), "unknown model 'llama-9000-zz'",
                           "vramscope models")


@pytest.mark.parametrize("command", list(MODEL_COMMANDS))
@pytest.mark.parametrize(("kind", "fragment"), [
    ("missing", "no such file"),
    ("malformed", "malformed JSON at line 1"),
    ("incomplete", "missing 'hidden_size'"),
    ("gguf", "truncated GGUF file"),
])
def test_bad_config_paths(command, kind, fragment, bad_files, capsys):
    prefix, suffix = MODEL_COMMANDS[command]
    path = str(bad_files[kind])
    _assert_one_line_error(*run_cli([*prefix, path, *suffix], capsys), fragment)


def test_directory_with_a_broken_config_names_the_file(bad_files, capsys):
    _assert_one_line_error(*run_cli(["estimate", str(bad_files["dir"])], capsys), "config.json", "malformed JSON")


@pytest.mark.parametrize(("args", "flag"), [
    (["models", "--colour"], "--colour"),
    (["gpus", "--vram", "24"], "--vram"),
    (["info", LLAMA, "--quant", "nf4"], "--quant"),
    (["estimate", LLAMA, "--batchsize", "4"], "--batchsize"),
    (["estimate", LLAMA, "--method", "lora", "--lora-alpha", "32"], "--lora-alpha"),
    (["fit", LLAMA, "--gpu", "H100", "--max-len"], "--max-len"),
    (["plan", LLAMA, "--budget", "1000"], "--budget"),
    (["export", "vllm", LLAMA, "--served-model-name", "x"], "--served-model-name"),
    (["trace", LLAMA, "--lora_rank", "8"], "--lora_rank"),
    (["schema", "--format", "yaml"], "--format"),
    (["formats", "--all"], "--all"),
    (["measure", "--gpu", "H100"], "--gpu"),
    (["web", "--share"], "--share"),
])
def test_unknown_flags(args, flag, capsys):
    _assert_one_line_error(*run_cli(args, capsys), f"No such option: {flag}")


@pytest.mark.parametrize(("args", "fragment"), [
    (["estimate", LLAMA, "--batch", "-3"], "batch: must be a whole number >= 1 (got -3)"),
    (["estimate", LLAMA, "--context", "-1"], "context: must be a whole number >= 1 (got -1)"),
    (["estimate", LLAMA, "--prompt-len", "-10"], "prompt_len"),
    (["estimate", LLAMA, "--gpus", "-1"], "gpus must be a whole number >= 1 (got -1)"),
    (["estimate", LLAMA, "--gpu-memory", "-24GiB"], "cannot read '-24GiB' as a memory size"),
    (["estimate", LLAMA, "--engine", "vllm", "--gpu-memory-utilization", "-0.5"], "gpu_memory_utilization"),
    (["estimate", LLAMA, "--engine", "llamacpp", "-ngl", "-2"], "n_gpu_layers"),
    (["estimate", LLAMA, "--images", "-1"], "images"),
    (["estimate", LLAMA, "--method", "lora", "--lora-rank", "-8"], "lora_rank must be a positive integer"),
    (["estimate", LLAMA, "--method", "full", "--seq-len", "-2048"], "seq_len"),
    (["estimate", LLAMA, "--method", "full", "--micro-batch", "-1"], "batch"),
    (["estimate", LLAMA, "--method", "full", "--grad-accum", "0"], "grad_accum"),
    (["estimate", LLAMA, "--rl", "grpo", "--num-generations", "-4"], "num_generations"),
    (["fit", LLAMA, "--gpu", "H100", "--batch", "-1"], "batch"),
    (["plan", LLAMA, "--batch", "-2"], "batch"),
    (["export", "vllm", LLAMA, "--gpus", "0"], "gpus must be a whole number >= 1 (got 0)"),
    (["export", "deepspeed", LLAMA, "--method", "full", "--gpus", "-8"], "gpus"),
    (["trace", "meta-llama/Llama-3.2-1B", "--batch", "-1"], "batch must be at least 1"),
    (["trace", "meta-llama/Llama-3.2-1B", "--seq-len", "-4"], "seq_len must be at least 1"),
    (["web", "--port", "-5"], "--port must be between 1 and 65535"),
    (["estimate", LLAMA, "--batch", "four"], "'four' is not a valid int"),
])
def test_negative_and_non_numbers(args, fragment, capsys):
    _assert_one_line_error(*run_cli(args, capsys), fragment)


@pytest.mark.parametrize(("args", "fragment"), [
    (["gpus", "zzzz"], "no catalog GPU matches 'zzzz'"),
    (["models", "zzzz"], "no catalog model matches 'zzzz'"),
    (["fit", LLAMA, "--gpu", "H1000"], "unknown GPU 'H1000'"),
    (["fit", LLAMA], "fit needs a GPU"),
    (["export", "tgi", LLAMA], "unknown export target 'tgi'"),
    (["info", LLAMA, "--weights", "int3-magic"], "unknown weight format 'int3-magic'"),
    (["schema", "--input", "serving"], "choose inference or training"),
    (["measure", "--suite", "nope"], "unknown suite 'nope'"),
    (["measure", "--case", "nope", "--device", "cpu", "--dry-run"], "no case nope"),
    (["estimate"], "Missing argument 'model'"),
])
def test_other_bad_values(args, fragment, capsys):
    _assert_one_line_error(*run_cli(args, capsys), fragment)
