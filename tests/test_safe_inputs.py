"""Safe under any input: bounded reads, no server files, bounds on every dimension, one error type.

Each case is a reproducer from the "Safe under any input" and "Nothing misread" issues.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import catalog_config

from vramscope import bounds
from vramscope.errors import ConfigError, GGUFError, ModelNotFoundError, VramscopeError
from vramscope.sources import load_model

HOSTILE_REFS = ["/dev/zero", "/etc/passwd", "/etc/hostname", "../../etc/passwd", "./config.json", "~/.bashrc",
                "/nonexistent/file.json", "org/../../etc/passwd", "C:\\Windows\\win.ini", "🦙" * 100,
                "a\udcffb", "x" * 5000, "a\x00b"]


# --- the web server opens no path it was not handed --------------------------------------------
@pytest.fixture
def opened(monkeypatch):
    """Every path os.stat / os.open / open are asked for while the block runs."""
    seen: list[str] = []
    real_stat, real_open, real_builtin = os.stat, os.open, open

    def stat(path, *a, **k):
        seen.append(str(path))
        return real_stat(path, *a, **k)

    def os_open(path, *a, **k):
        seen.append(str(path))
        return real_open(path, *a, **k)

    def builtin_open(path, *a, **k):
        seen.append(str(path))
        return real_builtin(path, *a, **k)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr("builtins.open", builtin_open)
    return seen


@pytest.mark.parametrize("ref", HOSTILE_REFS)
def test_web_model_field_reads_no_file(ref, opened):
    from vramscope.web import handlers

    start = time.perf_counter()
    page = handlers.compute({"src": "catalog", "model": ref})
    assert time.perf_counter() - start < 2
    assert not page.ok
    assert "could not be loaded" in page.model_html or "Check this input" in page.model_html
    assert "Internal error" not in page.model_html
    touched = [p for p in opened if ref.strip("~./") and ref.strip("~./")[:50] in p]
    assert touched == [], f"the web handler looked at {touched}"
    # never the content, never "no such file" (which tells a visitor which files exist)
    assert "root:" not in page.model_html and "no such file" not in page.model_html


@pytest.mark.parametrize("ref", ["/etc/passwd", "/dev/zero", "/nonexistent.json"])
def test_web_refusal_does_not_reveal_which_files_exist(ref):
    from vramscope.web import handlers

    pages = {handlers.compute({"src": "catalog", "model": r}).model_html for r in (ref, "/surely/absent/x.json")}
    assert len(pages) == 1  # the same answer for a file that exists and one that does not


def test_web_hub_field_takes_no_paths():
    from vramscope.web import handlers

    page = handlers.compute({"src": "hub", "hub": "/etc/passwd"})
    assert not page.ok and "reads no files of its own" in page.model_html


def test_web_allow_local_confines_to_the_folder(tmp_path, monkeypatch):
    from vramscope.web import handlers

    allowed = tmp_path / "models"
    allowed.mkdir()
    (allowed / "config.json").write_text(json.dumps(catalog_config("Qwen__Qwen2.5-0.5B")))
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps(catalog_config("Qwen__Qwen2.5-0.5B")))
    (allowed / "link.json").symlink_to(outside)
    monkeypatch.setenv(handlers.ALLOW_LOCAL_ENV, str(allowed))
    handlers._load.cache_clear()
    handlers._model_cached.cache_clear()
    ok = handlers.compute({"src": "catalog", "model": "config.json"})
    assert ok.ok and "494,032,768" in ok.model_html
    for ref in (str(outside), "../secret.json", "link.json"):
        page = handlers.compute({"src": "catalog", "model": ref})
        assert not page.ok and "outside the folder" in page.model_html, ref


def test_web_upload_outside_the_upload_folder_is_refused(tmp_path, monkeypatch):
    from vramscope.web import handlers

    root = tmp_path / "uploads"
    root.mkdir()
    good = root / "abc" / "config.json"
    good.parent.mkdir()
    good.write_text(json.dumps(catalog_config("Qwen__Qwen2.5-0.5B")))
    monkeypatch.setenv(handlers.UPLOAD_ROOT_ENV, str(root))
    assert handlers.compute({"src": "file"}, str(good)).ok
    stranger = tmp_path / "elsewhere.json"
    stranger.write_text(good.read_text())
    for path in (str(stranger), "/etc/passwd.json", str(root / ".." / "elsewhere.json")):
        page = handlers.compute({"src": "file"}, path)
        assert not page.ok and "no longer on the server" in page.model_html, path


@pytest.mark.parametrize("name", ["🦙" * 60 + ".json", "a\udcffb.json", "x" * 240 + ".gguf", "nul.bin", "noext"])
def test_odd_upload_names_are_refused_or_read_cleanly(tmp_path, name):
    from vramscope.web import handlers

    page = handlers.compute({"src": "file"}, str(tmp_path / name))  # not there: never uploaded
    assert not page.ok and "Internal error" not in page.model_html
    assert "\udcff" not in page.model_html


def test_web_upload_of_a_fifo_is_refused_at_once(tmp_path):
    from vramscope.web import handlers

    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    start = time.perf_counter()
    page = handlers.compute({"src": "file"}, str(fifo))
    assert time.perf_counter() - start < 2 and not page.ok


# --- the command line: bounded, never blocking -------------------------------------------------
def _cli(*args: str, timeout: float = 20) -> tuple[int, str, str, float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vramscope", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start


def _one_error_line(code: int, out: str, err: str) -> str:
    assert code == 2, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_cli_info_dev_zero_is_refused_within_two_seconds():
    code, out, err, wall = _cli("info", "/dev/zero")
    line = _one_error_line(code, out, err)
    assert "is a device" in line
    assert wall < 2 + 1.5  # interpreter start-up on a busy 2-core box comes on top of the 2 s


def test_cli_info_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    code, out, err, wall = _cli("info", str(fifo), timeout=10)
    assert "FIFO" in _one_error_line(code, out, err)
    assert wall < 3.5


def test_read_config_is_bounded_while_reading(tmp_path, monkeypatch):
    from vramscope.sources import config_file

    big = tmp_path / "config.json"
    big.write_text(" " * 2048 + "{}")
    monkeypatch.setattr(config_file, "MAX_CONFIG_BYTES", 1024)
    with pytest.raises(ConfigError, match="far too large"):
        config_file.read_config(big)


@pytest.mark.parametrize("text, match", [
    ("[" * 100000, "nested too deeply"),
    ('{"model_type": "llama", "hidden_size": ' + "9" * 5000 + "}", "unreadable JSON"),
    ("\xff\xfe", "not a UTF-8"),
    ("", "empty"),
    ("[1, 2]", "expected a JSON object"),
])
def test_broken_config_texts(tmp_path, text, match):
    path = tmp_path / "config.json"
    path.write_bytes(text.encode("latin-1") if text == "\xff\xfe" else text.encode())
    with pytest.raises(ConfigError, match=match):
        load_model(str(path))


# --- every dimension bounded before anything is built ------------------------------------------
def _llama(**changes) -> dict:
    cfg = catalog_config("meta-llama__Llama-3.1-8B")
    cfg.update(changes)
    return cfg


@pytest.mark.parametrize("key, value, match", [
    ("num_hidden_layers", 1e12, "above vramscope's layer count limit of 2,048"),
    ("num_hidden_layers", 10**9, "layer count limit of 2,048"),
    ("num_hidden_layers", 10000, "layer count limit of 2,048"),
    ("hidden_size", math.nan, "'hidden_size' must be an integer, got nan"),
    ("head_dim", math.inf, "'head_dim' must be an integer, got inf"),
    ("intermediate_size", 1e300, "above vramscope's width limit"),
    ("vocab_size", 2**40, "vocabulary size limit of 16,777,216"),
    ("num_attention_heads", 10**6, "head count limit of 16,384"),
    ("max_position_embeddings", 2**62, "context length limit"),
    ("num_key_value_heads", 2.5, "must be an integer, got 2.5"),
    ("hidden_size", -4096, "must be a positive integer, got -4096"),
])
def test_config_dimensions_are_bounded(write_json, key, value, match):
    path = write_json(json.loads(json.dumps(_llama(**{key: value}), allow_nan=True)))
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=match):
        load_model(str(path))
    assert time.perf_counter() - start < 1


def test_the_largest_accepted_model_is_built_quickly(write_json):
    path = write_json(_llama(num_hidden_layers=bounds.MAX_LAYERS))
    start = time.perf_counter()
    spec = load_model(str(path))
    assert spec.num_layers == 2048 and time.perf_counter() - start < 5


def test_vision_depth_is_bounded(write_json):
    cfg = catalog_config("Qwen__Qwen2.5-VL-7B-Instruct")
    cfg["vision_config"]["depth"] = 1e15
    with pytest.raises(ConfigError, match="'depth' is 1000000000000000, above vramscope's layer count limit"):
        load_model(str(write_json(cfg)))


@pytest.mark.parametrize("quant, match", [
    ({"quant_method": "mxfp4", "modules_to_not_convert": "model.layers"}, "must be a list of strings"),
    ({"quant_method": "gptq", "bits": "four"}, "'bits' must be an integer"),
    ({"quant_method": "gptq", "bits": 4, "group_size": math.inf}, "'group_size' must be an integer"),
    ({"quant_method": "fp8", "weight_block_size": [0, 128]}, "weight_block_size"),
    ({"quant_method": 3}, "'quant_method' must be a string"),
    ("fp8", "must be an object"),
])
def test_quantization_config_is_type_checked(write_json, quant, match):
    with pytest.raises(ConfigError, match=match):
        load_model(str(write_json(json.loads(json.dumps(_llama(quantization_config=quant), allow_nan=True)))))


def test_gptq_per_channel_group_is_still_read(write_json):
    from vramscope.formats import checkpoint_format

    spec = load_model(str(write_json(_llama(quantization_config={"quant_method": "gptq", "bits": 4, "group_size": -1}))))
    assert checkpoint_format(spec).name == "gptq-int4-g-1"


@pytest.mark.parametrize("size, match", [
    ("1000T", "above the 5T a bare size may name"),
    ("5.1T", "above the 5T"),
    ("9" * 40 + "B", "unknown model"),
])
def test_bare_sizes_are_bounded(size, match):
    start = time.perf_counter()
    with pytest.raises(VramscopeError, match=match):
        load_model(size, active="100T" if size == "1000T" else None)
    assert time.perf_counter() - start < 1


def test_the_largest_bare_size_lays_out_within_the_layer_bound():
    spec = load_model("5T")
    assert spec.params_total == 5 * 10**12 and spec.num_layers <= bounds.MAX_LAYERS


def test_active_above_total_is_refused():
    with pytest.raises(ConfigError, match="smaller than the total"):
        load_model("7B", active="14B")


# --- GGUF metadata: finite, non-negative, bounded ----------------------------------------------
def _gguf(tmp_path: Path, kind: str = "llama", edit=None) -> Path:
    from tests.fuzz_inputs import gguf_bytes, tiny_gguf

    kv, tensors = tiny_gguf(kind)
    if edit:
        kv, tensors = edit(list(kv), [list(t) for t in tensors])
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf_bytes(kv, [tuple(t) for t in tensors]))
    return path


def _set(kv, key, vtype, value):
    return [(k, vtype, value) if k == key else (k, t, v) for k, t, v in kv] + (
        [] if any(k == key for k, _, _ in kv) else [(key, vtype, value)])


def test_tiny_gguf_of_the_fuzzer_is_read(tmp_path):
    for kind, layers in (("llama", "full+dense"), ("qwen3moe", "full+moe"), ("mamba", "mamba1+none")):
        spec = load_model(str(_gguf(tmp_path, kind)))
        assert spec.layer_kinds == {layers: 2}, kind
        assert spec.params_total > 0


@pytest.mark.parametrize("key, vtype, value, match", [
    ("llama.context_length", "f32", math.nan, "must be an integer, got nan"),
    ("llama.context_length", "f64", math.inf, "must be an integer, got inf"),
    ("llama.embedding_length", "i32", -32, "must be an integer >= 0"),
    ("llama.attention.head_count", "u64", 2**63, "above vramscope's head count limit"),
    ("llama.block_count", "u32", 0, "'llama.block_count' must be a positive integer"),
    ("llama.block_count", "f32", math.nan, "'llama.block_count' must be an integer"),
    ("llama.attention.head_count", "arr:str", ["a", "b"], r"head_count\[0\]' must be an integer, got 'a'"),
])
def test_gguf_metadata_is_checked(tmp_path, key, vtype, value, match):
    path = _gguf(tmp_path, edit=lambda kv, t: (_set(kv, key, vtype, value), t))
    with pytest.raises(GGUFError, match=match):
        load_model(str(path))


def test_gguf_mamba_with_a_negative_inner_size_is_refused(tmp_path):
    path = _gguf(tmp_path, "mamba", edit=lambda kv, t: (_set(kv, "mamba.ssm.inner_size", "i32", -64), t))
    with pytest.raises(GGUFError, match="ssm.inner_size' must be an integer >= 0, got -64"):
        load_model(str(path))


def test_gguf_with_more_routed_than_experts_is_refused(tmp_path):
    path = _gguf(tmp_path, "qwen3moe", edit=lambda kv, t: (_set(kv, "qwen3moe.expert_used_count", "u32", 9), t))
    with pytest.raises(ConfigError, match="4 experts with top-9 routing"):
        load_model(str(path))


def test_gguf_with_only_empty_tensors_is_refused(tmp_path):
    def empty(kv, tensors):
        return kv, [[name, [0] * len(ne), t] for name, ne, t in tensors]

    with pytest.raises(VramscopeError):
        load_model(str(_gguf(tmp_path, edit=empty)))


def test_gguf_device_and_fifo_are_refused(tmp_path):
    fifo = tmp_path / "x.gguf"
    os.mkfifo(fifo)
    with pytest.raises(ModelNotFoundError, match="FIFO"):
        load_model(str(fifo))


# --- one exception type reaches the user -------------------------------------------------------
def test_a_bug_is_one_line_with_please_report(monkeypatch, capsys):
    from tests.conftest import run_cli

    from vramscope import cli

    def boom(*a, **k):
        raise KeyError("surprise")

    monkeypatch.setattr("vramscope.sources.load_model", boom)
    code, out, err = run_cli(["info", "llama-3.1-8b"], capsys)
    assert code == cli.INTERNAL_ERROR == 3
    assert err.count("\n") == 1 and "internal error (KeyError" in err and "please report" in err
    assert "Traceback" not in err


def test_a_bug_shows_its_traceback_with_debug(monkeypatch, capsys):
    from tests.conftest import run_cli

    monkeypatch.setattr("vramscope.sources.load_model", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        run_cli(["--debug", "info", "llama-3.1-8b"], capsys)


@pytest.mark.parametrize("quant, name", [
    ({"quant_method": "gptq", "w_bit": None}, "gptq-int4-g128"),  # fuzz finding: int(None)
    ({"quant_method": "awq", "w_bit": 4, "q_group_size": 64}, "awq-int4-g64"),
    ({"quant_method": "gptq", "bits": None, "group_size": None}, "gptq-int4-g128"),
])
def test_null_quantization_keys_take_the_library_defaults(write_json, quant, name):
    from vramscope.formats import checkpoint_format

    assert checkpoint_format(load_model(str(write_json(_llama(quantization_config=quant))))).name == name


@pytest.mark.parametrize("values, said", [
    ({"tab": "train", "t_method": "bogus"}, "Method: &#x27;bogus&#x27; is not one of the choices (full, freeze, lora"),
    ({"tab": "infer", "engine": "tensorrt"}, "&#x27;tensorrt&#x27; is not one of the choices (hf, vllm, llamacpp, sglang, ollama)"),
    ({"tab": "train", "t_method": "bogus", "lang": "zh"}, "不是可选项之一"),
])
def test_web_choice_the_page_cannot_send_is_refused_not_replaced(values, said):
    from vramscope.web import handlers

    page = handlers.compute(values)
    assert not page.ok and said in page.html


def test_web_choice_of_another_tab_does_not_block_this_one():
    from vramscope.web import handlers

    assert handlers.compute({"tab": "infer", "t_method": "bogus"}).ok
