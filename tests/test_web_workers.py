"""The web app's worker pool: every request within a time and a memory budget, never computed twice.

The pool runs a target function in spawned worker processes; these tests give it :func:`probe`,
which logs each call (one line per call, to count them) and then sleeps past the budget,
allocates past it, or computes the real page — as the request asks. A served app (gradio, on a
free loopback port) shows that an over-budget request reaches the page as a message while the
server keeps serving, and that an upload over the limit is refused while it arrives.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vramscope.web import handlers as H
from vramscope.web.state import DEFAULTS, NAMES
from vramscope.web.workers import DEFAULT_MEMORY, Budget, Computer, default_workers

MiB = 1 << 20
BUDGET = Budget(seconds=1.0, memory=512 * MiB)


def probe(values, file=None, **kw) -> H.Page:
    """The pool's target in these tests: log the call, then do what ``_do`` (or ``hub="__<do>"``) asks."""
    log = values.get("_log")
    if log:
        with open(log, "a") as f:
            f.write(f"{values.get('_id', '?')}\n")
    hub = str(values.get("hub") or "")
    action = values.get("_do") or (hub[2:] if hub.startswith("__") else "")
    if action == "sleep":
        time.sleep(60)
    elif action == "alloc":
        bytearray(8 << 30)  # past any budget in these tests: MemoryError at once, nothing touched
    elif action == "swallow":  # the allocation fails inside a tab, where the handlers catch every exception
        def hog(spec, values, lang):
            bytearray(8 << 30)

        H.TAB_FUNCS["infer"] = hog
        return H.compute({**values, "batch": "77"}, file, **kw)
    return H.compute(values, file, **kw)


def calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def computer():
    c = Computer(workers=1, budget=BUDGET, target=probe)
    c.start()
    assert c._get_pool().wait_ready(30)
    yield c
    c.close()


def ask(computer: Computer, log: Path, rid: str, **changes) -> tuple[H.Page, float]:
    values = {**DEFAULTS, "_log": str(log), "_id": rid, **changes}
    t0 = time.monotonic()
    page = computer.compute(values)
    return page, time.monotonic() - t0


def assert_normal_request_works(computer: Computer, log: Path, rid: str) -> None:
    values = {**DEFAULTS, "batch": "3"}
    page, _ = ask(computer, log, rid, batch="3")
    assert page == H.compute(values) and page.ok
    assert calls(log).count(rid) == 1


# --- the budget, request by request -----------------------------------------------------------------
def test_a_request_over_the_time_budget_is_stopped_and_not_computed_again(computer, tmp_path):
    log = tmp_path / "calls"
    pid = computer._get_pool().pids()[0]
    page, took = ask(computer, log, "slow", _do="sleep")
    assert took < BUDGET.seconds + 3, took
    assert not page.ok and "needed more than 1 s and was stopped" in page.html and 'role="alert"' in page.html
    assert page.code.startswith("# This request needed more than 1 s")
    assert calls(log) == ["slow"]  # once: not retried in another worker, not in this process
    assert_normal_request_works(computer, log, "after")
    assert calls(log) == ["slow", "after"]
    assert pid not in computer._get_pool().pids()  # the sleeper was killed and replaced


def test_a_request_over_the_memory_budget_is_stopped(computer, tmp_path):
    log = tmp_path / "calls"
    pool = computer._get_pool()
    pid = pool.pids()[0]
    page, took = ask(computer, log, "hog", _do="alloc")
    assert took < 3 and not page.ok
    assert "needed more than 512 MiB of memory and was stopped" in page.html
    assert calls(log) == ["hog"]
    assert_normal_request_works(computer, log, "after")
    assert pid not in pool.pids()  # the worker answered, then exited; a new one took its place


def test_a_memory_error_the_handlers_caught_still_counts(computer, tmp_path):
    log = tmp_path / "calls"
    page, _ = ask(computer, log, "hog", _do="swallow")
    assert not page.ok and "of memory and was stopped" in page.html and "Internal error" not in page.html
    assert calls(log) == ["hog"]
    assert_normal_request_works(computer, log, "after")  # a fresh worker: its TAB_FUNCS untouched


def test_a_worker_killed_while_computing(computer, tmp_path):
    log = tmp_path / "calls"
    pool = computer._get_pool()
    pid = pool.pids()[0]
    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(ask, computer, log, "victim", _do="sleep")
        deadline = time.monotonic() + 10
        while "victim" not in calls(log) and time.monotonic() < deadline:
            time.sleep(0.02)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        page, _ = fut.result(timeout=10)
        assert time.monotonic() - t0 < 0.9  # at once, not at the end of the time budget
    assert not page.ok and "stopped unexpectedly; it was not retried" in page.html
    assert calls(log) == ["victim"]
    assert_normal_request_works(computer, log, "after")
    assert pid not in pool.pids()


