"""Load test of the web app: many simulated users changing inputs at once, on loopback only.

Starts ``vramscope web`` in a child process on a free 127.0.0.1 port, then runs ``--users``
simulated users (asyncio + httpx, one thread): each makes ``--updates`` changes — a model, an
engine, a batch, a context, a GPU, a training method, a tab … drawn at random — waiting
``--think`` seconds (uniform 0.5×–1.5×) between changes, as a person does. Every change sends
what the browser sends (read from the page's gradio config): the update event(s) that listen to
that input join gradio's queue in the user's session (``POST /gradio_api/queue/join``) and the
result comes back on the session's event stream (``GET /gradio_api/queue/data``); the latency of
a change is timed until its results have arrived.

Prints the request count, failures, median / p90 / p99 / max update latency and throughput.
``--cold`` draws from much larger value ranges, so that the server's memo rarely helps.

    python benchmarks/web_load.py                      # 50 users × 20 changes, think 1 s
    python benchmarks/web_load.py --users 50 --think 0 --updates 10   # back-to-back (overload)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from vramscope.web.state import DEFAULTS, NAMES  # noqa: E402

MODELS = ["meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B", "mistralai/Mistral-7B-v0.3", "Qwen/Qwen2.5-7B-Instruct",
          "google/gemma-2-9b", "meta-llama/Llama-3.2-3B", "Qwen/Qwen3-4B", "microsoft/Phi-3.5-mini-instruct"]
GPUS = ["RTX-4090-24GB", "H100-SXM-80GB", "A100-SXM-80GB", "L40S-48GB", "RTX-3090-24GB", "24GiB"]


def change(rng: random.Random, values: dict, cold: bool) -> None:
    """One input change, as a person makes it."""
    kind = rng.choice(["model", "engine", "batch", "context", "gpu", "tab", "t_method", "t_batch", "p_params", "weights"])
    if kind == "model":
        values["model"] = rng.choice(MODELS)
    elif kind == "engine":
        values["engine"] = rng.choice(["hf", "vllm", "llamacpp", "sglang"])
    elif kind == "batch":
        values["batch"] = str(rng.randint(1, 512 if cold else 16))
    elif kind == "context":
        values["context"] = str(rng.randint(256, 131072) if cold else rng.choice([1024, 2048, 4096, 8192, 32768]))
    elif kind == "gpu":
        values["gpu"] = rng.choice(GPUS)
    elif kind == "tab":
        values["tab"] = rng.choice(["infer", "infer", "train", "pai"])
    elif kind == "t_method":
        values["t_method"] = rng.choice(["lora", "qlora", "full"])
    elif kind == "t_batch":
        values["t_batch"] = str(rng.randint(1, 64 if cold else 8))
    elif kind == "p_params":
        values["p_params"] = str(rng.randint(1, 700) if cold else rng.choice([7, 13, 70]))
    else:
        values["weights"] = rng.choice(["", "bf16", "fp8", "int8", "awq", "Q4_K_M"])
    if values["engine"] == "llamacpp" and values["weights"] in ("", "bf16", "fp8", "awq"):
        values["weights"] = "Q4_K_M"


class Page:
    """The page's events as the browser sees them (from gradio's /config): which update each input's
    change sends, and with which inputs."""

    def __init__(self, config: dict) -> None:
        self.name_of: dict[int, str] = {}
        for comp in config["components"]:
            elem = (comp.get("props") or {}).get("elem_id") or ""
            if elem.startswith("in-") or elem == "vs-browser-lang":
                self.name_of[comp["id"]] = elem[3:] if elem.startswith("in-") else elem
        self.events = [d for d in config["dependencies"] if d.get("backend_fn")]
        id_of = {name: cid for cid, name in self.name_of.items()}
        self.listeners = {name: [d for d in self.events if [id_of[name], "change"] in d["targets"]]
                          for name in NAMES}

    def data(self, event: dict, values: dict) -> list:
        out = []
        for cid in event["inputs"]:
            name = self.name_of.get(cid)
            out.append(values.get(name, None if name == "file" else ""))
        return out


async def update(client: httpx.AsyncClient, page: Page, event: dict, values: dict, session: str) -> tuple[float, str | None]:
    """One page update as the browser sends it — join gradio's queue in this user's session, then
    read the session's event stream until the result: (seconds, error or None)."""
    t0 = time.perf_counter()
    body = {"data": page.data(event, values), "fn_index": event["id"], "session_hash": session, "event_data": None,
            "trigger_id": None}
    try:
        if not event.get("queue"):  # a small event outside the queue (which inputs to show, the labels)
            r = await client.post("/gradio_api/run/predict", json=body)
            r.raise_for_status()
            ok = isinstance(r.json().get("data"), list)
            return time.perf_counter() - t0, None if ok else f"failed: {r.text[:200]}"
        r = await client.post("/gradio_api/queue/join", json=body)
        r.raise_for_status()
        event_id = r.json()["event_id"]
        async with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") != event_id:
                    continue
                if msg.get("msg") == "process_completed":
                    out = (msg.get("output") or {}).get("data")
                    if not msg.get("success") or not isinstance(out, list) or len(out) != len(event["outputs"]):
                        return time.perf_counter() - t0, f"failed: {str(msg.get('output'))[:200]}"
                    return time.perf_counter() - t0, None
        return time.perf_counter() - t0, "stream ended without a result"
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"


