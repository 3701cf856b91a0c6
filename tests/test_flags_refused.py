"""Every flag that does not apply to the chosen mode is refused with one line naming the mode (exit 2),
or honoured — never silently ignored ("Nothing misread, nothing absurd")."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from test_cli_bad_input import _assert_one_line_error

LLAMA = "meta-llama/Llama-3.1-8B"


@pytest.mark.parametrize(("args", "fragments"), [
    # PAI quick mode: the seed's formulas take size, --active, --method, --optimizer, --batch, --precision, a GPU
    (["estimate", "7B", "--pai", "--method", "dora"], ["no row for --method dora", "full, lora, qlora-8bit, qlora"]),
    (["estimate", "7B", "--pai", "--method", "bogus"], ["no row for --method bogus"]),
    (["estimate", "7B", "--pai", "--seq-len", "4096"], ["--seq-len does not apply to --pai"]),
    (["estimate", "7B", "--pai", "--method", "lora", "--lora-rank", "8"], ["--lora-rank does not apply to --pai"]),
    (["estimate", "7B", "--pai", "--zero", "3", "--method", "full"], ["--zero does not apply to --pai"]),
    (["estimate", "7B", "--pai", "--weights", "int8"], ["--weights does not apply to --pai"]),
    (["estimate", "7B", "--pai", "--engine", "vllm"], ["--engine does not apply to --pai"]),
    (["estimate", "7B", "--pai", "--context", "8192"], ["--context does not apply to --pai"]),
    (["estimate", "7B", "--pai", "--check"], ["--check does not apply to --pai"]),
    (["estimate", "7B", "--pai", "--optimizer", "sgd"], ["--optimizer applies to the PAI fine-tuning rows"]),
    (["estimate", "7B", "--pai", "--precision", "bf16"], ["--precision does not apply to --pai"]),
    (["estimate", "7B", "--pai", "--method", "full", "--precision", "mixed"], ["--precision fp32 | bf16 | fp16"]),
    (["estimate", "7B", "--pai", "--gpus", "2"], ["--gpus with --pai needs the GPU"]),
    # inference: training's words, and options of another engine
    (["estimate", LLAMA, "--seq-len", "4096"], ["--seq-len is a training sequence length", "--context"]),
    (["estimate", LLAMA, "--micro-batch", "4"], ["--micro-batch is a training micro-batch", "--batch"]),
    (["estimate", LLAMA, "--gpu-memory-utilization", "0.5"], ["--gpu-memory-utilization (vllm only)", "engine 'hf'"]),
    (["estimate", LLAMA, "-ngl", "10"], ["-ngl (llamacpp/ollama only) does not apply to engine 'hf'"]),
    (["estimate", LLAMA, "--engine", "vllm", "--cache", "static"], ["--cache (hf only)", "engine 'vllm'"]),
    (["estimate", LLAMA, "--engine", "vllm", "--attn", "eager"], ["--attn (hf only)"]),
    (["estimate", LLAMA, "--engine", "vllm", "--mem-fraction-static", "0.8"], ["--mem-fraction-static (sglang only)"]),
    (["estimate", LLAMA, "--engine", "sglang", "--block-size", "32"], ["--block-size (vllm only)", "engine 'sglang'"]),
    (["estimate", LLAMA, "--engine", "sglang", "--max-num-batched-tokens", "4096"], ["(vllm only)"]),
    (["estimate", LLAMA, "--engine", "vllm", "--chunked-prefill-size", "4096"], ["--chunked-prefill-size (sglang only)",
                                                                                 "engine 'vllm'"]),
    (["estimate", LLAMA, "--max-running-requests", "8"], ["--max-running-requests (sglang only)", "engine 'hf'"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--page-size", "64"], ["--page-size (sglang only)"]),
    (["estimate", LLAMA, "--engine", "sglang", "--max-num-seqs", "8"], ["--max-num-seqs (vllm only)", "'sglang'"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--max-model-len", "4096"], ["--max-model-len (vllm/sglang only)"]),
    (["estimate", LLAMA, "--engine", "ollama", "--gpus", "2"], ["--gpus (hf/vllm/sglang/llamacpp only)", "'ollama'"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--tp", "2"], ["--tp (hf/vllm/sglang only)"]),
    # llama.cpp's split: options of it elsewhere, and splits that do not describe the GPUs there are
    (["estimate", LLAMA, "--engine", "vllm", "--tensor-split", "1,1"], ["--tensor-split (llamacpp only)", "'vllm'"]),
    (["estimate", LLAMA, "--engine", "ollama", "--split-mode", "row"], ["--split-mode (llamacpp only)"]),
    (["estimate", LLAMA, "--engine", "sglang", "--main-gpu", "1"], ["--main-gpu (llamacpp only)"]),
    (["estimate", LLAMA, "--kv-unified"], ["--kv-unified (llamacpp only)", "'hf'"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--gpus", "2", "--tensor-split", "1,1,1"],
     ["--tensor-split has 3 proportion(s) for 2 GPU(s)", "give one per GPU"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--tensor-split", "3,1"], ["2 proportion(s) for 1 GPU(s)", "--gpus 2"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--gpus", "2", "--tensor-split", "-1,2"],
     ["tensor_split proportions must be finite, >= 0 and not all 0", "-1,2"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--gpus", "2", "--tensor-split", "0,0"], ["not all 0", "got 0,0"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--gpus", "2", "--tensor-split", "a,b"],
     ["--tensor-split takes numbers separated by commas"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--gpus", "2", "--split-mode", "none", "--main-gpu", "2"],
     ["--main-gpu 2 is out of range for 2 GPU(s) (0–1)"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--gpus", "2", "--main-gpu", "1"],
     ["--main-gpu picks the one GPU of --split-mode none"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--gpus", "2", "--split-mode", "none", "--tensor-split", "1,1"],
     ["--tensor-split does not apply to --split-mode none"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "--split-mode", "diag"], ["split_mode: must be one of layer, row, none"]),
    (["estimate", LLAMA, "--engine", "llamacpp", "-np", "0"], ["n_parallel: must be a whole number >= 1 (got 0)"]),
    (["estimate", LLAMA, "--engine", "hf", "--no-kv-offload"], ["--no-kv-offload (llamacpp only)"]),
    (["estimate", LLAMA, "--active", "2B"], ["--active applies to a bare size"]),
    # training: options of another method / RL algorithm, and inference options
    (["estimate", LLAMA, "--method", "full", "--lora-rank", "8"], ["--lora-rank applies to --method lora|dora|qlora",
                                                                   "--method full"]),
    (["estimate", LLAMA, "--method", "lora", "--quant", "nf4"], ["--quant applies to --method qlora"]),
    (["estimate", LLAMA, "--method", "lora", "--galore-rank", "64"], ["--galore-rank applies to --method galore"]),
    (["estimate", LLAMA, "--method", "full", "--num-generations", "4"], ["--num-generations applies to --rl grpo"]),
    (["estimate", LLAMA, "--method", "lora", "--prompt-len", "512"], ["--prompt-len applies to --rl grpo|ppo"]),
    (["estimate", LLAMA, "--rl", "dpo", "--use-vllm"], ["--use-vllm applies to --rl grpo", "--rl dpo"]),
    (["estimate", LLAMA, "--rl", "grpo", "--precompute-ref-log-probs"], ["--precompute-ref-log-probs applies to --rl dpo"]),
    (["estimate", LLAMA, "--rl", "grpo", "--vllm-mode", "server"], ["--vllm-mode applies to --use-vllm"]),
    (["estimate", LLAMA, "--rl", "grpo", "--seq-len", "2048"], ["GRPO / PPO sequences are --prompt-len + --completion-len"]),
    (["estimate", LLAMA, "--method", "lora", "--batch", "2", "--micro-batch", "4"], ["same training setting"]),
    (["estimate", LLAMA, "--method", "lora", "--engine", "vllm"], ["--engine is an inference option"]),
    (["estimate", LLAMA, "--method", "lora", "--kv-dtype", "fp8"], ["--kv-dtype is an inference option"]),
    # fit and plan
    (["fit", LLAMA, "--gpu", "H100", "--seq-len", "4096"], ["--seq-len is a training sequence length",
                                                            "fit takes the inference context as --context"]),
    (["fit", LLAMA, "--gpu", "H100", "--gpu-memory-utilization", "0.8"], ["fit: --gpu-memory-utilization (vllm only)"]),
    (["plan", LLAMA, "--seq-len", "4096"], ["plan takes the inference context as --context"]),
    (["plan", LLAMA, "--gpu", "H100", "--gpu-memory", "100GiB"], ["--gpu (one GPU model) or --gpu-memory"]),
    (["plan", LLAMA, "--engine", "ollama", "--gpus", "2"], ["--gpus (hf/vllm/sglang/llamacpp only)"]),
    # export
    (["export", "vllm", LLAMA, "--engine", "hf"], ["--engine does not apply to export vllm"]),
    (["export", "vllm", LLAMA, "--json"], ["--json does not apply to export"]),
    (["export", "vllm", LLAMA, "-ngl", "10"], ["export vllm: -ngl (llamacpp/ollama only) does not apply to engine 'vllm'"]),
    (["export", "llamacpp", LLAMA, "--gpu-memory-utilization", "0.8"], ["(vllm only) does not apply to engine 'llamacpp'"]),
    (["export", "vllm", LLAMA, "--seq-len", "4096"], ["export vllm takes the inference context as --context"]),
    (["export", "deepspeed", LLAMA, "--method", "full", "--fsdp", "full"], ["--fsdp does not apply to export deepspeed"]),
    (["export", "fsdp", LLAMA, "--method", "full", "--zero", "2"], ["--zero does not apply to export fsdp"]),
    # trace and measure
    (["trace", LLAMA, "--inference", "--method", "lora"], ["--method does not apply to trace --inference"]),
    (["trace", LLAMA, "--prompt-len", "128"], ["--prompt-len does not apply to a training trace"]),
    (["trace", LLAMA, "--lora-rank", "8"], ["--lora-rank does not apply to a training trace (--method full)"]),
    (["measure", "--list", "--device", "cpu"], ["--device does not apply to --list"]),
    (["info", LLAMA, "--active", "2B"], ["--active applies to a bare size"]),
])
def test_refused(args, fragments, capsys):
    _assert_one_line_error(*run_cli(args, capsys), *fragments)


# --- honoured -------------------------------------------------------------------------------------------
def test_pai_honours_the_gpu_as_the_seed_judges_it(capsys):
    """Seed case 1: on an RTX 4090 full fine-tuning (86.8 GB) does not fit, LoRA (18.1) and QLoRA do; the
    seed's GPU advice keeps a 20 % margin."""
    code, out, _ = run_cli(["estimate", "7B", "--pai", "--method", "lora", "--gpu", "RTX-4090", "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    memory_gb = 24 * 2 ** 30 / 1e9  # 25.77 GB
    rows = {r["scenario"]: r for r in doc["rows"]}
    lora = 7 * 2 + 0.07 * 2 + 0.07 * 2 + 0.07 * 8 + 7 * 2 * 0.23  # weights, LoRA params/grads/Adam, activations
    assert rows["LoRA"]["total_gb"] == pytest.approx(lora)
    assert rows["LoRA"]["fits"] is True and rows["LoRA"]["headroom_gb"] == round(memory_gb - lora, 1)
    assert rows["full fine-tuning"]["fits"] is False
    for n, fits in ((4, False), (5, True)):  # full: 86.8 × 1.2 = 104.2 GB > 4 × 25.77 = 103.1, ≤ 5 × 25.77
        code, out, _ = run_cli(["estimate", "7B", "--pai", "--method", "lora", "--gpu", "RTX-4090", "--gpus", str(n),
                                "--json"], capsys)
        assert json.loads(out)["rows"][0]["fits"] is fits


def test_pai_precision_sets_the_seeds_precision_bytes(capsys):
    code, out, _ = run_cli(["estimate", "7B", "--pai", "--method", "full", "--precision", "fp32", "--json"], capsys)
    full = json.loads(out)["rows"][0]
    assert full["total_gb"] == pytest.approx(7 * 4 + 7 * 4 + 7 * 8 + 7 * 2 * 0.20)  # P·p + grads + Adam + activations


def _plan(capsys, *extra):
    code, out, err = run_cli(["plan", "meta-llama/Llama-3.1-70B", "--engine", "vllm", "--context", "8192", "--json",
                              *extra], capsys)
    assert code == 0, err
    return json.loads(out)


def test_plan_honours_gpu_gpus_and_gpu_memory(capsys):
    from vramscope import solve
    from vramscope.hardware import find_gpu
    from vramscope.sources import load_model
    from vramscope.workload import make_inference

    every = _plan(capsys)
    h100 = _plan(capsys, "--gpu", "H100-SXM-80GB")
    spec, wl = load_model("meta-llama/Llama-3.1-70B"), make_inference(engine="vllm", context=8192)
    p = solve.min_gpus(spec, wl, find_gpu("H100-SXM-80GB"))
    assert h100 == [p.to_dict()] and len(every) > 1
    eight = _plan(capsys, "--gpus", "8")
    assert eight and all(r["count"] == 8 and r["tp"] * r["pp"] == 8 for r in eight)
    assert eight != every
    big = _plan(capsys, "--gpu-memory", "100GiB")
    assert big and all(r["gpu_memory_bytes"] >= 100 * 2 ** 30 for r in big)
    assert big == [r for r in every if r["gpu_memory_bytes"] >= 100 * 2 ** 30]  # the same rows, the rest left out
    tp2 = _plan(capsys, "--gpu", "H100-SXM-80GB", "--tp", "2")
    # 65.7 GiB of weights per H100 at TP 2 leave ~3 GiB of KV each (vLLM 0.24 serve defaults): one 8192-token
    # sequence fits on two GPUs, so the plan restricted to TP 2 needs no pipeline stage
    assert [(r["tp"], r["pp"]) for r in tp2] == [(2, 1)]


def test_fit_reads_context_not_seq_len(capsys):
    code, out, _ = run_cli(["fit", LLAMA, "--gpu", "RTX-4090", "--context", "4096", "--json"], capsys)
    assert code == 0 and json.loads(out)["workload"]["context"] == 4096


def test_training_reads_seq_len_and_micro_batch(capsys):
    code, out, _ = run_cli(["estimate", LLAMA, "--method", "lora", "--seq-len", "1024", "--micro-batch", "2", "--json"],
                           capsys)
    wl = json.loads(out)["workload"]
    assert code == 0 and (wl["seq_len"], wl["batch"]) == (1024, 2)


def test_export_llamacpp_serves_the_batch_in_slots():
    import shlex

    from vramscope.export import export

    args = shlex.split(export("llamacpp", LLAMA, weights="Q4_K_M", batch=4, context=4096))
    assert args[args.index("-np") + 1] == "4" and args[args.index("-c") + 1] == str(4 * 4096)


@pytest.mark.parametrize(("args", "fragment"), [
    (["estimate", LLAMA, "--prompt-len", "100", "--context", "4096"], "not context and prompt_len"),
    (["estimate", LLAMA, "--image-size", "640x480"], "image_size applies to images"),
    (["estimate", LLAMA, "--fps", "2"], "fps applies to video"),
])
def test_inputs_that_another_input_overrides_are_refused(args, fragment, capsys):
    _assert_one_line_error(*run_cli(args, capsys), fragment)
