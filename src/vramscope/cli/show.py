"""What the command line prints: each answer of the API as rich tables and lines, or as JSON.

A presenter only: every figure is one the API returned, formatted here (GiB = 2^30 bytes).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..units import fmt_count, fmt_gib


def console():
    from rich.console import Console

    return Console()


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def spinner(message: str):
    """A transient spinner on stderr (stdout stays clean for --json); nothing when stderr is not a terminal."""
    from rich.console import Console

    return Console(stderr=True).status(message, spinner="dots")


def models(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table(title=f"vramscope catalog ({len(rows)} models)")
    for col in ("id", "family", "params", "active", "layers"):
        table.add_column(col, justify="right" if col in ("params", "active", "layers") else "left")
    for r in rows:
        active = fmt_count(r["params_active"]) if r["params_active"] != r["params_total"] else ""
        table.add_row(r["id"], r["family"], fmt_count(r["params_total"]), active, str(r["layers"]))
    console().print(table)


def info(info: Any) -> None:
    """``vramscope info``: the model's counts and its weight bytes per format (:class:`vramscope.api.ModelInfo`)."""
    from rich.table import Table

    spec = info.spec
    con = console()
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
    for row in info.weights:
        if "error" in row:
            table.add_row(row["format"], "n/a", row["error"][:60])
        else:
            bpw = row["bits_per_quantised_weight"]
            table.add_row(row["format"], fmt_gib(row["bytes"]), f"{bpw:.3f}" if bpw else "—")
    con.print(table)
    for a in spec.assumptions:
        con.print(f"[yellow]assumption:[/yellow] {a}")


#: how the table names each per-GPU figure (``vramscope estimate --report``)
FIGURE_LABELS = {"allocated": "peak allocated", "reserved": "peak reserved", "device": "device"}
#: the tool that shows each figure, for the lines under the table
FIGURE_SOURCES = {"allocated": "torch.cuda.max_memory_allocated: torch tensors",
                  "reserved": "torch.cuda.max_memory_reserved: + the caching allocator's slack",
                  "device": "nvidia-smi: + CUDA context and memory outside torch"}


def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:,.2f}"


def figures(est: Any, report: str) -> list[str]:
    """The three per-GPU figures, one line each with its kind named; the headline one marked."""
    from rich.markup import escape

    m = est.memory
    width = max(map(len, FIGURE_LABELS.values()))
    lines = []
    for kind in ("allocated", "reserved", "device"):
        fig = m.figure(kind)
        head = f"{FIGURE_LABELS[kind]:<{width}}"
        if fig is None:
            lines.append(f"  {head}  {'—':>10}  not torch (below)")
            continue
        mark = "  [bold]◀ headline[/bold]" if kind == report else ""
        source = FIGURE_SOURCES[kind] if m.unavailable is None else "nvidia-smi: every buffer + CUDA context"
        lines.append(f"  {head}  {_gib(fig.bytes):>6} GiB  ({_gib(fig.low_bytes)}–{_gib(fig.high_bytes)})  "
                     f"{source}{mark}")
    if m.unavailable:
        lines.append(f"  {escape(m.unavailable)}")
    return lines


