"""Hostile inputs for vramscope, and the harness that runs one and names its outcome.

Shared by the property tests (``tests/test_fuzz.py``, a few hundred inputs per target inside
``make test``) and the long run (``benchmarks/fuzz.py``, a million and more). Five targets, each the
way a user's input reaches vramscope:

* ``config`` — config.json bytes: a catalog config with values replaced by hostile ones (inf, nan,
  1e300, negatives, huge ints, strings, lists, objects), keys dropped or added, sometimes the JSON
  text itself cut or corrupted; read as ``vramscope info FILE`` reads it, then estimated;
* ``gguf`` — GGUF bytes written by a small serializer here (not gguf-py, so that it can write what
  gguf-py refuses: NaN counts, negative sizes, wrong value types, lying lengths), from tiny llama,
  qwen3moe and mamba files, then mutated; read from a file as the CLI does, then estimated;
* ``safetensors`` — safetensors headers (the JSON a hub checkpoint starts with): shapes, dtypes,
  offsets of the wrong type or size; through the hub reader's header path;
* ``cli`` — argument lists built from the commands' own options (from typer), with hostile values;
  run in-process as ``vramscope …`` is;
* ``web`` — the page's inputs (every field of :mod:`vramscope.web.state`) with hostile values; through
  ``handlers.compute``, which must never raise and never show an internal error.

Outcomes: ``ok`` (an answer), ``refused`` (one clean VramscopeError line), ``absurd`` (an estimate
that breaks an invariant, :mod:`vramscope.invariants`), ``bug`` (any other exception, or an internal
error shown), ``hang`` (over :data:`HANG_S`), ``memory`` (MemoryError).
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import random
import signal
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

OUTCOMES = ("ok", "refused", "absurd", "bug", "hang", "memory")
HANG_S = 5.0  # CPU seconds of this process: the machines are shared, and wall-clock under load misleads
BLOCKED_S = 60.0  # wall-clock seconds: an input that waits (a blocking read) rather than computes
CATALOG_DIR = Path(__file__).resolve().parents[1] / "src" / "vramscope" / "data" / "models"


class Hang(BaseException):
    """Raised by the alarms when one input uses more than :data:`HANG_S` of CPU time or waits more than
    :data:`BLOCKED_S` (BaseException: no target catches it)."""


def _alarm(signum, frame):
    raise Hang


#: (CPU s, wall s) of the last :func:`classify` call: the input's own run, without drawing it
LAST_TIMING = [0.0, 0.0]


def classify(fn: Callable[[], Any], hang_s: float = HANG_S, blocked_s: float = BLOCKED_S) -> tuple[str, str]:
    """Run ``fn()`` under two alarms (CPU time and wall-clock); (outcome, one-line detail).

    The alarms repeat every half second once due: Python drops an exception raised inside a garbage
    collector callback, so a single signal could be lost.
    """
    from vramscope.errors import InvariantError, VramscopeError

    use_alarm = hasattr(signal, "setitimer") and _main_thread()
    if use_alarm:
        old_prof = signal.signal(signal.SIGPROF, _alarm)
        old_real = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_PROF, hang_s, 0.5)
        signal.setitimer(signal.ITIMER_REAL, blocked_s, 0.5)
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        detail = fn()
        outcome = "ok"
        if isinstance(detail, tuple):  # a target that judged its own outcome
            outcome, detail = detail
        result = outcome, str(detail or "")
    except Hang:
        result = "hang", f"over {hang_s:g} s of CPU or {blocked_s:g} s waiting"
    except InvariantError as exc:
        result = "absurd", _line(exc)
    except VramscopeError as exc:
        result = "refused", _line(exc)
    except MemoryError:
        result = "memory", "MemoryError"
    except RecursionError as exc:
        result = "bug", f"RecursionError: {_line(exc)}"
    except Exception as exc:  # noqa: BLE001 - every other exception is a bug
        result = "bug", f"{type(exc).__name__}: {_line(exc)}"
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGPROF, old_prof)
            signal.signal(signal.SIGALRM, old_real)
    cpu, wall = time.process_time() - cpu_start, time.perf_counter() - start
    LAST_TIMING[:] = [cpu, wall]
    if result[0] != "hang" and (cpu > hang_s or wall > blocked_s):
        result = "hang", f"{cpu:.1f} s CPU, {wall:.1f} s wall"
    return result


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300]


# --- hostile values ---------------------------------------------------------------------------
_SPECIAL_FLOATS = (math.inf, -math.inf, math.nan, 1e300, -1e300, 1e-300, 0.5, 1.5, -0.0, 2.0**63, 1e19)
_SPECIAL_INTS = (0, -1, 1, 2, 3, 7, -(2**31), 2**31, 2**32 + 1, 2**53 + 1, 2**63, 2**64, 10**12, 10**30, 4097, 65537)


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    """One value of any JSON type, biased to the ones parsers get wrong."""
    r = rng.random()
    if r < 0.25:
        return rng.choice(_SPECIAL_INTS)
    if r < 0.40:
        return rng.choice(_SPECIAL_FLOATS)
    if r < 0.50:
        return rng.randint(-5, 5000)
    if r < 0.58:
        return rng.choice((True, False, None))
    if r < 0.70:
        return rng.choice(("", "auto", "nan", "inf", "-1", "1e9", "bfloat16", "float8", "llama", "🦙", "\x00",
                           "a" * rng.randint(1, 300), "\udcff"))
    if r < 0.85 and depth < 3:
        return [hostile_value(rng, depth + 1) for _ in range(rng.choice((0, 1, 2, 3, 8)))]
    if depth < 3:
        return {rng.choice(("type", "factor", "a", "hidden_size", "")): hostile_value(rng, depth + 1)
                for _ in range(rng.randint(0, 3))}
    return rng.random()


# --- config.json ------------------------------------------------------------------------------
def catalog_configs() -> list[dict]:
    """Every catalog config, with deep models cut to a few layers (so one input stays fast)."""
    out = []
    for path in sorted(CATALOG_DIR.glob("*.json")):
        cfg = json.loads(path.read_text())["config"]
        out.append(cfg)
    return out


def _dicts(obj: dict, prefix: tuple = ()) -> list[tuple[tuple, dict]]:
    found = [(prefix, obj)]
    for k, v in obj.items():
        if isinstance(v, dict):
            found += _dicts(v, (*prefix, k))
    return found


def _shallow(cfg: dict, rng: random.Random) -> dict:
    """A copy with every layer count cut to 1–4 most of the time (a deep copy via JSON)."""
    cfg = json.loads(json.dumps(cfg))
    if rng.random() < 0.9:
        for _, d in _dicts(cfg):
            for key in ("num_hidden_layers", "n_layer", "num_layers", "depth"):
                if isinstance(d.get(key), int):
                    d[key] = rng.randint(1, 4)
            for key in ("layer_types", "fullatt_block_indexes", "mlp_only_layers"):
                d.pop(key, None)
    return cfg


def mutate_config(base: dict, rng: random.Random) -> bytes:
    """config.json bytes derived from ``base`` by 1–4 hostile edits (and sometimes byte damage)."""
    cfg = _shallow(base, rng)
    for _ in range(rng.randint(1, 4)):
        _, d = rng.choice(_dicts(cfg))
        op = rng.random()
        keys = list(d)
        if op < 0.65 and keys:
            d[rng.choice(keys)] = hostile_value(rng)
        elif op < 0.8 and keys:
            del d[rng.choice(keys)]
        elif op < 0.9:
            d[rng.choice(("quantization_config", "text_config", "vision_config", "rope_scaling", "sliding_window",
                          "head_dim", "num_key_value_heads", "num_experts", "layer_types", "model_type",
                          "tie_word_embeddings", "torch_dtype"))] = hostile_value(rng)
        else:
            d["quantization_config"] = {
                "quant_method": rng.choice(("fp8", "mxfp4", "gptq", "awq", "bitsandbytes", "bogus", 3)),
                rng.choice(("bits", "group_size", "weight_block_size", "modules_to_not_convert", "load_in_4bit",
                            "ignore", "w_bit", "q_group_size")): hostile_value(rng),
            }
    text = json.dumps(cfg, allow_nan=True, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    r = rng.random()
    if r < 0.04:
        text = text[: rng.randrange(len(text) + 1)]
    elif r < 0.08:
        i = rng.randrange(len(text) + 1)
        text = text[:i] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) + text[i:]
    elif r < 0.10:
        text = b"[" * rng.randint(1, 5000) + text
    return text


# --- GGUF -------------------------------------------------------------------------------------
# value type codes (ggml/docs/gguf.md): scalars with their struct codes, 8 = string, 9 = array
_VT = {"u8": (0, "B"), "i8": (1, "b"), "u16": (2, "H"), "i16": (3, "h"), "u32": (4, "I"), "i32": (5, "i"),
       "f32": (6, "f"), "bool": (7, "?"), "u64": (10, "Q"), "i64": (11, "q"), "f64": (12, "d")}
_SCALAR_TYPES = tuple(_VT)


def _gguf_value(vtype: str, value: Any) -> bytes:
    if vtype == "str":
        raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else bytes(value)
        return struct.pack("<Q", len(raw)) + raw
    if vtype.startswith("arr:"):
        sub = vtype[4:]
        code = 8 if sub == "str" else _VT[sub][0]
        return struct.pack("<IQ", code, len(value)) + b"".join(_gguf_value(sub, v) for v in value)
    code = _VT[vtype][1]
    try:
        return struct.pack("<" + code, value)
    except (struct.error, OverflowError, TypeError):
        return struct.pack("<" + code, 0)


def _vt_code(vtype: str) -> int:
    if vtype == "str":
        return 8
    if vtype.startswith("arr:"):
        return 9
    return _VT[vtype][0]


# GGML type id → (block elements, block bytes): F32, F16, Q8_0 (ggml.h / formats.gguf_types)
_GGML = {0: (1, 4), 1: (1, 2), 8: (32, 34)}


def gguf_bytes(kv: list[tuple[str, str, Any]], tensors: list[tuple[str, list[int], int]],
               offsets: list[int] | None = None, align: int = 32) -> bytes:
    """A GGUF v3 file: ``kv`` as (key, value type, value); ``tensors`` as (name, ne, GGML type id).

    Tensor data is zeros, laid out back to back (each aligned) unless ``offsets`` says otherwise.
    """
    out = [b"GGUF", struct.pack("<IQQ", 3, len(tensors), len(kv))]
    for key, vtype, value in kv:
        out += [_gguf_value("str", key), struct.pack("<I", _vt_code(vtype)), _gguf_value(vtype, value)]
    sizes, pos, offs = [], 0, []
    for _name, ne, t in tensors:
        block, nbytes = _GGML.get(t, (1, 2))
        numel = math.prod(ne) if ne else 0
        size = max(0, numel // block * nbytes)
        offs.append(pos)
        sizes.append(size)
        pos += -(-size // align) * align
    for i, (name, ne, t) in enumerate(tensors):
        off = offsets[i] if offsets is not None else offs[i]
        out += [_gguf_value("str", name), struct.pack("<I", len(ne))]
        out += [struct.pack("<Q", d & (2**64 - 1)) for d in ne]
        out += [struct.pack("<IQ", t & 0xFFFFFFFF, off & (2**64 - 1))]
    head = b"".join(out)
    head += b"\x00" * (-len(head) % align)
    return head + b"\x00" * min(pos, 1 << 22)


def tiny_gguf(kind: str) -> tuple[list[tuple[str, str, Any]], list[tuple[str, list[int], int]]]:
    """(metadata, tensors) of a tiny, valid GGUF: ``llama``, ``qwen3moe`` or ``mamba`` (2 blocks)."""
    h, ff, vocab, n = 32, 64, 64, 2
    kv: list[tuple[str, str, Any]] = [("general.architecture", "str", kind), ("general.file_type", "u32", 1),
                                      (f"{kind}.block_count", "u32", n), (f"{kind}.embedding_length", "u32", h),
                                      (f"{kind}.context_length", "u32", 4096)]
    tensors: list[tuple[str, list[int], int]] = [("token_embd.weight", [h, vocab], 1), ("output_norm.weight", [h], 0),
                                                 ("output.weight", [h, vocab], 1)]
    if kind == "mamba":
        d_in, d_state = 2 * h, 16
        kv += [("mamba.ssm.inner_size", "u32", d_in), ("mamba.ssm.state_size", "u32", d_state),
               ("mamba.ssm.conv_kernel", "u32", 4), ("mamba.ssm.time_step_rank", "u32", 2)]
        for i in range(n):
            b = f"blk.{i}"
            tensors += [(f"{b}.attn_norm.weight", [h], 0), (f"{b}.ssm_in.weight", [h, 2 * d_in], 1),
                        (f"{b}.ssm_conv1d.weight", [4, d_in], 0), (f"{b}.ssm_x.weight", [d_in, 2 + 2 * d_state], 1),
                        (f"{b}.ssm_dt.weight", [2, d_in], 1), (f"{b}.ssm_a", [d_state, d_in], 0),
                        (f"{b}.ssm_d", [d_in], 0), (f"{b}.ssm_out.weight", [d_in, h], 1)]
        return kv, tensors
    heads, kv_heads, hd = 4, 2, 8
    kv += [(f"{kind}.attention.head_count", "u32", heads), (f"{kind}.attention.head_count_kv", "u32", kv_heads),
           (f"{kind}.feed_forward_length", "u32", ff), (f"{kind}.attention.key_length", "u32", hd),
           (f"{kind}.attention.value_length", "u32", hd)]
    if kind == "qwen3moe":
        kv += [("qwen3moe.expert_count", "u32", 4), ("qwen3moe.expert_used_count", "u32", 2),
               ("qwen3moe.expert_feed_forward_length", "u32", 16)]
    for i in range(n):
        b = f"blk.{i}"
        tensors += [(f"{b}.attn_norm.weight", [h], 0), (f"{b}.attn_q.weight", [h, heads * hd], 1),
                    (f"{b}.attn_k.weight", [h, kv_heads * hd], 1), (f"{b}.attn_v.weight", [h, kv_heads * hd], 1),
                    (f"{b}.attn_output.weight", [heads * hd, h], 1), (f"{b}.ffn_norm.weight", [h], 0)]
        if kind == "qwen3moe":
            tensors += [(f"{b}.ffn_gate_inp.weight", [h, 4], 0), (f"{b}.ffn_gate_exps.weight", [h, 16, 4], 1),
                        (f"{b}.ffn_up_exps.weight", [h, 16, 4], 1), (f"{b}.ffn_down_exps.weight", [16, h, 4], 1)]
        else:
            tensors += [(f"{b}.ffn_gate.weight", [h, ff], 1), (f"{b}.ffn_up.weight", [h, ff], 1),
                        (f"{b}.ffn_down.weight", [ff, h], 1)]
    return kv, tensors


def mutate_gguf(rng: random.Random) -> bytes:
    """GGUF bytes: a tiny valid file with 1–3 hostile edits to its metadata, tensor table or bytes."""
    kv, tensors = tiny_gguf(rng.choice(("llama", "llama", "qwen3moe", "mamba")))
    kv, tensors = list(kv), [list(t) for t in tensors]
    offsets = None
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        if op < 0.45:  # a metadata value of another type or size
            i = rng.randrange(len(kv))
            key = kv[i][0]
            vtype = rng.choice((*_SCALAR_TYPES, "str", "arr:u32", "arr:f32", "arr:str", "arr:i32"))
            if vtype == "str":
                value: Any = rng.choice(("", "llama", "x" * 100, "\udcff"))
            elif vtype.startswith("arr:"):
                sub = vtype[4:]
                value = [("a" if sub == "str" else rng.choice((0, 1, 2, 7, -1, 2**31, math.nan)))
                         for _ in range(rng.choice((0, 1, 2, 3)))]
                if sub != "f32":
                    value = [v if not isinstance(v, float) else 0 for v in value]
            elif vtype in ("f32", "f64"):
                value = rng.choice(_SPECIAL_FLOATS + (2.0, 32.0))
            else:
                value = rng.choice(_SPECIAL_INTS)
            kv[i] = (key, vtype, value)
        elif op < 0.55 and kv:
            kv.pop(rng.randrange(len(kv)))
        elif op < 0.65:
            arch = kv[0][2] if isinstance(kv[0][2], str) else "llama"
            kv.append((f"{arch}." + rng.choice(("expert_count", "ssm.inner_size", "attention.sliding_window",
                                                "attention.kv_lora_rank", "leading_dense_block_count",
                                                "nextn_predict_layers", "rope.dimension_count")),
                       rng.choice(("u32", "i32", "f32", "u64")), rng.choice(_SPECIAL_INTS)))
        elif op < 0.8 and tensors:  # a tensor's dims, type or name
            t = rng.choice(tensors)
            which = rng.random()
            if which < 0.5:
                t[1] = [rng.choice((0, 1, 3, 32, 2**40, 2**63, 2**64 - 1)) for _ in range(rng.randint(0, 9))] \
                    if rng.random() < 0.3 else [d if rng.random() < 0.7 else rng.choice((0, 1, 2**33)) for d in t[1]]
            elif which < 0.8:
                t[2] = rng.choice((0, 1, 8, 2, 3, 39, 40, 1000, 2**31))
            else:
                t[0] = rng.choice(("", "blk.999999.attn_q.weight", "blk.-1.ffn_up.weight", "x" * 5000,
                                   tensors[0][0], "blk.0.ffn_down_exps.weight"))
        elif op < 0.88:
            offsets = [rng.choice((0, 32, 2**40, 2**64 - 1)) for _ in tensors]
        else:
            tensors.pop(rng.randrange(len(tensors))) if tensors else None
    data = gguf_bytes(kv, [tuple(t) for t in tensors], offsets)
    r = rng.random()
    if r < 0.1:
        data = data[: rng.randrange(len(data) + 1)]
    elif r < 0.2:
        data = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(min(len(data), 4096))] = rng.randrange(256)
        data = bytes(data)
    return data


# --- safetensors headers ----------------------------------------------------------------------
_ST_DTYPES = ("F32", "F16", "BF16", "I8", "U8", "F8_E4M3", "F64", "I64", "BOOL", "F4", "F8_E8M0", "Q4", "bf16", "")


_ST_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "I8": 1, "U8": 1, "F8_E4M3": 1, "F64": 8, "I64": 8}


def mutate_safetensors_header(rng: random.Random) -> dict:
    """A safetensors header (name → {dtype, shape, data_offsets}, plus ``__metadata__``): valid entries
    laid out back to back, a few of them (and sometimes the metadata) hostile."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for i in range(rng.randint(0, 6)):
        shape: Any = [rng.choice((1, 2, 32, 4096)) for _ in range(rng.randint(0, 3))]
        dtype: Any = rng.choice(tuple(_ST_BYTES))
        end = offset + math.prod(shape) * _ST_BYTES[dtype]
        entry: dict[str, Any] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}
        offset = end
        if rng.random() < 0.12:
            field = rng.choice(("dtype", "shape", "data_offsets"))
            entry[field] = (hostile_value(rng) if rng.random() < 0.6 else
                            rng.choice(_ST_DTYPES) if field == "dtype" else
                            [rng.choice((-1, 0, 1.5, 2**63, True, "4")) for _ in range(rng.randint(0, 3))])
        if rng.random() < 0.03:
            del entry[rng.choice(list(entry))]
        name = f"model.layers.{i}.mlp.up_proj.weight"
        if rng.random() < 0.05:
            name = rng.choice(("x" * rng.randint(1, 2000), "", "\udcff", "__metadata__"))
        header[name] = entry
    if rng.random() < 0.05:
        header["__metadata__"] = hostile_value(rng)
    if rng.random() < 0.03:
        header["bad"] = hostile_value(rng)
    return header


