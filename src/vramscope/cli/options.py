"""The command line's options and the checks that refuse, in the flags' own words, what does not apply.

The shared inference and training options are added to a command by :func:`inference_cmd` /
:func:`training_cmd` (names as the engines, HF, PEFT, TRL and DeepSpeed spell them); the refusals
ask the API which options an engine, method or RL algorithm reads and name the flags the user typed.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..errors import VramscopeError

Opt = typer.Option

ModelArg = Annotated[
    str,
    typer.Argument(
        help="A catalog name or HF id (meta-llama/Llama-3.1-8B), a config.json or model directory, "
        "a .gguf file, or a size like 7B or 56B-A14B."
    ),
]


def workload_options(
    engine, weights, kv_dtype, batch, micro_batch, prompt_len, gen_len, context, seq_len, tp, pp, ep, util, max_model_len, max_num_seqs,
    max_num_batched_tokens, block_size, ngl, n_parallel, n_ubatch, no_flash_attn, no_kv_offload, cache, attn,
    mem_fraction_static, images, image_size, video_seconds, fps, audio_seconds,
    vllm_version=None, vllm_entrypoint=None, vllm_sampler=None, kv_cache_memory=None, cpu_offload_gb=None,
    enforce_eager=False, chunked_prefill_size=None, max_running_requests=None, page_size=None,
    tensor_split=None, split_mode=None, main_gpu=None, kv_unified=False,
) -> dict[str, Any]:
    size = None
    if image_size:
        try:
            w, h = (int(x) for x in image_size.lower().split("x"))
        except ValueError:
            raise VramscopeError(f"--image-size must look like 1280x720, got {image_size!r}") from None
        size = (w, h)
    return {
        "engine": engine, "weights": weights, "kv_dtype": kv_dtype, "batch": batch, "micro_batch": micro_batch,
        "prompt_len": prompt_len, "gen_len": gen_len, "context": context, "seq_len": seq_len, "tp": tp, "pp": pp, "ep": ep, "gpu_memory_utilization": util,
        "max_model_len": max_model_len, "max_num_seqs": max_num_seqs, "max_num_batched_tokens": max_num_batched_tokens,
        "block_size": block_size, "n_gpu_layers": ngl, "n_parallel": n_parallel, "n_ubatch": n_ubatch,
        "flash_attn": None if not no_flash_attn else False, "kv_offload": None if not no_kv_offload else False,
        "cache": cache, "attn_impl": attn, "mem_fraction_static": mem_fraction_static, "images": images,
        "image_size": size, "video_seconds": video_seconds, "fps": fps, "audio_seconds": audio_seconds,
        "vllm_version": vllm_version, "vllm_entrypoint": vllm_entrypoint, "vllm_sampler": vllm_sampler,
        "kv_cache_memory": _kv_cache_bytes(kv_cache_memory), "cpu_offload_gb": cpu_offload_gb,
        "enforce_eager": True if enforce_eager else None, "chunked_prefill_size": chunked_prefill_size,
        "max_running_requests": max_running_requests, "page_size": page_size,
        "tensor_split": _proportions(tensor_split), "split_mode": split_mode, "main_gpu": main_gpu,
        "kv_unified": True if kv_unified else None,
    }


def _proportions(text: str | None) -> tuple[float, ...] | None:
    """``--tensor-split 3,1`` (llama.cpp's spelling: proportions separated by commas or slashes)."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).replace("/", ",").split(",")]
    try:
        return tuple(float(p) for p in parts)
    except ValueError:
        raise VramscopeError(f"--tensor-split takes numbers separated by commas, e.g. 3,1; got {text!r}") from None


def _kv_cache_bytes(text: str | None) -> int | None:
    """``--kv-cache-memory``: bytes as vLLM's ``--kv-cache-memory-bytes`` takes them, or a size with a unit (8GiB)."""
    if text is None:
        return None
    from ..units import parse_bytes

    return int(text) if str(text).strip().isdigit() else parse_bytes(text)


def inference_cmd(fn):
    """Decorate a command with the shared inference options (names as the engines spell them)."""
    import functools
    import inspect

    extra = [
        ("engine", Annotated[str | None, Opt("--engine", help="hf (default) | vllm | llamacpp | sglang | ollama")], None),
        ("weights", Annotated[str | None, Opt("--weights", "-w", help="bf16, fp8, int8, nf4-dq, awq, gptq-int4, Q4_K_M … (default: as stored)")], None),
        ("kv_dtype", Annotated[str | None, Opt("--kv-dtype", "--kv-cache-dtype", help="auto, fp8, q8_0, q4_0 …")], None),
        ("batch", Annotated[int | None, Opt("--batch", "--concurrency", help="concurrent sequences (training: the micro-batch)")], None),
        ("micro_batch", Annotated[int | None, Opt("--micro-batch", help="training: micro-batch per GPU (= --batch)")], None),
        ("prompt_len", Annotated[int | None, Opt("--prompt-len")], None),
        ("gen_len", Annotated[int | None, Opt("--gen-len")], None),
        ("context", Annotated[int | None, Opt("--context", help="tokens per sequence (prompt + generated)")], None),
        ("seq_len", Annotated[int | None, Opt("--seq-len", help="training: tokens per sequence")], None),
        ("tp", Annotated[int | None, Opt("--tp", "--tensor-parallel-size")], None),
        ("pp", Annotated[int | None, Opt("--pp", "--pipeline-parallel-size")], None),
        ("ep", Annotated[int | None, Opt("--ep")], None),
        ("util", Annotated[float | None, Opt("--gpu-memory-utilization")], None),
        ("max_model_len", Annotated[int | None, Opt("--max-model-len")], None),
        ("max_num_seqs", Annotated[int | None, Opt("--max-num-seqs")], None),
        ("max_num_batched_tokens", Annotated[int | None, Opt("--max-num-batched-tokens")], None),
        ("block_size", Annotated[int | None, Opt("--block-size")], None),
        ("ngl", Annotated[int | None, Opt("-ngl", "--n-gpu-layers")], None),
        ("n_parallel", Annotated[int | None, Opt("-np", "--parallel")], None),
        ("n_ubatch", Annotated[int | None, Opt("-ub", "--ubatch-size")], None),
        ("no_flash_attn", Annotated[bool, Opt("--no-flash-attn", help="llama.cpp without flash attention")], False),
        ("no_kv_offload", Annotated[bool, Opt("--no-kv-offload", help="llama.cpp: keep the KV cache on the host")], False),
        ("kv_unified", Annotated[bool, Opt("--kv-unified", "-kvu", help="llama.cpp: one KV buffer shared by the -np slots (default: n_ctx / slots each)")], False),
        ("tensor_split", Annotated[str | None, Opt("--tensor-split", "-ts", help="llama.cpp: proportions per GPU, e.g. 3,1 (default: even)")], None),
        ("split_mode", Annotated[str | None, Opt("--split-mode", "-sm", help="llama.cpp over --gpus N: layer (default) | row | none")], None),
        ("main_gpu", Annotated[int | None, Opt("--main-gpu", "-mg", help="llama.cpp: the GPU of --split-mode none")], None),
        ("cache", Annotated[str | None, Opt("--cache", help="HF: dynamic | static")], None),
        ("attn", Annotated[str | None, Opt("--attn", help="eager | sdpa | flash")], None),
        ("mem_fraction_static", Annotated[float | None, Opt("--mem-fraction-static", help="SGLang: share of free memory for weights + KV pool, in (0, 1] (default: its per-GPU rule)")], None),
        ("chunked_prefill_size", Annotated[int | None, Opt("--chunked-prefill-size", help="SGLang: tokens per prefill chunk (default: by GPU memory)")], None),
        ("max_running_requests", Annotated[int | None, Opt("--max-running-requests", help="SGLang: request slots (default: from the token pool)")], None),
        ("page_size", Annotated[int | None, Opt("--page-size", help="SGLang: tokens per KV page (default 1)")], None),
        ("vllm_version", Annotated[str | None, Opt("--vllm-version", help="vLLM release the estimate follows, e.g. 0.10.1.1 (default: a recent one)")], None),
        ("vllm_entrypoint", Annotated[str | None, Opt("--vllm-entrypoint", help="vLLM: serve (default) | llm (the LLM class: larger batch defaults)")], None),
        ("vllm_sampler", Annotated[str | None, Opt("--vllm-sampler", help="vLLM sampler warm-up: auto | flashinfer | pytorch")], None),
        ("kv_cache_memory", Annotated[str | None, Opt("--kv-cache-memory", "--kv-cache-memory-bytes", help="vLLM: KV pool per GPU in bytes (or 8GiB); no profiling")], None),
        ("cpu_offload_gb", Annotated[float | None, Opt("--cpu-offload-gb", help="vLLM: GiB of weights per GPU kept on the host")], None),
        ("enforce_eager", Annotated[bool, Opt("--enforce-eager", help="vLLM / SGLang: no CUDA graphs (vLLM: no torch.compile)")], False),
        ("images", Annotated[int | None, Opt("--images")], None),
        ("image_size", Annotated[str | None, Opt("--image-size", help="WxH, e.g. 1280x720")], None),
        ("video_seconds", Annotated[float | None, Opt("--video-seconds")], None),
        ("fps", Annotated[float | None, Opt("--fps")], None),
        ("audio_seconds", Annotated[float | None, Opt("--audio-seconds")], None),
        ("gpu", Annotated[str | None, Opt("--gpu", help="catalog GPU, e.g. H100-SXM-80GB, RTX-4090")], None),
        ("gpus", Annotated[int | None, Opt("--gpus", help="number of GPUs (tensor parallel; llama.cpp: the GPUs its layers are split over)")], None),
        ("gpu_memory", Annotated[str | None, Opt("--gpu-memory", help="memory of a GPU not in the catalog, e.g. 24GiB")], None),
        ("active", Annotated[str | None, Opt("--active", help="active parameters for a bare MoE size, e.g. 14B")], None),
        ("as_json", Annotated[bool, Opt("--json", help="print one JSON document")], False),
    ]
    sig = inspect.signature(fn, eval_str=True)  # the commands module postpones annotations: read its Opt()s
    reserved = {"workload", "gpu", "gpus", "gpu_memory", "active", "as_json"}
    params = [p for p in sig.parameters.values() if p.name not in reserved]
    names = [name for name, _, _ in extra]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
               for name, ann, default in extra]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        opts = {k: kwargs.pop(k) for k in names}
        common = {k: opts.pop(k) for k in ("gpu", "gpus", "gpu_memory", "active", "as_json")}
        wl = workload_options(**opts)
        return fn(*args, **kwargs, workload={k: v for k, v in wl.items() if v is not None}, **common)

    wrapper.__signature__ = sig.replace(parameters=params)
    return wrapper


