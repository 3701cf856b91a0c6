"""Published GPU-memory measurements of real runs against vramscope's estimate of the same workload.

``validation/published/training_runs.jsonl`` holds one row per figure that a framework or its users
published with enough settings to rebuild the workload: torchtune's README tables and PRs, PEFT's
``method_comparison`` results and its DeepSpeed / FSDP guides, Unsloth's context-length tables;
``inference_runs.jsonl`` the same for non-vLLM inference (the Qwen3 speed benchmark's Hugging Face
``generate`` runs; vLLM start-up logs are :mod:`vramscope.exact.published`).
Each row names its source (commit-pinned for repository files) and where in it the figure is, the
model, the GPU, the settings as :func:`vramscope.estimate` keywords (``settings``), the settings that
vramscope has no option for (``unsupported_settings``: Unsloth's kernels …, kept
and reported rather than dropped), the measured figure with its unit and *kind*, and an
``assumptions`` list for every setting the source leaves unstated.

What kind of number a source reports decides which of the estimate's own three figures (its JSON
``memory`` part, :class:`vramscope.estimators.result.MemoryFigures`) it is compared with
(:data:`KIND_FIGURE`) — the same figures :mod:`vramscope.exact.compare` uses for traces and
measurements:

* ``allocated`` (``torch.cuda.max_memory_allocated``) and ``active`` (torchtune's
  ``peak_memory_active``, ``memory_stats()["active_bytes.all.peak"]``: allocated blocks plus those
  awaiting a stream's free, the same tensors): the *allocated* figure (the torch tensors: no CUDA
  context, no allocator slack);
* ``reserved`` (``torch.cuda.max_memory_reserved``) and ``reserved_minus_baseline`` (PEFT's
  ``method_comparison``: reserved at the end minus reserved after a 1×1 ``nn.Linear``, ≈ 2 MiB): the
  *reserved* figure (no CUDA context);
* ``device`` (``nvidia-smi`` / NVML / W&B system charts, CUDA context included) and ``capacity``
  (the run just fitted a GPU of that memory at the published maximum length): the *device* figure,
  the whole estimate.

Each figure comes with its own low–high band. No torch, no network: models come from the built-in
catalog (``HF_HUB_OFFLINE=1``).

Used by ``benchmarks/published_runs.py`` (the report) and ``tests/test_published_runs.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

GiB = 1 << 30
MiB = 1 << 20

#: the rows shipped with the repository (absent from an installed wheel: pass a path then)
PUBLISHED = Path(__file__).resolve().parents[3] / "validation" / "published"
DEFAULT_ROWS = PUBLISHED / "training_runs.jsonl"
INFERENCE_ROWS = PUBLISHED / "inference_runs.jsonl"
DEFAULT_FILES: tuple[Path, ...] = (DEFAULT_ROWS, INFERENCE_ROWS)

#: every row carries these keys (null where the source does not say)
FIELDS: tuple[str, ...] = (
    "id", "mode", "source", "location", "source_group", "category", "model", "framework", "framework_version", "gpu",
    "gpu_id", "num_gpus", "settings", "unsupported_settings", "measured", "max_context_tokens", "assumptions", "notes",
)
#: row categories, in report order
CATEGORIES: tuple[str, ...] = ("full", "lora", "qlora", "prompt", "multi-gpu", "max-context", "inference-hf")
#: row modes -> the categories a row of that mode may have
MODE_CATEGORIES: dict[str, tuple[str, ...]] = {"training": CATEGORIES[:6], "inference": CATEGORIES[6:]}

#: the unit a measured value is written in -> bytes per unit
UNITS: dict[str, int] = {"B": 1, "MiB": MiB, "GiB": GiB, "MB": 10**6, "GB": 10**9}

#: kinds of measured number -> the estimate's figure it is compared with (a key of the estimate's
#: ``memory`` part: allocated | reserved | device), as the report labels it
KIND_FIGURE: dict[str, str] = {"allocated": "allocated", "active": "allocated", "reserved": "reserved",
                               "reserved_minus_baseline": "reserved", "device": "device", "capacity": "device"}
#: the kinds of measured number a row may report
KINDS: tuple[str, ...] = tuple(KIND_FIGURE)

#: the :func:`vramscope.estimate` training keywords a training row's ``settings`` may use
SETTINGS: frozenset[str] = frozenset({
    "method", "precision", "optimizer", "optimizer_impl", "optimizer_in_backward", "compile", "batch", "seq_len",
    "grad_accum",
    "grad_ckpt", "attn", "padding", "loss", "lora_rank", "lora_targets", "lora_dtype", "lora_dropout", "quant",
    "double_quant", "kbit_prepare", "trainable_layers", "num_virtual_tokens", "galore_rank", "gpus", "dp", "tp",
    "pp", "ep", "cp", "zero", "zero_config", "fsdp", "offload", "rl", "num_generations", "prompt_len", "completion_len", "beta",
    "recipe",  # a framework's defaults (vramscope.recipes) for the keywords the row does not give
})
#: the :func:`vramscope.estimate` inference keywords an inference row's ``settings`` may use
INFERENCE_SETTINGS: frozenset[str] = frozenset({
    "engine", "weights", "kv_dtype", "batch", "prompt_len", "gen_len", "context", "tp", "pp", "ep", "cache",
    "attn_impl", "n_gpu_layers", "n_batch", "n_ubatch", "flash_attn", "n_parallel", "kv_offload",
})
MODE_SETTINGS: dict[str, frozenset[str]] = {"training": SETTINGS, "inference": INFERENCE_SETTINGS}

#: checkpoints not in the catalog -> (the catalog model with the same architecture, why); the weights'
#: values do not change memory, their format is the row's ``weights`` setting
_INSTRUCT = "instruct fine-tune, same architecture"
_AWQ = "Qwen's AWQ export of it, same architecture; the row sets weights='awq'"
BASE_MODEL: dict[str, tuple[str, str]] = {
    "meta-llama/Llama-3.2-3B-Instruct": ("meta-llama/Llama-3.2-3B", _INSTRUCT),
    "meta-llama/Llama-3.1-8B-Instruct": ("meta-llama/Llama-3.1-8B", _INSTRUCT),
    "meta-llama/Llama-3.1-70B-Instruct": ("meta-llama/Llama-3.1-70B", _INSTRUCT),
    "meta-llama/Llama-3.1-405B-Instruct": ("meta-llama/Llama-3.1-405B", _INSTRUCT),
    "Qwen/Qwen3-4B-AWQ": ("Qwen/Qwen3-4B", _AWQ),
    "Qwen/Qwen3-8B-AWQ": ("Qwen/Qwen3-8B", _AWQ),
    "Qwen/Qwen3-14B-AWQ": ("Qwen/Qwen3-14B", _AWQ),
    "Qwen/Qwen3-32B-AWQ": ("Qwen/Qwen3-32B", _AWQ),
    "Qwen/Qwen2.5-0.5B-Instruct": ("Qwen/Qwen2.5-0.5B", _INSTRUCT),
    "Qwen/Qwen2.5-1.5B-Instruct": ("Qwen/Qwen2.5-1.5B", _INSTRUCT),
    "Qwen/Qwen2.5-3B-Instruct": ("Qwen/Qwen2.5-3B", _INSTRUCT),
    "Qwen/Qwen2.5-14B-Instruct": ("Qwen/Qwen2.5-14B", _INSTRUCT),
    "Qwen/Qwen2.5-32B-Instruct": ("Qwen/Qwen2.5-32B", _INSTRUCT),
    "Qwen/Qwen2.5-0.5B-Instruct-AWQ": ("Qwen/Qwen2.5-0.5B", _AWQ),
    "Qwen/Qwen2.5-1.5B-Instruct-AWQ": ("Qwen/Qwen2.5-1.5B", _AWQ),
    "Qwen/Qwen2.5-3B-Instruct-AWQ": ("Qwen/Qwen2.5-3B", _AWQ),
    "Qwen/Qwen2.5-7B-Instruct-AWQ": ("Qwen/Qwen2.5-7B-Instruct", _AWQ),
    "Qwen/Qwen2.5-14B-Instruct-AWQ": ("Qwen/Qwen2.5-14B", _AWQ),
    "Qwen/Qwen2.5-32B-Instruct-AWQ": ("Qwen/Qwen2.5-32B", _AWQ),
    "Qwen/Qwen2.5-72B-Instruct-AWQ": ("Qwen/Qwen2.5-72B-Instruct", _AWQ),
}


def load_all(paths: Iterable[str | Path] = DEFAULT_FILES) -> list[dict[str, Any]]:
    """The rows of every file (training, then inference), in file order."""
    return [row for path in paths for row in load_rows(path)]


def load_rows(path: str | Path = DEFAULT_ROWS) -> list[dict[str, Any]]:
    """The published rows of one file, one dict per non-empty JSONL line, in file order."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object")
            rows.append(row)
    return rows


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def row_problems(row: dict[str, Any]) -> list[str]:
    """What is wrong with a row (empty when it is well-formed)."""
    problems = [f"missing field {name!r}" for name in FIELDS if name not in row]
    problems += [f"unknown field {name!r}" for name in row if name not in FIELDS]
    source = row.get("source")
    if not isinstance(source, str) or not source.startswith("https://"):
        problems.append("source must be an https URL")
    elif source.startswith("https://github.com/") and "/blob/" in source:
        commit = source.split("/blob/", 1)[1].split("/", 1)[0]
        if len(commit) != 40 or any(ch not in "0123456789abcdef" for ch in commit):
            problems.append("a repository file's source must be pinned to a 40-hex commit (…/blob/<commit>/<path>)")
    for name in ("id", "location", "source_group", "model", "framework", "gpu"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            problems.append(f"{name} must be a non-empty string")
    mode = row.get("mode")
    if mode not in MODE_CATEGORIES:
        problems.append("mode must be training or inference")
    elif row.get("category") not in MODE_CATEGORIES[mode]:
        problems.append(f"{'an' if mode == 'inference' else 'a'} {mode} row's category must be one of {', '.join(MODE_CATEGORIES[mode])}")
    num_gpus = row.get("num_gpus")
    if not isinstance(num_gpus, int) or isinstance(num_gpus, bool) or num_gpus < 1:
        problems.append("num_gpus must be a whole number >= 1")
    settings = row.get("settings")
    if not isinstance(settings, dict):
        problems.append("settings must be an object of vramscope.estimate keywords")
    else:
        allowed = MODE_SETTINGS.get(mode, SETTINGS)
        problems += [f"settings: {key!r} is not a vramscope.estimate {mode or 'training'} keyword" for key in settings
                     if key not in allowed]
        if mode == "training":
            if "method" not in settings and "rl" not in settings:
                problems.append("settings must name a method (or rl)")
            if isinstance(num_gpus, int) and settings.get("gpus", 1) != num_gpus:
                problems.append(f"settings.gpus ({settings.get('gpus', 1)}) differs from num_gpus ({num_gpus})")
        elif mode == "inference":
            if "engine" not in settings:
                problems.append("an inference row's settings must name the engine")
            if isinstance(num_gpus, int) and settings.get("tp", 1) * settings.get("pp", 1) != num_gpus:
                problems.append("an inference row's tp x pp must equal num_gpus")
    for name in ("unsupported_settings", "assumptions"):
        value = row.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            problems.append(f"{name} must be a list of non-empty strings")
    measured = row.get("measured")
    if not isinstance(measured, dict):
        problems.append("measured must be an object {value, unit, kind}")
    else:
        if set(measured) != {"value", "unit", "kind"}:
            problems.append("measured must have exactly the keys value, unit, kind")
        if not _is_number(measured.get("value")) or measured.get("value", 0) <= 0:
            problems.append("measured.value must be a positive number")
        if measured.get("unit") not in UNITS:
            problems.append(f"measured.unit must be one of {', '.join(UNITS)}")
        if measured.get("kind") not in KINDS:
            problems.append(f"measured.kind must be one of {', '.join(KINDS)}")
        capacity = measured.get("kind") == "capacity"
        tokens = row.get("max_context_tokens")
        if capacity != (tokens is not None):
            problems.append("max_context_tokens is given exactly when measured.kind is 'capacity'")
        elif capacity and isinstance(settings, dict) and settings.get("seq_len") != tokens:
            problems.append("a capacity row's settings.seq_len must be its max_context_tokens")
    return problems


def validate(rows: Sequence[dict[str, Any]]) -> None:
    """Raise ``ValueError`` naming every malformed row (by id or line) and what is wrong with it."""
    lines = []
    seen: set[str] = set()
    for number, row in enumerate(rows, 1):
        name = row.get("id") if isinstance(row.get("id"), str) else f"row {number}"
        problems = row_problems(row)
        if name in seen:
            problems.append("duplicate id")
        seen.add(name)
        lines += [f"{name}: {p}" for p in problems]
    if lines:
        raise ValueError("published training rows are malformed:\n" + "\n".join(lines))


def to_bytes(value: float, unit: str) -> float:
    """A measured value in bytes: ``to_bytes(7.4, "GiB")`` = 7.4 × 2³⁰, ``to_bytes(36.6, "GB")`` = 36.6 × 10⁹."""
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}")
    return value * UNITS[unit]


