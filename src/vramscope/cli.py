"""The ``vramscope`` command line (typer + rich). A presenter: no formula lives here.

Every user error is one line on stderr and exit status 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

# The CLI process is ours: skip pydantic's plugin discovery (an entry-point scan of every installed
# distribution, ~15 ms per start) — vramscope uses no pydantic plugin.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import typer

from .errors import InvariantError, VramscopeError

app = typer.Typer(
    name="vramscope",
    help="How much GPU memory an LLM needs — parameters, weight bytes per format, and more — "
    "from the model's real architecture.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_state = {"debug": False}

#: exit status of a bug (an exception that is not a VramscopeError); user errors exit with 2
INTERNAL_ERROR = 3

ModelArg = Annotated[
    str,
    typer.Argument(
        help="A catalog name or HF id (meta-llama/Llama-3.1-8B), a config.json or model directory, "
        "a .gguf file, or a size like 7B or 56B-A14B."
    ),
]


@app.callback()
def _main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False) -> None:
    _state["debug"] = debug


def _console():
    from rich.console import Console

    return Console()


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@app.command("models")
def models_cmd(
    query: Annotated[str, typer.Argument(help="Words to search for in ids, aliases and families.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List or search the built-in model catalog."""
    from .sources import catalog

    rows = []
    for entry in catalog.search(query):
        spec = entry.spec()
        rows.append(
            {
                "id": entry.id,
                "family": spec.family,
                "params_total": spec.params_total,
                "params_active": spec.params_active,
                "published_total": entry.params_total.text if entry.params_total else None,
                "published_active": entry.params_active.text if entry.params_active else None,
                "published_source": entry.params_source,
                "layers": spec.num_layers,
                "aliases": list(entry.aliases),
            }
        )
    if as_json:
        _print_json(rows)
        return
    if not rows:
        raise VramscopeError(f"no catalog model matches {query!r}; run `vramscope models` to see them all")
    from rich.table import Table

    from .units import fmt_count

    table = Table(title=f"vramscope catalog ({len(rows)} models)")
    for col in ("id", "family", "params", "active", "layers"):
        table.add_column(col, justify="right" if col in ("params", "active", "layers") else "left")
    for r in rows:
        active = fmt_count(r["params_active"]) if r["params_active"] != r["params_total"] else ""
        table.add_row(r["id"], r["family"], fmt_count(r["params_total"]), active, str(r["layers"]))
    _console().print(table)