# --- command lines ----------------------------------------------------------------------------
#: commands the fuzzer runs (``web`` serves forever, ``measure`` and ``trace`` run subprocesses / torch)
CLI_COMMANDS = ("models", "info", "estimate", "fit", "plan", "gpus", "schema", "export", "formats")
_MODELS = ("llama-3.1-8b", "qwen3-30b-a3b", "deepseek-v3", "7B", "56B-A14B", "0.5B", "5T", "mamba-2.8b",
           "gemma-3-1b", "Qwen/Qwen3-8B", "", "🦙", "x" * 300, "-1B", "1e9B", "/dev/zero", "org/name")


def _cli_options() -> dict[str, list[tuple[str, bool, tuple[str, ...]]]]:
    """Each command's options as (flag, takes a value, choices) — from the typer app itself."""
    import typer.main

    from vramscope.cli import app

    group = typer.main.get_command(app)
    out = {}
    for name in CLI_COMMANDS:
        cmd = group.commands[name]
        opts = []
        for p in cmd.params:
            if getattr(p, "param_type_name", "") != "option":
                continue
            choices = tuple(getattr(p.type, "choices", ()) or ())
            opts.append((p.opts[0], not p.is_flag, tuple(map(str, choices))))
        out[name] = opts
    return out


_CLI_VALUES = ("1", "0", "-1", "2", "8", "4096", "32k", "1e9", "99999999999999999999", "nan", "inf", "abc", "",
               "0.5", "1.5", "24GiB", "80GB", "H100-SXM-80GB", "RTX-4090", "bf16", "Q4_K_M", "lora", "qlora", "full",
               "grpo", "vllm", "hf", "llamacpp", "sglang", "adamw", "all-linear", "q_proj,v_proj", "deepspeed",
               "fsdp", "🦙", "\x00", "-5", "1000000", "2048")