def catalog_model(row: dict[str, Any]) -> tuple[str, str | None]:
    """(catalog id, mapping note or None) for the row's model."""
    model = row["model"]
    if model in BASE_MODEL:
        base, why = BASE_MODEL[model]
        return base, f"{model} -> {base} ({why})"
    return model, None


def estimate_kwargs(row: dict[str, Any]) -> dict[str, Any]:
    """The :func:`vramscope.estimate` keywords for the row (model and GPU aside)."""
    kwargs = dict(row["settings"])
    if row["mode"] == "training" and row["num_gpus"] > 1:
        kwargs.setdefault("gpus", row["num_gpus"])
    return kwargs


def estimate_row(row: dict[str, Any], **override: Any) -> dict[str, Any]:
    """``vramscope.estimate(...).to_dict()`` for the row's workload (``override`` replaces settings,
    e.g. ``seq_len``). Raises :class:`vramscope.errors.VramscopeError` / ``ValueError`` when the
    estimator refuses the workload."""
    from .. import estimate

    model, _ = catalog_model(row)
    kwargs = {**estimate_kwargs(row), **override}
    gpu = row.get("gpu_id")
    return estimate(model, gpu=gpu, **kwargs).to_dict()


def refusal(row: dict[str, Any]) -> str | None:
    """Why the estimator refuses the row's workload (None when it accepts it)."""
    from ..errors import VramscopeError

    try:
        estimate_row(row)
    except (VramscopeError, ValueError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def figure(est: dict[str, Any], kind: str) -> tuple[int, int, int]:
    """(expected, low, high) bytes per GPU of an estimate (its JSON view) for a kind of measured number:
    the estimate's own figure for that kind (:data:`KIND_FIGURE`), from its ``memory`` part. An engine
    that is not torch has no allocated / reserved figure: comparing one of those kinds with it is an
    error that says why."""
    if kind not in KIND_FIGURE:
        raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    memory = est["memory"]
    value = memory[KIND_FIGURE[kind]]
    if value is None:
        raise ValueError(f"a {kind!r} measurement cannot be compared with this estimate: {memory['unavailable']}")
    return value["bytes"], value["low_bytes"], value["high_bytes"]


def signed_error_pct(estimated: float, measured: float) -> float:
    """(estimate − measured) / measured in %: > 0 means vramscope says more than was measured."""
    return 100.0 * (estimated - measured) / measured


def max_context(row: dict[str, Any], limit_bytes: float, *, ceiling: int = 1 << 21) -> int | None:
    """The longest ``seq_len`` whose whole (device) estimate for the row stays within ``limit_bytes``
    (bisection over the public :func:`vramscope.estimate`; None when even 1 token does not fit)."""
    def fits(n: int) -> bool:
        return estimate_row(row, seq_len=n)["per_gpu_bytes"] <= limit_bytes

    if not fits(1):
        return None
    low, high = 1, 2
    while high < ceiling and fits(high):
        low, high = high, high * 2
    if high >= ceiling and fits(ceiling):
        return ceiling
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


def compare_row(row: dict[str, Any], *, with_max_context: bool = False) -> dict[str, Any]:
    """The estimate for the row's workload next to its measured figure.

    Returns ``id``, ``category``, ``source_group``, ``kind`` and ``figure`` (which estimate figure it
    is compared with), ``measured`` / ``estimated`` / ``low`` / ``high`` in GiB per GPU, ``error``
    (GiB) and ``error_pct`` (signed, vs the measured value), ``in_band`` (low <= measured <= high),
    ``supported`` (no unsupported settings), ``unsupported`` and ``mapping`` (model mapping, kept
    assumptions). With ``with_max_context`` a capacity row also gets ``estimated_max_context`` and
    its error in % of the published length. ``refused`` carries the estimator's message (and the
    figures are None) when it does not accept the workload.
    """
    measured_b = to_bytes(row["measured"]["value"], row["measured"]["unit"])
    kind = row["measured"]["kind"]
    _, model_note = catalog_model(row)
    out: dict[str, Any] = {
        "id": row["id"], "mode": row["mode"], "category": row["category"], "source_group": row["source_group"], "model": row["model"],
        "gpu": row["gpu"], "num_gpus": row["num_gpus"], "kind": kind, "figure": KIND_FIGURE[kind],
        "measured": measured_b / GiB, "unsupported": list(row["unsupported_settings"]),
        "supported": not row["unsupported_settings"], "mapping": [n for n in (model_note,) if n],
        "estimated": None, "low": None, "high": None, "error": None, "error_pct": None, "in_band": None,
        "refused": refusal(row),
    }
    if out["refused"] is not None:
        return out
    est = estimate_row(row)
    value, low, high = figure(est, kind)
    out.update(estimated=value / GiB, low=low / GiB, high=high / GiB, error=(value - measured_b) / GiB,
               error_pct=signed_error_pct(value, measured_b), in_band=low <= measured_b <= high,
               peak_phase=est["details"].get("peak_phase"))
    if with_max_context and kind == "capacity":
        tokens = max_context(row, measured_b)
        out["published_max_context"] = row["max_context_tokens"]
        out["estimated_max_context"] = tokens
        out["max_context_error_pct"] = (None if tokens is None
                                        else signed_error_pct(tokens, row["max_context_tokens"]))
    return out


def compare_rows(rows: Iterable[dict[str, Any]], *, with_max_context: bool = False) -> list[dict[str, Any]]:
    """:func:`compare_row` over every row, in file order (refused rows included, with their reason)."""
    return [compare_row(row, with_max_context=with_max_context) for row in rows]


def _quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (0 <= q <= 1) of a non-empty sequence."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, float | int | None]:
    """``count``, ``median_pct`` / ``p90_pct`` / ``max_pct`` of |error| in %, ``median_signed_pct``
    and ``band_coverage`` (share of rows whose band holds the measurement) over compared results."""
    done = [r for r in results if r["error_pct"] is not None]
    errors = [abs(r["error_pct"]) for r in done]
    return {
        "count": len(done),
        "refused": len(results) - len(done),
        "median_pct": _quantile(errors, 0.5) if errors else None,
        "p90_pct": _quantile(errors, 0.9) if errors else None,
        "max_pct": max(errors) if errors else None,
        "median_signed_pct": _quantile([r["error_pct"] for r in done], 0.5) if done else None,
        "band_coverage": sum(bool(r["in_band"]) for r in done) / len(done) if done else None,
    }


def summary(results: Sequence[dict[str, Any]], by: str = "category") -> dict[str, dict[str, float | int | None]]:
    """:func:`summarise` per value of ``by`` (``category`` in :data:`CATEGORIES` order, or
    ``source_group``), then ``training`` (every training row), ``training supported`` (those without
    unsupported settings) and ``inference``. No line mixes the modes: the inference rows outnumber the
    training rows and would hide the training error."""
    keys = [k for k in CATEGORIES if any(r[by] == k for r in results)] if by == "category" else \
        sorted({r[by] for r in results})
    out = {key: summarise([r for r in results if r[by] == key]) for key in keys}
    training = [r for r in results if r["mode"] == "training"]
    if training:
        out["training"] = summarise(training)
        out["training supported"] = summarise([r for r in training if r["supported"]])
    inference = [r for r in results if r["mode"] == "inference"]
    if inference:
        out["inference"] = summarise(inference)
    return out


def worst(results: Sequence[dict[str, Any]], n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` compared results with the largest |error|."""
    done = [r for r in results if r["error_pct"] is not None]
    return sorted(done, key=lambda r: -abs(r["error_pct"]))[:n]


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def format_table(results: Sequence[dict[str, Any]], *, markdown: bool = False) -> str:
    """One line per row: measured figure and kind, the matching estimate, its band, the error."""
    head = ("id", "kind", "measured GiB", "estimate GiB", "low–high GiB", "error %", "in band", "unsupported")
    lines = []
    if markdown:
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join([":--", ":--"] + ["--:"] * 5 + [":--"]) + "|"]
    else:
        lines.append(f"{head[0]:<44} {head[1]:<23} {head[2]:>12} {head[3]:>12} {head[4]:>15} {head[5]:>8} "
                     f"{head[6]:>7}  {head[7]}")
    for r in results:
        band = "—" if r["low"] is None else f"{r['low']:.1f}–{r['high']:.1f}"
        kind = f"{r['kind']} ({r['figure']})" if r["kind"] != r["figure"] else r["kind"]
        unsup = str(len(r["unsupported"])) if r["unsupported"] else ""
        in_band = "—" if r["in_band"] is None else ("yes" if r["in_band"] else "no")
        cells = (r["id"], kind, _fmt(r["measured"]), _fmt(r["estimated"]), band, _fmt(r["error_pct"], "+.1f"),
                 in_band, unsup if not r["refused"] else "refused: " + r["refused"][:60])
        if markdown:
            lines.append("| " + " | ".join(cells) + " |")
        else:
            lines.append(f"{cells[0]:<44} {cells[1]:<23} {cells[2]:>12} {cells[3]:>12} {cells[4]:>15} {cells[5]:>8} "
                         f"{cells[6]:>7}  {cells[7]}")
    return "\n".join(lines)


def format_summary(stats: dict[str, dict[str, float | int | None]], *, markdown: bool = False,
                   title: str = "category") -> str:
    """The :func:`summary` as a table."""
    head = (title, "n", "median |err| %", "p90 %", "max %", "median signed %", "band holds")
    lines = []
    if markdown:
        cells = [h.replace("|", "\\|") for h in head]  # a bare | would split the markdown cell
        lines += ["| " + " | ".join(cells) + " |", "|:--|" + "--:|" * 6]
    else:
        lines.append(f"{head[0]:<24} {head[1]:>3} {head[2]:>15} {head[3]:>7} {head[4]:>7} {head[5]:>16} {head[6]:>10}")
    for key, s in stats.items():
        cover = "—" if s["band_coverage"] is None else f"{100 * s['band_coverage']:.0f}%"
        cells = (key, str(s["count"]), _fmt(s["median_pct"], ".1f"), _fmt(s["p90_pct"], ".1f"),
                 _fmt(s["max_pct"], ".1f"), _fmt(s["median_signed_pct"], "+.1f"), cover)
        if markdown:
            lines.append("| " + " | ".join(cells) + " |")
        else:
            lines.append(f"{cells[0]:<24} {cells[1]:>3} {cells[2]:>15} {cells[3]:>7} {cells[4]:>7} {cells[5]:>16} "
                         f"{cells[6]:>10}")
    return "\n".join(lines)