@app.command("info")
def info_cmd(
    model: ModelArg,
    weights: Annotated[
        list[str] | None,
        typer.Option("--weights", "-w", help="Weight format(s) to size (bf16, fp8, int8, nf4-dq, gptq-int4, awq, Q4_K_M …)."),
    ] = None,
    active: Annotated[str | None, typer.Option("--active", help="Active parameters of an MoE given as a bare size, e.g. 14B.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Describe a model: architecture, exact parameter counts and weight bytes per format."""
    from .formats import checkpoint_format, weight_bytes
    from .sources import load_model
    from .units import fmt_count, fmt_gib

    _refuse_active(model, active)
    spec = load_model(model, active=active)
    formats = weights or ["bf16", "fp8", "int8", "nf4-dq", "gptq-int4", "Q4_K_M"]
    native = checkpoint_format(spec)
    sizes = []
    names = list(dict.fromkeys([native.name, *formats]))
    for name in names:
        fmt = native if name == native.name else name
        try:
            wb = weight_bytes(spec, fmt)
        except VramscopeError as exc:
            if name in formats and weights:
                raise
            sizes.append({"format": name, "error": str(exc)})
            continue
        sizes.append(
            {
                "format": wb.format + (" (checkpoint)" if fmt is native else ""),
                "bytes": wb.total,
                "quantised_bytes": wb.quantised,
                "unquantised_bytes": wb.unquantised,
                "bits_per_quantised_weight": round(wb.bits_per_quantised_weight, 4),
            }
        )
    doc = {**spec.summary(), "weights": sizes}
    if as_json:
        _print_json(doc)
        return
    from rich.table import Table

    con = _console()
    con.print(f"[bold]{spec.id}[/bold]  ({spec.family}, {spec.architecture}, from {spec.source})")
    con.print(
        f"parameters: {spec.params_total:,} ({fmt_count(spec.params_total)})"
        + (f", active {spec.params_active:,} ({fmt_count(spec.params_active)})" if spec.is_moe else "")
        + (f", MTP {spec.params_mtp:,} stored separately" if spec.params_mtp else "")
    )
    con.print(f"layers: {spec.num_layers} {spec.layer_kinds}; hidden {spec.hidden_size}; vocab {spec.vocab_size}")
    table = Table(title="weight bytes")
    for col in ("format", "total", "bits/quantised weight"):
        table.add_column(col, justify="left" if col == "format" else "right")
    for row in sizes:
        if "error" in row:
            table.add_row(row["format"], "n/a", row["error"][:60])
        else:
            bpw = row["bits_per_quantised_weight"]
            table.add_row(row["format"], fmt_gib(row["bytes"]), f"{bpw:.3f}" if bpw else "—")
    con.print(table)
    for a in spec.assumptions:
        con.print(f"[yellow]assumption:[/yellow] {a}")


Opt = typer.Option


def _workload_options(
    engine, weights, kv_dtype, batch, micro_batch, prompt_len, gen_len, context, seq_len, tp, pp, ep, util, max_model_len, max_num_seqs,
    max_num_batched_tokens, block_size, ngl, n_parallel, n_ubatch, no_flash_attn, no_kv_offload, cache, attn,
    mem_fraction_static, images, image_size, video_seconds, fps, audio_seconds,
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
    }


def _inference_cmd(fn):
    """Decorate a command with the shared inference options (names as the engines spell them)."""
    import functools
    import inspect

    extra = [
        ("engine", Annotated[str | None, Opt("--engine", help="hf (default) | vllm | llamacpp | sglang")], None),
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
        ("cache", Annotated[str | None, Opt("--cache", help="HF: dynamic | static")], None),
        ("attn", Annotated[str | None, Opt("--attn", help="eager | sdpa | flash")], None),
        ("mem_fraction_static", Annotated[float | None, Opt("--mem-fraction-static")], None),
        ("images", Annotated[int | None, Opt("--images")], None),
        ("image_size", Annotated[str | None, Opt("--image-size", help="WxH, e.g. 1280x720")], None),
        ("video_seconds", Annotated[float | None, Opt("--video-seconds")], None),
        ("fps", Annotated[float | None, Opt("--fps")], None),
        ("audio_seconds", Annotated[float | None, Opt("--audio-seconds")], None),
        ("gpu", Annotated[str | None, Opt("--gpu", help="catalog GPU, e.g. H100-SXM-80GB, RTX-4090")], None),
        ("gpus", Annotated[int | None, Opt("--gpus", help="number of GPUs (tensor parallel)")], None),
        ("gpu_memory", Annotated[str | None, Opt("--gpu-memory", help="memory of a GPU not in the catalog, e.g. 24GiB")], None),
        ("active", Annotated[str | None, Opt("--active", help="active parameters for a bare MoE size, e.g. 14B")], None),
        ("as_json", Annotated[bool, Opt("--json", help="print one JSON document")], False),
    ]
    sig = inspect.signature(fn)
    reserved = {"workload", "gpu", "gpus", "gpu_memory", "active", "as_json"}
    params = [p for p in sig.parameters.values() if p.name not in reserved]
    names = [name for name, _, _ in extra]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
               for name, ann, default in extra]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        opts = {k: kwargs.pop(k) for k in names}
        common = {k: opts.pop(k) for k in ("gpu", "gpus", "gpu_memory", "active", "as_json")}
        wl = _workload_options(**opts)
        return fn(*args, **kwargs, workload={k: v for k, v in wl.items() if v is not None}, **common)

    wrapper.__signature__ = sig.replace(parameters=params)
    return wrapper


_TRAINING_OPTIONS = [
    ("precision", Annotated[str | None, Opt("--precision", help="training: fp32 | bf16 (pure) | fp16 | mixed (fp32 master) | mixed-fp16 | fp8")], None),
    ("optimizer_impl", Annotated[str | None, Opt("--optimizer-impl", help="fused (HF default) | foreach | forloop")], None),
    ("grad_accum", Annotated[int | None, Opt("--grad-accum", "--gradient-accumulation-steps")], None),
    ("grad_ckpt", Annotated[str | None, Opt("--grad-ckpt", "--gradient-checkpointing", help="none | full | selective | offload")], None),
    ("loss", Annotated[str | None, Opt("--loss", help="hf (fp32 logits) | chunked | fused (Liger / Cut-Cross-Entropy)")], None),
    ("padding", Annotated[bool | None, Opt("--padding/--packing", help="padded batches with a mask, or packed (default)")], None),
    ("lora_rank", Annotated[int | None, Opt("--lora-rank", "-r", help="LoRA rank r (default 16)")], None),
    ("lora_targets", Annotated[str | None, Opt("--lora-targets", "--target-modules", help="q_proj,v_proj | all-linear (default: PEFT's)")], None),
    ("lora_dtype", Annotated[str | None, Opt("--lora-dtype", help="fp32 (PEFT default) | bf16")], None),
    ("lora_dropout", Annotated[float | None, Opt("--lora-dropout")], None),
    ("quant", Annotated[str | None, Opt("--quant", help="QLoRA base: nf4 | fp4 | int8")], None),
    ("no_double_quant", Annotated[bool, Opt("--no-double-quant", help="QLoRA without double quantisation")], False),
    ("no_kbit_prepare", Annotated[bool, Opt("--no-kbit-prepare", help="QLoRA without peft's "
                                            "prepare_model_for_kbit_training (non-quantised params stay bf16, "
                                            "as Unsloth keeps them)")], False),
    ("trainable_layers", Annotated[int | None, Opt("--trainable-layers", help="freeze: the last N layers train")], None),
    ("num_virtual_tokens", Annotated[int | None, Opt("--num-virtual-tokens")], None),
    ("galore_rank", Annotated[int | None, Opt("--galore-rank")], None),
    ("dp", Annotated[int | None, Opt("--dp", help="data-parallel size (default: gpus / (tp·pp·cp))")], None),
    ("cp", Annotated[int | None, Opt("--cp", help="context-parallel size")], None),
    ("zero", Annotated[int | None, Opt("--zero", help="DeepSpeed ZeRO stage 0-3")], None),
    ("fsdp", Annotated[str | None, Opt("--fsdp", help="none | full | grad-op | hybrid")], None),
    ("offload", Annotated[str | None, Opt("--offload", help="none | optimizer | params")], None),
    ("optimizer_in_backward", Annotated[bool, Opt("--optimizer-in-backward")], False),
    ("rl", Annotated[str | None, Opt("--rl", help="grpo | dpo | ppo")], None),
    ("num_generations", Annotated[int | None, Opt("--num-generations", "-k", help="GRPO group size (TRL default 8)")], None),
    ("completion_len", Annotated[int | None, Opt("--completion-len", "--max-completion-length")], None),
    ("beta", Annotated[float | None, Opt("--beta", help="KL coefficient (GRPO: a reference model only when > 0)")], None),
    ("use_vllm", Annotated[bool, Opt("--use-vllm", help="GRPO generation with vLLM")], False),
    ("vllm_mode", Annotated[str | None, Opt("--vllm-mode", help="colocate | server")], None),
    ("vllm_util", Annotated[float | None, Opt("--vllm-gpu-memory-utilization")], None),
    ("precompute_ref", Annotated[bool, Opt("--precompute-ref-log-probs")], False),
]


def _training_cmd(fn):
    """Decorate a command with the training / RL options (names as HF, PEFT, TRL and DeepSpeed spell them)."""
    import functools
    import inspect

    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.name != "training"]
    names = [name for name, _, _ in _TRAINING_OPTIONS]
    params += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
               for name, ann, default in _TRAINING_OPTIONS]

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        opts = {k: kwargs.pop(k) for k in names}
        renamed = {"no_double_quant": "double_quant", "no_kbit_prepare": "kbit_prepare", "vllm_util": "vllm_gpu_memory_utilization",
                   "precompute_ref": "precompute_ref_log_probs"}
        training: dict[str, Any] = {}
        for k, v in opts.items():
            if k in ("no_double_quant", "no_kbit_prepare"):
                v = False if v else None
            elif isinstance(v, bool) and not v and k != "padding":
                v = None
            training[renamed.get(k, k)] = v
        return fn(*args, **kwargs, training=training)

    wrapper.__signature__ = sig.replace(parameters=params)
    return wrapper


