"""Published SGLang start-up logs against vramscope's SGLang estimate.

``validation/published/sglang_logs.jsonl`` holds one row per start-up log an SGLang user published
(GitHub issues, pull requests, SGLang's own repository): the model, the GPU, the launch flags and the
figures SGLang printed — ``KV Cache is allocated. #tokens: N, K size: X GB, V size: Y GB`` (its "GB"
divides by ``1024 ** 3``: ``GB`` in ``mem_cache/memory_pool.py``), the free memory before the load
(``Load weight begin. avail mem=``, or ``avail mem`` + ``mem usage`` of ``Load weight end``) and the
``mem usage`` of the load. Every size is in GiB, the token count as printed.

Each row is rebuilt for :func:`vramscope.estimate` (engine ``sglang``) with the row's
``mem_fraction_static`` (the flag, or SGLang's default of the row's time where stated), page size
and chunked-prefill size. Where the log prints the free memory before the load, that is the memory
SGLang's ``profile_max_num_token`` calls ``total_gpu_memory``: the row is compared on a GPU whose
usable memory less the CUDA context is that figure. Otherwise the catalog GPU is used. The estimate's
``max_total_num_tokens`` (page-aligned), K size and weights are compared with the log.

Used by ``benchmarks/published_sglang.py`` and ``tests/test_published_sglang.py``. No torch, no
network (catalog models, ``HF_HUB_OFFLINE=1``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

GiB = 1 << 30

DEFAULT_ROWS = Path(__file__).resolve().parents[3] / "validation" / "published" / "sglang_logs.jsonl"

FIELDS: tuple[str, ...] = (
    "source", "date", "model", "gpu", "gpu_basis", "tp", "pp", "sglang_version", "launch", "mem_fraction_static",
    "mem_fraction_basis", "chunked_prefill_size", "page_size", "quantization", "kv_cache_dtype",
    "avail_before_load_gib", "avail_basis", "mem_usage_gib", "kv_tokens", "k_size_gib", "v_size_gib", "kv_size_gib",
    "notes",
)
#: label -> (row field, estimate figure): what each row is compared on
LABELS: tuple[str, ...] = ("kv_tokens", "k_size", "weights")


def load_rows(path: str | Path = DEFAULT_ROWS) -> list[dict[str, Any]]:
    """The published rows, one dict per non-empty JSONL line, in file order."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def row_problems(row: dict[str, Any]) -> list[str]:
    """What is wrong with a row (empty when it is well-formed)."""
    problems = [f"missing field {name!r}" for name in FIELDS if name not in row]
    if not str(row.get("source", "")).startswith("https://"):
        problems.append("source must be an https URL")
    for name in ("model", "gpu", "gpu_basis", "mem_fraction_basis", "avail_basis", "notes"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            problems.append(f"{name} must be a non-empty string")
    if not isinstance(row.get("kv_tokens"), int) or row["kv_tokens"] <= 0:
        problems.append("kv_tokens must be the logged #tokens (a whole number > 0)")
    for name in ("tp", "pp", "page_size"):
        if not isinstance(row.get(name), int) or row[name] < 1:
            problems.append(f"{name} must be a whole number >= 1")
    frac = row.get("mem_fraction_static")
    if frac is not None and not 0 < frac <= 1:
        problems.append("mem_fraction_static must be in (0, 1] or null")
    for name in ("avail_before_load_gib", "mem_usage_gib", "k_size_gib", "v_size_gib", "kv_size_gib"):
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            problems.append(f"{name} must be a non-negative number or null")
    return problems


def resolve(row: dict[str, Any]):
    """(spec, GPU, mem_fraction_static, weights format, notes) for the row, or the reason it cannot be
    compared. The model and FP8-checkpoint mappings are the vLLM comparison's (:mod:`.published`)."""
    from dataclasses import replace

    from ..estimators.common import CUDA_CONTEXT
    from ..estimators.engines import sglang
    from ..hardware import UnknownGPUError, find_gpu
    from .published import WEIGHTS_BY_MODEL, WEIGHTS_BY_QUANT, resolve_model

    spec, model_note = resolve_model(row)
    if spec is None:
        return model_note or "unknown model"
    try:
        catalog = find_gpu(row["gpu"])
    except UnknownGPUError as exc:
        return f"GPU {row['gpu']!r} not in the catalog ({exc})"
    notes = [n for n in (model_note,) if n]
    frac = row.get("mem_fraction_static")
    if frac is None:
        # SGLang sizes its default from the GPU's total memory, the pool from the free memory
        frac = sglang.server_defaults(catalog, row["tp"], row["pp"], row.get("chunked_prefill_size"))[2]
        notes.append(f"mem_fraction_static = {frac}: SGLang's per-GPU rule for {catalog.id} (TP {row['tp']})")
    avail = row.get("avail_before_load_gib")
    gpu = catalog
    if avail is not None:
        gpu = replace(catalog, memory_bytes=int(avail * GiB) + CUDA_CONTEXT, unified_memory=False)
        notes.append(f"{catalog.id} with the logged {avail} GiB free before the load (+ the CUDA context)")
    quant = row.get("quantization")
    weights = WEIGHTS_BY_MODEL.get(row["model"]) or (WEIGHTS_BY_QUANT.get(quant) if quant else None)
    if quant and weights is None and row["model"] not in WEIGHTS_BY_MODEL and quant not in WEIGHTS_BY_QUANT:
        return f"quantization {quant!r} has no vramscope weight format"
    return spec, gpu, frac, weights, notes


def _entry(measured: float | None, estimated: float | None) -> dict[str, float | None]:
    if measured is None or estimated is None:
        return {"measured": measured, "estimated": estimated, "error": None, "error_pct": None}
    error = estimated - measured
    return {"measured": measured, "estimated": estimated, "error": error,
            "error_pct": 100 * error / measured if measured else None}


def compare_row(row: dict[str, Any], index: int = 0) -> dict[str, Any] | None:
    """The estimate against one row (None when :func:`resolve` gives a reason instead)."""
    from .. import estimate

    resolved = resolve(row)
    if isinstance(resolved, str):
        return None
    spec, gpu, frac, weights, notes = resolved
    est = estimate(spec, engine="sglang", gpu=gpu, tp=row["tp"], pp=row["pp"], mem_fraction_static=frac,
                   page_size=row["page_size"], chunked_prefill_size=row.get("chunked_prefill_size"), weights=weights)
    s = est.settings
    k = s.k_size_bytes if s.k_size_bytes is not None else s.kv_size_bytes
    k_row = row["k_size_gib"] if row["k_size_gib"] is not None else row["kv_size_gib"]
    return {
        "index": index, "source": row["source"], "model": row["model"], "gpu": row["gpu"], "tp": row["tp"],
        "mem_fraction_static": frac, "printed_free_memory": row.get("avail_before_load_gib") is not None,
        "components": {
            "kv_tokens": _entry(row["kv_tokens"], s.max_total_num_tokens),
            "k_size": _entry(k_row, k / GiB if k is not None else None),
            "weights": _entry(row.get("mem_usage_gib"), est.component("weights").bytes / GiB),
        },
        "assumptions": notes,
    }


def compare_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`compare_row` over the rows that compare (1-based row index kept)."""
    out = []
    for index, row in enumerate(rows, 1):
        result = compare_row(row, index)
        if result is not None:
            out.append(result)
    return out


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """One line per row: logged and estimated #tokens, K size and weights, with the errors in %."""
    lines = [f"{'#':>2} {'model':<34} {'GPU':<16} {'TP':>2} {'frac':>6} {'#tokens log':>12} {'estimate':>12} "
             f"{'err %':>6} {'K GiB':>6} {'est':>6} {'W GiB':>6} {'est':>6}"]
    for r in results:
        c = r["components"]

        def num(e: dict, key: str, spec: str) -> str:
            return "—" if e[key] is None else format(e[key], spec)

        lines.append(f"{r['index']:>2} {r['model'][:34]:<34} {r['gpu'][:16]:<16} {r['tp']:>2} "
                     f"{r['mem_fraction_static']:>6.3f} {num(c['kv_tokens'], 'measured', ',.0f'):>12} "
                     f"{num(c['kv_tokens'], 'estimated', ',.0f'):>12} {num(c['kv_tokens'], 'error_pct', '+.1f'):>6} "
                     f"{num(c['k_size'], 'measured', '.2f'):>6} {num(c['k_size'], 'estimated', '.2f'):>6} "
                     f"{num(c['weights'], 'measured', '.2f'):>6} {num(c['weights'], 'estimated', '.2f'):>6}")
    return "\n".join(lines)


HEADING = "## Published SGLang start-up logs (other people's GPUs)"


def markdown_section(rows: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]],
                     unreached: dict[int, str] | None = None) -> str:
    """The docs section: every row's ``#tokens`` as logged and as estimated."""
    unreached = unreached or {}
    lines = [
        HEADING, "",
        f"{len(rows)} SGLang start-up logs with a source (`validation/published/sglang_logs.jsonl`; none used to "
        "calibrate anything), each compared with `vramscope.estimate(engine=\"sglang\", mem_fraction_static=…, "
        "page_size=…)` for the same model, GPU and flags (`python benchmarks/published_sglang.py`; this section is "
        "`--write-docs`). SGLang's pool: `mem_fraction_static × free memory before the load − weights`, over the "
        "per-token cell (layers × KV heads / TP × head_dim × 2 × dtype bytes), floored to whole pages "
        "(`model_runner_kv_cache_mixin.py`); its \"GB\" are GiB. Where the log prints the free memory before the "
        "load, the row is compared on exactly that; elsewhere on the catalog GPU less the CUDA context.", "",
        "| # | model | GPU | TP | mem_fraction_static | free memory | #tokens logged | estimated | error % |",
        "|---:|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        e = r["components"]["kv_tokens"]
        lines.append(f"| {r['index']} | {r['model']} | {r['gpu']} | {r['tp']} | {r['mem_fraction_static']} | "
                     f"{'logged' if r['printed_free_memory'] else 'catalog'} | {e['measured']:,} | "
                     f"{e['estimated']:,} | {e['error_pct']:+.1f} |")
    within = [r for r in results if abs(r["components"]["kv_tokens"]["error_pct"]) <= 5.0]
    lines += ["", f"{len(within)} of the {len(results)} rows are within 5 %."]
    for index, why in unreached.items():
        lines.append(f"Row {index} is not: {why}")
    return "\n".join(lines)