class CliArgs:
    """Random argument lists for the CLI, from its own option table."""

    def __init__(self) -> None:
        self.options = _cli_options()

    def draw(self, rng: random.Random, paths: tuple[str, ...] = ()) -> list[str]:
        cmd = rng.choice(CLI_COMMANDS)
        argv = [cmd]
        if cmd == "export":
            argv.append(rng.choice(("vllm", "llamacpp", "deepspeed", "fsdp", "bogus")))
        if cmd in ("info", "estimate", "fit", "plan", "export"):
            argv.append(rng.choice(_MODELS + paths))
        elif cmd in ("models", "gpus") and rng.random() < 0.5:
            argv.append(rng.choice(("qwen", "h100", "", "zzz")))
        opts = self.options[cmd]
        for _ in range(rng.randint(0, 5)):
            if not opts:
                break
            flag, takes, choices = rng.choice(opts)
            argv.append(flag)
            if takes:
                argv.append(rng.choice(choices) if choices and rng.random() < 0.7 else rng.choice(_CLI_VALUES))
        if rng.random() < 0.03:
            argv.append(rng.choice(("--bogus", "-x", "--json", "--")))
        return argv


def run_cli(argv: list[str]) -> tuple[str, str]:
    """Run ``vramscope ARGV`` in-process: exit 0 → ok, 2 → refused (one ``error:`` line), else bug."""
    from vramscope.cli import main

    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code or 0
    text = err.getvalue().strip()
    if code == 0:
        return "ok", ""
    if code == 2 and text.startswith("error:") and "Traceback" not in text:
        return "refused", text.splitlines()[0][:300]
    return "bug", f"exit {code}: {text[:300]}"