def estimate(est: Any, as_json: bool, report: str = "device") -> None:
    """``vramscope estimate``: the components with their formulas, the per-GPU figure ``report`` names (device
    memory by default) with its band, the three figures, fit, KV capacity, the GPUs it runs on, speed, the
    seeds' rules of thumb and the assumptions."""
    if as_json:
        sys.stdout.write(est.to_json() + "\n")
        return
    from rich.markup import escape
    from rich.table import Table

    from ..api import REPORT_POOLS

    con = console()
    m = est.model
    con.print(f"[bold]{m['id']}[/bold] — {est.mode} with {est.engine}, weights {m['weights_format']}, "
              f"{est.num_gpus} GPU(s)" + (f" × {est.gpu['name']}" if est.gpu else ""))
    table = Table(show_lines=False)
    for col in ("component", "GiB", "low–high GiB", "formula"):
        table.add_column(col, justify="right" if "GiB" in col else "left", overflow="fold")
    inside = REPORT_POOLS[report]
    for c in est.components:
        name = escape(c.name) + ("" if c.memory in inside else f" [dim](not in {FIGURE_LABELS[report]})[/dim]")
        table.add_row(name, _gib(c.bytes), f"{_gib(c.lo)}–{_gib(c.hi)}", c.formula)
    head = est.memory.figure(report)
    table.add_row(f"[bold]per GPU — {FIGURE_LABELS[report]}[/bold]", f"[bold]{_gib(head.bytes)}[/bold]",
                  f"{_gib(head.low_bytes)}–{_gib(head.high_bytes)}", "")
    con.print(table)
    con.print("per-GPU figures, GiB (low–high):")
    for line in figures(est, report):
        con.print(line, highlight=False)
    devices = est.placement.devices if est.placement is not None else None
    if devices and len(devices) > 1:
        dt = Table(title=f"per GPU ({est.engine} split; the table above is GPU {est.placement.busiest_device}'s)",
                   title_justify="left")
        for col in ("GPU", "layers", "weights GiB", "KV GiB", "compute GiB", "context GiB", "total GiB"):
            dt.add_column(col, justify="left" if col in ("GPU", "layers") else "right")
        for g in devices:
            span = (f"{g.first_layer}–{g.last_layer}" if g.layers else "—") + (" + output" if g.output else "")
            dt.add_row(str(g.index), span, *(f"{b / 2**30:,.2f}" for b in (
                g.weights_bytes, g.kv_bytes + g.state_bytes, g.compute_bytes, g.context_bytes, g.total_bytes)))
        con.print(dt)
    d = est.details
    if est.gpu:
        verdict = "[green]fits[/green]" if est.fits else "[red]does not fit[/red]"
        con.print(f"{est.gpu['name']} ({fmt_gib(est.gpu['memory_bytes'])}): {verdict}")
    if "kv_capacity_tokens" in d and est.engine == "vllm":
        # as vLLM logs its pool (kv_cache_utils._report_kv_cache_config)
        conc = d.get("max_concurrency")
        con.print(f"GPU KV cache size: {d['kv_capacity_tokens']:,} tokens"
                  + (f"; Maximum concurrency for {d.get('max_model_len', 0):,} tokens per request: {conc:.2f}x"
                     if conc is not None else "") + f"  (as vLLM {est.settings.vllm_version} logs it)")
    elif "kv_capacity_tokens" in d:
        conc = d.get("max_concurrency")
        con.print(f"KV cache capacity: {d['kv_capacity_tokens']:,} tokens"
                  + (f"; max concurrency at {d.get('max_model_len', '?'):,} tokens: {conc:.2f}x" if conc is not None else ""))
    if est.engine == "sglang" and getattr(est.settings, "max_total_num_tokens", None):
        # as SGLang logs its pool (memory_pool.MHATokenToKVPool / MLATokenToKVPool; its "GB" divides by 2^30)
        s = est.settings
        sizes = (f"KV size: {s.kv_size_bytes / 2**30:.2f} GB" if s.kv_size_bytes is not None
                 else f"K size: {s.k_size_bytes / 2**30:.2f} GB, V size: {s.v_size_bytes / 2**30:.2f} GB")
        con.print(f"KV Cache is allocated. #tokens: {s.max_total_num_tokens}, {sizes}  (as SGLang logs it, per GPU; "
                  "its GB are GiB)")
        con.print(f"max_total_num_tokens={s.max_total_num_tokens}, chunked_prefill_size={s.chunked_prefill_size}, "
                  f"max_running_requests={s.max_running_requests}, context_len={s.context_len}")
    if d.get("fits_on"):
        fits = [f"{r['gpu']}" + (f" ×{r['count']}" if r["count"] > 1 else "") for r in d["fits_on"]]
        con.print("runs on: " + ", ".join(fits[:16]) + (f" … (+{len(fits) - 16})" if len(fits) > 16 else ""))
    if est.host_bytes:
        what = ("offloaded model states, paged optimizer pages evicted from the GPU" if est.training is not None
                else "layers / KV kept on the CPU")
        con.print(f"host RAM: {fmt_gib(est.host_bytes)} ({what})")
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


