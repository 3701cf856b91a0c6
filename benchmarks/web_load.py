"""Load test of the web app: many simulated users changing inputs at once, on loopback only.

Starts the web app (:func:`vramscope.web.serve`) on a free 127.0.0.1 port — in a child process by
default, so that the load generator does not share the server's GIL; ``--in-process`` serves it
from this process (``serve(block=False)``) — then runs simulated users (asyncio + httpx, one
thread). Each makes ``--updates`` changes — a model, an engine, a batch, a context, a GPU, a
training method, a tab … drawn at random — waiting ``--think`` seconds (uniform 0.5×–1.5×) between
changes, as a person does. Every change sends what the browser sends (read from the page's gradio
config): the update event(s) listening to that input join gradio's queue in the user's session
(``POST /gradio_api/queue/join``) and the result comes back on the session's event stream
(``GET /gradio_api/queue/data``); a change's latency is timed until all its results have arrived.

Phases (``--phase``, default all three, one server):

* ``cached`` — popular values (a few models, GPUs, round batch sizes): the memo answers most;
* ``cold`` — wide value ranges (batch 1–512, any context …), so results rarely repeat;
* ``storm`` — ``--storm-users`` (20) users working normally while ``--bad-uploads`` (100) malformed
  uploads arrive: random bytes named .gguf, truncated GGUF headers, a GGUF announcing 2^40
  tensors, huge and deeply nested .json, files with the wrong extension and files over the upload
  limit (``--max-upload``, 16 MiB here) — each uploaded as the browser does
  (``POST /gradio_api/upload``) and then computed with the Model source set to "file". The good
  users must see no failure; every bad upload must be answered (HTTP 413 from gradio for the
  oversized ones, a message on the page for the rest).

Prints, per phase: requests, failures, median / p95 / p99 / max latency, throughput, and the load
generator's own event-loop lag (p99) — the share of the latency that is this script, not the
server. Exit status 1 on any failure.

    python benchmarks/web_load.py                          # all phases, 50 users × 20 changes, think 1 s
    python benchmarks/web_load.py --phase cold --users 50
    python benchmarks/web_load.py --users 50 --think 0 --updates 10 --phase cached   # back-to-back (overload)

Measured on the project's 2-core machine (shared with other people's work, so noisy: each run
twice), 50 users × 20 changes, think 1 s, arriving over 5 s; the load generator runs on the same
two cores. Latency of a change in ms, median / p95 / p99 (storm: the 20 good users; and the 100
malformed uploads, upload + page); 0 failures in every run:

=========  =================  =================  ================  =================
run        cached             cold               storm, users      storm, uploads
=========  =================  =================  ================  =================
before, 1  96 / 398 / 656     152 / 653 / 1096   45 / 637 / 978    585 / 3449 / 3733
before, 2  261 / 742 / 1920   140 / 595 / 908    40 / 357 / 956    526 / 3605 / 3837
after, 1   21 / 65 / 153      24 / 104 / 200     16 / 51 / 191     58 / 180 / 311
after, 2   25 / 128 / 281     20 / 85 / 167      14 / 43 / 60      45 / 131 / 304
=========  =================  =================  ================  =================

"before" is the app as of the commit before "Web: every request has a time and a memory budget"
(a ProcessPoolExecutor with one worker, gradio's per-input processing), measured with this
script; the script as it was then reported, for the same app, median 498 / p90 1200 / p99 3065
(popular) and 364 / 946 / 2393 (``--cold``), part of it its own doing (1. below). In the storm,
the 10 uploads over the limit were refused by gradio (413) and the other 90 got a message on the
page, before and after. Opening the page (GET /, the load event, the first update) took, after,
a median of 257–1426 ms and a p95 of 475–1823 ms (before: 740–3899 and 1799–4449 ms): gradio
builds a copy of the page's whole config for every new session (~20 ms of the server's GIL) and
renders the 300 KB page (~17 ms), so a crowd arriving at once queues there; the targets are for
the changes. Why the changes were slow:

1. the load generator itself: each simulated user built an ``httpx.AsyncClient``, which loads the
   CA bundle into a new SSL context — 40 ms of this script's one thread each, 2 s for 50 users at
   the start, counted as server latency. The users now share one SSL context.
2. gradio 6 runs every input's ``preprocess`` (and every output's ``postprocess``) in a thread of
   its own: about 80 thread hops for the "compute" event, 20 for a tab's event, and each hop waits
   for the server's GIL while the event loop is busy with other users. The update events now
   skip it (``preprocess=False, postprocess=False``; the handlers read raw values anyway).
3. gradio's queue rebuilt a pandas summary of its last 10,000 events after every event (and
   imported pandas for the first one: half a second); the app keeps 200 records and never
   summarises (only gradio's monitoring dashboard, off, reads it).
4. one worker process on two cores; now two (and each request has a time and memory budget).
   gradio's queue settings were not the cause: every update event already had
   ``concurrency_limit=8`` (gradio's default is 1) and the queue ``max_size=2048``.

What remains of p99 is mostly Python's full garbage collections in the server (~10 per run,
up to ~100 ms each) and other work on the machine. The estimates themselves take 2–5 ms on
average (the memo answers most): never the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import ssl
import statistics
import struct
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
MAX_UPLOAD = 16 << 20  # the server's upload limit in this benchmark (the app's default is 1 GiB)
# one SSL context for every client: building one loads the CA bundle (~40 ms of this script's only
# thread); loopback HTTP never uses it, but httpx builds it per client unless given one
SSL_CONTEXT = ssl.create_default_context()


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


# --- malformed uploads ---------------------------------------------------------------------------------
def _gguf_header(n_tensors: int, n_kv: int, kv: bytes = b"") -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv) + kv


def _gguf_string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def _gguf_kv_u32(key: str, value: int) -> bytes:
    return _gguf_string(key) + struct.pack("<II", 4, value)


def bad_upload(rng: random.Random, i: int) -> tuple[str, bytes]:
    """The ``i``-th malformed upload: (file name, content)."""
    kind = i % 10
    if kind in (0, 1):  # random bytes named .gguf
        return f"random-{i}.gguf", rng.randbytes(rng.randint(1, 1 << 20))
    if kind == 2:  # a GGUF header cut short in its metadata
        kv = _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string("llama")
        kv += _gguf_kv_u32("llama.block_count", 32) + _gguf_kv_u32("llama.embedding_length", 4096)
        whole = _gguf_header(291, 3, kv)
        return f"truncated-{i}.gguf", whole[:rng.randint(4, len(whole) - 1)]
    if kind == 3:  # a GGUF that announces 2^40 tensors and keys
        return f"huge-counts-{i}.gguf", _gguf_header(1 << 40, 1 << 40) + rng.randbytes(4096)
    if kind == 4:  # a huge .json (over the 4 MiB config.json cap, under the upload limit)
        body = json.dumps({"architectures": ["LlamaForCausalLM"], "pad": "x" * (6 << 20)})
        return f"huge-{i}.json", body.encode()
    if kind == 5:  # a deeply nested .json
        depth = 200_000
        return f"nested-{i}.json", b"[" * depth + b"]" * depth
    if kind == 6:  # a config.json whose numbers are absurd
        cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 10 ** 30,
               "num_hidden_layers": -5, "num_attention_heads": 1e308, "intermediate_size": "NaN",
               "vocab_size": 1 << 62}
        return f"absurd-{i}.json", json.dumps(cfg).encode()
    if kind == 7:  # the wrong extension
        name = rng.choice(["notes.txt", "model.safetensors", "image.png", "run.exe", "noextension"])
        return f"{i}-{name}", rng.randbytes(rng.randint(1, 65536))
    if kind == 8:  # not UTF-8 / not JSON at all, named config.json
        return f"binary-{i}.json", b"\xff\xfe\x00" + rng.randbytes(rng.randint(1, 100_000))
    return f"oversized-{i}.gguf", b"GGUF" + b"\0" * (MAX_UPLOAD + 4096)  # over the upload limit: HTTP 413


# --- the page's protocol -----------------------------------------------------------------------------------
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
                          for name in (*NAMES, "file")}
        self.compute = next(d for d in self.events if d.get("api_name") == "compute")
        # opening the page: the load event (restore the inputs from the link), then the update after it
        self.load = next(d for d in self.events if any(t[1] == "load" for t in d["targets"]))
        self.after_load = next(d for d in self.events if d.get("trigger_after") == self.load["id"])

    def data(self, event: dict, values: dict) -> list:
        out = []
        for cid in event["inputs"]:
            name = self.name_of.get(cid)
            out.append(values.get(name, None if name == "file" else ""))
        return out


async def update(client: httpx.AsyncClient, page: Page, event: dict, values: dict,
                 session: str) -> tuple[float, str | None, list | None]:
    """One page update as the browser sends it — join gradio's queue in this user's session, then
    read the session's event stream until the result: (seconds, error or None, output data)."""
    t0 = time.perf_counter()
    body = {"data": page.data(event, values), "fn_index": event["id"], "session_hash": session, "event_data": None,
            "trigger_id": None}
    try:
        if not event.get("queue"):  # a small event outside the queue (which inputs to show, the labels)
            r = await client.post("/gradio_api/run/predict", json=body)
            r.raise_for_status()
            out = r.json().get("data")
            return time.perf_counter() - t0, None if isinstance(out, list) else f"failed: {r.text[:200]}", out
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
                        return time.perf_counter() - t0, f"failed: {str(msg.get('output'))[:200]}", None
                    return time.perf_counter() - t0, None, out
        return time.perf_counter() - t0, "stream ended without a result", None
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return time.perf_counter() - t0, f"{type(exc).__name__}: {exc}", None