TRAINING_OPTIONS = [
    ("recipe", Annotated[str | None, Opt("--recipe", help="a framework's defaults for the options not given: hf-trainer | trl | "
                                          "torchtune | unsloth | axolotl | llamafactory")], None),
    ("precision", Annotated[str | None, Opt("--precision", help="training: fp32 | bf16 (pure) | fp16 | mixed (fp32 master) | mixed-fp16 | fp8")], None),
    ("optimizer_impl", Annotated[str | None, Opt("--optimizer-impl", help="fused (HF default) | foreach | forloop")], None),
    ("grad_accum", Annotated[int | None, Opt("--grad-accum", "--gradient-accumulation-steps")], None),
    ("grad_ckpt", Annotated[str | None, Opt("--grad-ckpt", "--gradient-checkpointing", help="none | full | selective | offload")], None),
    ("loss", Annotated[str | None, Opt("--loss", help="hf (fp32 logits) | chunked | fused (Liger / Cut-Cross-Entropy)")], None),
    ("padding", Annotated[bool | None, Opt("--padding/--packing", help="padded batches with a mask, or packed (default)")], None),
    ("lora_rank", Annotated[int | None, Opt("--lora-rank", "-r", help="LoRA rank r (default 16)")], None),
    ("lora_targets", Annotated[str | None, Opt("--lora-targets", "--target-modules", help="q_proj,v_proj | all-linear (not the head, as PEFT) | all-linear,lm_head | …,embed_tokens (default: PEFT's)")], None),
    ("lora_dtype", Annotated[str | None, Opt("--lora-dtype", help="fp32 (PEFT default) | bf16")], None),
    ("lora_dropout", Annotated[float | None, Opt("--lora-dropout")], None),
    ("quant", Annotated[str | None, Opt("--quant", help="QLoRA base: nf4 | fp4 | int8")], None),
    ("double_quant", Annotated[bool | None, Opt("--double-quant/--no-double-quant", help="QLoRA with / without double "
                                                "quantisation (default with)")], None),
    ("kbit_prepare", Annotated[bool | None, Opt("--kbit-prepare/--no-kbit-prepare", help="QLoRA with / without peft's "
                                                "prepare_model_for_kbit_training (without: non-quantised params stay "
                                                "bf16, as Unsloth keeps them; default with)")], None),
    ("trainable_layers", Annotated[int | None, Opt("--trainable-layers", help="freeze: the last N layers train")], None),
    ("num_virtual_tokens", Annotated[int | None, Opt("--num-virtual-tokens")], None),
    ("galore_rank", Annotated[int | None, Opt("--galore-rank")], None),
    ("dp", Annotated[int | None, Opt("--dp", help="data-parallel size (default: gpus / (tp·pp·cp))")], None),
    ("cp", Annotated[int | None, Opt("--cp", help="context-parallel size")], None),
    ("zero", Annotated[int | None, Opt("--zero", help="DeepSpeed ZeRO stage 0-3")], None),
    ("zero_config", Annotated[str | None, Opt("--zero-config", help="DeepSpeed bucket sizes: hf-auto (a config file "
                                              "with 'auto', HF fills h²-based sizes) | defaults (accelerate config "
                                              "without a DeepSpeed file: DeepSpeed's defaults)")], None),
    ("fsdp", Annotated[str | None, Opt("--fsdp", help="none | full | grad-op | hybrid")], None),
    ("offload", Annotated[str | None, Opt("--offload", help="none | optimizer | params")], None),
    ("compile", Annotated[bool, Opt("--compile", help="torch.compile: pointwise outputs recomputed in backward, "
                                    "fewer saved activations (torchtune compile=True, HF torch_compile)")], False),
    ("optimizer_in_backward", Annotated[bool | None, Opt("--optimizer-in-backward/--no-optimizer-in-backward")], None),
    ("rl", Annotated[str | None, Opt("--rl", help="grpo | dpo | ppo")], None),
    ("num_generations", Annotated[int | None, Opt("--num-generations", "-k", help="GRPO group size (TRL default 8)")], None),
    ("completion_len", Annotated[int | None, Opt("--completion-len", "--max-completion-length")], None),
    ("beta", Annotated[float | None, Opt("--beta", help="KL coefficient (GRPO: a reference model only when > 0)")], None),
    ("use_vllm", Annotated[bool, Opt("--use-vllm", help="GRPO generation with vLLM")], False),
    ("vllm_mode", Annotated[str | None, Opt("--vllm-mode", help="colocate | server")], None),
    ("vllm_util", Annotated[float | None, Opt("--vllm-gpu-memory-utilization")], None),
    ("precompute_ref", Annotated[bool, Opt("--precompute-ref-log-probs")], False),
]


