"""Accuracy report: vramscope's estimate against the exact trace and GPU measurements, per suite case.

For every case of the measurement suite (``vramscope.exact.suite``, default ``default``: 40 HF
inference and training cases) this prints the measured peak (when ``validation/measurements/``
holds a GPU row for the case), the exact trace's peak, the estimate, and their errors; then the
median / p90 / max ``|error|`` per comparison mode; and writes the report to ``docs/accuracy.md``.

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/accuracy.py`` (a few minutes on 2 CPU cores:
each trace runs the real transformers model on fake tensors, extrapolated from 2–3 layers).
Options: ``--cases a,b`` (a subset), ``--no-trace`` (estimates and measurements only),
``--measurements DIR`` (default ``validation/measurements``), ``--out FILE`` (default
``docs/accuracy.md``; ``--out -`` writes nothing), ``--json FILE`` (the rows as JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vramscope.exact.compare import MODES, AccuracyRow, compare, load_measurements, summary  # noqa: E402
from vramscope.exact.suite import get_suite  # noqa: E402

GiB = 1 << 30
TRACE_MODE = "estimate vs trace"
MEASURED_MODE = "estimate vs measured (NVML total)"
DETAIL_THRESHOLD = 2.0  # % |estimate vs trace| above which the report breaks the case down

#: what is known about a case's remaining difference (found by comparing the trace's categories with
#: the estimate's components); shown under the case's breakdown and for the untraced cases
KNOWN = {
    "inf-deepseek-v2-lite-b4-p2048":
        "the KV cache is the MLA latent in both (transformers 5.x caches it compressed); the trace's prefill "
        "activations are higher: each layer expands the latents of every prompt token to per-head K and V "
        "(kv_b_proj), which the estimate's one-layer transient does not count yet.",
    "train-llama3.2-3b-full-bf16-ckpt-b2-s2048":
        "the peak is the end of backward, where the tied embedding's gradient meets the head's. Autograd sums "
        "the two in place on real tensors but out of place on fake tensors, so the trace holds one V×h "
        "gradient (0.73 GiB) more than a GPU would: the estimate follows the GPU.",
    "train-qwen1.5-moe-lora16-qkvo-b2-s1024":
        "the trace's activations are about 0.9 GiB above the estimate's (frozen experts, LoRA on attention); "
        "not yet broken down by layer part.",
    "train-llama3.1-8b-qlora16-all-ckpt-b4-s2048":
        "the harness calls `peft.prepare_model_for_kbit_training`, which casts every non-4-bit parameter "
        "(embeddings, norms, lm_head) to fp32: the estimate counts those weights in fp32 (kbit_prepare), but "
        "the residual stream that then runs in fp32 is counted in bf16 — expect the measurement above it.",
    "train-qwen2.5-0.5b-qlora16-qv-b8-s1024":
        "as for the other QLoRA case: the fp32 weights of `prepare_model_for_kbit_training` are counted (here "
        "mostly the 136M-parameter embedding), its fp32 residual stream is not.",
}


# ------------------------------------------------------------------------------------------------
# formatting


def gib(n: int | None) -> str:
    """Bytes as GiB with two decimals, or an en dash when missing."""
    return "–" if n is None else f"{n / GiB:.2f}"


def pct(e: float | None) -> str:
    """A signed error in percent with one decimal, or an en dash when missing."""
    return "–" if e is None else f"{e:+.1f}%"


def measured_cell(r: AccuracyRow) -> str:
    """``allocated / reserved / NVML`` GiB, or "not measured"."""
    if r.measured_allocated is None:
        return "not measured"
    return f"{gib(r.measured_allocated)} / {gib(r.measured_reserved)} / {gib(r.measured_nvml)}"


def trace_cell(r: AccuracyRow) -> str:
    """The trace peak in GiB and its phase, or "n/a"."""
    return "n/a" if r.trace_peak is None else f"{gib(r.trace_peak)} ({r.trace_phase})"


TABLE_HEAD = ("case", "measured alloc / reserved / NVML GiB", "trace GiB (phase)", "estimate alloc / total GiB",
              "err vs trace", "err vs measured")


def table_cells(r: AccuracyRow) -> tuple[str, ...]:
    return (r.case, measured_cell(r), trace_cell(r), f"{gib(r.estimate_allocated)} / {gib(r.estimate_total)}",
            pct(r.error(TRACE_MODE)), pct(r.error(MEASURED_MODE)))


def text_table(rows: Sequence[AccuracyRow]) -> str:
    """The per-case table as aligned plain text."""
    body = [TABLE_HEAD, *(table_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in body) for i in range(len(TABLE_HEAD))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True)))
             for line in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary_lines(stats: dict[str, dict]) -> list[str]:
    """One line per comparison mode: n, median, p90, max |error| and the worst case."""
    if not stats:
        return ["no comparison: neither traces nor measurements"]
    return [f"{mode:<36} n={s['n']:<3} median {s['median']:5.1f}%  p90 {s['p90']:5.1f}%  max {s['max']:5.1f}%  "
            f"(worst: {s['worst']}, {s['worst_error']:+.1f}%)" for mode, s in stats.items()]


# ------------------------------------------------------------------------------------------------
# the markdown report


def versions() -> dict[str, str]:
    """Versions of the libraries the traces ran with."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("vramscope", "torch", "transformers", "peft", "accelerate"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return out


