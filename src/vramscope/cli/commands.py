"""The commands: each reads its options, refuses what does not apply, asks :mod:`vramscope.api` once and shows it.

No formula here, and no import below the API (``tests/test_architecture.py``).
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from ..errors import VramscopeError
from . import show
from .entry import app
from .options import (
    CheckOpt,
    ModelArg,
    Opt,
    ReportOpt,
    flag,
    inference_cmd,
    refuse_active,
    refuse_for_engine,
    refuse_training_spellings,
    training_cmd,
    training_workload,
)


@app.command("models")
def models_cmd(
    query: Annotated[str, typer.Argument(help="Words to search for in ids, aliases and families.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List or search the built-in model catalog."""
    from ..api import catalog_models

    rows = catalog_models(query)
    if as_json:
        show.print_json(rows)
        return
    if not rows:
        raise VramscopeError(f"no catalog model matches {query!r}; run `vramscope models` to see them all")
    show.models(rows)


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
    from ..api import model_info

    refuse_active(model, active)
    info = model_info(model, active=active, weights=weights)
    if as_json:
        show.print_json(info.to_dict())
        return
    show.info(info)


def _pai(model: str, active: str | None, method: str | None, optimizer: str | None, workload: dict[str, Any],
         training: dict[str, Any], gpu: str | None, gpus: int | None, gpu_memory: str | None, as_json: bool,
         check: bool, report: str | None = None) -> None:
    """The seed's PAI rule-of-thumb tables for a model (its parameter counts) or a bare size.

    The seed's formulas take the parameter count (total and active), the concurrency / batch, the
    optimizer and the precision of the fine-tuning rows; a GPU is judged as the seed's examples do
    (result + 20 % within its memory). Every other option is refused, not ignored.
    """
    from ..api import PAI_METHODS, PAI_PRECISIONS, pai_quick

    stray = [flag(k) for k in workload if k != "batch"]
    stray += [flag(k) for k, v in training.items() if v is not None and not (k == "precision" and method)]
    if check:
        stray.append("--check")
    if report is not None:
        stray.append("--report")
    if stray:
        raise VramscopeError(f"{', '.join(stray)} {'does' if len(stray) == 1 else 'do'} not apply to --pai (the seed's "
                             "PAI rule of thumb takes the model's size, --active, --method, --optimizer, --batch, "
                             "--precision with a method, and --gpu / --gpus / --gpu-memory)")
    if method is not None and method.lower() not in PAI_METHODS:
        raise VramscopeError(f"the PAI quick mode has no row for --method {method}; it has "
                             + ", ".join(PAI_METHODS) + " (qlora = 4-bit)")
    if method is None and optimizer is not None:
        raise VramscopeError("--optimizer applies to the PAI fine-tuning rows: add --method full|lora|qlora")
    precision = training.get("precision")
    if precision is not None and precision not in PAI_PRECISIONS:
        raise VramscopeError(f"the PAI formulas take --precision {' | '.join(PAI_PRECISIONS)} (precision_bytes 4 or 2), "
                             f"not {precision}")
    if gpus is not None and gpu is None and gpu_memory is None:
        raise VramscopeError("--gpus with --pai needs the GPU: add --gpu NAME or --gpu-memory SIZE")
    quick = pai_quick(model, active=active, method=method, optimizer=optimizer, batch=workload.get("batch", 1),
                      precision=precision, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus)
    show.pai(quick, as_json)