def training_cmd(fn):
    """Decorate a command with the training / RL options (names as HF, PEFT, TRL and DeepSpeed spell them)."""
    import functools
    import inspect

    sig = inspect.signature(fn, eval_str=True)  # the commands module postpones annotations: read its Opt()s
    params = [p for p in sig.parameters.values() if p.name != "training"]
    names = [name for name, _, _ in TRAINING_OPTIONS]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
               for name, ann, default in TRAINING_OPTIONS]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        opts = {k: kwargs.pop(k) for k in names}
        renamed = {"vllm_util": "vllm_gpu_memory_utilization", "precompute_ref": "precompute_ref_log_probs"}
        tri_state = ("padding", "double_quant", "kbit_prepare", "optimizer_in_backward")  # --x / --no-x, None: not given
        training: dict[str, Any] = {}
        for k, v in opts.items():
            if isinstance(v, bool) and not v and k not in tri_state:
                v = None
            training[renamed.get(k, k)] = v
        return fn(*args, **kwargs, training=training)

    wrapper.__signature__ = sig.replace(parameters=params)
    return wrapper


# Flags as the command line spells the workload fields they set (for messages).
FLAGS = {"gpu_memory_utilization": "--gpu-memory-utilization", "n_gpu_layers": "-ngl", "n_parallel": "-np",
          "kv_unified": "--kv-unified", "tensor_split": "--tensor-split", "split_mode": "--split-mode",
          "main_gpu": "--main-gpu",
          "n_ubatch": "-ub", "flash_attn": "--no-flash-attn", "kv_offload": "--no-kv-offload", "attn_impl": "--attn",
          "double_quant": "--double-quant/--no-double-quant", "kbit_prepare": "--kbit-prepare/--no-kbit-prepare",
          "optimizer_in_backward": "--optimizer-in-backward/--no-optimizer-in-backward",
          "vllm_gpu_memory_utilization": "--vllm-gpu-memory-utilization",
          "precompute_ref_log_probs": "--precompute-ref-log-probs", "lora_rank": "--lora-rank"}


