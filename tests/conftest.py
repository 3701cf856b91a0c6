"""Shared fixtures. Tests never use the network (make test sets HF_HUB_OFFLINE=1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Every estimate any test makes is checked against vramscope.invariants (a violation raises
# InvariantError inside the estimator, so no test can pass on an unsound estimate).
os.environ.setdefault("VRAMSCOPE_CHECK", "1")  # VRAMSCOPE_CHECK=0 only to time the suite without it

SHARED_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "model-configs"
CATALOG_DIR = Path(__file__).resolve().parents[1] / "src" / "vramscope" / "data" / "models"


def catalog_config(stem: str) -> dict:
    """The config.json of a catalog entry, by file stem (org__name)."""
    return json.loads((CATALOG_DIR / f"{stem}.json").read_text())["config"]


@pytest.fixture
def write_json(tmp_path):
    def _write(data, name: str = "config.json") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else json.dumps(data))
        return path

    return _write


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run the vramscope command line in-process: (exit status, stdout, stderr)."""
    from vramscope.cli import main

    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err
