"""Published vLLM start-up logs against vramscope's vLLM estimate, component by component.

``validation/published/vllm_logs.jsonl`` holds one row per start-up log that a vLLM user published
(GitHub issues, READMEs, blog posts): the model, the GPU, the engine arguments and the figures vLLM
printed — weights (``Model loading took`` / ``model weights take``), the profile-run activation peak,
non-torch memory, the KV cache (``Available KV cache memory`` / ``the rest of the memory reserved for
KV Cache``) and its size in tokens. Every figure is in GiB (vLLM prints GiB, even where an old log
says "GB").

This module loads those rows, rebuilds each workload for :func:`vramscope.estimate` (engine
``vllm``) and compares the estimate's ``weights``, ``profile peak (activations)``, ``non-torch
allocations`` and ``KV cache`` components, plus the KV capacity in tokens, with the measured
figures. No torch, no network: models come from the built-in catalog (``HF_HUB_OFFLINE=1``).

Used by ``benchmarks/published_vllm.py`` (the report) and ``tests/test_published.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..hardware import GPU
    from ..spec import ModelSpec

    Where = Callable[[dict[str, Any]], bool]

GiB = 1 << 30

#: the rows shipped with the repository (absent from an installed wheel: pass a path then)
DEFAULT_ROWS = Path(__file__).resolve().parents[3] / "validation" / "published" / "vllm_logs.jsonl"

#: every row carries these keys (null where the log does not say)
FIELDS: tuple[str, ...] = (
    "source", "model", "gpu", "total_gpu_memory_gib", "tp", "pp", "gpu_memory_utilization", "max_model_len",
    "max_num_seqs", "max_num_batched_tokens", "dtype", "quantization", "kv_cache_dtype", "enforce_eager",
    "vllm_version", "vllm_release", "vllm_engine", "entrypoint", "sampler", "weights_gib", "activation_peak_gib", "non_torch_gib",
    "kv_cache_gib", "kv_cache_tokens", "max_concurrency", "concurrency_tokens", "cuda_graph_gib", "notes",
)
#: the measured figures (GiB, except the token count and the concurrency factor)
MEASURED: tuple[str, ...] = ("weights_gib", "activation_peak_gib", "non_torch_gib", "kv_cache_gib", "kv_cache_tokens",
                             "max_concurrency", "cuda_graph_gib")

#: estimate component name -> (row field, short label used in tables and summaries)
COMPONENTS: tuple[tuple[str, str, str], ...] = (
    ("weights", "weights_gib", "weights"),
    ("profile peak (activations)", "activation_peak_gib", "activation"),
    ("non-torch allocations", "non_torch_gib", "non_torch"),
    ("KV cache", "kv_cache_gib", "kv_cache"),
)
LABELS: tuple[str, ...] = tuple(label for _, _, label in COMPONENTS) + ("kv_tokens",)

#: fine-tunes / re-packagings not in the catalog -> the catalog model with the same architecture and why
BASE_MODEL: dict[str, tuple[str, str]] = {
    "Qwen/Qwen2-7B-Instruct": ("Qwen/Qwen2.5-7B-Instruct",
                               "Qwen2-7B and Qwen2.5-7B share the architecture (28 layers, hidden 3584, 4 KV heads, "
                               "MLP 18944, vocab 152064)"),
    "meta-llama/Llama-3.1-8B-Instruct": ("meta-llama/Llama-3.1-8B", "instruct fine-tune of the base model"),
    "meta-llama/Llama-3.1-70B-Instruct": ("meta-llama/Llama-3.1-70B", "instruct fine-tune of the base model"),
    "nvidia/Llama-3.3-70B-Instruct-FP8": ("meta-llama/Llama-3.3-70B-Instruct", "NVIDIA ModelOpt FP8 export"),
    "Qwen/Qwen3-235B-A22B-FP8": ("Qwen/Qwen3-235B-A22B", "Qwen's official FP8 export"),
}

#: the row's ``quantization`` (and, where the checkpoint decides, its model) -> vramscope weight format;
#: None = as stored in the catalog checkpoint (gpt-oss ships MXFP4 experts)
WEIGHTS_BY_MODEL: dict[str, str] = {"Qwen/Qwen3-235B-A22B-FP8": "fp8-block"}
WEIGHTS_BY_QUANT: dict[str, str | None] = {"fp8": "fp8", "mxfp4": None}

#: what CUDA reports as the device's total (``torch.cuda.mem_get_info()[1]``, the ``total`` vLLM multiplies
#: by the utilisation) where the catalog holds the marketed or nvidia-smi size: catalog id -> (GiB, source).
#: Used for rows that print no total; the figures are published CUDA totals of the same GPU model.
CUDA_TOTAL_GIB: dict[str, tuple[float, str]] = {
    "A100-SXM-80GB": (79.25, "https://github.com/levihsu/OOTDiffusion/issues/235 (torch OOM on an A100: "
                             "'79.25 GiB total capacity')"),
    "RTX-4090-24GB": (23.64, "https://github.com/ali-vilab/VGen/issues/104 (RTX 4090 24GB: "
                             "'GPU 0 has a total capacity of 23.64 GiB')"),
    "RTX-5090-32GB": (31.37, "https://github.com/vllm-project/vllm/issues/14452 (vLLM V0 log on an RTX 5090: "
                             "'total_gpu_memory (31.37GiB)')"),
    "RTX-PRO-6000-BLACKWELL-96GB": (94.97, "https://github.com/antirez/ds4/issues/431 (RTX PRO 6000 Blackwell, "
                                           "97887 MiB card: 'total=94.97 GiB' from cudaMemGetInfo)"),
}

#: GPU names as published -> catalog ids (names ``find_gpu`` already resolves need no entry)
GPU_ALIASES: dict[str, str] = {
    "RTX PRO 6000 Blackwell Server Edition 96GB": "RTX-PRO-6000-BLACKWELL-96GB",
}


def load_rows(path: str | Path = DEFAULT_ROWS) -> list[dict[str, Any]]:
    """The published rows, one dict per non-empty JSONL line, in file order."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object")
            rows.append(row)
    return rows