# --- web page inputs --------------------------------------------------------------------------
_WEB_TEXT = ("", "0", "1", "-1", "8", "32k", "1e9", "nan", "inf", "abc", "4096", "1,024", "99999999999", "0.5",
             "1024x1024", "0x0", "24GiB", "H100-SXM-80GB", "llama-3.1-8b", "deepseek-v3", "7", "56", "14",
             "/dev/zero", "/etc/passwd", "../../etc/passwd", "🦙" * 100, "a\udcffb", "x" * 5000, "org/name")


_WEB_PLAUSIBLE = ("1", "2", "4", "8", "16", "512", "2048", "4096", "8192", "32k", "0.9", "0.5", "1024x768",
                  "RTX-4090-24GB", "H100-SXM-80GB", "A100-SXM-80GB", "24GiB", "7", "70", "q_proj,v_proj", "all-linear",
                  "Q4_K_M", "nf4", "fp8", "auto", "qwen3-8b", "mixtral-8x7b", "gemma-3-4b-it", "")


def web_values(rng: random.Random) -> dict[str, Any]:
    """Page inputs: a few fields set to one of their choices, a plausible value or hostile text."""
    from vramscope.web.state import FIELDS

    values: dict[str, Any] = {}
    for f in rng.sample(FIELDS, rng.randint(0, 8)):
        if f.is_bool:
            values[f.name] = rng.choice((True, False, "1", "yes", "🦙"))
        elif f.choices and rng.random() < 0.9:
            values[f.name] = rng.choice(tuple(f.choices))
        else:
            values[f.name] = rng.choice(_WEB_PLAUSIBLE if rng.random() < 0.6 else _WEB_TEXT)
    if "tab" not in values:
        values["tab"] = rng.choice(("infer", "train", "rl", "mm", "fit", "pai"))
    return values