def pai(quick: Any, as_json: bool) -> None:
    """``vramscope estimate --pai``: the seed's table (:class:`vramscope.pai.Quick`), decimal GB."""
    doc = quick.doc
    if as_json:
        print_json(doc)
        return
    from rich.table import Table

    judged = "gpu" in doc
    table = Table(title=f"{doc['model']} — PAI quick mode (rule of thumb, decimal GB)")
    table.add_column("scenario")
    table.add_column("GB", justify="right")
    if judged:
        table.add_column(f"{quick.count} × {quick.gpu_id} ({doc['rows'][0]['memory_gb']:,.1f} GB), +20%", justify="left")
    for row in doc["rows"]:
        cells = [row["scenario"], f"{row['total_gb_display']:,.1f}"]
        if judged:
            left = row["headroom_gb"]
            cells.append(("fits" if row["fits"] else "does not fit") + (f", {left:,.1f} GB left" if left >= 0
                                                                          else f", {-left:,.1f} GB short"))
        table.add_row(*cells)
    con = console()
    con.print(table)
    recs = doc["recommended_gpus"]
    if recs:
        chosen = doc["rows"][quick.chosen]
        con.print("GPUs with a 20% margin for "
                  + f"{chosen['scenario']} ({chosen['total_gb_display']:,.1f} GB)"
                  + ": " + ", ".join(f"{r['gpu']}" + (f" ×{r['count']}" if r["count"] > 1 else "") for r in recs))


def fit(result: Any, as_json: bool) -> None:
    """``vramscope fit``: the longest context, the largest batch (and -ngl) that fit."""
    if as_json:
        print_json(result.to_dict())
        return
    import typer

    w = result.workload
    typer.echo(f"{result.model} on {result.num_gpus} × {result.gpu}:")
    typer.echo(f"  max context per sequence at batch {w['batch']}: {result.max_context:,} tokens")
    typer.echo(f"  max batch at {w['context'] or w['prompt_len'] + w['gen_len']:,} tokens: {result.max_batch:,}")
    if result.max_n_gpu_layers is not None:
        typer.echo(f"  largest -ngl: {result.max_n_gpu_layers}")


def fit_training(result: Any, as_json: bool) -> None:
    """``vramscope fit --method …``: the longest sequence, the largest micro-batch, the accumulation."""
    if as_json:
        print_json(result.to_dict())
        return
    import typer

    w = result.workload
    what = f"--rl {w['rl']}" if w.get("rl") else f"--method {w['method']}"
    typer.echo(f"{result.model} training ({what}) on {result.num_gpus} × {result.gpu}:")
    unit = f" (multiples of {result.seq_step})" if result.seq_step > 1 else ""
    if result.max_completion_len is not None:
        typer.echo(f"  longest completion at micro-batch {w['batch']} (prompt {w['prompt_len']:,} tokens): "
                   f"{result.max_completion_len:,} tokens{unit}")
        typer.echo(f"  largest micro-batch (completions per GPU) at completion {w['completion_len']:,} tokens: "
                   f"{result.max_micro_batch:,}")
    else:
        typer.echo(f"  longest --seq-len at micro-batch {w['batch']}: {result.max_seq_len:,} tokens{unit}")
        typer.echo(f"  largest micro-batch at --seq-len {w['seq_len']:,}: {result.max_micro_batch:,}")
    if result.global_batch is not None:
        typer.echo(f"  global batch {result.global_batch:,}: micro-batch {result.micro_batch:,} × --grad-accum "
                   f"{result.grad_accum:,} × {result.global_batch // (result.micro_batch * result.grad_accum):,} "
                   "data-parallel GPU(s)")


def fit_table(model: str, rows: list[dict[str, Any]], workload: dict[str, Any], as_json: bool) -> None:
    """``vramscope fit --method … --table SIZES``: the longest sequence per GPU memory size."""
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title=f"{model} --method {workload.get('method')}: longest --seq-len at micro-batch "
                        f"{workload.get('batch', 1)}")
    table.add_column("GPU memory")
    table.add_column("GiB", justify="right")
    table.add_column("max --seq-len", justify="right")
    for r in rows:
        table.add_row(r["memory"], f"{r['memory_bytes'] / 2**30:,.2f}",
                      f"{r['max_seq_len']:,}" if r["max_seq_len"] else "nothing fits")
    console().print(table)