def test_a_worker_that_died_while_idle_is_replaced_unnoticed(computer, tmp_path):
    log = tmp_path / "calls"
    pool = computer._get_pool()
    for proc in pool._processes.values():
        proc.kill()
        proc.join()
    assert_normal_request_works(computer, log, "next")  # no message: nothing was lost
    assert calls(log) == ["next"]


def test_the_message_follows_the_page_language(computer, tmp_path):
    page, _ = ask(computer, tmp_path / "calls", "zh", _do="sleep", lang="zh", tab="train")
    assert page.tab == "train" and "已停止" in page.html and "耗时超过 1 秒" in page.html
    assert page.query == "tab=train&lang=zh"


def test_a_warmed_worker_leaves_the_memory_budget_to_the_request(computer):
    pid = computer._get_pool().pids()[0]
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        pytest.skip("no /proc")
    kib = int(next(line.split()[1] for line in status.read_text().splitlines() if line.startswith("VmSize:")))
    assert kib * 1024 < DEFAULT_MEMORY / 3  # ~100-300 MiB of the 1.5 GiB address space


def test_hub_requests_run_in_a_worker_with_the_budget(computer, tmp_path, monkeypatch):
    """A model from the hub is computed in a worker (bounded by the budget), not in the server."""
    log = tmp_path / "calls"
    page, _ = ask(computer, log, "hub", src="hub", hub="some-org/not-cached-zzz")
    assert "not-cached-zzz" in page.model_html and calls(log) == ["hub"]
    page, wall = ask(computer, log, "hub-sleep", src="hub", hub="__sleep")
    assert wall < BUDGET.seconds + 2 and not page.ok  # stopped by the budget like any request
    assert_normal_request_works(computer, log, "after")


def test_a_worker_whose_hub_read_was_abandoned_is_replaced(monkeypatch):
    from vramscope.sources import hub
    from vramscope.web import workers

    assert not workers._hub_read_left_running()
    assert hub._TURN.acquire(blocking=False)
    try:
        assert hub.read_left_running() and workers._hub_read_left_running()
    finally:
        hub._TURN.release()


def test_workers_zero_computes_here_without_a_budget(tmp_path):
    c = Computer(workers=0, budget=BUDGET, target=probe)
    page, _ = ask(c, tmp_path / "calls", "here", batch="5")
    assert page == H.compute({**DEFAULTS, "batch": "5"}) and c._get_pool() is None


# --- settings ------------------------------------------------------------------------------------------
def test_budget_from_the_environment():
    assert Budget.from_env({}) == Budget(10.0, 3 << 29)
    assert Budget.from_env({"VRAMSCOPE_WEB_TIMEOUT": "2.5", "VRAMSCOPE_WEB_MEMORY": "2GiB"}) == Budget(2.5, 2 << 30)
    assert Budget.from_env({"VRAMSCOPE_WEB_TIMEOUT": "30s", "VRAMSCOPE_WEB_MEMORY": "3"}) == Budget(30.0, 3 << 30)
    assert Budget.from_env({"VRAMSCOPE_WEB_TIMEOUT": "0", "VRAMSCOPE_WEB_MEMORY": "off"}) == Budget(None, None)
    for bad in ("abc", "-1", "inf", "nan"):  # a bad value: the default (and a warning)
        assert Budget.from_env({"VRAMSCOPE_WEB_TIMEOUT": bad, "VRAMSCOPE_WEB_MEMORY": bad}) == Budget()
    assert Budget(1.5, 1536 * MiB).memory_text == "1.5 GiB" and Budget(None, None).seconds_text == "∞"


def test_default_workers(monkeypatch):
    monkeypatch.delenv("VRAMSCOPE_WEB_WORKERS", raising=False)
    assert 2 <= default_workers() <= 4  # never 0 by default: the budget always holds
    monkeypatch.setenv("VRAMSCOPE_WEB_WORKERS", "0")
    assert default_workers() == 0
    monkeypatch.setenv("VRAMSCOPE_WEB_WORKERS", "x")
    assert default_workers() >= 2


# --- a served app ------------------------------------------------------------------------------------------
MAX_UPLOAD = 64 * 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served():
    pytest.importorskip("gradio", reason="gradio not installed (pip install -e '.[web]')")
    from vramscope.web.app import launch

    port = _free_port()
    computer = Computer(workers=1, budget=BUDGET, target=probe)
    demo = launch("127.0.0.1", port, block=False, max_upload=MAX_UPLOAD, quiet=True, computer=computer)
    assert computer._get_pool().wait_ready(30)
    yield port
    demo.close()