class WebErrors(logging.Handler):
    """Counts what handlers log as an exception (an internal error shown on the page)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def run_web(values: dict[str, Any], errors: WebErrors, file: str | None = None) -> tuple[str, str]:
    """``handlers.compute`` must return a page; an internal-error box or a logged exception is a bug."""
    from vramscope.web import handlers

    before = len(errors.records)
    page = handlers.compute(values, file)
    if len(errors.records) > before:
        rec = errors.records[-1]
        return "bug", f"logged: {rec.getMessage()} {rec.exc_info[1]!r}" if rec.exc_info else rec.getMessage()
    if "internal-error" in page.html or "Internal error" in page.html or "Internal error" in page.model_html:
        return "bug", "internal error shown"
    return ("ok" if page.ok else "refused"), ""


# --- targets ----------------------------------------------------------------------------------
_WORKLOADS: tuple[dict[str, Any], ...] = (
    {"engine": "hf"}, {"engine": "vllm"}, {"engine": "llamacpp"}, {"engine": "sglang"},
    {"engine": "vllm", "gpu": "H100-SXM-80GB"}, {"engine": "sglang", "gpu": "RTX-4090"},
    {"engine": "llamacpp", "gpu": "RTX-4090", "context": 8192}, {"engine": "hf", "batch": 4, "context": 8192},
    {"method": "lora"}, {"method": "full"}, {"method": "qlora", "gpu": "RTX-4090"},
    {"rl": "grpo"},
)


def draw_workloads(rng: random.Random, n: int = 1) -> list[dict]:
    """``n`` workloads for :func:`estimate_all`, drawn before the input runs: a draw from hypothesis'
    random goes through its engine, which can take seconds late in a long run, and must not count
    against vramscope's time under the alarms."""
    return [rng.choice(_WORKLOADS) for _ in range(n)]


