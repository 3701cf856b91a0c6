"""The long fuzz run: a million hostile inputs through every way input reaches vramscope.

    HF_HUB_OFFLINE=1 python benchmarks/fuzz.py                       # 1,000,000 inputs, all cores
    HF_HUB_OFFLINE=1 python benchmarks/fuzz.py --inputs 20000 --procs 2
    HF_HUB_OFFLINE=1 python benchmarks/fuzz.py --engine random       # Python's random instead of hypothesis

Targets and their share (``--mix``): config.json bytes 30%, GGUF bytes 30%, safetensors headers 15%,
web page inputs 20%, command lines 5% (a command line costs ~25 ms in-process, the others 1–4 ms);
the generators are in ``tests/fuzz_inputs.py``. With ``--engine hypothesis`` (the default) each
process drives them through ``hypothesis.given(st.randoms())``; every estimate is checked against
:mod:`vramscope.invariants` (``VRAMSCOPE_CHECK=1``).

Each process runs under an address-space limit (``--memory``, default 2 GiB) so that an input that
grows without bound ends as a MemoryError (counted as ``memory``) instead of taking the machine, and
under per-input alarms (``hang``): 5 s of the process's CPU time, or 60 s of waiting (wall-clock) —
CPU time, because on a shared machine wall-clock time measures the neighbours. Printed: counts per target and outcome (ok / refused /
absurd / bug / hang / memory), the first examples of every unsound outcome, the slowest input, the
peak resident memory of the largest process, and the wall time. Exit status 1 when anything is
unsound. The figures of the last long run are in docs/security.md.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

DEFAULT_MIX = "config=30,gguf=30,safetensors=15,web=20,cli=5"


def _plan(total: int, mix: str) -> dict[str, int]:
    weights = {k: float(v) for k, v in (item.split("=") for item in mix.split(","))}
    scale = sum(weights.values())
    counts = {k: int(total * w / scale) for k, w in weights.items()}
    first = next(iter(counts))
    counts[first] += total - sum(counts.values())
    return counts


def _limit_memory(limit: int) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # pragma: no cover - not on this platform
        pass


def _worker(args: tuple[int, dict[str, int], str, int, multiprocessing.Queue]) -> dict:
    seed, plan, engine, memory, progress = args
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["VRAMSCOPE_CHECK"] = "1"
    from tests.fuzz_inputs import LAST_TIMING, Fuzzer, peak_rss_mib

    parent = os.getppid()
    fuzzer = Fuzzer(seed=seed)
    # warm the imports (gradio is not imported: the web target calls the handlers directly)
    fuzzer.config(b"{}")
    _limit_memory(memory)
    counts: collections.Counter = collections.Counter()
    examples: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    slowest = (0.0, 0.0, "", "")  # (CPU s, wall s, target, detail)
    draw = [0.0]  # the longest drawing of one input (CPU s): the generators, not vramscope
    done = [0]

    def record(target: str, result: tuple[str, str], cpu: float, wall: float) -> None:
        """``cpu`` / ``wall``: drawing the input and running it; the slowest input is ranked by the
        run alone (what the hang alarms bound), and the drawing is counted apart."""
        nonlocal slowest
        outcome, detail = result
        run_cpu, run_wall = LAST_TIMING
        draw[0] = max(draw[0], cpu - run_cpu)
        counts[(target, outcome)] += 1
        if outcome not in ("ok", "refused") and len(examples[(target, outcome)]) < 5:
            examples[(target, outcome)].append(detail)
        if run_cpu > slowest[0]:
            slowest = (run_cpu, run_wall, target, detail[:120])
        done[0] += 1
        if done[0] % 1000 == 0:
            if os.getppid() != parent:  # the run was stopped: a worker does not outlive it
                os._exit(1)
            progress.put(1000)

    for target, n in plan.items():
        if n <= 0:
            continue
        if engine == "hypothesis":
            _hypothesis_run(fuzzer, target, n, record)
        else:
            for _ in range(n):
                start, cpu = time.perf_counter(), time.process_time()
                result = fuzzer.one(target)
                record(target, result, time.process_time() - cpu, time.perf_counter() - start)
    progress.put(done[0] % 1000)
    return {"counts": dict(counts), "examples": dict(examples), "slowest": slowest, "draw_s": draw[0],
            "rss_mib": peak_rss_mib()}


def _hypothesis_run(fuzzer, target: str, n: int, record) -> None:
    """``n`` inputs of ``target`` drawn by hypothesis (``st.randoms()`` feeding the generators)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.randoms(use_true_random=False))
    def run(rng):
        fuzzer.rng = rng  # the generators draw from hypothesis' random source
        start, cpu = time.perf_counter(), time.process_time()
        result = fuzzer.one(target)
        record(target, result, time.process_time() - cpu, time.perf_counter() - start)

    run()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1_000_000)
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--engine", choices=("hypothesis", "random"), default="hypothesis")
    ap.add_argument("--mix", default=DEFAULT_MIX, help=f"target=weight,… (default {DEFAULT_MIX})")
    ap.add_argument("--memory", type=int, default=2 << 30, help="address-space limit per process, bytes")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    plan = _plan(args.inputs, args.mix)
    shares = [{k: v // args.procs + (1 if i < v % args.procs else 0) for k, v in plan.items()} for i in range(args.procs)]
    start = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        progress = manager.Queue()
        with ctx.Pool(args.procs) as pool:
            job = pool.map_async(_worker, [(args.seed * 1000 + i, s, args.engine, args.memory, progress)
                                           for i, s in enumerate(shares)])
            seen, last = 0, time.perf_counter()
            while not job.ready() or not progress.empty():
                try:
                    seen += progress.get(timeout=1)
                except Exception:  # noqa: BLE001 - queue.Empty
                    continue
                if time.perf_counter() - last > 30:
                    rate = seen / (time.perf_counter() - start)
                    print(f"  {seen:,} / {args.inputs:,} inputs, {rate:,.0f}/s", file=sys.stderr, flush=True)
                    last = time.perf_counter()
            results = job.get()
    wall = time.perf_counter() - start

    counts: collections.Counter = collections.Counter()
    examples: dict = collections.defaultdict(list)
    for r in results:
        counts.update(r["counts"])
        for k, v in r["examples"].items():
            examples[k] += v
    slowest = max(r["slowest"] for r in results)
    rss = max(r["rss_mib"] for r in results)
    from tests.fuzz_inputs import OUTCOMES

    targets = list(plan)
    print(f"vramscope fuzz: {sum(counts.values()):,} inputs ({args.engine}), {args.procs} processes, {wall:,.0f} s")
    print(f"{'target':<12}" + "".join(f"{o:>10}" for o in (*OUTCOMES, "total")))
    for t in targets:
        row = [counts.get((t, o), 0) for o in OUTCOMES]
        print(f"{t:<12}" + "".join(f"{n:>10,}" for n in row) + f"{sum(row):>10,}")
    totals = [sum(counts.get((t, o), 0) for t in targets) for o in OUTCOMES]
    print(f"{'all':<12}" + "".join(f"{n:>10,}" for n in totals) + f"{sum(totals):>10,}")
    print(f"slowest input: {slowest[0]:.2f} s CPU, {slowest[1]:.2f} s wall "
          f"({slowest[2]}{': ' + slowest[3] if slowest[3] else ''})")
    print(f"longest drawing of one input (the generators, outside the alarms): "
          f"{max(r['draw_s'] for r in results):.2f} s CPU")
    print(f"peak resident memory of one process: {rss:,.0f} MiB")
    unsound = {k: v for k, v in examples.items() if k[1] not in ("ok", "refused")}
    for (t, o), details in sorted(unsound.items()):
        print(f"{t} {o}:")
        for d in details[:5]:
            print(f"    {d}")
    return 1 if unsound else 0


if __name__ == "__main__":
    raise SystemExit(main())
