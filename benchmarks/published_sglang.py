"""Published SGLang start-up logs against vramscope's SGLang estimate (#tokens, K size, weights).

Reads ``validation/published/sglang_logs.jsonl`` (``KV Cache is allocated. #tokens: N, K size: X GB``
lines that SGLang users published, with the model, GPU and flags), rebuilds each workload for
``vramscope.estimate(..., engine="sglang")`` and prints per row the logged and estimated ``#tokens``,
K size and weights. The comparison lives in ``vramscope.exact.published_sglang`` (tested by
``tests/test_published_sglang.py``, whose UNREACHED says why a row stays outside 5 %).

Run: ``HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/published_sglang.py`` (no GPU, no network).
Options: ``--assumptions`` (each row's mappings and defaults), ``--markdown`` (print the docs section),
``--write-docs`` (put it into ``docs/accuracy.md`` between its ``published-sglang`` markers).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from vramscope.exact import published_sglang as P  # noqa: E402

DOCS = ROOT / "docs" / "accuracy.md"
START, END = "<!-- published-sglang:start -->", "<!-- published-sglang:end -->"


def write_docs(section: str, path: Path = DOCS) -> None:
    """Replace the section between the markers, or add it (with the markers) after the vLLM section."""
    text = path.read_text(encoding="utf-8")
    block = f"{START}\n{section}\n{END}"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    elif "<!-- published-vllm:end -->" in text:
        head, rest = text.split("<!-- published-vllm:end -->", 1)
        text = head + "<!-- published-vllm:end -->\n\n" + block + rest
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assumptions", action="store_true", help="print each row's mappings and defaults")
    parser.add_argument("--markdown", action="store_true", help="print the docs section")
    parser.add_argument("--write-docs", action="store_true", help="write the section into docs/accuracy.md")
    args = parser.parse_args(argv)
    rows = P.load_rows()
    results = P.compare_rows(rows)
    from test_published_sglang import UNREACHED

    section = P.markdown_section(rows, results, {i: why for i, (why, _) in UNREACHED.items()})
    if args.markdown:
        print(section)
    else:
        print(P.format_table(results))
        if args.assumptions:
            for r in results:
                print(f"{r['index']:>2} " + "; ".join(r["assumptions"]))
    if args.write_docs:
        write_docs(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
