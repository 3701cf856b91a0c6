"""Published vLLM start-up logs against vramscope's vLLM estimate, component by component.

Reads ``validation/published/vllm_logs.jsonl`` (what vLLM users published: weights, profile-run
activation peak, non-torch memory, KV cache in GiB per GPU and the KV capacity in tokens, with the
model, GPU and engine arguments of each run), rebuilds each workload for
``vramscope.estimate(..., engine="vllm")`` and prints, per row and component, the measured value,
the estimate and the error (estimate − measured, in GiB and in % of the measured value); then the
median / p90 / max ``|error|`` per component over all rows, the V1-engine rows and the V0-engine
rows (vramscope models vLLM's V1 profiling; V0 rows show how far that is from the old engine).

The comparison lives in ``vramscope.exact.published`` (tested by ``tests/test_published.py``);
this script only prints it. Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/published_vllm.py``
(about a second, no GPU, no network). Options: ``--rows FILE`` (another JSONL file of the same
shape), ``--assumptions`` (also print each row's filled-in defaults and model / GPU mapping),
``--json FILE`` (the per-row results as JSON), ``--markdown`` (print the docs section),
``--write-docs`` (put that section into ``docs/accuracy.md`` between its ``published-vllm`` markers,
replacing the hand-written section the first time).
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

from vramscope.exact import published  # noqa: E402

DOCS = ROOT / "docs" / "accuracy.md"
START, END = "<!-- published-vllm:start -->", "<!-- published-vllm:end -->"
HEADING = published.HEADING


def write_docs(section: str, path: Path = DOCS) -> None:
    """Replace the section between the markers (the first time: the hand-written section under HEADING)."""
    text = path.read_text(encoding="utf-8")
    block = section
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    elif HEADING in text:
        head, rest = text.split(HEADING, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else "\n"
        text = head + block + "\n" + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=published.DEFAULT_ROWS, help="JSONL file of published logs")
    parser.add_argument("--assumptions", action="store_true", help="print each row's defaults and mappings")
    parser.add_argument("--json", type=Path, help="write the per-row results here")
    parser.add_argument("--markdown", action="store_true", help="print the docs/accuracy.md section")
    parser.add_argument("--write-docs", action="store_true", help="write that section into docs/accuracy.md")
    args = parser.parse_args(argv)

    rows = published.load_rows(args.rows)
    bad = {i: problems for i, row in enumerate(rows, 1) if (problems := published.row_problems(row))}
    for index, problems in bad.items():
        print(f"row {index}: {'; '.join(problems)}", file=sys.stderr)
    if bad:
        return 1

    results = published.compare_rows(rows)
    if args.markdown or args.write_docs:
        section = f"{START}\n{published.markdown_section(rows, results)}\n{END}"
        print(section)
        if args.write_docs:
            write_docs(section)
            print(f"\nwrote {DOCS}")
        return 0
    compared = {r["index"] for r in results}
    sources = {row["source"].split("#")[0] for row in rows}
    print(f"{len(rows)} published rows from {len(sources)} sources; {len(results)} compared\n")

    mapped = sorted({(r["model"], r["catalog_model"]) for r in results if r["model"] != r["catalog_model"]})
    if mapped:
        print("Models not in the catalog, compared as their catalog base (BASE_MODEL):")
        for model, base in mapped:
            print(f"  {model} -> {base}: {published.BASE_MODEL[model][1]}")
        print()
    for index, row in enumerate(rows, 1):
        if index not in compared:
            print(f"row {index} ({row['model']} on {row['gpu']}) not compared: {published.skip_reason(row)}")

    print(published.format_table(results))
    if args.assumptions:
        print("\nAssumptions per row:")
        for r in results:
            print(f"{r['index']:>2} [{r['vllm_engine']} {r['vllm_release'] or 'default'}, weights {r['weights_format']}, T={r['max_num_batched_tokens']}, "
                  f"S={r['max_num_seqs']}] " + "; ".join(r["assumptions"]))

    groups = (
        ("all rows", None),
        ("V1 engine rows", lambda r: r["vllm_engine"] == "V1"),
        ("V0 engine rows", lambda r: r["vllm_engine"] == "V0"),
        ("unquantised checkpoints (weights modelled exactly)", lambda r: r["weights_exact"]),
    )
    for title, where in groups:
        print(f"\n|error| summary, {title} (% of measured; abs in GiB, tokens for kv_tokens; "
              "signed > 0 = estimate above measured):")
        print(published.format_summary(published.summary(results, where=where)))

    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