@app.command("estimate")
@training_cmd
@inference_cmd
def estimate_cmd(
    model: ModelArg,
    *,
    pai: Annotated[bool, Opt("--pai", help="the seed's Alibaba Cloud PAI rule-of-thumb tables (decimal GB)")] = False,
    method: Annotated[str | None, Opt("--method", help="training: full | freeze | lora | dora | qlora | prefix | prompt | ptuning | galore (PAI: full | lora | qlora | qlora-8bit)")] = None,
    optimizer: Annotated[str | None, Opt("--optimizer", help="adamw, adamw-8bit, paged-adamw-8bit, adafactor, sgd, sgd-momentum, rmsprop, lion, muon (PAI: Adam/AdamW, SGD+Momentum, RMSProp, SGD)")] = None,
    report: ReportOpt = None,
    check: CheckOpt = False,
    workload, training, gpu, gpus, gpu_memory, active, as_json,
) -> None:
    """GPU memory of a model: inference by default, training with --method, RL with --rl.

    Prints the components with their formulas, the per-GPU figure with its low–high band (device memory as
    nvidia-smi shows it, or the one --report names), the three figures (peak allocated, peak reserved,
    device), and the GPUs that fit.
    """
    from ..api import checking, estimate, report_kind, reported_figure

    if pai:
        _pai(model, active, method, optimizer, workload, training, gpu, gpus, gpu_memory, as_json, check, report)
        return
    kind = report_kind(report)  # a bad value: one line, exit 2, before any estimate
    if report is not None and as_json:
        raise VramscopeError("--report picks the table's headline; --json prints all three figures under \"memory\" "
                             "(allocated, reserved, device): leave --report out")
    refuse_active(model, active)
    if method is not None or training.get("rl") is not None:
        wl = training_workload(workload, training, method, optimizer)
    else:
        stray = [flag(k) for k, v in training.items() if v is not None]
        if optimizer is not None:
            stray.append("--optimizer")
        if stray:
            raise VramscopeError(f"{', '.join(stray)} describe training: add --method full|lora|qlora|… (or --rl grpo|dpo|ppo)")
        refuse_training_spellings(workload, "inference")
        refuse_for_engine(workload, workload.get("engine", "hf"), "estimate", gpus)
        wl = workload
    with checking(check):
        est = estimate(model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, **wl)
    if not as_json:
        try:
            reported_figure(est, kind)
        except VramscopeError as exc:  # llama.cpp / Ollama have no torch figure: one line saying so, exit 2
            raise VramscopeError(f"--report {kind}: {exc}; use --report device") from None
    show.estimate(est, as_json, kind)


@app.command("fit")
@training_cmd
@inference_cmd
def fit_cmd(
    model: ModelArg,
    *,
    method: Annotated[str | None, Opt("--method", help="training: full | lora | qlora | … — the longest --seq-len, "
                                      "the largest micro-batch (and --global-batch's accumulation) that fit")] = None,
    optimizer: Annotated[str | None, Opt("--optimizer", help="training optimizer (see estimate)")] = None,
    global_batch: Annotated[int | None, Opt("--global-batch", help="training: sequences per optimizer step; "
                                            "answers the micro-batch and --grad-accum that reach it")] = None,
    table: Annotated[str | None, Opt("--table", help="training: longest --seq-len per GPU memory size, e.g. "
                                     "12GiB,16GiB,24GiB,40GiB,48GiB,80GiB (GB is decimal, GiB binary)")] = None,
    seq_step: Annotated[int | None, Opt("--seq-step", help="training: answer lengths in multiples of this many "
                                        "tokens (pad_to_multiple_of); default 1")] = None,
    check: CheckOpt = False,
    workload, training, gpu, gpus, gpu_memory, active, as_json,
) -> None:
    """The most context, batch (and llama.cpp -ngl) that fits on a GPU setup; with --method (or --rl) the
    longest training sequence, the largest micro-batch and the accumulation that reach --global-batch."""
    from ..api import check_fit, checking, fit, fit_table

    refuse_active(model, active)
    if method is not None or training.get("rl") is not None:
        wl = training_workload(workload, training, method, optimizer)
        extra = {"seq_step": 1 if seq_step is None else seq_step}
        with checking(check):
            if table is not None:
                if gpu is not None or gpu_memory is not None:
                    raise VramscopeError("--table gives the GPU memory sizes itself; drop --gpu / --gpu-memory")
                sizes = [x.strip() for x in table.split(",") if x.strip()]
                rows = fit_table(model, sizes, gpus=gpus, active=active, **extra, **wl)
                show.fit_table(model, rows, wl, as_json)
                return
            result = fit(model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, global_batch=global_batch,
                         **extra, **wl)
        show.fit_training(result, as_json)
        return
    stray = [f for f, v in (("--global-batch", global_batch), ("--table", table), ("--seq-step", seq_step),
                            ("--optimizer", optimizer)) if v is not None]
    stray += [flag(k) for k, v in training.items() if v is not None]
    if stray:
        raise VramscopeError(f"{', '.join(stray)} {'describes' if len(stray) == 1 else 'describe'} training: "
                             "add --method full|lora|qlora|… (or --rl grpo|dpo|ppo)")
    refuse_training_spellings(workload, "fit")
    refuse_for_engine(workload, workload.get("engine", "hf"), "fit", gpus)
    with checking(check):
        result = fit(model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, **workload)
    if check:
        check_fit(result)
    show.fit(result, as_json)


