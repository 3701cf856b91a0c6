"""The estimator against its sources of truth: exact traces and GPU measurements, case by case.

For every case of a measurement suite (:mod:`vramscope.exact.suite`) this module computes three
figures and the relative errors between them:

* **estimate** — ``vramscope``'s closed-form estimate of the same workload (the case's catalog
  config with its ``overrides``, so a cut-down MoE is estimated at the depth that runs), read as
  the estimate's own three figures (``Estimate.memory``): its *device* figure (``total`` here) is
  what the GPU shows for the process (``nvidia-smi``); its *allocated* figure (the torch tensors: no
  CUDA context, no allocator slack) compares with ``torch.cuda.max_memory_allocated``; its
  *reserved* figure (no CUDA context) with ``torch.cuda.max_memory_reserved``.
* **trace** — :func:`~vramscope.exact.trace.trace_training` / ``trace_inference`` of the same
  config and workload: the real transformers model on fake tensors, whose ``peak_bytes`` is what
  ``torch.cuda.max_memory_allocated`` would show. QLoRA cannot be traced (bitsandbytes' 4-bit
  layers need CUDA).
* **measured** — the latest successful row of ``vramscope measure`` for the case in
  ``validation/measurements/*.jsonl`` (``max_memory_allocated``, ``max_memory_reserved`` and the
  process's memory as NVML sees it, CUDA context included), when one exists.

Errors are signed, ``100 · (predicted − reference) / reference``: positive means the prediction is
too high. :func:`summary` gives the median, 90th percentile and maximum of ``|error|`` per mode.

Nothing here imports torch at module import time; only :func:`trace_case` needs it.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..estimators.result import Estimate
    from ..spec import ModelSpec
    from .result import TraceResult

#: comparison modes: name -> (predicted field, reference field) of :class:`AccuracyRow`
MODES: dict[str, tuple[str, str]] = {
    "estimate vs trace": ("estimate_allocated", "trace_peak"),
    "estimate vs measured (NVML total)": ("estimate_total", "measured_nvml"),
    "estimate vs measured allocated": ("estimate_allocated", "measured_allocated"),
    "estimate vs measured reserved": ("estimate_reserved", "measured_reserved"),
    "trace vs measured allocated": ("trace_peak", "measured_allocated"),
}

DEFAULT_MEASUREMENTS = Path("validation") / "measurements"
QLORA_REASON = "QLoRA cannot be traced: bitsandbytes' 4-bit layers need CUDA"


# ------------------------------------------------------------------------------------------------
# the estimate of a case


def case_spec(case: Mapping[str, Any]) -> ModelSpec:
    """The ModelSpec of the config the case runs: the catalog config with the case's ``overrides``
    applied (``case_config``, the same dict ``vramscope measure`` builds the model from)."""
    from ..families import spec_from_config
    from .measure import case_config

    return spec_from_config(case_config(dict(case)), model_id=str(case["model"]), source="catalog",
                            where=f"suite case {case['name']}")


def _lora_targets(targets: Any) -> str:
    """The suite's list of module names (or ``"all-linear"``) as the estimator's comma-separated string."""
    if isinstance(targets, str):
        return targets
    return ",".join(targets)


def training_workload(case: Mapping[str, Any]) -> dict[str, Any]:
    """The estimator's :class:`~vramscope.workload.Training` fields for a ``train`` case.

    Mapping choices (each mirrors what ``measure.run_training`` does):

    * ``method``, ``precision``, ``optimizer_impl``, ``batch``, ``seq_len``, ``attn``, ``lora_rank``:
      the same names and values;
    * ``optimizer``: the suite's ``sgd_momentum`` (torch's name) is the estimator's ``sgd-momentum``;
    * ``grad_ckpt``: ``True`` is transformers' ``gradient_checkpointing_enable`` — every decoder
      layer checkpointed, ``use_reentrant=False`` — which is the estimator's ``"full"``;
      ``False`` is ``"none"``;
    * ``lora_targets``: a list of module names becomes the comma-separated string; PEFT's
      defaults hold otherwise (fp32 adapters: ``lora_dtype="fp32"``, dropout 0);
    * QLoRA: ``BitsAndBytesConfig(nf4, double quantisation)`` is ``quant="nf4"``, ``double_quant=True``.
      Known difference: the harness calls ``peft.prepare_model_for_kbit_training``, which casts every
      non-4-bit parameter (embeddings, norms, an untied lm_head) to fp32, so the residual stream runs
      in fp32; the estimator keeps those tensors and activations in bf16. Untraceable, so only a GPU
      measurement can say by how much the QLoRA estimates are low;
    * one GPU, no gradient accumulation (the harness runs single micro-batches), HF's loss (labels
      given, so the logits are upcast to fp32: ``loss="hf"``), no padding mask (random ids and no
      ``attention_mask``: ``padding=False``);
    * ``steps`` has no counterpart: the estimate is the steady-state step, which is what the
      harness measures (it resets the peak after the first step).
    """
    optimizer = {"sgd_momentum": "sgd-momentum"}.get(case.get("optimizer", "adamw"), case.get("optimizer", "adamw"))
    wl: dict[str, Any] = dict(
        method=case.get("method", "full"), precision=case.get("precision", "bf16"), optimizer=optimizer,
        optimizer_impl=case.get("optimizer_impl", "fused"), batch=int(case["batch"]), seq_len=int(case["seq_len"]),
        attn=case.get("attn", "sdpa"), grad_ckpt="full" if case.get("grad_ckpt") else "none",
        grad_accum=1, padding=False, loss="hf",
    )
    if wl["method"] in ("lora", "qlora"):
        wl.update(lora_rank=int(case.get("lora_rank", 16)),
                  lora_targets=_lora_targets(case.get("lora_targets", ["q_proj", "v_proj"])),
                  lora_dtype="fp32", lora_dropout=0.0)
    if wl["method"] == "qlora":
        wl.update(quant="nf4", double_quant=True)
    return wl


def inference_workload(case: Mapping[str, Any]) -> dict[str, Any]:
    """The estimator's :class:`~vramscope.workload.Inference` fields for an ``inference`` case.

    Mapping choices (each mirrors what ``measure.run_inference`` does):

    * ``engine="hf"``, ``cache="dynamic"``: ``model.generate`` with transformers' default DynamicCache;
    * ``prompt_len``, ``batch``: the same; ``attn`` is the estimator's ``attn_impl``;
    * ``gen_len``: the same number. ``generate`` runs with ``max_new_tokens = gen_len + 1``: the
      prefill yields the first token and ``gen_len`` decode forwards follow, the last new token
      is never fed back, so the cache ends at ``prompt_len + gen_len`` tokens — the estimator's
      ``prompt_len + gen_len`` context;
    * ``dtype`` (bf16 | fp16 | fp32, the dtype the model is built in) is the weight format.
    """
    return dict(engine="hf", cache="dynamic", batch=int(case["batch"]), prompt_len=int(case["prompt_len"]),
                gen_len=int(case["gen_len"]), attn_impl=case.get("attn", "sdpa"),
                weights=case.get("dtype", "bf16"))


def run_estimate(case: Mapping[str, Any]) -> Estimate:
    """The full :class:`~vramscope.estimators.result.Estimate` of a case (no GPU given)."""
    spec = case_spec(case)
    if case["kind"] == "train":
        from ..estimators.training import estimate_training
        from ..workload import make_training

        return estimate_training(spec, make_training(**training_workload(case)))
    from ..estimators.inference import estimate_inference
    from ..workload import make_inference

    return estimate_inference(spec, make_inference(**inference_workload(case)))


def estimate_figures(est: Estimate) -> dict[str, int]:
    """The three figures of an estimate (``est.memory``), bytes per GPU.

    * ``total`` — the device figure, every component: the process's GPU memory (NVML / ``nvidia-smi``);
    * ``reserved`` — the torch pools (allocated + the caching allocator's slack):
      ``torch.cuda.max_memory_reserved``;
    * ``allocated`` — the torch tensors only: ``torch.cuda.max_memory_allocated`` and a trace's
      ``peak_bytes``.

    The suite's cases run transformers (torch), so every case has all three.
    """
    m = est.memory
    if m.allocated is None or m.reserved is None:
        raise ValueError(f"{est.engine} estimate without torch figures: {m.unavailable}")
    return {"total": m.device.bytes, "reserved": m.reserved.bytes, "allocated": m.allocated.bytes}


def estimate_case(case: Mapping[str, Any]) -> dict[str, Any]:
    """The estimate of a case: ``total``, ``reserved`` and ``allocated`` bytes per GPU (see
    :func:`estimate_figures`), the ``components`` (name → bytes) and the workload passed."""
    est = run_estimate(case)
    out: dict[str, Any] = estimate_figures(est)
    out["components"] = {c.name: int(c.bytes) for c in est.components}
    out["workload"] = training_workload(case) if case["kind"] == "train" else inference_workload(case)
    out["peak_phase"] = est.details.get("peak_phase")
    return out


# ------------------------------------------------------------------------------------------------
# the trace of a case


def untraceable_reason(case: Mapping[str, Any]) -> str | None:
    """Why a case cannot be traced on the CPU, or None when it can."""
    if case["kind"] == "train" and case.get("method") == "qlora":
        return QLORA_REASON
    attn = case.get("attn", "sdpa")
    if attn not in ("sdpa", "eager"):
        return f"attention {attn!r} needs CUDA (trace runs sdpa or eager)"
    return None


def trace_config(case: Mapping[str, Any]) -> dict[str, Any]:
    """The config dict a trace builds: the same as the measurement's, named after the model."""
    from .measure import case_config

    return {**case_config(dict(case)), "_name_or_path": str(case["model"])}


def trace_case(case: Mapping[str, Any], extrapolate: bool = True) -> TraceResult | None:
    """The exact trace of a case (extrapolated from a few layers by default); None when the case
    cannot be traced (:func:`untraceable_reason` says why: QLoRA)."""
    if untraceable_reason(case):
        return None
    from .trace import trace_inference, trace_training

    config = trace_config(case)
    if case["kind"] == "train":
        method = case.get("method", "full")
        return trace_training(
            config, method=method, precision=case.get("precision", "bf16"), optimizer=case.get("optimizer", "adamw"),
            optimizer_impl=case.get("optimizer_impl", "fused"), batch=int(case["batch"]), seq_len=int(case["seq_len"]),
            attn=case.get("attn", "sdpa"), grad_ckpt=bool(case.get("grad_ckpt")),
            lora_rank=int(case.get("lora_rank", 16)), lora_targets=case.get("lora_targets", ("q_proj", "v_proj")),
            extrapolate=extrapolate)
    return trace_inference(config, batch=int(case["batch"]), prompt_len=int(case["prompt_len"]),
                           gen_len=int(case["gen_len"]), attn=case.get("attn", "sdpa"), dtype=case.get("dtype", "bf16"),
                           extrapolate=extrapolate)


# ------------------------------------------------------------------------------------------------
# measurements


def _usable_row(row: Mapping[str, Any]) -> bool:
    """A GPU measurement that ran: status ok, on CUDA, not a dry run, with a non-zero peak."""
    return (row.get("status") == "ok" and row.get("device", "cuda") == "cuda" and not row.get("dry_run")
            and bool(row.get("max_memory_allocated")) and "case" in row)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file, in order; blank and unreadable lines are skipped."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            rows.append(obj)
    return rows


def load_measurements(directory: str | Path = DEFAULT_MEASUREMENTS) -> dict[str, dict[str, Any]]:
    """The latest usable measurement per case name from every ``*.jsonl`` under ``directory``.

    Rows that failed (``oom``, ``error``, ``skipped``), CPU or dry-run rows (no GPU figures) are
    skipped. "Latest" is the largest ``timestamp`` (ISO 8601 UTC, so it sorts as text); among
    equal timestamps the later row (files by name, lines in order) wins. A missing or empty
    directory gives ``{}``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    latest: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for row in read_jsonl(path):
            if not _usable_row(row):
                continue
            row = {**row, "source_file": path.name}
            old = latest.get(row["case"])
            if old is None or str(row.get("timestamp", "")) >= str(old.get("timestamp", "")):
                latest[row["case"]] = row
    return latest


def _same_params(case: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Whether a measurement ran the case as it is defined now (the suite may have changed since)."""
    params = row.get("params")
    if not isinstance(params, dict):
        return True  # a hand-written row without its parameters: trust the name
    return json.dumps(params, sort_keys=True, default=str) == json.dumps(dict(case), sort_keys=True, default=str)


# ------------------------------------------------------------------------------------------------
# rows


def error_pct(predicted: float | None, reference: float | None) -> float | None:
    """Signed relative error in percent, ``100 · (predicted − reference) / reference``; None when
    either figure is missing or the reference is not positive."""
    if predicted is None or reference is None or reference <= 0:
        return None
    return 100.0 * (predicted - reference) / reference


@dataclass(frozen=True)
class AccuracyRow:
    """One case: the measured, traced and estimated figures (bytes per GPU) and the errors (%).

    ``measured_*`` come from ``torch.cuda.max_memory_allocated`` / ``max_memory_reserved`` and the
    process's NVML memory (CUDA context included); ``trace_peak`` is the trace's ``peak_bytes``
    (allocated basis); ``estimate_allocated`` / ``estimate_reserved`` / ``estimate_total`` are
    :func:`estimate_figures`. ``errors`` maps each mode of :data:`MODES` that has both figures to
    its signed error. ``trace_note`` / ``measured_note`` say why a figure is missing.
    """

    case: str
    kind: str
    model: str
    estimate_allocated: int
    estimate_reserved: int
    estimate_total: int
    trace_peak: int | None = None
    trace_phase: str | None = None
    trace_categories: dict[str, int] | None = None
    trace_seconds: float | None = None
    trace_note: str = ""
    measured_allocated: int | None = None
    measured_reserved: int | None = None
    measured_nvml: int | None = None
    measured_gpu: str | None = None
    measured_note: str = ""
    estimate_components: dict[str, int] | None = None
    errors: dict[str, float] | None = None

    def error(self, mode: str) -> float | None:
        """The signed error of ``mode`` in percent, or None."""
        return (self.errors or {}).get(mode)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def row_errors(figures: Mapping[str, Any]) -> dict[str, float]:
    """The signed error of every mode of :data:`MODES` whose two figures are present."""
    out = {}
    for mode, (pred, ref) in MODES.items():
        e = error_pct(figures.get(pred), figures.get(ref))
        if e is not None:
            out[mode] = e
    return out


def build_row(case: Mapping[str, Any], estimate: Mapping[str, Any], trace: TraceResult | None = None,
              trace_note: str = "", measurement: Mapping[str, Any] | None = None,
              measured_note: str = "") -> AccuracyRow:
    """Assemble one :class:`AccuracyRow` from an :func:`estimate_case` dict, a trace and a measurement row."""
    figures: dict[str, Any] = dict(
        case=str(case["name"]), kind=str(case["kind"]), model=str(case.get("model", "")),
        estimate_allocated=int(estimate["allocated"]), estimate_reserved=int(estimate["reserved"]),
        estimate_total=int(estimate["total"]), estimate_components=dict(estimate.get("components") or {}),
        trace_note=trace_note, measured_note=measured_note,
    )
    if trace is not None:
        figures.update(trace_peak=int(trace.peak_bytes), trace_phase=trace.phase,
                       trace_categories=dict(trace.categories), trace_seconds=float(trace.seconds))
    if measurement is not None:
        nvml = measurement.get("nvml_process_used_bytes")
        figures.update(measured_allocated=int(measurement["max_memory_allocated"]),
                       measured_reserved=int(measurement.get("max_memory_reserved") or 0) or None,
                       measured_nvml=int(nvml) if nvml else None, measured_gpu=measurement.get("gpu_name"))
    figures["errors"] = row_errors(figures)
    return AccuracyRow(**figures)


def compare_case(case: Mapping[str, Any], traces: bool = True,
                 measurements: Mapping[str, Mapping[str, Any]] | None = None) -> AccuracyRow:
    """Estimate, (optionally) trace and look up the measurement of one case."""
    estimate = estimate_case(case)
    trace, trace_note = None, ""
    if not traces:
        trace_note = "not traced (--no-trace)"
    elif (reason := untraceable_reason(case)) is not None:
        trace_note = reason
    else:
        try:
            trace = trace_case(case)
        except Exception as exc:  # a trace that fails is reported, not fatal to the report
            trace_note = f"trace failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    measurement, measured_note = None, "not measured (no GPU measurement yet)"
    row = (measurements or {}).get(str(case["name"]))
    if row is not None:
        if _same_params(case, row):
            measurement, measured_note = row, ""
        else:
            measured_note = "measured with other parameters (the suite case changed since): not compared"
    return build_row(case, estimate, trace, trace_note, measurement, measured_note)


def compare(cases: Iterable[Mapping[str, Any]], traces: bool = True,
            measurements: Mapping[str, Mapping[str, Any]] | str | Path | None = None,
            progress=None) -> list[AccuracyRow]:
    """One :class:`AccuracyRow` per case. ``measurements`` is a dict from :func:`load_measurements`
    or a directory to load it from (None: no measurements). ``progress(i, n, name)`` is called
    before each case."""
    if isinstance(measurements, (str, Path)):
        measurements = load_measurements(measurements)
    cases = list(cases)
    rows = []
    for i, case in enumerate(cases):
        if progress:
            progress(i, len(cases), case["name"])
        rows.append(compare_case(case, traces, measurements))
    return rows


# ------------------------------------------------------------------------------------------------
# summary


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) with linear interpolation between order statistics
    (numpy's default): rank ``q/100 · (n − 1)`` in the sorted values."""
    if not values:
        raise ValueError("percentile of no values")
    xs = sorted(values)
    pos = q / 100 * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def abs_error_stats(errors: Iterable[float]) -> dict[str, float] | None:
    """``n``, ``median``, ``p90`` and ``max`` of ``|error|`` (percent); None for no errors."""
    xs = [abs(e) for e in errors]
    if not xs:
        return None
    return {"n": len(xs), "median": statistics.median(xs), "p90": percentile(xs, 90), "max": max(xs)}


def summary(rows: Iterable[AccuracyRow]) -> dict[str, dict[str, Any]]:
    """Per comparison mode with at least one case: ``n``, ``median``, ``p90`` and ``max`` of
    ``|error|`` in percent, and the ``worst`` case (name, signed error)."""
    rows = list(rows)
    out: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        pairs = [(r.case, r.error(mode)) for r in rows if r.error(mode) is not None]
        stats = abs_error_stats(e for _, e in pairs)
        if stats is None:
            continue
        worst = max(pairs, key=lambda p: abs(p[1]))
        out[mode] = {**stats, "worst": worst[0], "worst_error": worst[1]}
    return out