# Flags as the command line spells the workload fields they set (for messages).
_FLAGS = {"gpu_memory_utilization": "--gpu-memory-utilization", "n_gpu_layers": "-ngl", "n_parallel": "-np",
          "n_ubatch": "-ub", "flash_attn": "--no-flash-attn", "kv_offload": "--no-kv-offload", "attn_impl": "--attn",
          "double_quant": "--no-double-quant", "kbit_prepare": "--no-kbit-prepare",
          "vllm_gpu_memory_utilization": "--vllm-gpu-memory-utilization",
          "precompute_ref_log_probs": "--precompute-ref-log-probs", "lora_rank": "--lora-rank"}


def _flag(field: str) -> str:
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


def _refuse_training_spellings(workload: dict[str, Any], command: str) -> None:
    """Inference reads --context and --batch; --seq-len / --micro-batch are training's words."""
    if "seq_len" in workload:
        raise VramscopeError(f"--seq-len is a training sequence length; {command} takes the inference context as "
                             "--context (tokens per sequence, prompt + generated)")
    if "micro_batch" in workload:
        raise VramscopeError(f"--micro-batch is a training micro-batch; {command} takes concurrent sequences as "
                             "--batch (--concurrency)")


def _refuse_for_engine(workload: dict[str, Any], engine: str, command: str, gpus: int | None = None) -> None:
    """Options the engine does not read are refused by their flags, naming the engines that read them."""
    from .api import stray_message
    from .workload import ENGINE_OPTIONS, inapplicable

    stray = inapplicable(engine, workload)
    if gpus is not None and gpus > 1 and engine not in ENGINE_OPTIONS["tp"]:
        stray = {"gpus": ENGINE_OPTIONS["tp"], **stray}
    if stray:
        raise VramscopeError(f"{command}: " + stray_message(engine, stray, _flag))


def _refuse_active(model: str, active: str | None) -> None:
    from .sources.bare_size import is_bare_size

    if active is not None and not is_bare_size(model):
        raise VramscopeError(f"--active applies to a bare size such as 56B; {model} has its own parameter counts")


def _training_workload(workload: dict[str, Any], training: dict[str, Any], method: str | None,
                       optimizer: str | None) -> dict[str, Any]:
    """Training fields from the shared options: --batch / --micro-batch the micro-batch, --seq-len (or
    --context) the sequence, --attn the attention implementation, --prompt-len the RL prompt. Options
    the method or RL algorithm does not read are refused."""
    from .workload import training_inapplicable

    wl = {k: v for k, v in training.items() if v is not None}
    renames = {"batch": "batch", "micro_batch": "batch", "context": "seq_len", "seq_len": "seq_len",
               "attn_impl": "attn", "tp": "tp", "pp": "pp", "ep": "ep", "prompt_len": "prompt_len"}
    for pair in (("batch", "micro_batch"), ("context", "seq_len")):
        if all(k in workload for k in pair):
            raise VramscopeError(f"{_flag(pair[0])} and {_flag(pair[1])} are the same training setting: give one")
    for k, v in workload.items():
        if k in renames:
            wl[renames[k]] = v
        else:
            raise VramscopeError(f"{_flag(k)} is an inference option; it does not apply to training")
    wl["method"] = method or ("lora" if wl.get("rl") else "full")
    if optimizer is not None:
        wl["optimizer"] = optimizer.lower()
    stray = training_inapplicable(wl["method"], wl.get("rl"), wl)
    if stray:
        what = f"--rl {wl['rl']}" if wl.get("rl") else "training"
        raise VramscopeError("; ".join(f"{_flag(k)} applies to {where}" for k, where in stray.items())
                             + f", not to this run (--method {wl['method']}, {what})")
    return wl