async def user(i: int, base: str, args, page: Page, latencies: list[float], errors: list[str]) -> None:
    rng = random.Random(args.seed * 1000 + i)
    session = f"bench{args.seed}u{i}"
    values = dict(DEFAULTS)
    values["model"] = rng.choice(MODELS)
    await asyncio.sleep(rng.uniform(0, args.think or 0.05))  # people do not all start at the same instant
    async with httpx.AsyncClient(base_url=base, timeout=args.timeout) as client:
        for _ in range(args.updates):
            before = dict(values)
            change(rng, values, args.cold)
            changed = [n for n in NAMES if values[n] != before[n]] or ["batch"]
            events = {d["id"]: d for n in changed for d in page.listeners[n]}  # what the browser would send
            t0 = time.perf_counter()
            results = await asyncio.gather(*(update(client, page, d, values, session) for d in events.values()))
            latencies.append(time.perf_counter() - t0)
            errors.extend(err for _, err in results if err)
            if args.think:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vramscope", "web", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the web app exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit("the web app did not start within 90 s")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def run(args) -> int:
    port = args.port or free_port()
    proc = None if args.port else start_server(port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=args.timeout) as client:
            page = Page((await client.get("/config")).json())
            compute = next(d for d in page.events if d.get("api_name") == "compute")
            await update(client, page, compute, dict(DEFAULTS), "bench-warm-up")  # loads the catalog
        latencies: list[float] = []
        errors: list[str] = []
        t0 = time.perf_counter()
        await asyncio.gather(*(user(i, base, args, page, latencies, errors) for i in range(args.users)))
        wall = time.perf_counter() - t0
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    ms = [x * 1000 for x in latencies]
    print(f"users {args.users}, changes per user {args.updates}, think {args.think:g} s, "
          f"{'cold (wide value ranges)' if args.cold else 'popular values'}")
    print(f"requests {len(ms)}  failures {len(errors)}  wall {wall:.1f} s  throughput {len(ms) / wall:.1f} updates/s")
    print(f"latency ms: median {statistics.median(ms):.0f}  p90 {pct(ms, 0.9):.0f}  p99 {pct(ms, 0.99):.0f}  "
          f"max {max(ms):.0f}")
    for err in sorted(set(errors))[:5]:
        print("failure:", err)
    return 1 if errors else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--updates", type=int, default=20, help="changes per user")
    ap.add_argument("--think", type=float, default=1.0, help="seconds between one user's changes (0: none)")
    ap.add_argument("--cold", action="store_true", help="wide value ranges, so that results are rarely memoised")
    ap.add_argument("--port", type=int, default=0, help="use a server already running on this port")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