@app.command("plan")
@training_cmd
@inference_cmd
def plan_cmd(
    model: ModelArg,
    *,
    method: Annotated[str | None, Opt("--method", help="training: the setups that train the model (gradient "
                                      "checkpointing, 8-bit optimizer, ZeRO, offload), cheapest first")] = None,
    optimizer: Annotated[str | None, Opt("--optimizer", help="training optimizer (kept: the plan then does not "
                                         "switch to an 8-bit one)")] = None,
    cost: Annotated[str | None, Opt("--cost", help="training: order by rent (USD per hour, default) or purchase "
                                    "(USD), never both")] = None,
    check: CheckOpt = False,
    workload, training, gpu, gpus, gpu_memory, active, as_json,
) -> None:
    """Catalog GPUs that run the workload, with counts and layout, cheapest first.

    --gpu keeps one GPU model, --gpu-memory the GPUs with at least that much memory, --gpus that many
    GPUs; --tp / --pp fix the layout's tensor / pipeline sizes. With --method (or --rl): the setups
    that train it, each with the export command that runs it.
    """
    from ..api import check_plan, checking, plan

    refuse_active(model, active)
    if method is not None or training.get("rl") is not None:
        wl = training_workload(workload, training, method, optimizer)
        with checking(check):
            rows = plan(model, active=active, gpu=gpu, gpus=gpus, gpu_memory=gpu_memory,
                        **({"cost": cost.lower()} if cost else {}), **wl)
        if as_json:
            show.print_json(rows)
            return
        if not rows:
            raise VramscopeError("no catalog GPU setup of up to 64 GPUs trains this run, even with ZeRO-3 and "
                                 "optimizer offload" + (" with these GPU choices" if gpu or gpus or gpu_memory else ""))
        show.plan_training(model, rows)
        return
    if cost is not None or optimizer is not None:
        raise VramscopeError(f"{'--cost' if cost is not None else '--optimizer'} applies to a training plan: add "
                             "--method full|lora|qlora|…")
    refuse_training_spellings(workload, "plan")
    refuse_for_engine(workload, workload.get("engine", "hf"), "plan", gpus)
    with checking(check):
        rows = plan(model, active=active, gpu=gpu, gpus=gpus, gpu_memory=gpu_memory, **workload)
    if check:
        check_plan(rows, model)
    if as_json:
        show.print_json(rows)
        return
    if not rows:
        raise VramscopeError("no catalog GPU setup of up to 64 GPUs runs this workload"
                             + (" with these GPU choices" if gpu or gpus or gpu_memory else ""))
    show.plan(rows)