def _show_estimate(est, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(est.to_json() + "\n")
        return
    from rich.table import Table

    from .units import fmt_gib

    con = _console()
    m = est.model
    con.print(f"[bold]{m['id']}[/bold] — {est.mode} with {est.engine}, weights {m['weights_format']}, "
              f"{est.num_gpus} GPU(s)" + (f" × {est.gpu['name']}" if est.gpu else ""))
    table = Table(show_lines=False)
    for col in ("component", "GiB", "low–high GiB", "formula"):
        table.add_column(col, justify="right" if "GiB" in col else "left", overflow="fold")
    for c in est.components:
        table.add_row(c.name, f"{c.bytes / 2**30:,.2f}", f"{c.lo / 2**30:,.2f}–{c.hi / 2**30:,.2f}", c.formula)
    table.add_row("[bold]per GPU[/bold]", f"[bold]{est.per_gpu_bytes / 2**30:,.2f}[/bold]",
                  f"{est.low_bytes / 2**30:,.2f}–{est.high_bytes / 2**30:,.2f}", "")
    con.print(table)
    d = est.details
    if est.gpu:
        verdict = "[green]fits[/green]" if est.fits else "[red]does not fit[/red]"
        con.print(f"{est.gpu['name']} ({fmt_gib(est.gpu['memory_bytes'])}): {verdict}")
    if "kv_capacity_tokens" in d:
        conc = d.get("max_concurrency")
        con.print(f"KV cache capacity: {d['kv_capacity_tokens']:,} tokens"
                  + (f"; max concurrency at {d.get('max_model_len', '?'):,} tokens: {conc:.2f}x" if conc is not None else ""))
    if d.get("fits_on"):
        fits = [f"{r['gpu']}" + (f" ×{r['count']}" if r["count"] > 1 else "") for r in d["fits_on"]]
        con.print("runs on: " + ", ".join(fits[:16]) + (f" … (+{len(fits) - 16})" if len(fits) > 16 else ""))
    if est.host_bytes:
        con.print(f"host RAM: {fmt_gib(est.host_bytes)} (layers / KV kept on the CPU)")
    sp = d.get("speed")
    if sp and sp.get("decode_tokens_per_s"):
        con.print(f"speed (roofline estimate): prefill {sp['prefill_seconds']:.2f} s, decode "
                  f"{sp['decode_tokens_per_s']:,.0f} tok/s total ({sp['decode_tokens_per_s_per_seq']:,.1f} per sequence)")
    rules = d.get("rules_of_thumb")
    if rules:
        rt = Table(title="the seeds' rules of thumb, beside the estimate (not part of it)", title_justify="left")
        for col in ("rule", "GiB", "× estimate", "source"):
            rt.add_column(col, justify="right" if col in ("GiB", "× estimate") else "left")
        for r in rules:
            rt.add_row(r["rule"], f"{r['bytes'] / 2**30:,.1f}", f"{r['ratio_to_detailed']:.2f}", r["source"])
        con.print(rt)
    for a in est.assumptions:
        con.print(f"[yellow]assumption:[/yellow] {a}")


#: --method names the PAI quick mode has a row for (the seed's four fine-tuning rows)
_PAI_METHODS = {"full": 0, "lora": 1, "qlora-8bit": 2, "qlora": 3, "qlora-4bit": 3}
#: --precision → the seed's precision_bytes of the fine-tuning rows
_PAI_PRECISION = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0}


