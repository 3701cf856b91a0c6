"""Published SGLang start-up logs (``validation/published/sglang_logs.jsonl``) against the SGLang estimate.

The Must-show of issue 15: SGLang's ``#tokens`` (``KV Cache is allocated. #tokens: N``) within 5 % of every
published log whose inputs are known; the rows that stay outside are listed in UNREACHED with why and held
to today's error. The bounds are what the comparison gave when the rows were collected, rounded up.
Offline (catalog models only; ``HF_HUB_OFFLINE=1`` from conftest).
"""

from __future__ import annotations

import json

import pytest

from vramscope.exact import published_sglang as P

ROWS = P.load_rows()

#: rows whose #tokens the code-derived pool does not bring within 5 %, with why and the error today
#: (the bound is that, rounded up: it fails if the row drifts further)
UNREACHED: dict[int, tuple[str, float]] = {
    3: ("TP 4, and the log prints neither the free memory before the load nor the load's memory: the pool is "
        "16.5 GiB of a 73 GiB budget, so the ~1.7 GiB per GPU the estimate does not account for is ~10 % of it "
        "(candidates, none modelled: NCCL / custom all-reduce buffers allocated before SGLang measures the free "
        "memory, FP8 block-quant scratch during the load)", 10.5),
}


@pytest.fixture(scope="module")
def results() -> list[dict]:
    return P.compare_rows(ROWS)


def test_rows_are_well_formed() -> None:
    assert len(ROWS) >= 4
    for index, row in enumerate(ROWS, 1):
        assert P.row_problems(row) == [], (index, P.row_problems(row))
        assert set(P.FIELDS) <= set(row), index


def test_every_line_is_one_json_object() -> None:
    lines = [line for line in P.DEFAULT_ROWS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) == len(ROWS) and all(isinstance(json.loads(line), dict) for line in lines)


def test_logged_k_size_is_the_logged_tokens_times_the_cell_in_gib() -> None:
    """The transcribed numbers agree with SGLang's own arithmetic: K size = layers × (#tokens + page) ×
    KV heads per GPU × head_dim × 2 B, divided by 1024³ (its "GB"). Hand-derived per model."""
    per_token_k = {  # layers × max(1, kv_heads // tp) × head_dim × 2 bytes
        "meta-llama/Llama-3.1-8B-Instruct": 32 * 8 * 128 * 2,
        "Qwen/Qwen3-8B": 36 * 8 * 128 * 2,
        "Qwen/Qwen3-235B-A22B-FP8": 94 * 1 * 128 * 2,  # 4 KV heads over TP 4
        "meta-llama/Llama-3.3-70B-Instruct": 80 * 1 * 128 * 2,  # 8 KV heads over TP 8
    }
    for row in ROWS:
        k = (row["kv_tokens"] + row["page_size"]) * per_token_k[row["model"]] / 2**30
        assert k == pytest.approx(row["k_size_gib"], abs=0.006), row["source"]  # printed with 2 decimals


def test_row_problems_flags_bad_rows() -> None:
    row = dict(ROWS[0], source="github.com/x", tp=0, mem_fraction_static=1.5, kv_tokens=0)
    del row["notes"]
    problems = " ".join(P.row_problems(row))
    for word in ("https", "tp", "mem_fraction_static", "kv_tokens", "notes"):
        assert word in problems


def test_every_row_is_compared(results: list[dict]) -> None:
    assert [r["index"] for r in results] == list(range(1, len(ROWS) + 1))


def test_kv_tokens_within_5_percent_where_the_inputs_are_known(results: list[dict]) -> None:
    missed = {r["index"]: round(r["components"]["kv_tokens"]["error_pct"], 1) for r in results
              if abs(r["components"]["kv_tokens"]["error_pct"]) > 5.0}
    assert set(missed) == set(UNREACHED), missed
    for index, (_, bound) in UNREACHED.items():
        assert abs(missed[index]) <= bound, (index, missed[index])
    within = [abs(r["components"]["kv_tokens"]["error_pct"]) for r in results if r["index"] not in UNREACHED]
    assert len(within) >= 3 and max(within) <= 3.0  # observed 0.3 % / 0.5 % / 2.8 %


def test_rows_with_the_free_memory_logged_are_within_1_percent(results: list[dict]) -> None:
    """Where the log prints the free memory before the load, only the weights and SGLang's arithmetic are
    estimated: #tokens within 1 %, K size within 1 %, weights within 1.5 % of the load's 'mem usage'."""
    logged = [r for r in results if r["printed_free_memory"]]
    assert len(logged) >= 2
    for r in logged:
        c = r["components"]
        assert abs(c["kv_tokens"]["error_pct"]) <= 1.0, r["index"]  # observed +0.29 % and +0.54 %
        assert abs(c["k_size"]["error_pct"]) <= 1.0, r["index"]
        # the load's "mem usage" is the free-memory drop, a little more than the tensors (observed -1.0 %, -0.1 %)
        assert abs(c["weights"]["error_pct"]) <= 1.5, r["index"]


def test_hand_derived_tokens_of_the_h100_row() -> None:
    """Row 1 by hand: free memory 78.59 GiB, fraction 0.88, Llama-3.1-8B's bf16 weights 16,060,522,496 B,
    cell 32 × 8 × 128 × 2 × 2 = 131,072 B: #tokens = int(0.88 × 78.59 GiB) − weights) // cell."""
    expected = (int(0.88 * int(78.59 * 2**30)) - 16_060_522_496) // 131_072
    result = P.compare_row(ROWS[0], 1)
    assert result is not None
    assert result["components"]["kv_tokens"]["estimated"] == expected
    assert expected == pytest.approx(442_750, rel=0.005)  # the logged #tokens


def test_markdown_section_lists_every_row(results: list[dict]) -> None:
    text = P.markdown_section(ROWS, results, {i: why for i, (why, _) in UNREACHED.items()})
    assert text.startswith(P.HEADING)
    for r in results:
        assert f"| {r['index']} | {r['model']} |" in text
    assert f"{len(results) - len(UNREACHED)} of the {len(results)} rows are within 5 %" in text
