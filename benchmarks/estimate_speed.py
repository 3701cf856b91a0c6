"""Print the warm time of one ``vramscope.estimate`` call (median of many), per kind of estimate.

Targets (issue 14): inference ≤ 1 ms (HF; vLLM with a GPU), training ≤ 1 ms (LoRA; full ZeRO-3 on
8 GPUs), DeepSeek-V3 on 8 GPUs ≤ 5 ms. "Warm": the model is loaded once before timing (the catalog
and hub caches are warm) and each call is made several times before the samples are taken; the
invariant checker is off (``VRAMSCOPE_CHECK`` unset), as for a user. The "runs on" list is computed
only when it is read, so it is timed on its own line (``+ runs_on``: the estimate and the list).

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/estimate_speed.py [--calls N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.pop("VRAMSCOPE_CHECK", None)

H100 = "H100-SXM-80GB"

#: (label, model, keyword arguments of vramscope.estimate, target in ms)
CASES: tuple[tuple[str, str, dict, float], ...] = (
    ("inference HF, Llama-3.1-8B, no GPU", "meta-llama/Llama-3.1-8B", {}, 1.0),
    ("inference HF, Llama-3.1-8B, ctx 8192 b4, H100", "meta-llama/Llama-3.1-8B",
     {"context": 8192, "batch": 4, "gpu": H100}, 1.0),
    ("inference vLLM, Llama-3.1-8B, H100", "meta-llama/Llama-3.1-8B", {"engine": "vllm", "gpu": H100}, 1.0),
    ("inference SGLang, Qwen3-8B, H100", "Qwen/Qwen3-8B", {"engine": "sglang", "gpu": H100}, 1.0),
    ("inference llama.cpp Q4_K_M, Llama-3.1-8B, RTX 4090", "meta-llama/Llama-3.1-8B",
     {"engine": "llamacpp", "weights": "Q4_K_M", "gpu": "RTX-4090"}, 1.0),
    ("training LoRA r16 b2 s2048, Llama-3.1-8B, H100", "meta-llama/Llama-3.1-8B",
     {"method": "lora", "lora_rank": 16, "batch": 2, "seq_len": 2048, "gpu": H100}, 1.0),
    ("training full ZeRO-3 x8, Llama-3.1-8B, H100", "meta-llama/Llama-3.1-8B",
     {"method": "full", "precision": "mixed", "zero": 3, "gpus": 8, "grad_ckpt": "full", "gpu": H100}, 1.0),
    ("DeepSeek-V3 vLLM TP 8, H100", "deepseek-ai/DeepSeek-V3", {"engine": "vllm", "gpus": 8, "gpu": H100}, 5.0),
    ("DeepSeek-V3 full ZeRO-3 x8, H100", "deepseek-ai/DeepSeek-V3",
     {"method": "full", "precision": "mixed", "zero": 3, "gpus": 8, "grad_ckpt": "full", "gpu": H100}, 5.0),
)


def warm_ms(call, calls: int) -> float:
    """Median wall time of ``call()`` in milliseconds over ``calls`` calls, after 5 unmeasured ones."""
    for _ in range(5):
        call()
    samples = []
    for _ in range(calls):
        t = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200, help="calls per case (median taken)")
    args = ap.parse_args(argv)
    import vramscope
    from vramscope.sources import load_model

    print(f"{'case':<56} {'ms/call':>8} {'target':>7}")
    slow = 0
    for label, model, kw, target in CASES:
        spec = load_model(model)
        ms = warm_ms(lambda spec=spec, kw=kw: vramscope.estimate(spec, **kw), args.calls)
        slow += ms > target
        print(f"{label:<56} {ms:8.3f} {target:6.1f}  {'ok' if ms <= target else 'SLOW'}")
    spec = load_model("meta-llama/Llama-3.1-8B")
    ms = warm_ms(lambda: vramscope.estimate(spec, engine="vllm", gpu=H100).runs_on.entries, max(5, args.calls // 20))
    print(f"{'  + runs_on (vLLM, the whole catalog, when asked)':<56} {ms:8.3f}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
