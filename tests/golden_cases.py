"""The cases of the golden test (``tests/test_golden.py``, written by ``tests/golden/make_golden.py``).

An API case is an ``estimate`` / ``fit`` / ``plan`` call over the built-in catalog (every model,
inference on each engine, LoRA / QLoRA / full training, GRPO, multimodal, tensor parallel); its
record is every number of the result, flattened to ``path -> value``. A CLI case is a command; its
record is the sequence of numbers it printed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

Call = Callable[[], Any]

H100 = "H100-SXM-80GB"


def _models() -> list[str]:
    """The 65 catalog models of 2026-12-07 before the refactor (``golden/models.txt``): models added since
    are pinned by their own family tests, and a record per new model would only grow the file."""
    from pathlib import Path

    return (Path(__file__).resolve().parent / "golden" / "models.txt").read_text().split()


def api_cases() -> Iterator[tuple[str, Call]]:
    import vramscope as v

    for m in _models():
        yield f"{m} | hf", lambda m=m: v.estimate(m)
        yield f"{m} | hf ctx8192 b4 H100", lambda m=m: v.estimate(m, context=8192, batch=4, gpu=H100)
        yield f"{m} | vllm H100", lambda m=m: v.estimate(m, engine="vllm", gpu=H100)
        yield f"{m} | vllm tp4 H100 len32768", lambda m=m: v.estimate(m, engine="vllm", gpus=4, gpu=H100,
                                                                       max_model_len=32768)
        yield f"{m} | sglang H100", lambda m=m: v.estimate(m, engine="sglang", gpu=H100)
        yield f"{m} | llamacpp Q4_K_M ctx8192 4090", lambda m=m: v.estimate(
            m, engine="llamacpp", weights="Q4_K_M", context=8192, gpu="RTX-4090")
        yield f"{m} | lora r16 b2 s2048", lambda m=m: v.estimate(m, method="lora", lora_rank=16, batch=2,
                                                                  seq_len=2048, gpu=H100)
        yield f"{m} | qlora ckpt b4 s1024", lambda m=m: v.estimate(m, method="qlora", batch=4, seq_len=1024,
                                                                    grad_ckpt="full", gpu="RTX-4090")
        yield f"{m} | full mixed zero3 x8", lambda m=m: v.estimate(m, method="full", precision="mixed", zero=3,
                                                                    gpus=8, gpu=H100, grad_ckpt="full")
        yield f"{m} | grpo g8 c1024 vllm", lambda m=m: v.estimate(m, rl="grpo", num_generations=8,
                                                                   completion_len=1024, use_vllm=True, gpu=H100)
        yield f"{m} | fit hf 24GiB", lambda m=m: v.fit(m, gpu_memory="24GiB", context=8192)
        yield f"{m} | fit vllm H100", lambda m=m: v.fit(m, engine="vllm", gpu=H100)
    for m in ("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-30B-A3B", "deepseek-ai/DeepSeek-V3", "meta-llama/Llama-3.1-70B"):
        yield f"{m} | plan vllm ctx8192", lambda m=m: v.plan(m, engine="vllm", context=8192)
        yield f"{m} | plan hf", lambda m=m: v.plan(m)
    for size, active in (("7B", None), ("56B", "14B"), ("0.5B", None)):
        yield f"{size}/{active} | bare hf", lambda s=size, a=active: v.estimate(s, active=a)
        yield f"{size}/{active} | bare lora", lambda s=size, a=active: v.estimate(s, active=a, method="lora")
    vlm = [m for m in _models() if _is_multimodal(m)]
    for m in vlm:
        yield f"{m} | images 2", lambda m=m: v.estimate(m, images=2, gpu=H100)
    yield "dpo qwen3-8b", lambda: v.estimate("qwen3-8b", rl="dpo", gpu=H100)
    yield "ppo qwen3-8b", lambda: v.estimate("qwen3-8b", rl="ppo", gpu=H100)
    yield "zero2 offload llama8b", lambda: v.estimate("llama-3.1-8b", method="full", zero=2, offload="optimizer",
                                                      gpus=4, gpu=H100)
    yield "fsdp lora llama70b", lambda: v.estimate("llama-3.1-70b", method="lora", fsdp=True, gpus=8, gpu=H100,
                                                   grad_ckpt="full")
    yield "llamacpp ngl20", lambda: v.estimate("llama-3.1-8b", engine="llamacpp", weights="Q4_K_M", context=16384,
                                               n_gpu_layers=20, gpu="RTX-4060-Ti-16GB")


def _is_multimodal(model: str) -> bool:
    from vramscope.sources import load_model

    return bool(load_model(model).encoders)


def flatten(value: Any, path: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every number, bool and name of a result as ``path -> value`` (formulas and prose left out)."""
    out = {} if out is None else out
    if isinstance(value, dict):
        if path == "gpu" and "id" in value:  # the catalog GPU's facts: its id says which
            out[path] = value["id"]
            return out
        for k, v in value.items():
            if k in ("formula", "note", "notes", "assumptions", "source", "sources", "explain", "text"):
                continue
            flatten(v, f"{path}.{k}" if path else str(k), out)
    elif isinstance(value, (list, tuple)):
        if value and all(isinstance(x, dict) and all(isinstance(y, (int, float, str, bool)) or y is None
                                                      for y in x.values()) for x in value) and not all(
                "name" in x for x in value):
            out[path] = " ".join(":".join(str(x[k]) for k in sorted(x)) for x in value)  # fits_on: values by key
        elif value and all(isinstance(x, dict) and "name" in x for x in value):
            for x in value:
                flatten(x, f"{path}[{x['name']}]", out)
        else:
            for i, x in enumerate(value):
                flatten(x, f"{path}[{i}]", out)
    elif isinstance(value, float):
        out[path] = round(value, 9)
    elif value is None or isinstance(value, (int, bool)) or isinstance(value, str) and len(value) <= 80:
        out[path] = value
    return out


