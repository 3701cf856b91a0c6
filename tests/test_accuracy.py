"""Accuracy: the estimator held to the exact trace on suite cases (fails when accuracy regresses),
and the measurement / summary plumbing of ``vramscope.exact.compare`` on hand-made numbers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from vramscope.exact.compare import (
    AccuracyRow,
    abs_error_stats,
    compare,
    error_pct,
    estimate_case,
    load_measurements,
    percentile,
    summary,
    training_workload,
    untraceable_reason,
)
from vramscope.exact.suite import get_suite

pytestmark = pytest.mark.slow  # traces the default suite (about 90 s)

GiB = 1 << 30
TRACE = "estimate vs trace"
NVML = "estimate vs measured (NVML total)"
ROOT = Path(__file__).resolve().parents[1]

# Suite cases whose traces are fast on the CPU (about 40 s together on 2 cores, imports included),
# covering inference SDPA / eager / sliding window and training bf16 / mixed / fp32, checkpointing,
# LoRA with eager attention, Gemma's sliding windows and soft-capping, and MoE. Bound = the
# |estimate − trace| / trace measured when the bounds were set (the comment), rounded up a little.
BOUNDS = {
    "inf-qwen2.5-0.5b-b32-p1024": 3.0,                         # +2.3%
    "inf-llama3.2-1b-b8-p2048": 2.0,                           # +1.4%
    "inf-llama3.2-1b-b8-p2048-eager": 2.5,                     # +1.6%
    "inf-gemma3-1b-b8-p4096-sliding": 1.0,                     # -0.3%
    "train-qwen2.5-0.5b-full-bf16-b8-s1024": 0.5,              # -0.0%
    "train-qwen2.5-0.5b-full-mixed-b8-s1024": 0.5,             # -0.0%
    "train-qwen2.5-0.5b-full-fp32-b4-s1024": 0.5,              # -0.0%
    "train-llama3.2-1b-full-bf16-ckpt-b4-s2048": 0.5,          # -0.1%
    "train-llama3.2-1b-lora16-qkvo-eager-b4-s2048": 0.5,       # +0.1%
    "train-gemma3-1b-full-mixed-b4-s2048-sliding": 1.5,        # -0.9%
    "train-gemma2-2b-full-bf16-ckpt-b2-s2048-sliding": 0.7,    # -0.2%
    "train-qwen1.5-moe-4l-full-bf16-b2-s1024": 0.5,            # -0.0%
}
MEDIAN_BOUND = 0.5  # median |error| over these cases: 0.15%


def _cases(names) -> list[dict]:
    by_name = {c["name"]: c for c in get_suite("default")}
    return [by_name[n] for n in names]


@pytest.fixture(scope="module")
def traced_rows() -> dict[str, AccuracyRow]:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    rows = compare(_cases(BOUNDS), traces=True, measurements=None)
    return {r.case: r for r in rows}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(BOUNDS))
def test_estimate_within_bound_of_the_trace(traced_rows, name):
    row = traced_rows[name]
    assert row.trace_peak is not None, row.trace_note
    err = row.error(TRACE)
    assert err is not None and abs(err) <= BOUNDS[name], (
        f"{name}: estimate {row.estimate_allocated / GiB:.2f} GiB vs trace {row.trace_peak / GiB:.2f} GiB "
        f"({err:+.2f}%, bound {BOUNDS[name]}%)")


@pytest.mark.torch
def test_median_error_against_the_trace(traced_rows):
    stats = summary(traced_rows.values())[TRACE]
    assert stats["n"] == len(BOUNDS)
    assert stats["median"] <= MEDIAN_BOUND, stats


# --- no torch needed below ------------------------------------------------------------------------


def test_qlora_is_not_traced_and_the_rest_are():
    cases = get_suite("default")
    reasons = {c["name"]: untraceable_reason(c) for c in cases}
    qlora = [n for n, r in reasons.items() if r]
    assert qlora and all("qlora" in n for n in qlora)
    assert all("bitsandbytes" in reasons[n] for n in qlora)


def test_case_fields_map_onto_the_training_workload():
    case = next(c for c in get_suite("default") if c["name"] == "train-llama3.1-8b-lora16-all-ckpt-b2-s2048")
    wl = training_workload(case)
    assert wl["grad_ckpt"] == "full" and wl["lora_targets"] == "all-linear" and wl["lora_dtype"] == "fp32"
    qkvo = training_workload(dict(case, lora_targets=["q_proj", "k_proj", "v_proj", "o_proj"], grad_ckpt=False,
                                  optimizer="sgd_momentum"))
    assert qkvo["lora_targets"] == "q_proj,k_proj,v_proj,o_proj" and qkvo["grad_ckpt"] == "none"
    assert qkvo["optimizer"] == "sgd-momentum"


def test_estimate_figures_drop_context_and_slack():
    case = _cases(["inf-llama3.2-1b-b1-p512"])[0]
    e = estimate_case(case)
    comps = e["components"]
    assert e["total"] == sum(comps.values())
    assert e["reserved"] == e["total"] - comps["CUDA context"]
    assert e["allocated"] == e["reserved"] - comps["allocator slack"]


def _row(case: dict, **kw) -> dict:
    row = {"case": case["name"], "model": case["model"], "kind": case["kind"], "device": "cuda", "dry_run": False,
           "params": case, "status": "ok", "gpu_name": "NVIDIA H100 80GB HBM3"}
    row.update(kw)
    return row


def test_load_measurements_keeps_the_latest_good_row_and_compare_uses_it(tmp_path):
    case, other = _cases(["train-qwen2.5-0.5b-full-bf16-b8-s1024", "inf-llama3.2-1b-b1-p512"])
    nvml, allocated, reserved = 30 * GiB, 27 * GiB, 28 * GiB
    rows = [
        _row(case, timestamp="2025-01-01T00:00:00Z", max_memory_allocated=1, max_memory_reserved=1,
             nvml_process_used_bytes=1),  # older
        _row(case, timestamp="2025-01-02T00:00:00Z", max_memory_allocated=allocated, max_memory_reserved=reserved,
             nvml_process_used_bytes=nvml),  # the latest good row
        _row(case, timestamp="2025-01-03T00:00:00Z", status="oom", max_memory_allocated=80 * GiB),  # failed
        _row(case, timestamp="2025-01-04T00:00:00Z", device="cpu", dry_run=True, max_memory_allocated=0),
        # measured with other parameters than the suite's case now has: not compared
        _row(other, timestamp="2025-01-02T00:00:00Z", params=dict(other, batch=2), max_memory_allocated=GiB,
             max_memory_reserved=GiB, nvml_process_used_bytes=GiB),
    ]
    d = tmp_path / "measurements"
    d.mkdir()
    (d / "h100.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\nnot json\n")
    got = load_measurements(d)
    assert set(got) == {case["name"], other["name"]}
    assert got[case["name"]]["nvml_process_used_bytes"] == nvml

    by = {r.case: r for r in compare([case, other], traces=False, measurements=d)}
    r = by[case["name"]]
    est = estimate_case(case)
    assert r.measured_nvml == nvml and r.measured_allocated == allocated and r.measured_reserved == reserved
    assert r.error(NVML) == pytest.approx(100 * (est["total"] - nvml) / nvml)
    assert r.error("estimate vs measured allocated") == pytest.approx(100 * (est["allocated"] - allocated) / allocated)
    assert r.error("estimate vs measured reserved") == pytest.approx(100 * (est["reserved"] - reserved) / reserved)
    assert r.error(TRACE) is None and "no-trace" in r.trace_note
    stale = by[other["name"]]
    assert stale.measured_nvml is None and stale.error(NVML) is None and "other parameters" in stale.measured_note
    assert load_measurements(tmp_path / "absent") == {}


def test_summary_median_p90_max_by_hand():
    errors = {"a": 1.0, "b": -2.0, "c": 3.0, "d": -4.0, "e": 10.0}
    rows = [AccuracyRow(case=n, kind="train", model="m", estimate_allocated=1, estimate_reserved=1, estimate_total=1,
                        errors={TRACE: e, **({NVML: 2 * e} if n in "ab" else {})}) for n, e in errors.items()]
    rows.append(AccuracyRow(case="f", kind="train", model="m", estimate_allocated=1, estimate_reserved=1,
                            estimate_total=1, errors={}))
    s = summary(rows)
    # |errors| 1, 2, 3, 4, 10: median 3; p90 at rank 0.9·4 = 3.6 → 4 + 0.6·(10 − 4) = 7.6; max 10
    assert s[TRACE] == {"n": 5, "median": 3.0, "p90": pytest.approx(7.6), "max": 10.0, "worst": "e", "worst_error": 10.0}
    # 2, 4: median 3, p90 at rank 0.9 → 2 + 0.9·2 = 3.8
    assert s[NVML]["median"] == 3.0 and s[NVML]["p90"] == pytest.approx(3.8) and s[NVML]["worst_error"] == -4.0
    assert "trace vs measured allocated" not in s
    assert abs_error_stats([]) is None
    assert percentile([5.0], 90) == 5.0
    assert error_pct(110, 100) == pytest.approx(10.0) and error_pct(1, 0) is None and error_pct(None, 1) is None


def test_benchmark_writes_the_report_without_traces(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", ROOT / "benchmarks" / "accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "accuracy.md"
    code = mod.main(["--no-trace", "--cases", "inf-llama3.2-1b-b1-p512,train-qwen2.5-0.5b-qlora16-qv-b8-s1024",
                     "--measurements", str(tmp_path / "none"), "--out", str(out)])
    assert code == 0
    text = out.read_text()
    assert "No GPU measurement exists yet" in text and "inf-llama3.2-1b-b1-p512" in text
    assert "not traced (--no-trace)" in text
    assert "not measured" in capsys.readouterr().out