def plan(rows: list[dict[str, Any]]) -> None:
    """``vramscope plan``: GPU setups, cheapest first."""
    from rich.table import Table

    table = Table(title="GPU options, cheapest first")
    for col in ("GPU", "count", "TP×PP", "GiB per GPU", "rent $/h", "price $"):
        table.add_column(col, justify="left" if col == "GPU" else "right")
    for r in rows:
        table.add_row(r["gpu"], str(r["count"]), f"{r['tp']}×{r['pp']}", f"{r['per_gpu_bytes'] / 2**30:,.1f}",
                      f"{r['rent_usd_per_hour']:,.2f}" if r["rent_usd_per_hour"] else "—",
                      f"{r['price_usd']:,.0f}" if r["price_usd"] else "—")
    console().print(table)


def plan_training(model: str, rows: list[dict[str, Any]]) -> None:
    """``vramscope plan --method …``: training setups, cheapest first on one cost basis, with their export."""
    from rich.table import Table

    basis = rows[0]["cost_basis"]
    col = "rent $/h" if basis == "rent" else "price $"
    key = "rent_usd_per_hour" if basis == "rent" else "price_usd"
    table = Table(title=f"training setups, cheapest first ({'rent per hour' if basis == 'rent' else 'purchase'})")
    for c in ("GPU", "count", "changes", "GiB per GPU", "headroom GiB", col):
        table.add_column(c, justify="left" if c in ("GPU", "changes") else "right")
    for r in rows:
        table.add_row(r["gpu"], str(r["count"]), r["changes"], f"{r['per_gpu_bytes'] / 2**30:,.1f}",
                      f"{r['headroom_bytes'] / 2**30:,.1f}",
                      ("—" if r[key] is None else f"{r[key]:,.2f}" if basis == "rent" else f"{r[key]:,.0f}"))
    console().print(table)
    first = rows[0]
    import typer

    typer.echo("the cheapest runs with: " + export_command(model, first))


def export_command(model: str, row: dict[str, Any]) -> str:
    """The ``vramscope export`` line that writes the config of a training setup (its keywords as flags)."""
    w = dict(row["workload"])
    target = "fsdp" if w.get("fsdp", "none") != "none" else "deepspeed"
    parts = [f"vramscope export {target} {model}", f"--gpu {row['gpu']}"]
    for k, v in w.items():
        if k in ("fsdp",) and target == "fsdp":
            parts.append(f"--fsdp {v}")
        elif isinstance(v, bool):
            parts.append(f"--{'' if v else 'no-'}{k.replace('_', '-')}")
        else:
            parts.append(f"--{k.replace('_', '-')} {v}")
    return " ".join(p for p in parts if p)


def gpus(rows: list[Any]) -> None:
    """``vramscope gpus``: the catalog GPUs with memory, bandwidth, bf16 TFLOPS and price."""
    from rich.table import Table

    table = Table(title=f"GPU catalog ({len(rows)})")
    for col in ("id", "memory GiB", "bandwidth GB/s", "bf16 TFLOPS", "price $"):
        table.add_column(col, justify="left" if col == "id" else "right")
    for g in rows:
        table.add_row(g.id, f"{g.memory_bytes / 2**30:,.1f}", f"{g.bandwidth_gbs or 0:,.0f}",
                      f"{g.bf16_tflops or 0:,.0f}", f"{g.price_usd:,.0f}" if g.price_usd else "—")
    console().print(table)


def formats(doc: dict[str, list[Any]]) -> None:
    import typer

    for r in doc["formats"]:
        typer.echo(f"{r['name']:<16} {r['description']}")
    typer.echo("GGUF file types: " + ", ".join(doc["gguf_file_types"]))


def trace(res: Any) -> None:
    """``vramscope trace``: the traced peak by category."""
    con = console()
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