def run_api(call: Call) -> dict[str, Any]:
    from vramscope.errors import VramscopeError

    try:
        result = call()
    except VramscopeError as exc:
        return {"error": type(exc).__name__}
    if isinstance(result, list):
        return flatten({"plan": result})
    return flatten(result.to_dict())


README_COMMANDS = (
    "models qwen3 --json",
    "info meta-llama/Llama-3.1-8B -w bf16 -w nf4-dq -w Q4_K_M",
    "info 56B --active 14B",
    "estimate meta-llama/Llama-3.1-8B --engine vllm --gpu H100-SXM-80GB",
    "estimate qwen3-30b-a3b --engine vllm --gpus 2 --gpu L40S --max-model-len 32768 --batch 16",
    "estimate llama-3.1-8b --engine llamacpp --weights Q4_K_M --context 16384 -ngl 20 --gpu RTX-4060-Ti-16GB",
    "estimate deepseek-v3 --engine hf --context 4096 --json",
    "fit llama-3.1-8b --engine hf --gpu-memory 24GiB --context 8192",
    "plan meta-llama/Llama-3.1-70B --engine vllm --context 8192",
    "gpus h100",
    "estimate meta-llama/Llama-3.1-8B --method lora --lora-rank 16 --lora-targets all-linear --batch 4 --seq-len 2048",
    "estimate meta-llama/Llama-3.1-8B --method qlora --batch 8 --seq-len 1024 --grad-ckpt full --gpu RTX-4090",
    "estimate mistralai/Mistral-7B-v0.1 --method full --precision mixed --zero 3 --gpus 8 --optimizer adamw",
    "estimate qwen3-8b --rl grpo --num-generations 8 --completion-len 1024 --use-vllm --gpu H100-SXM-80GB",
    "export deepspeed meta-llama/Llama-3.1-8B --gpus 8 --gpu A100-SXM-80GB --precision mixed --grad-ckpt full",
    "export fsdp qwen3-8b --gpus 16 --method lora --grad-ckpt full",
    "estimate 7B --pai",
    "estimate 56B --active 14B --pai --method lora --batch 3",
    "estimate qwen3-8b --engine sglang --gpu RTX-4090",
    "estimate qwen3-8b --engine vllm --gpu H100-SXM-80GB --json",
    "estimate qwen3-8b --method lora --gpu H100-SXM-80GB --json",
    "fit qwen3-8b --engine vllm --gpu H100-SXM-80GB",
    "fit llama-3.1-8b --engine llamacpp --weights Q4_K_M --gpu RTX-4060-Ti-16GB",
)


def cli_cases() -> list[list[str]]:
    import shlex

    return [shlex.split(c) for c in README_COMMANDS]


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def numbers_of_cli(args: list[str]) -> dict[str, Any]:
    """The exit status and every number the command printed, in order."""
    from vramscope.cli import main

    os.environ["COLUMNS"] = "240"
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code or 0
    return {"exit": code, "numbers": _NUMBER.findall(out.getvalue())}


WEB_CASES: tuple[tuple[str, dict[str, str]], ...] = tuple(
    [(f"{tab} {lang}", {"tab": tab, "lang": lang}) for tab in ("infer", "train", "rl", "mm", "fit", "pai")
     for lang in ("en", "zh")]
    + [(f"infer {engine}", {"tab": "infer", "engine": engine}) for engine in ("vllm", "llamacpp", "sglang")]
    + [("train qlora", {"tab": "train", "t_method": "qlora"}), ("train full", {"tab": "train", "t_method": "full"}),
       ("infer deepseek-v3", {"tab": "infer", "model": "deepseek-ai/DeepSeek-V3"}),
       ("mm qwen2.5-vl", {"tab": "mm", "model": "Qwen/Qwen2.5-VL-7B-Instruct"})]
)


def web_cases() -> tuple[tuple[str, dict[str, str]], ...]:
    return WEB_CASES


def numbers_of_web(changes: dict[str, str]) -> dict[str, Any]:
    """Every number the page's model block, result and code show for these inputs, in order."""
    from vramscope.web import handlers
    from vramscope.web.state import DEFAULTS

    page = handlers.compute({**DEFAULTS, **changes})
    text = re.sub(r"<[^>]*>", " ", page.model_html + page.html)  # numbers of the visible text
    return {"ok": page.ok, "bytes": re.findall(r'data-bytes="(\d+)"', page.html),
            "numbers": _NUMBER.findall(text), "code": _NUMBER.findall(page.code)}
