"""Published GPU-memory measurements of real runs against vramscope's estimate of the same workload.

Reads ``validation/published/training_runs.jsonl`` (torchtune README tables and PRs, PEFT's
``method_comparison`` results and DeepSpeed / FSDP guides, Unsloth's context-length tables) and
``inference_runs.jsonl`` (the Qwen3 speed benchmark's Hugging Face runs): the measured figure, its
unit and kind, and the settings of each run. It rebuilds each workload for
``vramscope.estimate`` and prints per row the measured figure, the estimate figure of the same kind
(allocated / reserved / device), its low–high band and the signed error; then median / p90 / max
``|error|``, the median signed error and the band's coverage per category and per source, and the
five worst rows.

The comparison lives in ``vramscope.exact.published_runs`` (tested by
``tests/test_published_runs.py``); this script only prints it. Run:
``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/published_runs.py`` (about a second, no GPU, no
network). Options: ``--rows FILE`` (other JSONL files of the same shape, repeatable), ``--max-context`` (also
bisect the estimate's longest context for the capacity rows — a few seconds), ``--assumptions``
(print each row's assumptions and unsupported settings), ``--json FILE`` (the per-row results),
``--markdown`` (print the docs section), ``--write-docs`` (put that section into
``docs/accuracy.md`` between its ``published-runs`` markers, appending it when they are absent).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vramscope.exact import published_runs as pr  # noqa: E402

DOCS = ROOT / "docs" / "accuracy.md"
START, END = "<!-- published-runs:start -->", "<!-- published-runs:end -->"


def markdown(rows: list[dict], results: list[dict]) -> str:
    """The "Published training runs" section of ``docs/accuracy.md``."""
    groups = sorted({r["source_group"] for r in rows})
    worst = pr.worst(results)
    lines = [
        "## Published training runs, and Hugging Face inference (other people's GPUs)", "",
        f"{sum(r['mode'] == 'training' for r in rows)} GPU-memory figures of real training runs and "
        f"{sum(r['mode'] == 'inference' for r in rows)} of Hugging Face inference runs that their authors "
        f"published ({', '.join(groups)}; `validation/published/training_runs.jsonl` and `inference_runs.jsonl`, "
        "source URL pinned to a commit or a PR, the "
        "cell or log line, every setting and an assumption for each one the source leaves unstated — see "
        "`validation/published/README.md`), compared with `vramscope.estimate` for the same workload "
        "(`python benchmarks/published_runs.py` prints every row). Each row is compared with the estimate's own "
        "figure (its `memory` part: each component names the pool it lives in) for the kind of number its "
        "source reports: *allocated* (torchtune's `peak_memory_active`, `max_memory_allocated`) = the torch "
        "tensors, without the CUDA context and the allocator slack; *reserved* (PEFT's `method_comparison` logs "
        "reserved minus a ~2 MiB baseline) = allocated + the caching allocator's slack, without the CUDA "
        "context; *device* (nvidia-smi / W&B charts, and *capacity*: the GPU a run just fitted at its published "
        "maximum length) = the whole estimate, the per-GPU figure. Each has its own low–high band. "
        "|error| in % of the measured figure; signed > 0: the estimate is higher; *band "
        "holds*: share of rows whose low–high band contains the measurement. Rows with settings vramscope has no "
        "option for (`torch.compile`, Unsloth's kernels) are kept, mapped to the nearest option, and left out "
        "of *training supported*.", "",
        "The training rows are far off today, as issue 20 says; the table is the yardstick that modelling work is "
        "measured against, not a result. Training and inference are summarised apart (the inference rows are "
        "more numerous and would hide the training error).", "",
        pr.format_summary(pr.summary(results), markdown=True), "",
        pr.format_summary(pr.summary(results, "source_group"), markdown=True, title="source"), "",
        "Worst rows: " + "; ".join(f"`{r['id']}` {r['error_pct']:+.0f}%" for r in worst) + ".", "",
        "<details><summary>Every row</summary>", "",
        pr.format_table(results, markdown=True), "", "</details>",
    ]
    return "\n".join(lines)


def write_docs(section: str, path: Path = DOCS) -> None:
    """Replace the text between the markers in ``path`` by ``section`` (append both when absent)."""
    text = path.read_text(encoding="utf-8")
    block = f"{START}\n{section}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, action="append", help="JSONL file of published runs (repeatable)")
    parser.add_argument("--max-context", action="store_true", help="bisect the longest context for capacity rows")
    parser.add_argument("--assumptions", action="store_true", help="print each row's assumptions")
    parser.add_argument("--json", type=Path, help="write the per-row results here")
    parser.add_argument("--markdown", action="store_true", help="print the docs/accuracy.md section")
    parser.add_argument("--write-docs", action="store_true", help="write that section into docs/accuracy.md")
    args = parser.parse_args(argv)

    try:
        rows = pr.load_all(args.rows or pr.DEFAULT_FILES)
        pr.validate(rows)
    except (OSError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    results = pr.compare_rows(rows, with_max_context=args.max_context)

    if args.markdown or args.write_docs:
        section = markdown(rows, results)
        if args.write_docs:
            write_docs(section)
            print(f"wrote the published-runs section of {DOCS.relative_to(ROOT)}")
        if args.markdown:
            print(section)
        return 0

    sources = {row["source"] for row in rows}
    modes = {m: sum(row["mode"] == m for row in rows) for m in ("training", "inference")}
    print(f"{len(rows)} published runs ({modes['training']} training, {modes['inference']} inference) from "
          f"{len(sources)} source documents\n")
    print(pr.format_table(results))
    print("\nPer category (|error| in % of the measured figure; band = low–high holds the measurement):")
    print(pr.format_summary(pr.summary(results)))
    print("\nPer source:")
    print(pr.format_summary(pr.summary(results, "source_group"), title="source"))
    print("\nWorst rows:")
    for r in pr.worst(results):
        print(f"  {r['id']}: measured {r['measured']:.2f} GiB ({r['kind']}), estimate {r['estimated']:.2f} GiB "
              f"({r['error_pct']:+.1f}%), peak phase {r.get('peak_phase')}"
              + (f"; unsupported: {len(r['unsupported'])}" if r["unsupported"] else ""))
    if args.max_context:
        print("\nCapacity rows: the longest context the estimate fits in the same memory:")
        for r in results:
            if "published_max_context" in r:
                est = r["estimated_max_context"]
                print(f"  {r['id']}: published {r['published_max_context']:,} tokens, estimate "
                      f"{'—' if est is None else format(est, ',')}"
                      + ("" if est is None else f" ({r['max_context_error_pct']:+.0f}%)"))
    if args.assumptions:
        print()
        for row in rows:
            print(f"{row['id']}:")
            for note in row["assumptions"]:
                print(f"  assumed: {note}")
            for note in row["unsupported_settings"]:
                print(f"  unsupported: {note}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
