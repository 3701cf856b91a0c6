"""Write ``tests/golden/*.json``: every number vramscope showed on 2026-12-07, before the round-2 refactor.

``tests/test_golden.py`` recomputes the same cases and compares them value by value, so a
refactor that moves code cannot silently move a number. Regenerate only for a deliberate change of
a figure (a bug fix), and say in the commit which figures changed and why::

    HF_HUB_OFFLINE=1 python tests/golden/make_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from golden_cases import api_cases, cli_cases, numbers_of_cli, numbers_of_web, run_api, web_cases  # noqa: E402


def main() -> None:
    api = {name: run_api(call) for name, call in api_cases()}
    lines = [json.dumps(name, ensure_ascii=False) + ": " + json.dumps(api[name], sort_keys=True, ensure_ascii=False)
             for name in sorted(api)]
    (HERE / "api.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")  # one case per line: diffs stay readable
    cli = {" ".join(args): numbers_of_cli(args) for args in cli_cases()}
    (HERE / "cli.json").write_text(json.dumps(cli, indent=0, sort_keys=True, ensure_ascii=False) + "\n")
    web = {name: numbers_of_web(changes) for name, changes in web_cases()}
    (HERE / "web.json").write_text(json.dumps(web, indent=0, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{len(api)} API cases, {len(cli)} CLI commands, {len(web)} web pages")


if __name__ == "__main__":
    main()