def _pai(model: str, active: str | None, method: str | None, optimizer: str | None, workload: dict[str, Any],
         training: dict[str, Any], gpu: str | None, gpus: int | None, gpu_memory: str | None, as_json: bool,
         check: bool) -> None:
    """The seed's PAI rule-of-thumb tables for a model (its parameter counts) or a bare size.

    The seed's formulas take the parameter count (total and active), the concurrency / batch, the
    optimizer and the precision of the fine-tuning rows; a GPU is judged as the seed's examples do
    (result + 20 % within its memory). Every other option is refused, not ignored.
    """
    from . import pai
    from .api import resolve_gpu
    from .sources import load_model

    stray = [_flag(k) for k in workload if k != "batch"]
    stray += [_flag(k) for k, v in training.items() if v is not None and not (k == "precision" and method)]
    if check:
        stray.append("--check")
    if stray:
        raise VramscopeError(f"{', '.join(stray)} {'does' if len(stray) == 1 else 'do'} not apply to --pai (the seed's "
                             "PAI rule of thumb takes the model's size, --active, --method, --optimizer, --batch, "
                             "--precision with a method, and --gpu / --gpus / --gpu-memory)")
    if method is not None and method.lower() not in _PAI_METHODS:
        raise VramscopeError(f"the PAI quick mode has no row for --method {method}; it has "
                             + ", ".join(_PAI_METHODS) + " (qlora = 4-bit)")
    if method is None and optimizer is not None:
        raise VramscopeError("--optimizer applies to the PAI fine-tuning rows: add --method full|lora|qlora")
    precision = training.get("precision")
    if precision is not None and precision not in _PAI_PRECISION:
        raise VramscopeError(f"the PAI formulas take --precision {' | '.join(_PAI_PRECISION)} (precision_bytes 4 or 2), "
                             f"not {precision}")
    batch = workload.get("batch", 1)
    spec = load_model(model, active=active)
    p, a = spec.params_total / 1e9, spec.params_active / 1e9
    if method is None:
        rows = pai.inference_table(p, batch)
    else:
        rows = pai.finetune_table(p, _PAI_PRECISION.get(precision, 2.0), optimizer or "Adam/AdamW", batch,
                                  a if spec.is_moe else None, spec.is_moe)
    chosen = _PAI_METHODS.get((method or "").lower(), 0)
    best = rows[chosen].total_gb
    doc = {"model": spec.id, "params_b": round(p, 3), "active_params_b": round(a, 3),
           "rows": [r.to_dict() for r in rows], "recommended_gpus": pai.recommend_gpus(best)[:10],
           "note": "Alibaba Cloud PAI rule of thumb (seed v3.1), decimal GB; not the architecture-aware estimate"}
    g = resolve_gpu(gpu, gpu_memory)
    count = gpus or 1
    if g is None and gpus is not None:
        raise VramscopeError("--gpus with --pai needs the GPU: add --gpu NAME or --gpu-memory SIZE")
    if g is not None:
        if isinstance(count, bool) or count < 1:
            raise VramscopeError(f"gpus must be a whole number >= 1 (got {count!r})")
        doc["gpu"] = {"id": g.id, "count": count, "memory_bytes": g.usable_bytes}
        for row, r in zip(doc["rows"], rows, strict=True):
            row.update(pai.gpu_check(r.total_gb, g.usable_bytes, count))
    if as_json:
        _print_json(doc)
        return
    from rich.table import Table

    table = Table(title=f"{spec.id} — PAI quick mode (rule of thumb, decimal GB)")
    table.add_column("scenario")
    table.add_column("GB", justify="right")
    if g is not None:
        table.add_column(f"{count} × {g.id} ({doc['rows'][0]['memory_gb']:,.1f} GB), +20%", justify="left")
    for r, row in zip(rows, doc["rows"], strict=True):
        cells = [r.scenario, f"{pai.round_gb(r.total_gb):,.1f}"]
        if g is not None:
            left = row["headroom_gb"]
            cells.append(("fits" if row["fits"] else "does not fit") + (f", {left:,.1f} GB left" if left >= 0
                                                                          else f", {-left:,.1f} GB short"))
        table.add_row(*cells)
    con = _console()
    con.print(table)
    recs = doc["recommended_gpus"]
    if recs:
        con.print("GPUs with a 20% margin for "
                  + f"{rows[chosen].scenario} ({pai.round_gb(best):,.1f} GB)"
                  + ": " + ", ".join(f"{r['gpu']}" + (f" ×{r['count']}" if r["count"] > 1 else "") for r in recs))


CheckOpt = Annotated[bool, Opt("--check", help="check every estimate against vramscope's invariants (exit 3 on a "
                                              "violation: a bug to report)")]


def _checking(check: bool):
    from contextlib import nullcontext

    from .invariants import checking

    return checking() if check else nullcontext()


@app.command("estimate")
@_training_cmd
@_inference_cmd
def estimate_cmd(
    model: ModelArg,
    *,
    pai: Annotated[bool, Opt("--pai", help="the seed's Alibaba Cloud PAI rule-of-thumb tables (decimal GB)")] = False,
    method: Annotated[str | None, Opt("--method", help="training: full | freeze | lora | dora | qlora | prefix | prompt | ptuning | galore (PAI: full | lora | qlora | qlora-8bit)")] = None,
    optimizer: Annotated[str | None, Opt("--optimizer", help="adamw, adamw-8bit, paged-adamw-8bit, adafactor, sgd, sgd-momentum, rmsprop, lion, muon (PAI: Adam/AdamW, SGD+Momentum, RMSProp, SGD)")] = None,
    check: CheckOpt = False,
    workload, training, gpu, gpus, gpu_memory, active, as_json,
) -> None:
    """GPU memory of a model: inference by default, training with --method, RL with --rl.

    Prints the components with their formulas, the per-GPU total with its low–high band, and the GPUs that fit.
    """
    from .api import estimate

    if pai:
        _pai(model, active, method, optimizer, workload, training, gpu, gpus, gpu_memory, as_json, check)
        return
    _refuse_active(model, active)
    if method is not None or training.get("rl") is not None:
        wl = _training_workload(workload, training, method, optimizer)
    else:
        stray = [_flag(k) for k, v in training.items() if v is not None]
        if optimizer is not None:
            stray.append("--optimizer")
        if stray:
            raise VramscopeError(f"{', '.join(stray)} describe training: add --method full|lora|qlora|… (or --rl grpo|dpo|ppo)")
        _refuse_training_spellings(workload, "inference")
        _refuse_for_engine(workload, workload.get("engine", "hf"), "estimate", gpus)
        wl = workload
    with _checking(check):
        est = estimate(model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, **wl)
    _show_estimate(est, as_json)


@app.command("fit")
@_inference_cmd
def fit_cmd(model: ModelArg, *, check: CheckOpt = False, workload, gpu, gpus, gpu_memory, active, as_json) -> None:
    """The most context, batch (and llama.cpp -ngl) that fits on a GPU setup."""
    from .api import fit
    from .errors import InvariantError
    from .invariants import check_fit, format_violations

    _refuse_active(model, active)
    _refuse_training_spellings(workload, "fit")
    _refuse_for_engine(workload, workload.get("engine", "hf"), "fit", gpus)
    with _checking(check):
        result = fit(model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, **workload)
    if check and (problems := check_fit(result)):
        raise InvariantError(format_violations(problems, f"the fit answer for {result.model}"))
    if as_json:
        _print_json(result.to_dict())
        return
    typer.echo(f"{result.model} on {result.num_gpus} × {result.gpu}:")
    typer.echo(f"  max context per sequence at batch {result.workload['batch']}: {result.max_context:,} tokens")
    typer.echo(f"  max batch at {result.workload['context'] or result.workload['prompt_len'] + result.workload['gen_len']:,} tokens: {result.max_batch:,}")
    if result.max_n_gpu_layers is not None:
        typer.echo(f"  largest -ngl: {result.max_n_gpu_layers}")