def breakdown(r: AccuracyRow) -> list[str]:
    """A case's trace categories beside its estimate components (GiB), for the large errors."""
    cats = {k: v for k, v in (r.trace_categories or {}).items() if v}
    comps = {k: v for k, v in (r.estimate_components or {}).items() if v}
    lines = [f"**{r.case}** — estimate {gib(r.estimate_allocated)} GiB allocated vs trace {gib(r.trace_peak)} GiB "
             f"({pct(r.error(TRACE_MODE))}, trace peak in {r.trace_phase})", "",
             "- trace: " + ", ".join(f"{k} {gib(v)}" for k, v in cats.items()),
             "- estimate: " + ", ".join(f"{k} {gib(v)}" for k, v in comps.items())]
    if r.case in KNOWN:
        lines.append(f"- known: {KNOWN[r.case]}")
    return lines + [""]


def keep_published_runs(text: str, old: Path) -> str:
    """``text`` with the published-runs block of the old report kept (``benchmarks/published_runs.py
    --write-docs`` owns that block; this report does not recompute it)."""
    start, end = "<!-- published-runs:start -->", "<!-- published-runs:end -->"
    before = old.read_text(encoding="utf-8") if old.is_file() else ""
    if start not in before or end not in before or start in text:
        return text
    block = start + before.split(start, 1)[1].split(end, 1)[0] + end
    return text.rstrip("\n") + "\n\n" + block + "\n"


def published_section() -> list[str]:
    """Estimate vs the vLLM start-up figures other people measured on their GPUs
    (`validation/published/vllm_logs.jsonl`, one source URL per row): the same section as
    ``benchmarks/published_vllm.py --write-docs`` writes between its markers."""
    from vramscope.exact import published

    try:
        rows = published.load_rows()
        results = published.compare_rows(rows)
    except (OSError, ValueError) as exc:
        return ["", "## Published vLLM measurements", "", f"Not compared: {exc}"]
    return ["", "<!-- published-vllm:start -->", *published.markdown_section(rows, results).splitlines(),
            "<!-- published-vllm:end -->"]