class Stats:
    """What one phase measured."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.started: list[float] = []  # when each change was made (perf_counter)
        self.errors: list[str] = []
        self.lag: list[float] = []
        self.opens: list[float] = []  # seconds to open the page: GET /, restore, first update


async def user(i: int, base: str, args, page: Page, stats: Stats, cold: bool, tag: str) -> None:
    rng = random.Random(args.seed * 1000 + i + (500 if cold else 0))
    session = f"bench{args.seed}{tag}u{i}"
    values = dict(DEFAULTS)
    values["model"] = rng.choice(MODELS)
    await asyncio.sleep(rng.uniform(0, args.ramp))  # people do not all arrive at the same instant
    async with httpx.AsyncClient(base_url=base, timeout=args.timeout, verify=SSL_CONTEXT) as client:
        # open the page as the browser does: the HTML (with gradio's config), the load event, the update
        t0 = time.perf_counter()
        try:
            (await client.get("/")).raise_for_status()
        except httpx.HTTPError as exc:
            stats.errors.append(f"GET /: {type(exc).__name__}: {exc}")
        for event in (page.load, page.after_load):
            _, err, _ = await update(client, page, event, {**values, "vs-browser-lang": "en"}, session)
            if err:
                stats.errors.append(err)
        stats.opens.append(time.perf_counter() - t0)
        await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)
        for _ in range(args.updates):
            before = dict(values)
            change(rng, values, cold)
            changed = [n for n in NAMES if values[n] != before[n]] or ["batch"]
            events = {d["id"]: d for n in changed for d in page.listeners[n]}  # what the browser would send
            t0 = time.perf_counter()
            results = await asyncio.gather(*(update(client, page, d, values, session) for d in events.values()))
            stats.latencies.append(time.perf_counter() - t0)
            stats.started.append(t0)
            stats.errors.extend(err for _, err, _ in results if err)
            if args.think:
                await asyncio.sleep(rng.uniform(0.5, 1.5) * args.think)


async def bad_uploader(i: int, base: str, args, page: Page, outcomes: dict[str, int], stats: Stats,
                       spread: float) -> None:
    """Upload the ``i``-th malformed file as the browser does, then compute the page with it."""
    rng = random.Random(args.seed * 7919 + i)
    await asyncio.sleep(rng.uniform(0, spread))
    name, content = bad_upload(rng, i)
    session = f"bench{args.seed}bad{i}"
    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=args.timeout, verify=SSL_CONTEXT) as client:
        try:
            r = await client.post("/gradio_api/upload", files={"files": (name, content, "application/octet-stream")})
        except httpx.HTTPError as exc:
            outcomes["no answer to the upload"] = outcomes.get("no answer to the upload", 0) + 1
            stats.errors.append(f"upload {name}: {type(exc).__name__}: {exc}")
            return
        if r.status_code == 413:
            outcomes["refused by gradio (413, over the upload limit)"] = outcomes.get(
                "refused by gradio (413, over the upload limit)", 0) + 1
            stats.latencies.append(time.perf_counter() - t0)
            return
        if r.status_code != 200:
            outcomes[f"upload HTTP {r.status_code}"] = outcomes.get(f"upload HTTP {r.status_code}", 0) + 1
            stats.errors.append(f"upload {name}: HTTP {r.status_code} {r.text[:200]}")
            return
        path = r.json()[0]
        values = {**DEFAULTS, "src": "file",
                  "file": {"path": path, "orig_name": name, "size": len(content), "mime_type": None,
                           "meta": {"_type": "gradio.FileData"}}}
        _dt, err, out = await update(client, page, page.compute, values, session)
        stats.latencies.append(time.perf_counter() - t0)
        if err:
            outcomes["no page"] = outcomes.get("no page", 0) + 1
            stats.errors.append(f"compute with {name}: {err}")
            return
        text = " ".join(str(x) for x in out)
        key = "a message on the page" if 'role="alert"' in text else "an estimate (not refused!)"
        outcomes[key] = outcomes.get(key, 0) + 1


async def loop_lag(stats: Stats, stop: asyncio.Event) -> None:
    """How late this script's event loop wakes up (its own load, not the server's)."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        stats.lag.append(time.perf_counter() - t0 - 0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVE = ("import sys; from vramscope.web import serve; "
         "serve('127.0.0.1', int(sys.argv[1]), max_upload=int(sys.argv[2]), quiet=True, "
         "workers=None if sys.argv[3] == '' else int(sys.argv[3]))")