@app.command("plan")
@_inference_cmd
def plan_cmd(model: ModelArg, *, check: CheckOpt = False, workload, gpu, gpus, gpu_memory, active, as_json) -> None:
    """Catalog GPUs that run the workload, with counts and layout, cheapest first.

    --gpu keeps one GPU model, --gpu-memory the GPUs with at least that much memory, --gpus that many
    GPUs; --tp / --pp fix the layout's tensor / pipeline sizes.
    """
    from .api import plan
    from .errors import InvariantError
    from .invariants import check_plan_row, format_violations

    _refuse_active(model, active)
    _refuse_training_spellings(workload, "plan")
    _refuse_for_engine(workload, workload.get("engine", "hf"), "plan", gpus)
    with _checking(check):
        rows = plan(model, active=active, gpu=gpu, gpus=gpus, gpu_memory=gpu_memory, **workload)
    if check and (problems := [p for r in rows for p in check_plan_row(r)]):
        raise InvariantError(format_violations(problems, f"the plan for {model}"))
    if as_json:
        _print_json(rows)
        return
    if not rows:
        raise VramscopeError("no catalog GPU setup of up to 64 GPUs runs this workload"
                             + (" with these GPU choices" if gpu or gpus or gpu_memory else ""))
    from rich.table import Table

    table = Table(title="GPU options, cheapest first")
    for col in ("GPU", "count", "TP×PP", "GiB per GPU", "rent $/h", "price $"):
        table.add_column(col, justify="left" if col == "GPU" else "right")
    for r in rows:
        table.add_row(r["gpu"], str(r["count"]), f"{r['tp']}×{r['pp']}", f"{r['per_gpu_bytes'] / 2**30:,.1f}",
                      f"{r['rent_usd_per_hour']:,.2f}" if r["rent_usd_per_hour"] else "—",
                      f"{r['price_usd']:,.0f}" if r["price_usd"] else "—")
    _console().print(table)