def row_problems(row: dict[str, Any]) -> list[str]:
    """What is wrong with a row (empty when it is well-formed)."""
    problems = [f"missing field {name!r}" for name in FIELDS if name not in row]
    source = row.get("source")
    if not isinstance(source, str) or not source.startswith("https://"):
        problems.append("source must be an https URL")
    for name in ("model", "gpu"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            problems.append(f"{name} must be a non-empty string")
    if not any(isinstance(row.get(name), (int, float)) for name in MEASURED):
        problems.append("no measured figure")
    for name in MEASURED + ("total_gpu_memory_gib",):
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            problems.append(f"{name} must be a non-negative number or null")
    for name in ("tp", "pp"):
        if not isinstance(row.get(name), int) or row[name] < 1:
            problems.append(f"{name} must be a whole number >= 1")
    util = row.get("gpu_memory_utilization")
    if util is not None and not 0 < util <= 1:
        problems.append("gpu_memory_utilization must be in (0, 1]")
    if row.get("vllm_engine") not in ("V0", "V1"):
        problems.append("vllm_engine must be V0 or V1")
    if row.get("entrypoint") not in ("serve", "LLM"):
        problems.append("entrypoint must be serve or LLM")
    if row.get("sampler") not in (None, "flashinfer", "native"):
        problems.append("sampler must be flashinfer, native or null")
    release = row.get("vllm_release")
    if release is not None:
        from ..errors import VramscopeError
        from ..estimators.engines.vllm_releases import release as vllm_release

        try:
            if vllm_release(release).engine != row.get("vllm_engine"):
                problems.append(f"vllm_release {release} runs the other engine than vllm_engine")
        except VramscopeError:
            problems.append(f"vllm_release {release!r} is not a known vLLM release")
    return problems


def weights_exact(row: dict[str, Any]) -> bool:
    """True when vramscope models the checkpoint format exactly: an unquantised bf16/fp16 checkpoint."""
    return row.get("quantization") is None


def resolve_model(row: dict[str, Any]) -> tuple[ModelSpec | None, str | None]:
    """(ModelSpec, note) for the row's model: the catalog entry, else its base in :data:`BASE_MODEL`;
    (None, reason) when vramscope does not know it."""
    from ..errors import VramscopeError
    from ..sources import load_model

    model = row["model"]
    try:
        return load_model(model), None
    except VramscopeError as exc:
        if model not in BASE_MODEL:
            return None, f"model not in the catalog ({exc})"
    base, why = BASE_MODEL[model]
    return load_model(base), f"{model} -> {base} ({why})"


def resolve_gpu(row: dict[str, Any]) -> tuple[GPU | None, str]:
    """(GPU, note) for the row: the catalog GPU, its memory replaced by the printed total when vLLM
    printed one; a custom GPU of the printed total when the name is not in the catalog; (None, reason)
    when neither is known."""
    from dataclasses import replace

    from ..hardware import UnknownGPUError, custom_gpu, find_gpu

    total = row.get("total_gpu_memory_gib")
    name = GPU_ALIASES.get(row["gpu"], row["gpu"])
    try:
        gpu = find_gpu(name)
    except UnknownGPUError:
        if total is None:
            return None, f"GPU {row['gpu']!r} not in the catalog and no total printed"
        return custom_gpu(int(total * GiB), name=row["gpu"]), f"custom GPU of the printed {total} GiB"
    if total is None:
        if gpu.id in CUDA_TOTAL_GIB:
            cuda, source = CUDA_TOTAL_GIB[gpu.id]
            return (replace(gpu, memory_bytes=int(cuda * GiB)),
                    f"{gpu.id}: CUDA's total {cuda} GiB (no total printed; catalog {gpu.memory_gib:.2f} GiB; {source})")
        return gpu, f"{gpu.id}: catalog memory {gpu.memory_gib:.2f} GiB (no total printed)"
    return replace(gpu, memory_bytes=int(total * GiB)), f"{gpu.id} with the printed total {total} GiB"


def batch_limits(row: dict[str, Any], gpu: GPU, max_model_len: int) -> tuple[int, int, list[str]]:
    """(max_num_batched_tokens, max_num_seqs, assumptions): the row's values, else the defaults of the
    release the row is compared as (:func:`vramscope.estimators.engines.vllm_releases.batch_defaults`:
    V0 profiles ``max(max_model_len, 2048)`` tokens over 256 sequences without chunked prefill; V1 picks
    by GPU size and entrypoint). ``assumptions`` says which defaults were filled in."""
    from ..estimators.engines import vllm_releases

    tokens, seqs = row.get("max_num_batched_tokens"), row.get("max_num_seqs")
    rel = vllm_releases.release(row.get("vllm_release"))
    default_t, default_s = vllm_releases.batch_defaults(rel, gpu.memory_bytes, gpu.id, row["entrypoint"], max_model_len)
    rule = f"vLLM {rel.label} {row['entrypoint']} default"
    notes = []
    if tokens is None:
        tokens = default_t
        notes.append(f"max_num_batched_tokens={tokens} ({rule})")
    if seqs is None:
        seqs = default_s
        notes.append(f"max_num_seqs={seqs} ({rule})")
    return int(tokens), int(seqs), notes


def _gib(value: float) -> float:
    return value / GiB


def _entry(measured: float | None, estimated: float | None) -> dict[str, float | None]:
    """Measured and estimated value with the signed error (estimate − measured) in units and %."""
    if measured is None or estimated is None:
        return {"measured": measured, "estimated": estimated, "error": None, "error_pct": None}
    error = estimated - measured
    pct = 100.0 * error / measured if measured else None
    return {"measured": measured, "estimated": estimated, "error": error, "error_pct": pct}


def compare_row(row: dict[str, Any], index: int | None = None) -> dict[str, Any] | None:
    """vramscope's vLLM estimate for the row's workload next to the measured figures.

    Returns None when vramscope knows neither the model (nor a base in :data:`BASE_MODEL`) or cannot
    resolve the GPU, or the checkpoint's quantisation has no vramscope weight format. Otherwise a dict
    with ``components`` (label -> ``{"measured", "estimated", "error", "error_pct"}``: GiB per GPU for
    weights / activation / non_torch / kv_cache, tokens for ``kv_tokens``; error = estimated −
    measured, error_pct relative to the measured value), ``weights_exact`` (unquantised checkpoint),
    ``assumptions`` (every default filled in or mapping made) and the resolved names.
    """
    from .. import estimate

    resolved = _resolve(row)
    if isinstance(resolved, str):
        return None
    spec, gpu, assumptions = resolved
    max_len = row.get("max_model_len")
    if max_len is None:
        max_len = spec.max_position_embeddings
        assumptions.append(f"max_model_len={max_len} (the model's max_position_embeddings, vLLM's default)")
    tokens, seqs, batch_notes = batch_limits(row, gpu, max_len)
    assumptions += batch_notes
    util = row.get("gpu_memory_utilization")
    if util is None:
        util = 0.9
        assumptions.append("gpu_memory_utilization=0.9 (vLLM default)")
    quant = row.get("quantization")
    weights = WEIGHTS_BY_MODEL.get(row["model"], WEIGHTS_BY_QUANT.get(quant) if quant else None)
    kv_dtype = row.get("kv_cache_dtype") or "auto"
    release = row.get("vllm_release")
    if release is None:
        assumptions.append("vLLM release not known: compared as the estimator's default release")
    sampler = {"flashinfer": "flashinfer", "native": "pytorch"}.get(row.get("sampler") or "", "auto")
    est = estimate(spec, engine="vllm", gpu=gpu, tp=row["tp"], pp=row["pp"], gpu_memory_utilization=util,
                   max_model_len=max_len, context=max_len, max_num_seqs=seqs, max_num_batched_tokens=tokens,
                   weights=weights, kv_dtype=kv_dtype, enforce_eager=bool(row.get("enforce_eager")),
                   vllm_version=release, vllm_entrypoint=row["entrypoint"].lower(), vllm_sampler=sampler)
    by_name = {c.name: c.bytes for c in est.components}
    components: dict[str, dict[str, float | None]] = {}
    for name, field, label in COMPONENTS:
        value = by_name.get(name)
        components[label] = _entry(row.get(field), None if value is None else _gib(value))
    capacity = est.details.get("kv_capacity_tokens")
    components["kv_tokens"] = _entry(row.get("kv_cache_tokens"), None if capacity is None else float(capacity))
    return {
        "index": index,
        "source": row["source"],
        "model": row["model"],
        "catalog_model": spec.id,
        "gpu": row["gpu"],
        "gpu_id": gpu.id,
        "gpu_memory_gib": gpu.memory_gib,
        "vllm_engine": row["vllm_engine"],
        "vllm_release": row.get("vllm_release"),
        "weights_exact": weights_exact(row),
        "weights_format": weights or "as stored",
        "max_num_batched_tokens": tokens,
        "max_num_seqs": seqs,
        "assumptions": assumptions,
        "components": components,
    }


def _resolve(row: dict[str, Any]) -> tuple[ModelSpec, GPU, list[str]] | str:
    """(spec, GPU, the mapping notes) for a row vramscope can model, else why it cannot."""
    spec, model_note = resolve_model(row)
    if spec is None:
        return model_note or "unknown model"
    gpu, gpu_note = resolve_gpu(row)
    if gpu is None:
        return gpu_note
    quant = row.get("quantization")
    if quant and row["model"] not in WEIGHTS_BY_MODEL and quant not in WEIGHTS_BY_QUANT:
        return f"quantization {quant!r} has no vramscope weight format in WEIGHTS_BY_QUANT"
    return spec, gpu, [note for note in (model_note, gpu_note) if note]


def skip_reason(row: dict[str, Any]) -> str | None:
    """Why :func:`compare_row` returns None for the row (None when it compares)."""
    resolved = _resolve(row)
    return resolved if isinstance(resolved, str) else None


def compare_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`compare_row` over the rows that vramscope can model (row index kept, 1-based)."""
    out = []
    for index, row in enumerate(rows, 1):
        result = compare_row(row, index)
        if result is not None:
            out.append(result)
    return out


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (0 <= q <= 1) of a non-empty sequence."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def abs_errors(results: Iterable[dict[str, Any]], label: str, *, pct: bool = True,
               where: Where | None = None) -> list[float]:
    """|error| (in % of the measured value, or in GiB / tokens) of one component over the results."""
    key = "error_pct" if pct else "error"
    out = []
    for result in results:
        if where is not None and not where(result):
            continue
        value = result["components"].get(label, {}).get(key)
        if value is not None:
            out.append(abs(value))
    return out


def summary(results: Sequence[dict[str, Any]], where: Where | None = None) -> dict[str, dict[str, float | int | None]]:
    """Per component: how many rows compare (``count``), and the median / p90 / max of |error| in %
    (``median_pct`` …) and in GiB (tokens for ``kv_tokens``: ``median_abs`` …); also the median
    signed error in % (``median_signed_pct``: > 0 means vramscope estimates more than vLLM measured)."""
    out: dict[str, dict[str, float | int | None]] = {}
    for label in LABELS:
        pcts = abs_errors(results, label, where=where)
        absolute = abs_errors(results, label, pct=False, where=where)
        signed = [r["components"][label]["error_pct"] for r in results
                  if (where is None or where(r)) and r["components"].get(label, {}).get("error_pct") is not None]
        out[label] = {
            "count": len(absolute),
            "median_pct": _quantile(pcts, 0.5) if pcts else None,
            "p90_pct": _quantile(pcts, 0.9) if pcts else None,
            "max_pct": max(pcts) if pcts else None,
            "median_signed_pct": _quantile(signed, 0.5) if signed else None,
            "median_abs": _quantile(absolute, 0.5) if absolute else None,
            "p90_abs": _quantile(absolute, 0.9) if absolute else None,
            "max_abs": max(absolute) if absolute else None,
        }
    return out


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """One line per row and component: measured, estimated, error in GiB and %."""
    lines = [f"{'#':>2} {'model':<36} {'GPU':<18} {'component':<10} {'measured':>10} {'estimated':>10} "
             f"{'error':>9} {'error %':>8}"]
    for result in results:
        first = True
        for label in LABELS:
            entry = result["components"][label]
            if entry["measured"] is None:
                continue
            spec = ",.0f" if label == "kv_tokens" else ".2f"
            head = (f"{result['index']:>2} {result['model'][:36]:<36} {result['gpu'][:18]:<18}" if first
                    else f"{'':>2} {'':<36} {'':<18}")
            first = False
            lines.append(f"{head} {label:<10} {_fmt(entry['measured'], spec):>10} {_fmt(entry['estimated'], spec):>10} "
                         f"{_fmt(entry['error'], '+' + spec):>9} {_fmt(entry['error_pct'], '+.1f'):>8}")
    return "\n".join(lines)


def format_summary(stats: dict[str, dict[str, float | int | None]]) -> str:
    """The :func:`summary` as a table (|error| in % and in GiB — tokens for kv_tokens)."""
    lines = [f"{'component':<10} {'n':>3} {'median %':>9} {'p90 %':>8} {'max %':>8} {'signed %':>9} "
             f"{'median abs':>11} {'p90 abs':>9} {'max abs':>9}"]
    for label, s in stats.items():
        spec = ",.0f" if label == "kv_tokens" else ".2f"
        lines.append(f"{label:<10} {s['count']:>3} {_fmt(s['median_pct'], '.1f'):>9} {_fmt(s['p90_pct'], '.1f'):>8} "
                     f"{_fmt(s['max_pct'], '.1f'):>8} {_fmt(s['median_signed_pct'], '+.1f'):>9} "
                     f"{_fmt(s['median_abs'], spec):>11} {_fmt(s['p90_abs'], spec):>9} {_fmt(s['max_abs'], spec):>9}")
    return "\n".join(lines)


HEADING = "## Published vLLM measurements (other people's GPUs)"


def markdown_section(rows: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]]) -> str:
    """The "Published vLLM measurements" section: the summary per engine and every row's KV pool."""
    v1 = [r for r in results if r["vllm_engine"] == "V1"]
    lines = [
        HEADING, "",
        f"{len(rows)} vLLM start-up logs from GitHub issues, repositories and blogs "
        "(`validation/published/vllm_logs.jsonl`, a source URL on every row; none used to calibrate the estimator), "
        "each compared with `vramscope.estimate(engine=\"vllm\", vllm_version=…)` for the same model, GPU, flags and "
        "vLLM release (`python benchmarks/published_vllm.py` prints every component; this section is "
        "`--write-docs`). The profile-run peak, sampler warm-up, non-torch memory and CUDA-graph estimate follow "
        "each release's code (`vramscope/estimators/engines/vllm_releases.py`). |error| in % of the measured "
        "figure; signed > 0: the estimate is higher.", "",
        "| rows | component | n | median | p90 | max | median signed |", "|---|---|---:|---:|---:|---:|---:|",
    ]
    for title, where in (("all rows", None), ("V1 engine", lambda r: r["vllm_engine"] == "V1"),
                         ("V0 engine", lambda r: r["vllm_engine"] == "V0")):
        stats = summary(results, where=where)
        for label in ("weights", "activation", "non_torch", "kv_cache", "kv_tokens"):
            st = stats[label]
            if st["count"]:
                lines.append(f"| {title} | {label} | {st['count']} | {st['median_pct']:.1f} | {st['p90_pct']:.1f} | "
                             f"{st['max_pct']:.1f} | {st['median_signed_pct']:+.1f} |")
    lines += ["", "KV pool in tokens (`GPU KV cache size`, V0: blocks × 16) per row:", "",
              "| # | model | GPU | vLLM | measured | estimated | error % |", "|---:|---|---|---|---:|---:|---:|"]
    for r in results:
        e = r["components"]["kv_tokens"]
        if e["measured"] is None:
            e = r["components"]["kv_cache"]
            if e["measured"] is None:
                continue
            meas, est = f"{e['measured']:.2f} GiB", f"{e['estimated']:.2f} GiB"
        else:
            meas, est = f"{e['measured']:,.0f}", f"{e['estimated']:,.0f}"
        lines.append(f"| {r['index']} | {r['model']} | {r['gpu']} | {r['vllm_release'] or 'default'} "
                     f"({r['vllm_engine']}) | {meas} | {est} | {e['error_pct']:+.1f} |")
    def error(r: dict) -> float | None:
        tokens = r["components"]["kv_tokens"]["error_pct"]
        return tokens if tokens is not None else r["components"]["kv_cache"]["error_pct"]

    carried = [r for r in v1 if error(r) is not None]
    missed = [r["index"] for r in carried if abs(error(r)) > 5.0]
    lines += ["", f"{len(carried) - len(missed)} of the {len(carried)} V1 rows with a KV figure are within 5 %"
              + (f"; rows {', '.join(map(str, missed))} are not, for the reasons `validation/published/README.md` "
                 "and `tests/test_published.py::UNREACHED` give." if missed else ".")]
    return "\n".join(lines)
