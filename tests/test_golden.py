"""Every number shown before the round-2 refactor is still shown, unchanged (``tests/golden/``).

The records were written by ``tests/golden/make_golden.py`` from the code of 2026-12-07 (commit
abe4456 + this test) over 804 API calls (every catalog model × inference on HF / vLLM / SGLang /
llama.cpp, LoRA / QLoRA / full ZeRO-3 training, GRPO, fit; plans; bare sizes; multimodal) and the
README's commands. A value may be *added* to a result (a new key); none may change or vanish. A
deliberate change of a figure (a bug fix) regenerates the records in the same commit, which says
which figures moved and why.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from golden_cases import api_cases, cli_cases, numbers_of_cli, numbers_of_web, run_api, web_cases

GOLDEN = Path(__file__).resolve().parent / "golden"

pytestmark = pytest.mark.slow


def _diff(name: str, old: dict, new: dict, limit: int = 6) -> list[str]:
    out = []
    for key, value in old.items():
        if key not in new:
            out.append(f"{name}: {key} vanished (was {value!r})")
        elif new[key] != value:
            out.append(f"{name}: {key} {value!r} -> {new[key]!r}")
    return out[:limit]


def test_api_numbers_unchanged():
    old = json.loads((GOLDEN / "api.json").read_text())
    cases = dict(api_cases())
    missing = sorted(set(old) - set(cases))
    assert not missing, f"golden cases no longer generated: {missing[:10]}"
    # a model added to the catalog adds cases that have no record yet: only the recorded ones are compared
    problems = [line for name in old for line in _diff(name, old[name], run_api(cases[name]))]
    assert not problems, f"{len(problems)} changed figures:\n" + "\n".join(problems[:60])


def _in_order(old: list, new: list) -> bool:
    """Every old item is still there, in the same order (``old`` is a subsequence of ``new``): lines may be
    added (the three per-GPU figures under the estimate table, issue 20), none may change or vanish."""
    rest = iter(new)
    return all(any(x == y for y in rest) for x in old)


def _same_numbers(args: list[str], old: dict, new: dict) -> bool:
    """A table's numbers must come in the same order, new ones (added lines) aside; a JSON document may add
    keys (the typed parts beside the legacy ``details``) and order its keys anew, so there every old number
    must still be there, as often."""
    if "--json" not in args:
        return new["exit"] == old["exit"] and _in_order(old["numbers"], new["numbers"])
    return new["exit"] == old["exit"] and not Counter(old["numbers"]) - Counter(new["numbers"])


def test_cli_numbers_unchanged():
    old = json.loads((GOLDEN / "cli.json").read_text())
    problems = []
    for args in cli_cases():
        name = " ".join(args)
        new = numbers_of_cli(args)
        if not _same_numbers(args, old[name], new):
            problems.append(f"{name}: exit {old[name]['exit']} -> {new['exit']}; numbers "
                            f"{[x for x in old[name]['numbers'] if x not in new['numbers']][:8]} gone, "
                            f"{[x for x in new['numbers'] if x not in old[name]['numbers']][:8]} new")
    assert not problems, "\n".join(problems)


def _same_on_page(key: str, old, new) -> bool:
    """The page's numbers and byte counts in the same order, added ones (the three per-GPU figures) aside."""
    return _in_order(old, new) if key in ("numbers", "bytes") else new == old


def test_in_order_allows_additions_only():
    assert _in_order(["1", "2"], ["1", "5", "2", "3"]) and _in_order([], ["1"])
    assert not _in_order(["1", "2"], ["2", "1"]) and not _in_order(["1", "2"], ["1", "3"])


def test_web_numbers_unchanged():
    old = json.loads((GOLDEN / "web.json").read_text())
    problems = [f"{name}: {key} {old[name][key]} -> {new[key]}" for name, changes in web_cases()
                for new in [numbers_of_web(changes)] for key in old[name]
                if not _same_on_page(key, old[name][key], new[key])]
    assert not problems, "\n".join(p[:400] for p in problems)