@app.command("gpus")
def gpus_cmd(
    query: Annotated[str, typer.Argument(help="Words to search for (e.g. h100, 24gb, amd).")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List or search the GPU catalog."""
    from .hardware import search_gpus

    rows = search_gpus(query)
    if not rows:
        raise VramscopeError(f"no catalog GPU matches {query!r}; run `vramscope gpus` to see them all")
    if as_json:
        _print_json([g.to_dict() if hasattr(g, "to_dict") else g.__dict__ for g in rows])
        return
    from rich.table import Table

    table = Table(title=f"GPU catalog ({len(rows)})")
    for col in ("id", "memory GiB", "bandwidth GB/s", "bf16 TFLOPS", "price $"):
        table.add_column(col, justify="left" if col == "id" else "right")
    for g in rows:
        table.add_row(g.id, f"{g.memory_bytes / 2**30:,.1f}", f"{g.bandwidth_gbs or 0:,.0f}",
                      f"{g.bf16_tflops or 0:,.0f}", f"{g.price_usd:,.0f}" if g.price_usd else "—")
    _console().print(table)


@app.command("schema")
def schema_cmd(
    input_kind: Annotated[str, typer.Option("--input", help="Print the schema of an input instead: "
                                            "inference | training (the workload options and their bounds).")] = "",
) -> None:
    """Print the JSON Schema of the `vramscope estimate --json` document (or of a workload)."""
    if input_kind:
        from . import workload

        kinds = {"inference": workload.Inference, "training": workload.Training}
        if input_kind not in kinds:
            raise VramscopeError(f"unknown --input {input_kind!r}; choose inference or training")
        _print_json(kinds[input_kind].json_schema())
        return
    from .schema import estimate_schema

    _print_json(estimate_schema())


@app.command("export")
@_training_cmd
@_inference_cmd
def export_cmd(
    target: Annotated[str, typer.Argument(help="vllm | llamacpp | deepspeed | fsdp")],
    model: ModelArg,
    *,
    method: Annotated[str | None, Opt("--method", help="training method (deepspeed / fsdp)")] = None,
    optimizer: Annotated[str | None, Opt("--optimizer")] = None,
    workload, training, gpu, gpus, gpu_memory, active, as_json,
) -> None:
    """The command line or config that runs the planned setup: vLLM serve, llama-server, a DeepSpeed
    JSON or an accelerate FSDP config."""
    from .export import TARGETS, export

    name = target.lower().replace(".", "").replace("-", "")
    if name not in TARGETS:
        raise VramscopeError(f"unknown export target {target!r}; use one of {', '.join(TARGETS)}")
    if as_json:
        raise VramscopeError("--json does not apply to export: it prints the command line or config itself "
                             "(DeepSpeed's is JSON already)")
    _refuse_active(model, active)
    if name in ("deepspeed", "fsdp"):
        wrong = {"deepspeed": "fsdp", "fsdp": "zero"}[name]
        if training.get(wrong) is not None:
            raise VramscopeError(f"{_flag(wrong)} does not apply to export {name} "
                                 f"({'an accelerate FSDP config' if name == 'fsdp' else 'a DeepSpeed config'})")
        wl = _training_workload(workload, training, method, optimizer)
    else:
        stray = [_flag(k) for k, v in training.items() if v is not None]
        if stray or method or optimizer:
            raise VramscopeError(f"{', '.join(stray) or ('--method' if method else '--optimizer')} describe training; "
                                 "use export deepspeed|fsdp")
        if workload.get("engine", name) != name:
            raise VramscopeError(f"--engine does not apply to export {name}: the target is the engine")
        _refuse_training_spellings(workload, f"export {name}")
        _refuse_for_engine(workload, name, f"export {name}", gpus)
        wl = {k: v for k, v in workload.items() if k != "engine"}
    typer.echo(export(name, model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, **wl))


@app.command("formats")
def formats_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the weight formats vramscope can size."""
    from .formats import FORMATS, format_names

    rows = [{"name": f.name, "bits": f.bits, "description": f.description, "aliases": list(f.aliases)} for f in FORMATS.values()]
    gguf = [n for n in format_names() if n not in FORMATS]
    if as_json:
        _print_json({"formats": rows, "gguf_file_types": gguf})
        return
    for r in rows:
        typer.echo(f"{r['name']:<16} {r['description']}")
    typer.echo("GGUF file types: " + ", ".join(gguf))


@app.command("trace")
def trace_cmd(
    model: ModelArg,
    *,
    method: Annotated[str | None, Opt("--method", help="full (default) | lora (QLoRA needs CUDA: use estimate)")] = None,
    precision: Annotated[str | None, Opt("--precision", help="bf16 (pure bf16, default) | fp16 | fp32 | mixed (fp32 + bf16 autocast)")] = None,
    optimizer: Annotated[str | None, Opt("--optimizer", help="adamw (default) | adam | sgd | sgd_momentum")] = None,
    optimizer_impl: Annotated[str | None, Opt("--optimizer-impl", help="fused (default) | foreach | forloop")] = None,
    batch: Annotated[int, Opt("--batch", "--micro-batch")] = 1,
    seq_len: Annotated[int | None, Opt("--seq-len", help="training tokens per sequence (default 512)")] = None,
    attn: Annotated[str, Opt("--attn", help="sdpa | eager (FlashAttention-2 needs CUDA)")] = "sdpa",
    grad_ckpt: Annotated[bool | None, Opt("--grad-ckpt/--no-grad-ckpt", help="training (default off)")] = None,
    lora_rank: Annotated[int | None, Opt("--lora-rank", help="--method lora (default 16)")] = None,
    lora_targets: Annotated[str | None, Opt("--lora-targets", help="--method lora: q_proj,v_proj (default) | all-linear")] = None,
    inference: Annotated[bool, Opt("--inference", help="trace generation (prefill + decode) instead of training")] = False,
    prompt_len: Annotated[int | None, Opt("--prompt-len", help="--inference (default 512)")] = None,
    gen_len: Annotated[int | None, Opt("--gen-len", help="--inference: decode steps (default 16)")] = None,
    dtype: Annotated[str | None, Opt("--dtype", help="--inference weights: bf16 (default) | fp16 | fp32")] = None,
    no_extrapolate: Annotated[bool, Opt("--no-extrapolate", help="trace every layer")] = False,
    as_json: Annotated[bool, Opt("--json")] = False,
) -> None:
    """Exact mode: run the real transformers model on fake tensors and report its peak by category."""
    given = {"--method": method, "--precision": precision, "--optimizer": optimizer, "--optimizer-impl": optimizer_impl,
             "--seq-len": seq_len, "--grad-ckpt": grad_ckpt, "--lora-rank": lora_rank, "--lora-targets": lora_targets,
             "--prompt-len": prompt_len, "--gen-len": gen_len, "--dtype": dtype}
    if inference:
        stray = [k for k in ("--method", "--precision", "--optimizer", "--optimizer-impl", "--seq-len", "--grad-ckpt",
                             "--lora-rank", "--lora-targets") if given[k] is not None]
        mode = "trace --inference (generation)"
    else:
        stray = [k for k in ("--prompt-len", "--gen-len", "--dtype") if given[k] is not None]
        if (method or "full") != "lora":
            stray += [k for k in ("--lora-rank", "--lora-targets") if given[k] is not None]
        mode = f"a training trace (--method {method or 'full'})"
    if stray:
        raise VramscopeError(f"{', '.join(stray)} {'does' if len(stray) == 1 else 'do'} not apply to {mode}")
    from .exact.trace import trace_inference, trace_training
    from .progress import activity

    with activity(f"tracing {model} on fake tensors…"):
        if inference:
            res = trace_inference(model, batch=batch, prompt_len=512 if prompt_len is None else prompt_len,
                                  gen_len=16 if gen_len is None else gen_len, attn=attn, dtype=dtype or "bf16",
                                  extrapolate=not no_extrapolate)
        else:
            lora_targets = lora_targets or "q_proj,v_proj"
            targets = lora_targets if lora_targets == "all-linear" else tuple(t.strip() for t in lora_targets.split(",") if t.strip())
            res = trace_training(model, method=method or "full", precision=precision or "bf16",
                                 optimizer=optimizer or "adamw", batch=batch, seq_len=512 if seq_len is None else seq_len,
                                 attn=attn, grad_ckpt=bool(grad_ckpt), lora_rank=16 if lora_rank is None else lora_rank,
                                 lora_targets=targets, extrapolate=not no_extrapolate,
                                 optimizer_impl=optimizer_impl or "fused")
    if as_json:
        _print_json(res.to_dict())
        return
    from .units import fmt_gib

    con = _console()
    how = (f"layers {', '.join(map(str, res.traced_layers))} traced, extrapolated to {res.num_layers}"
           if res.extrapolated else f"all {res.num_layers} layers traced")
    con.print(f"[bold]{res.model}[/bold] — {res.workload}; {how}; {res.seconds:.1f} s")
    con.print(f"peak in {res.phase}:")
    for k, v in res.categories.items():
        if v >= 1 << 20:
            con.print(f"  {k:<14} {fmt_gib(v):>12}")
    con.print(f"  [bold]{'peak':<14} {fmt_gib(res.peak_bytes):>12}[/bold]")
    if res.workload == "inference":
        con.print(f"KV cache at the end: {fmt_gib(res.final_categories.get('kv_cache', 0))}")
    for n in res.notes:
        con.print(f"[yellow]note:[/yellow] {n}", highlight=False)


@app.command("measure")
def measure_cmd(
    suite: Annotated[str, Opt("--suite", help="default | smoke")] = "default",
    out: Annotated[str | None, Opt("--out", help="JSONL file to append to (default validation/measurements/<gpu>.jsonl)")] = None,
    list_cases: Annotated[bool, Opt("--list", help="list the suite's cases and exit")] = False,
    case: Annotated[list[str] | None, Opt("--case", help="run only this case (repeatable)")] = None,
    device: Annotated[str | None, Opt("--device", help="cuda (default) | cpu (cpu records zeros, for testing the harness)")] = None,
    dry_run: Annotated[bool, Opt("--dry-run", help="tiny configs of the same architectures (CPU-sized)")] = False,
) -> None:
    """Ground truth on a CUDA GPU: run each case of a suite in a fresh process and record its peak memory."""
    from pathlib import Path

    from .exact import measure as M

    if list_cases:
        stray = [flag for flag, v in (("--out", out), ("--device", device), ("--dry-run", dry_run or None)) if v is not None]
        if stray:
            raise VramscopeError(f"{', '.join(stray)} {'does' if len(stray) == 1 else 'do'} not apply to --list "
                                 "(it lists the cases and measures nothing)")
    device = device or "cuda"
    try:
        cases = M.select(suite, case)
        if list_cases:
            typer.echo("\n".join(M.list_lines(cases)))
            return
        M.check_device(device)
    except M.MeasureError as exc:
        raise VramscopeError(str(exc)) from None
    path = Path(out) if out else M.default_out(device)
    con = _console()
    with con.status("measuring…", spinner="dots") as status:
        rows = M.run_suite(cases, path, device, dry_run,
                           progress=lambda i, n, name: status.update(f"[{i + 1}/{n}] {name}"))
    for row in rows:
        typer.echo(M.format_row(row))
    typer.echo(f"{len(rows)} rows appended to {path}")


@app.command("web")
def web_cmd(
    host: Annotated[str, Opt("--host", help="address to listen on (0.0.0.0 for every interface)")] = "127.0.0.1",
    port: Annotated[int, Opt("--port", help="port to listen on")] = 7860,
    allow_local: Annotated[str | None, Opt("--allow-local", metavar="DIR",
                                           help="let the Model field name config.json / GGUF files inside DIR "
                                           "(single-user use; by default the server reads no file of its own)")] = None,
) -> None:
    """Start the web calculator (gradio) on http://HOST:PORT — needs the web extra: pip install 'vramscope[web]'."""
    from .web import serve
    from .web.handlers import ALLOW_LOCAL_ENV

    if allow_local is not None:
        root = os.path.realpath(os.path.expanduser(allow_local))
        if not os.path.isdir(root):
            raise VramscopeError(f"--allow-local {allow_local}: not a directory")
        os.environ[ALLOW_LOCAL_ENV] = root  # read by the handlers, inherited by the worker processes
    else:
        os.environ.pop(ALLOW_LOCAL_ENV, None)
    serve(host=host, port=port)


def _spinner(message: str):
    """A transient spinner on stderr (stdout stays clean for --json); nothing when stderr is not a terminal."""
    from rich.console import Console

    return Console(stderr=True).status(message, spinner="dots")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning VramscopeError into one line and exit status 2."""
    from .progress import set_listener

    previous = set_listener(_spinner)
    try:
        app(args=argv, standalone_mode=False)
    except VramscopeError as exc:
        if _state["debug"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        # an InvariantError is an unsound estimate: vramscope's bug (its message says "please report")
        raise SystemExit(INTERNAL_ERROR if isinstance(exc, InvariantError) else 2) from None
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("aborted", err=True)
        raise SystemExit(130) from None
    except Exception as exc:
        # click's (typer-vendored) usage errors and exits, recognised by their interface so that
        # this works whichever click copy typer ships
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            typer.echo(f"error: {exc.format_message()}", err=True)
            raise SystemExit(2) from None
        if type(exc).__name__ == "Exit":
            raise SystemExit(getattr(exc, "exit_code", 0)) from None
        if _state["debug"]:
            raise
        # anything that is not a VramscopeError is a bug in vramscope, never the user's fault
        typer.echo(f"internal error ({type(exc).__name__}: {str(exc)[:200]}); this is a bug in vramscope: "
                   "please report it with the command line, and rerun with --debug for the traceback", err=True)
        raise SystemExit(INTERNAL_ERROR) from None
    finally:
        set_listener(previous)


if __name__ == "__main__":  # pragma: no cover
    main()