def markdown(rows: Sequence[AccuracyRow], stats: dict[str, dict], *, suite: str, measurements_dir: str,
             measured_any: bool, traced: bool, seconds: float, argv: Sequence[str]) -> str:
    """The whole ``docs/accuracy.md``."""
    v = versions()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cmd = "HF_HUB_OFFLINE=1 python benchmarks/accuracy.py" + ("" if not argv else " " + " ".join(argv))
    out = [
        "# Accuracy: estimate vs exact trace vs GPU measurement",
        "",
        f"Generated {when} by `benchmarks/accuracy.py` over the `{suite}` suite ({len(rows)} cases, "
        f"{seconds:.0f} s on {os.cpu_count()} CPU cores) with "
        + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        "## Reproduce",
        "",
        "```bash",
        "pip install -e '.[exact]'          # torch (CPU wheel is enough), transformers, peft, accelerate",
        cmd,
        "# on a CUDA GPU, first record the ground truth the report compares with:",
        "vramscope measure --suite default --out validation/measurements/h100.jsonl",
        "```",
        "",
        "## What is compared",
        "",
        "* **measured** — the latest successful row per case in `validation/measurements/*.jsonl` "
        "(`vramscope measure`, see `validation/README.md`): `torch.cuda.max_memory_allocated`, "
        "`max_memory_reserved` and the process's memory as NVML sees it (CUDA context included).",
        "* **trace** — `vramscope.exact.trace`: the real transformers model of the case's config on fake tensors "
        "(no GPU), extrapolated from 2–3 decoder layers; its peak is what `max_memory_allocated` would show. "
        "Phase: where the peak is (prefill / decode, forward / backward / optimizer).",
        "* **estimate** — vramscope's closed-form estimate of the same workload "
        "(`vramscope.exact.compare.training_workload` / `inference_workload` map each case field). "
        "Its three figures per GPU (`Estimate.memory`, each component naming its pool): *alloc* = peak "
        "allocated, the torch tensors (no CUDA context, no allocator slack; the trace's basis); reserved = alloc + "
        "the caching allocator's slack (`max_memory_reserved`); *total* = device memory, every component (the "
        "NVML basis).",
        "* **err vs trace** = 100·(estimate alloc − trace)/trace; **err vs measured** = 100·(estimate total − "
        "NVML process memory)/NVML. Positive: the estimate is too high.",
        "",
    ]
    if not measured_any:
        out += [f"> **No GPU measurement exists yet**: `{measurements_dir}` holds no successful GPU row (no GPU has "
                "been available to run `vramscope measure`), so the *measured* columns read \"not measured\" and only "
                "the estimate-vs-trace comparison is made. Re-run this script after a measurement run to fill them.", ""]
    out += ["## Per case", ""]
    out += md_table(TABLE_HEAD, [table_cells(r) for r in rows])
    out += ["", "## Summary (|error|, percent)", ""]
    if stats:
        out += md_table(("comparison", "cases", "median", "p90", "max", "worst case"),
                        [(m, str(s["n"]), f"{s['median']:.1f}", f"{s['p90']:.1f}", f"{s['max']:.1f}",
                          f"{s['worst']} ({s['worst_error']:+.1f}%)") for m, s in stats.items()])
        out += ["", "p90: linear interpolation between order statistics (numpy's default). Modes: "
                + "; ".join(f"*{m}* = {p} vs {ref}" for m, (p, ref) in MODES.items()) + "."]
    else:
        out += ["No comparison was possible (no traces, no measurements)."]
    out += ["", "## Not traced / not measured", ""]
    untraced = [r for r in rows if r.trace_peak is None]
    if untraced:
        out += [f"* `{r.case}` — not traced: {r.trace_note}" + (f". Known: {KNOWN[r.case]}" if r.case in KNOWN else "")
                for r in untraced]
    elif traced:
        out += ["* every case was traced"]
    unmeasured = [r for r in rows if r.measured_allocated is None]
    if unmeasured and len(unmeasured) == len(rows):
        out += [f"* no case was measured: {unmeasured[0].measured_note}"]
    else:
        out += [f"* `{r.case}` — {r.measured_note}" for r in unmeasured]
    out += published_section()
    big = [r for r in rows if (e := r.error(TRACE_MODE)) is not None and abs(e) > DETAIL_THRESHOLD]
    if big:
        out += ["", f"## Cases more than {DETAIL_THRESHOLD:.0f}% from the trace", "",
                "The trace's categories at its peak beside the estimate's components (GiB).", ""]
        for r in sorted(big, key=lambda r: -abs(r.error(TRACE_MODE) or 0)):
            out += breakdown(r)
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------------------------------------


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="default", help="suite name (vramscope.exact.suite)")
    ap.add_argument("--cases", help="comma-separated case names (default: every case of the suite)")
    ap.add_argument("--no-trace", action="store_true", help="skip the exact traces")
    ap.add_argument("--measurements", default=str(Path("validation") / "measurements"),
                    help="directory of vramscope measure JSONL files")
    ap.add_argument("--out", default=str(Path("docs") / "accuracy.md"), help="markdown report ('-': none)")
    ap.add_argument("--json", help="also write the rows and the summary as JSON here")
    return ap.parse_args(argv)


def select(suite: str, names: str | None) -> list[dict]:
    cases = get_suite(suite)
    if not names:
        return cases
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    by_name = {c["name"]: c for c in cases}
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise SystemExit(f"no case {', '.join(missing)} in suite {suite!r}")
    return [by_name[n] for n in wanted]


def shown_args(argv: list[str]) -> list[str]:
    """The options worth repeating in the report's "Reproduce" line (``--json FILE`` dropped)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--json":
            skip = True
        elif not a.startswith("--json="):
            out.append(a)
    return out


def at_root(path: str) -> Path:
    """A relative path is taken from the repository root (so the script runs from anywhere)."""
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    cases = select(args.suite, args.cases)
    measurements = load_measurements(at_root(args.measurements))
    t0 = time.perf_counter()

    def progress(i: int, n: int, name: str) -> None:
        print(f"[{i + 1}/{n}] {name}  ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)

    rows = compare(cases, traces=not args.no_trace, measurements=measurements, progress=progress)
    seconds = time.perf_counter() - t0
    stats = summary(rows)
    print(text_table(rows))
    print()
    print("\n".join(summary_lines(stats)))
    if not measurements:
        print(f"\nno GPU measurement in {args.measurements}: measured columns are 'not measured'")
    print(f"\n{len(rows)} cases in {seconds:.0f} s")
    if args.out != "-":
        out = at_root(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        argv_shown = shown_args(list(argv if argv is not None else sys.argv[1:]))
        text = markdown(rows, stats, suite=args.suite, measurements_dir=args.measurements,
                        measured_any=any(r.measured_allocated is not None for r in rows),
                        traced=not args.no_trace, seconds=seconds, argv=argv_shown)
        out.write_text(keep_published_runs(text, out), encoding="utf-8")
        print(f"wrote {out}")
    if args.json:
        at_root(args.json).write_text(json.dumps({"rows": [r.to_dict() for r in rows], "summary": stats}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