def _compute_over_http(port: int, values: dict, session: str) -> list:
    """The "compute" event as the browser sends it (join gradio's queue, read the session's stream)."""
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        config = client.get("/config").json()
        names = {c["id"]: (c.get("props") or {}).get("elem_id") or "" for c in config["components"]}
        event = next(d for d in config["dependencies"] if d.get("api_name") == "compute")
        data = []
        for cid in event["inputs"]:
            elem = names.get(cid, "")
            data.append("en" if elem == "vs-browser-lang" else None if elem == "in-file"
                        else values.get(elem[3:], "") if elem.startswith("in-") else "")
        r = client.post("/gradio_api/queue/join", json={"data": data, "fn_index": event["id"], "session_hash": session})
        r.raise_for_status()
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        assert msg.get("success"), msg
                        return msg["output"]["data"]
    raise AssertionError("no result")


def test_served_app_shows_the_budget_message_and_keeps_serving(served):
    values = {**DEFAULTS, "hub": "__sleep"}  # the probe sleeps; the Model source stays the catalog
    assert set(values) <= set(NAMES)
    t0 = time.monotonic()
    out = _compute_over_http(served, values, "budget-1")
    assert time.monotonic() - t0 < BUDGET.seconds + 4
    assert "needed more than 1 s and was stopped" in out[0] and "needed more than 1 s" in out[1]
    out = _compute_over_http(served, {**DEFAULTS, "batch": "2"}, "budget-2")
    assert "data-bytes" in out[1] and 'role="alert"' not in out[1]  # an estimate again


def test_an_upload_over_the_limit_is_refused_while_it_arrives(served):
    """gradio's ``max_file_size`` (the app's ``max_upload``) is checked chunk by chunk as the body is
    read: the request below announces 64 MiB, sends 1 MiB and stops — and is answered 413 at once,
    the part written so far deleted. (A whole file is never needed to refuse it.)"""
    from gradio.utils import get_upload_folder

    before = {p for p in Path(get_upload_folder()).rglob("*") if p.is_file()}
    boundary = "vramscopeboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.gguf\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    announced = len(head) + (64 << 20)
    with socket.create_connection(("127.0.0.1", served), timeout=10) as s:
        s.sendall((f"POST /gradio_api/upload HTTP/1.1\r\nHost: 127.0.0.1:{served}\r\n"
                   f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                   f"Content-Length: {announced}\r\n\r\n").encode() + head)
        chunk = b"\0" * (64 * 1024)
        try:
            for _ in range(16):  # 1 MiB of the announced 64 MiB
                s.sendall(chunk)
        except OSError:  # the server may already have answered and closed
            pass
        reply = b""
        while b"\r\n\r\n" not in reply:
            part = s.recv(4096)
            if not part:
                break
            reply += part
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b"maximum allowed size" in reply or b"413" in reply
    after = {p for p in Path(get_upload_folder()).rglob("*") if p.is_file()}
    assert not [p for p in after - before if p.stat().st_size > MAX_UPLOAD]  # nothing over the limit stays


def test_the_update_events_read_the_upload_from_gradios_file_record():
    from vramscope.web.app import upload_path

    assert upload_path({"path": "/tmp/gradio/abc/config.json", "orig_name": "config.json"}) == \
        "/tmp/gradio/abc/config.json"
    assert upload_path(None) is None and upload_path("/etc/passwd") is None and upload_path({"path": 3}) is None


def test_a_file_record_outside_the_upload_folder_never_reaches_the_handlers(served, tmp_path):
    """The update events skip gradio's preprocessing, not its check that a file lies in its upload folder."""
    from conftest import catalog_config

    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(catalog_config("Qwen__Qwen3-0.6B")))
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{served}", timeout=30) as client:
        config = client.get("/config").json()
        names = {c["id"]: (c.get("props") or {}).get("elem_id") or "" for c in config["components"]}
        event = next(d for d in config["dependencies"] if d.get("api_name") == "compute")
        values = {**DEFAULTS, "src": "file"}
        record = {"path": str(cfg), "orig_name": "config.json", "meta": {"_type": "gradio.FileData"}}
        data = [record if names.get(cid) == "in-file" else values.get(names.get(cid, "")[3:], "")
                for cid in event["inputs"]]
        r = client.post("/gradio_api/queue/join", json={"data": data, "fn_index": event["id"], "session_hash": "outside"})
        r.raise_for_status()
        with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": "outside"}) as stream:
            done = [json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:")]
    result = next(m for m in done if m.get("msg") == "process_completed")
    assert result["success"] is False  # gradio refused the event before calling it (no page, no estimate)
