"""Print the warm time of the solvers (median of several calls): ``vramscope.fit`` for training and
inference, and the max-context table.

Targets (issue 16): one training ``fit`` (longest seq_len and largest micro-batch) ≤ 20 ms and one
training ``plan`` over the GPU catalog ≤ 500 ms warm on the 2-core development machine (a plan
estimates each GPU count × ladder step once: a training step's bytes do not depend on the GPU). The solver steps by secants on the per-GPU bytes, so it asks for a
handful of estimates; the count is printed beside the time. "Warm": each call is made once before the
samples are taken; the invariant checker is off, as for a user.

Run: ``PYTHONPATH=src .venv/bin/python benchmarks/solver_speed.py [--calls N]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.pop("VRAMSCOPE_CHECK", None)

#: (label, model, keyword arguments of vramscope.fit / fit_table, target in ms)
CASES: tuple[tuple[str, str, dict, float], ...] = (
    ("fit QLoRA r32 flash, Llama-3.1-8B, 24 GiB", "meta-llama/Llama-3.1-8B",
     {"method": "qlora", "lora_rank": 32, "grad_ckpt": "full", "attn": "flash", "gpu_memory": "24GiB"}, 20.0),
    ("fit LoRA, Llama-3.2-1B, RTX 4090", "meta-llama/Llama-3.2-1B",
     {"method": "lora", "gpu": "RTX-4090-24GB"}, 20.0),
    ("fit full ZeRO-3 x8, Llama-3.1-8B, H100", "meta-llama/Llama-3.1-8B",
     {"method": "full", "precision": "mixed", "zero": 3, "gpus": 8, "grad_ckpt": "full", "gpu": "H100-SXM-80GB"}, 20.0),
    ("fit LoRA eager attention, Llama-3.2-1B, 24 GiB", "meta-llama/Llama-3.2-1B",
     {"method": "lora", "attn": "eager", "gpu_memory": "24GiB"}, 20.0),
    ("fit GRPO LoRA, Qwen2.5-0.5B, 16 GiB", "Qwen/Qwen2.5-0.5B", {"rl": "grpo", "method": "lora", "gpu_memory": "16GiB"},
     20.0),
    ("fit inference HF, Llama-3.1-8B, RTX 4090", "meta-llama/Llama-3.1-8B", {"gpu": "RTX-4090-24GB"}, 20.0),
)
TABLE = ("meta-llama/Llama-3.1-8B", ["12GiB", "16GiB", "24GiB", "40GiB", "48GiB", "80GiB"],
         {"method": "qlora", "lora_rank": 32, "grad_ckpt": "full", "attn": "flash"})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=7)
    args = ap.parse_args(argv)

    from vramscope import solve_training
    from vramscope.api import fit, fit_table

    counted = [0]
    real = solve_training.estimate

    def counting(*a):
        counted[0] += 1
        return real(*a)

    solve_training.estimate = counting
    print(f"{'case':<52} {'ms (median)':>12} {'target':>8} {'estimates':>10}")
    slow = 0
    for label, model, kw, target in CASES:
        fit(model, **kw)
        samples = []
        for _ in range(args.calls):
            counted[0] = 0
            t = time.perf_counter()
            fit(model, **kw)
            samples.append((time.perf_counter() - t) * 1e3)
        ms = statistics.median(samples)
        slow += ms > target
        print(f"{label:<52} {ms:>12.1f} {target:>8.0f} {counted[0] if 'method' in kw or 'rl' in kw else '—':>10}")
    model, sizes, kw = TABLE
    fit_table(model, sizes, **kw)
    counted[0] = 0
    t = time.perf_counter()
    fit_table(model, sizes, **kw)
    print(f"{'max-context table, 6 sizes, Llama-3.1-8B QLoRA':<52} {(time.perf_counter() - t) * 1e3:>12.1f} "
          f"{'—':>8} {counted[0]:>10}")
    from vramscope.api import plan

    for label, model, kw in (("plan --method full, Llama-3.1-8B, catalog", "meta-llama/Llama-3.1-8B",
                              {"method": "full"}),
                             ("plan --method qlora, Llama-3.1-70B, catalog", "meta-llama/Llama-3.1-70B",
                              {"method": "qlora"})):
        plan(model, **kw)
        samples = []
        for _ in range(max(1, args.calls // 2)):
            counted[0] = 0
            t = time.perf_counter()
            plan(model, **kw)
            samples.append((time.perf_counter() - t) * 1e3)
        ms = statistics.median(samples)
        slow += ms > 500
        print(f"{label:<52} {ms:>12.1f} {500:>8.0f} {counted[0]:>10}")
    print(f"{slow} case(s) over target" if slow else "every case within its target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
