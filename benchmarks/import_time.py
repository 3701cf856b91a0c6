"""Print how long `import vramscope`, `vramscope --help` and a catalog lookup take (wall clock).

Targets (issue 2 / 6): import well under 200 ms; `--help` under 150 ms; `estimate <catalog> --json`
under 300 ms. Each figure is the median
of several fresh interpreter runs, printed beside `python -c pass` for scale.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 7
BIN = Path(sys.executable).parent


def wall(cmd: list[str]) -> float:
    samples = []
    for _ in range(RUNS):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def main() -> None:
    py = sys.executable
    # An installed wheel ships bytecode; an editable checkout under PYTHONDONTWRITEBYTECODE=1 (as on
    # our dev machines) would otherwise recompile every module on every start. Compile once first.
    import compileall

    import vramscope

    compileall.compile_dir(Path(vramscope.__file__).parent, quiet=1)
    rows = [
        ("python -c pass", [py, "-c", "pass"]),
        ("import vramscope", [py, "-c", "import vramscope"]),
        ("load catalog model + count", [py, "-c", "import vramscope; vramscope.load_model('llama-3.1-8b').params_total"]),
        ("vramscope --help", [str(BIN / "vramscope"), "--help"]),
        ("vramscope info <catalog> --json", [str(BIN / "vramscope"), "info", "meta-llama/Llama-3.1-8B", "--json"]),
        ("vramscope estimate <catalog> --json", [str(BIN / "vramscope"), "estimate", "meta-llama/Llama-3.1-8B", "--json"]),
        ("estimate --method lora --json", [str(BIN / "vramscope"), "estimate", "meta-llama/Llama-3.1-8B", "--method",
                                           "lora", "--json"]),
    ]
    base = None
    print(f"{'command':<34} {'median ms':>10} {'minus python startup':>22}")
    for label, cmd in rows:
        ms = wall(cmd)
        base = ms if base is None else base
        print(f"{label:<34} {ms:>10.1f} {ms - base:>22.1f}")


if __name__ == "__main__":
    main()
