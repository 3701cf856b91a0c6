"""Print how long exact-mode traces take (wall clock) and how far extrapolation is from a full trace.

Targets: Llama-3.1-8B LoRA r16 (q,k,v,o), seq 2048, batch 4, under 20 s; a 70B-class training trace
under 20 s; extrapolated results within 0.5% of full traces. Each trace is timed in this process
after a warm-up trace (so torch/transformers/peft imports are not counted; the cold figure, a fresh
interpreter, is printed once for scale).

Run: ``.venv/bin/python benchmarks/trace_speed.py``
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

GiB = 1 << 30


def timed(fn, *args, **kw):
    t = time.perf_counter()
    res = fn(*args, **kw)
    return res, time.perf_counter() - t


def show(label: str, res, seconds: float) -> None:
    cats = ", ".join(f"{k} {v / GiB:.2f}" for k, v in res.categories.items() if v >= 1 << 20)
    how = f"extrapolated from {res.traced_layers}" if res.extrapolated else f"full ({res.num_layers} layers)"
    print(f"{label:<58} {seconds:6.2f} s  peak {res.peak_bytes / GiB:8.2f} GiB in {res.phase:<9} [{how}]")
    print(f"{'':<58}           {cats} (GiB)")


def compare(label: str, fn, model, **kw) -> None:
    full, tf = timed(fn, model, extrapolate=False, **kw)
    ex, te = timed(fn, model, **kw)
    worst = max(abs(ex.categories[c] - full.categories[c]) for c in full.categories) / full.peak_bytes
    print(f"{label:<58} full {tf:6.2f} s  extrapolated {te:6.2f} s  peak {full.peak_bytes / GiB:.3f} vs "
          f"{ex.peak_bytes / GiB:.3f} GiB  diff {100 * (ex.peak_bytes / full.peak_bytes - 1):+.4f}%  "
          f"worst category {100 * worst:.4f}% of peak")


def main() -> None:
    from vramscope.exact.trace import trace_inference, trace_training

    cold = subprocess.run(
        [sys.executable, "-c", "import time; t=time.perf_counter(); from vramscope.exact import trace_training as f; "
         "f('meta-llama/Llama-3.1-8B', method='lora', lora_rank=16, lora_targets=('q_proj','k_proj','v_proj','o_proj'),"
         " seq_len=2048, batch=4); print(time.perf_counter()-t)"], capture_output=True, text=True, check=True)
    trace_training("Qwen/Qwen2.5-0.5B", batch=1, seq_len=64)  # warm-up: imports, transformers' lazy modules

    print(f"cold (fresh interpreter, imports included): Llama-3.1-8B LoRA r16 qkvo s2048 b4  {float(cold.stdout):.2f} s\n")
    qkvo = ("q_proj", "k_proj", "v_proj", "o_proj")
    show("Llama-3.1-8B LoRA r16 q,k,v,o s2048 b4 (bf16)",
         *timed(trace_training, "meta-llama/Llama-3.1-8B", method="lora", lora_rank=16, lora_targets=qkvo,
                seq_len=2048, batch=4))
    show("Llama-3.1-8B LoRA r16 q,k,v,o s2048 b4, grad ckpt",
         *timed(trace_training, "meta-llama/Llama-3.1-8B", method="lora", lora_rank=16, lora_targets=qkvo,
                seq_len=2048, batch=4, grad_ckpt=True))
    show("Llama-3.1-70B full bf16 AdamW s2048 b1, grad ckpt",
         *timed(trace_training, "meta-llama/Llama-3.1-70B", seq_len=2048, batch=1, grad_ckpt=True))
    show("Qwen2.5-72B-Instruct LoRA r16 all-linear s4096 b1",
         *timed(trace_training, "Qwen/Qwen2.5-72B-Instruct", method="lora", lora_targets="all-linear", seq_len=4096))
    show("Llama-3.1-70B inference b8 prompt 4096 + 64 decode steps",
         *timed(trace_inference, "meta-llama/Llama-3.1-70B", batch=8, prompt_len=4096, gen_len=64))
    show("Qwen2.5-0.5B full bf16 AdamW s1024 b8", *timed(trace_training, "Qwen/Qwen2.5-0.5B", seq_len=1024, batch=8))
    show("Qwen2.5-0.5B full mixed AdamW s1024 b8",
         *timed(trace_training, "Qwen/Qwen2.5-0.5B", precision="mixed", seq_len=1024, batch=8))
    print()
    compare("Qwen2.5-0.5B full bf16 s1024 b8 (24 layers)", trace_training, "Qwen/Qwen2.5-0.5B", seq_len=1024, batch=8)
    compare("Qwen2.5-0.5B mixed s1024 b8, grad ckpt", trace_training, "Qwen/Qwen2.5-0.5B", precision="mixed",
            seq_len=1024, batch=8, grad_ckpt=True)
    compare("Llama-3.2-1B LoRA r16 q,k,v,o s2048 b4 (16 layers)", trace_training, "meta-llama/Llama-3.2-1B",
            method="lora", lora_targets=qkvo, seq_len=2048, batch=4)
    compare("gemma-3-1b-it full bf16 s1024 b4 (22 sliding + 4 full)", trace_training, "google/gemma-3-1b-it",
            seq_len=1024, batch=4)
    compare("Qwen1.5-MoE-A2.7B LoRA r16 s1024 b2 (24 MoE layers)", trace_training, "Qwen/Qwen1.5-MoE-A2.7B",
            method="lora", seq_len=1024, batch=2)
    compare("Qwen2.5-0.5B inference b8 prompt 1024 + 32 decode", trace_inference, "Qwen/Qwen2.5-0.5B", batch=8,
            prompt_len=1024, gen_len=32)


if __name__ == "__main__":
    main()