def flag(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def refuse_training_spellings(workload: dict[str, Any], command: str) -> None:
    """Inference reads --context and --batch; --seq-len / --micro-batch are training's words."""
    if "seq_len" in workload:
        raise VramscopeError(f"--seq-len is a training sequence length; {command} takes the inference context as "
                             "--context (tokens per sequence, prompt + generated)")
    if "micro_batch" in workload:
        raise VramscopeError(f"--micro-batch is a training micro-batch; {command} takes concurrent sequences as "
                             "--batch (--concurrency)")


def refuse_for_engine(workload: dict[str, Any], engine: str, command: str, gpus: int | None = None) -> None:
    """Options the engine does not read are refused by their flags, naming the engines that read them."""
    from ..api import inapplicable_options, stray_message

    stray = inapplicable_options(engine, workload, gpus)
    if stray:
        raise VramscopeError(f"{command}: " + stray_message(engine, stray, flag))


def refuse_active(model: str, active: str | None) -> None:
    from ..api import is_bare_size

    if active is not None and not is_bare_size(model):
        raise VramscopeError(f"--active applies to a bare size such as 56B; {model} has its own parameter counts")


def training_workload(workload: dict[str, Any], training: dict[str, Any], method: str | None,
                       optimizer: str | None) -> dict[str, Any]:
    """Training fields from the shared options: --batch / --micro-batch the micro-batch, --seq-len (or
    --context) the sequence, --attn the attention implementation, --prompt-len the RL prompt. Options
    the method or RL algorithm does not read are refused."""
    from ..api import training_inapplicable

    wl = {k: v for k, v in training.items() if v is not None}
    renames = {"batch": "batch", "micro_batch": "batch", "context": "seq_len", "seq_len": "seq_len",
               "attn_impl": "attn", "tp": "tp", "pp": "pp", "ep": "ep", "prompt_len": "prompt_len"}
    for pair in (("batch", "micro_batch"), ("context", "seq_len")):
        if all(k in workload for k in pair):
            raise VramscopeError(f"{flag(pair[0])} and {flag(pair[1])} are the same training setting: give one")
    for k, v in workload.items():
        if k in renames:
            wl[renames[k]] = v
        else:
            raise VramscopeError(f"{flag(k)} is an inference option; it does not apply to training")
    wl["method"] = method or ("lora" if wl.get("rl") else "full")
    if optimizer is not None:
        wl["optimizer"] = optimizer.lower()
    stray = training_inapplicable(wl["method"], wl.get("rl"), wl)
    if stray:
        what = f"--rl {wl['rl']}" if wl.get("rl") else "training"
        raise VramscopeError("; ".join(f"{flag(k)} applies to {where}" for k, where in stray.items())
                             + f", not to this run (--method {wl['method']}, {what})")
    return wl


ReportOpt = Annotated[str | None, Opt("--report", metavar="FIGURE",
                                      help="the per-GPU figure the table's headline shows: device (default: what "
                                      "nvidia-smi shows, CUDA context and memory outside torch included) | reserved "
                                      "(torch.cuda.max_memory_reserved) | allocated (torch.cuda.max_memory_allocated); "
                                      "all three are printed under the table")]

CheckOpt = Annotated[bool, Opt("--check", help="check every estimate against vramscope's invariants (exit 3 on a "
                                              "violation: a bug to report)")]