@app.command("gpus")
def gpus_cmd(
    query: Annotated[str, typer.Argument(help="Words to search for (e.g. h100, 24gb, amd).")] = "",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List or search the GPU catalog."""
    from ..api import gpu_catalog

    rows = gpu_catalog(query)
    if not rows:
        raise VramscopeError(f"no catalog GPU matches {query!r}; run `vramscope gpus` to see them all")
    if as_json:
        show.print_json([g.to_dict() if hasattr(g, "to_dict") else g.__dict__ for g in rows])
        return
    show.gpus(rows)


@app.command("schema")
def schema_cmd(
    input_kind: Annotated[str, typer.Option("--input", help="Print the schema of an input instead: "
                                            "inference | training (the workload options and their bounds).")] = "",
) -> None:
    """Print the JSON Schema of the `vramscope estimate --json` document (or of a workload)."""
    from ..api import input_schema, output_schema

    if input_kind:
        if input_kind not in ("inference", "training"):
            raise VramscopeError(f"unknown --input {input_kind!r}; choose inference or training")
        show.print_json(input_schema(input_kind))
        return
    show.print_json(output_schema())


@app.command("export")
@training_cmd
@inference_cmd
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
    from ..export import TARGETS, export

    name = target.lower().replace(".", "").replace("-", "")
    if name not in TARGETS:
        raise VramscopeError(f"unknown export target {target!r}; use one of {', '.join(TARGETS)}")
    if as_json:
        raise VramscopeError("--json does not apply to export: it prints the command line or config itself "
                             "(DeepSpeed's is JSON already)")
    refuse_active(model, active)
    if name in ("deepspeed", "fsdp"):
        wrong = {"deepspeed": "fsdp", "fsdp": "zero"}[name]
        if training.get(wrong) is not None:
            raise VramscopeError(f"{flag(wrong)} does not apply to export {name} "
                                 f"({'an accelerate FSDP config' if name == 'fsdp' else 'a DeepSpeed config'})")
        wl = training_workload(workload, training, method, optimizer)
    else:
        stray = [flag(k) for k, v in training.items() if v is not None]
        if stray or method or optimizer:
            raise VramscopeError(f"{', '.join(stray) or ('--method' if method else '--optimizer')} describe training; "
                                 "use export deepspeed|fsdp")
        if workload.get("engine", name) != name:
            raise VramscopeError(f"--engine does not apply to export {name}: the target is the engine")
        refuse_training_spellings(workload, f"export {name}")
        refuse_for_engine(workload, name, f"export {name}", gpus)
        wl = {k: v for k, v in workload.items() if k != "engine"}
    typer.echo(export(name, model, gpu=gpu, gpu_memory=gpu_memory, gpus=gpus, active=active, **wl))


@app.command("formats")
def formats_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the weight formats vramscope can size."""
    from ..api import weight_formats

    doc = weight_formats()
    if as_json:
        show.print_json(doc)
        return
    show.formats(doc)


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
    from ..api import trace_inference, trace_training

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
        show.print_json(res.to_dict())
        return
    show.trace(res)


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

    # the measurement harness is its own program (it also runs as `python -m vramscope.exact.measure`
    # on a GPU box with only torch): the CLI only starts it, as `web` starts the server
    from ..exact import measure as M

    if list_cases:
        stray = [name for name, v in (("--out", out), ("--device", device), ("--dry-run", dry_run or None)) if v is not None]
        if stray:
            raise VramscopeError(f"{', '.join(stray)} {'does' if len(stray) == 1 else 'do'} not apply to --list "
                                 "(it lists the cases and measures nothing)")
    device = device or "cuda"
    cases = M.select(suite, case)  # a MeasureError is a VramscopeError: one line, exit 2
    if list_cases:
        typer.echo("\n".join(M.list_lines(cases)))
        return
    M.check_device(device)
    path = Path(out) if out else M.default_out(device)
    con = show.console()
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
    from ..web import serve

    root = None
    if allow_local is not None:
        root = os.path.realpath(os.path.expanduser(allow_local))
        if not os.path.isdir(root):
            raise VramscopeError(f"--allow-local {allow_local}: not a directory")
    serve(host=host, port=port, allow_local=root)
