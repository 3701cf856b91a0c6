"""`vramscope web`: the command, its errors, and that nothing else pays for gradio."""

from __future__ import annotations

import subprocess
import sys

from conftest import run_cli


def test_web_help(capsys):
    code, out, _ = run_cli(["web", "--help"], capsys)
    assert code == 0 and "--host" in out and "--port" in out and "7860" in out


def test_web_without_gradio_says_how_to_install(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` now raises ImportError
    code, _, err = run_cli(["web", "--port", "7861"], capsys)
    assert code == 2
    assert err.strip() == "error: the web app needs gradio: pip install 'vramscope[web]'"


def test_web_bad_port(capsys):
    code, _, err = run_cli(["web", "--port", "70000"], capsys)
    assert code == 2 and err.startswith("error: --port must be between 1 and 65535")


def test_help_does_not_import_gradio():
    code = ("import sys\nfrom vramscope.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'gradio' not in sys.modules, 'gradio imported by --help'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