def start_child(port: int, workers: int | None) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", SERVE, str(port), str(MAX_UPLOAD),
                             "" if workers is None else str(workers)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_up(port: int, proc: subprocess.Popen | None) -> None:
    deadline = time.time() + 90
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the web app exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=2, verify=SSL_CONTEXT).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("the web app did not start within 90 s")


def pct(xs: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    xs = sorted(xs)
    return xs[max(0, min(len(xs) - 1, math.ceil(q * len(xs)) - 1))]


TIMELINE = False


def report(title: str, stats: Stats, wall: float) -> dict:
    ms = [x * 1000 for x in stats.latencies] or [0.0]
    lag = [x * 1000 for x in stats.lag] or [0.0]
    row = {"phase": title, "requests": len(stats.latencies), "failures": len(stats.errors),
           "median_ms": statistics.median(ms), "p95_ms": pct(ms, 0.95), "p99_ms": pct(ms, 0.99), "max_ms": max(ms),
           "per_s": len(stats.latencies) / wall if wall else 0.0, "client_lag_p99_ms": pct(lag, 0.99)}
    print(f"{title}: requests {row['requests']}  failures {row['failures']}  wall {wall:.1f} s  "
          f"throughput {row['per_s']:.1f} updates/s")
    print(f"  latency ms: median {row['median_ms']:.0f}  p95 {row['p95_ms']:.0f}  p99 {row['p99_ms']:.0f}  "
          f"max {row['max_ms']:.0f}   (load generator's loop lag p99 {row['client_lag_p99_ms']:.0f} ms)")
    if stats.opens:
        opens = [x * 1000 for x in stats.opens]
        row.update(open_median_ms=statistics.median(opens), open_p95_ms=pct(opens, 0.95), open_max_ms=max(opens))
        print(f"  page opens: {len(opens)}, ms: median {row['open_median_ms']:.0f}  p95 {row['open_p95_ms']:.0f}  "
              f"max {row['open_max_ms']:.0f}   (GET /, the load event, the first update)")
    for err in sorted(set(stats.errors))[:5]:
        print("  failure:", err)
    if TIMELINE and stats.started:
        first = min(stats.started)
        buckets: dict[int, list[float]] = {}
        for t, x in zip(stats.started, ms, strict=False):
            buckets.setdefault(int(t - first), []).append(x)
        print("  timeline (second: changes, median, max ms):",
              "  ".join(f"{k}:{len(v)},{statistics.median(v):.0f},{max(v):.0f}" for k, v in sorted(buckets.items())))
    return row


async def phase_users(base: str, args, page: Page, cold: bool, title: str) -> dict:
    stats = Stats()
    stop = asyncio.Event()
    lag = asyncio.create_task(loop_lag(stats, stop))
    t0 = time.perf_counter()
    await asyncio.gather(*(user(i, base, args, page, stats, cold, title) for i in range(args.users)))
    wall = time.perf_counter() - t0
    stop.set()
    await lag
    return report(f"{title} ({args.users} users × {args.updates} changes, think {args.think:g} s)", stats, wall)


async def phase_storm(base: str, args, page: Page) -> list[dict]:
    good, bad = Stats(), Stats()
    outcomes: dict[str, int] = {}
    stop = asyncio.Event()
    lag = asyncio.create_task(loop_lag(good, stop))
    spread = max(1.0, args.updates * (args.think or 0.05) * 0.8)  # the bad uploads arrive while the users work
    t0 = time.perf_counter()
    await asyncio.gather(*(user(i, base, args, page, good, False, "storm") for i in range(args.storm_users)),
                         *(bad_uploader(i, base, args, page, outcomes, bad, spread) for i in range(args.bad_uploads)))
    wall = time.perf_counter() - t0
    stop.set()
    await lag
    rows = [report(f"storm: {args.storm_users} good users", good, wall)]
    bad.lag = good.lag
    rows.append(report(f"storm: {args.bad_uploads} malformed uploads (upload + page)", bad, wall))
    for key, n in sorted(outcomes.items()):
        print(f"    {n:4d}  {key}")
    rows[-1]["outcomes"] = outcomes
    if outcomes.get("an estimate (not refused!)"):
        bad.errors.append("a malformed upload was estimated")
        rows[-1]["failures"] = len(bad.errors)
    return rows


async def run(args) -> int:
    port = args.port or free_port()
    proc = demo = None
    if not args.port:
        if args.in_process:
            from vramscope.web import serve

            os.environ["HF_HUB_OFFLINE"] = "1"
            demo = serve("127.0.0.1", port, block=False, max_upload=MAX_UPLOAD, quiet=True, workers=args.workers)
        else:
            proc = start_child(port, args.workers)
        wait_up(port, proc)
    base = f"http://127.0.0.1:{port}"
    rows: list[dict] = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=args.timeout, verify=SSL_CONTEXT) as client:
            page = Page((await client.get("/config")).json())
            for i in range(4):  # load the catalog in every worker
                await update(client, page, page.compute, {**DEFAULTS, "batch": str(i + 1)}, f"bench-warm-up{i}")
        phases = ["cached", "cold", "storm"] if args.phase == "all" else [args.phase]
        if args.cold:
            phases = ["cold"]
        print(f"server: {'this process' if args.in_process else 'a child process'}, workers "
              f"{'default' if args.workers is None else args.workers}, {os.cpu_count()} cores")
        for name in phases:
            if name == "storm":
                rows += await phase_storm(base, args, page)
            else:
                rows.append(await phase_users(base, args, page, name == "cold", name))
    finally:
        if demo is not None:
            demo.close()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 1 if any(r["failures"] for r in rows) else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--phase", choices=["all", "cached", "cold", "storm"], default="all")
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--updates", type=int, default=20, help="changes per user")
    ap.add_argument("--think", type=float, default=1.0, help="seconds between one user's changes (0: none)")
    ap.add_argument("--ramp", type=float, default=5.0, help="users arrive over this many seconds")
    ap.add_argument("--cold", action="store_true", help="the cold phase only (as --phase cold)")
    ap.add_argument("--storm-users", type=int, default=20, help="good users during the upload storm")
    ap.add_argument("--bad-uploads", type=int, default=100, help="malformed uploads in the storm")
    ap.add_argument("--workers", type=int, default=None, help="the server's worker processes (default: the app's)")
    ap.add_argument("--in-process", action="store_true", help="serve from this process (shares its GIL)")
    ap.add_argument("--port", type=int, default=0, help="use a server already running on this port")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--timeline", action="store_true", help="also print the latency second by second")
    args = ap.parse_args()
    global TIMELINE
    TIMELINE = args.timeline
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