def estimate_all(spec: Any, workloads: list[dict]) -> str:
    """Estimates of ``spec`` on the drawn workloads (every estimate is invariant-checked: VRAMSCOPE_CHECK)."""
    import vramscope

    for kw in workloads:
        try:
            vramscope.estimate(spec, **kw)
        except Exception as exc:
            from vramscope.errors import InvariantError, VramscopeError

            if isinstance(exc, InvariantError) or not isinstance(exc, VramscopeError):
                raise
            # a workload the model cannot run (e.g. no KV heads to split) is a clean refusal, not the input's
    return ""


class Fuzzer:
    """One process's state for the targets: a scratch directory, the option table, the log probe."""

    TARGETS = ("config", "gguf", "safetensors", "cli", "web")

    def __init__(self, seed: int = 0, scratch: Path | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ["VRAMSCOPE_CHECK"] = "1"
        self.rng = random.Random(seed)
        self.scratch = scratch or Path(tempfile.mkdtemp(prefix="vramscope-fuzz-"))
        self.configs = catalog_configs()
        self._cli: CliArgs | None = None
        self.hangs = 0
        self.web_errors = WebErrors()
        logging.getLogger("vramscope.web").addHandler(self.web_errors)
        logging.getLogger("vramscope.web").propagate = False

    # each returns (outcome, detail)
    def config(self, data: bytes | None = None) -> tuple[str, str]:
        return self._model_file("config.json", data if data is not None
                                else mutate_config(self.rng.choice(self.configs), self.rng))

    def gguf(self, data: bytes | None = None) -> tuple[str, str]:
        return self._model_file("model.gguf", data if data is not None else mutate_gguf(self.rng))

    def _model_file(self, name: str, data: bytes) -> tuple[str, str]:
        """``data`` written to a file and read as ``vramscope info FILE`` reads it, then estimated."""
        path = self.scratch / name
        path.write_bytes(data)
        workloads = draw_workloads(self.rng)

        def go():
            from vramscope.sources import load_model

            return estimate_all(load_model(str(path)), workloads)

        result = classify(go)
        if result[0] == "hang":  # keep the input, so that the hang can be reproduced
            self.hangs += 1
            kept = self.scratch / f"hang-{self.hangs}-{name}"
            kept.write_bytes(data)
            result = "hang", f"{result[1]} ({kept}, workload {workloads[0]})"
        return result

    def safetensors(self, header: dict | None = None) -> tuple[str, str]:
        header = header if header is not None else mutate_safetensors_header(self.rng)

        def go():
            from vramscope.sources.hub import stored_from_header

            stored_from_header(header)
            return ""

        return classify(go)

    def cli(self, argv: list[str] | None = None) -> tuple[str, str]:
        if argv is None:
            if self._cli is None:
                self._cli = CliArgs()
            argv = self._cli.draw(self.rng, (str(self.scratch / "config.json"), str(self.scratch / "model.gguf")))
        return classify(lambda: run_cli(argv))

    def web(self, values: dict | None = None, file: str | None = None) -> tuple[str, str]:
        if values is None:
            values = web_values(self.rng)
            if self.rng.random() < 0.1:  # an upload: the last hostile config.json or GGUF the other targets wrote
                values["src"] = "file"
                file = str(self.scratch / self.rng.choice(("config.json", "model.gguf", "missing.json")))
        return classify(lambda: run_web(values, self.web_errors, file))

    def one(self, target: str) -> tuple[str, str]:
        return getattr(self, target)()


def peak_rss_mib() -> float:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
