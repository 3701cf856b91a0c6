"""The hub client against real HTTP servers on 127.0.0.1: bounded in time, strict about what it reads,
one clear line for every failure, and never a token in any output.

Tests never use the real network: every server here is started by the test on 127.0.0.1, and
huggingface_hub is pointed at it in-process (its endpoint is read at import, so the fixture patches
the constants and the default HfApi) or, for the CLI, through HF_ENDPOINT in a subprocess.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import catalog_config
from vramscope import load_model
from vramscope.errors import ConfigError, ModelNotFoundError, OfflineError, VramscopeError
from vramscope.sources import hub
from vramscope.spec import SAFETENSORS_DTYPE_BITS, StoredWeights

pytest.importorskip("huggingface_hub")

REPO = "some-org/some-model"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
TOKEN = "hf_secretTOKENvalue0123456789abcdefXYZ"
#: the stalled-hub bound of the issue: the budget (2.5 s) plus the caller's grace, with room for a slow CI
STALL_BOUND_S = 3.5


# --- a hub on 127.0.0.1 ------------------------------------------------------------------------
class FakeHub:
    """An HTTP/1.1 server playing a hub: ``files`` serves files like /{repo}/resolve/{rev}/{name};
    the other modes misbehave (``stall`` accepts and never answers, ``garbage``, ``status:500``,
    ``drip-headers``, ``drip-body``, ``big-body``, ``echo:401`` / ``echo:404`` / ``echo:gated``
    answer with an error that quotes the request's Authorization header back)."""

    def __init__(self, mode: str = "files", files: dict[str, bytes] | None = None) -> None:
        self.mode, self.files = mode, files or {}
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for c in self._conns:
            with contextlib.suppress(OSError):
                c.close()

    def authorizations(self) -> list[str]:
        return [line.split(":", 1)[1].strip() for r in self.requests for line in r.split("\r\n")
                if line.lower().startswith("authorization:")]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                head = self._read_head(conn)
                if head is None:
                    return
                self.requests.append(head)
                if self.mode == "stall":
                    self._stop.wait()
                    return
                if not self._answer(conn, head):
                    return
        except OSError:
            return
        finally:
            conn.close()

    @staticmethod
    def _read_head(conn: socket.socket) -> str | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        return data.decode("latin-1")

    def _send(self, conn, status: int, headers: dict[str, str], body: bytes = b"", head_only: bool = False) -> None:
        reason = {200: "OK", 206: "Partial Content", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
        lines = [f"HTTP/1.1 {status} {reason.get(status, 'Status')}"]
        headers = {"Content-Length": str(len(body)), **headers}
        lines += [f"{k}: {v}" for k, v in headers.items()]
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body))

    def _drip(self, conn, data: bytes) -> None:
        for i in range(len(data)):
            if self._stop.wait(0.05):
                return
            conn.sendall(data[i:i + 1])

    def _answer(self, conn, head: str) -> bool:
        request_line, *header_lines = head.split("\r\n")
        method, path = request_line.split(" ")[:2]
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if ":" in h)}
        is_head = method == "HEAD"
        file_headers = {"X-Repo-Commit": COMMIT, "ETag": '"0a1b2c3d"'}  # the files mode sets one per file
        mode = self.mode
        if mode == "garbage":
            conn.sendall(b"\x00\x01 this is no HTTP at all \xff\xfe\r\n\r\n")
            return False
        if mode.startswith("status:"):
            self._send(conn, int(mode.split(":")[1]), {"Retry-After": "100000"}, b'{"error": "busy"}', is_head)
            return True
        if mode == "drip-headers":
            self._drip(conn, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10000)
            return False
        if mode in ("drip-body", "big-body"):
            size = 100_000 if mode == "drip-body" else 8 << 20
            if is_head:
                self._send(conn, 200, {**file_headers, "Content-Length": str(size)}, head_only=True)
                return True
            self._send(conn, 200, {**file_headers, "Content-Length": str(size)}, head_only=True)
            if mode == "drip-body":
                self._drip(conn, b"{" * size)
            else:
                conn.sendall(b" " * size)
            return False
        if mode.startswith("echo:"):
            auth = headers.get("authorization", "")
            kind = mode.split(":")[1]
            status, code = {"401": (401, ""), "404": (404, "RepoNotFound"), "gated": (403, "GatedRepo")}[kind]
            extra = {"X-Error-Message": f"token {auth} refused"} | ({"X-Error-Code": code} if code else {})
            self._send(conn, status, {**extra, "Content-Type": "application/json"},
                       json.dumps({"error": f"your token {auth} is not valid"}).encode(), is_head)
            return True
        # files
        name = path.split("/resolve/", 1)[1].split("/", 1)[1] if "/resolve/" in path else None
        body = self.files.get(name) if name else None
        if body is None:
            self._send(conn, 404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}, b"{}", is_head)
            return True
        status, part = 200, body
        file_headers["ETag"] = f'"{hashlib.sha1(body).hexdigest()}"'  # the HF cache keys its blobs by ETag
        if "range" in headers:
            lo, hi = headers["range"].split("=")[1].split("-")
            part = body[int(lo): int(hi) + 1]
            status = 206
            file_headers["Content-Range"] = f"bytes {lo}-{int(lo) + len(part) - 1}/{len(body)}"
        self._send(conn, status, file_headers, part, is_head)
        return True


def safetensors_file(header: dict) -> bytes:
    """A safetensors file without its data: the 8-byte header length and the JSON header."""
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw


def tiny_header(dtype: str = "BF16") -> dict:
    return {"__metadata__": {"format": "pt"},
            "model.embed_tokens.weight": {"dtype": dtype, "shape": [128256, 2048], "data_offsets": [0, 128256 * 2048 * 2]}}


@pytest.fixture
def serve(monkeypatch, tmp_path):
    """Start a FakeHub and point huggingface_hub (in this process) and vramscope's cache at it / tmp_path."""
    from huggingface_hub import constants, hf_api

    servers: list[FakeHub] = []

    def start(mode: str = "files", files: dict[str, bytes] | None = None) -> FakeHub:
        server = FakeHub(mode, files)
        servers.append(server)
        # huggingface_hub reads HF_ENDPOINT once, at import: the URL template, the default HfApi
        # (get_safetensors_metadata is its bound method) and the endpoint constant all carry it
        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            server.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(hf_api.api, "endpoint", server.url)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
        monkeypatch.setattr(constants, "AGENT_HARNESSES_PATH", str(tmp_path / "agents.json"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.delenv(hub.HUB_BUDGET_ENV, raising=False)
        monkeypatch.setenv("VRAMSCOPE_CACHE", str(tmp_path / "vramscope-cache"))
        return server

    yield start
    for server in servers:
        server.close()


def timed_failure(exc_type=OfflineError, match: str | None = None, repo: str = REPO) -> tuple[VramscopeError, float]:
    t = time.perf_counter()
    with pytest.raises(exc_type, match=match) as info:
        load_model(repo, offline=False)
    return info.value, time.perf_counter() - t


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and 0 < len(text) < 400, text
    return text


# --- 1. a stalled hub answers within 3 s ---------------------------------------------------------
def test_a_stalled_hub_is_one_offline_error_within_the_budget(serve, capsys):
    server = serve("stall")
    err, elapsed = timed_failure(match=r"accepted the connection but did not answer within 2\.5 s")
    with capsys.disabled():
        print(f"\n[stalled hub, in-process] OfflineError after {elapsed:.2f} s")
    assert elapsed < STALL_BOUND_S
    assert f"127.0.0.1:{server.port}" in one_line(err) and "VRAMSCOPE_HUB_TIMEOUT" in str(err)
    assert server.requests, "the request went to the test's server"


def test_a_stalled_hub_answers_the_cli_within_3_s_of_starting(tmp_path, capsys):
    """The wait on the hub, beyond the time the same interpreter takes to start, import the CLI and the
    hub client and answer an offline `info` (measured just before, under the same load), is under 3 s: the machines running the
    tests are shared, so a fixed wall-clock bound would measure the neighbours."""
    server = FakeHub("stall")
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_TOKEN", hub.HUB_BUDGET_ENV)}
        env.update(HF_ENDPOINT=server.url, HF_HOME=str(tmp_path / "hf"), VRAMSCOPE_CACHE=str(tmp_path / "vs"),
                   PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import huggingface_hub, httpx, vramscope.sources.hub; "
                        "from vramscope.cli import main; main(['info', '7B'])"],
                       env=env, capture_output=True, timeout=30)
        startup = time.perf_counter() - t
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "vramscope", "info", REPO], env=env, capture_output=True,
                              text=True, timeout=30)
        elapsed = time.perf_counter() - t
    finally:
        server.close()
    with capsys.disabled():
        print(f"\n[stalled hub, CLI subprocess] exit {proc.returncode} after {elapsed:.2f} s "
              f"(start-up and imports {startup:.2f} s)")
    assert elapsed - startup < 3, (elapsed, startup)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "did not answer within 2.5 s" in lines[0]
    assert "Traceback" not in proc.stderr and server.requests


@pytest.mark.parametrize(("mode", "match"), [
    ("garbage", "did not answer in HTTP"),
    ("status:500", r"failed \(HTTP 500\)"),
    ("status:503", r"failed \(HTTP 503\)"),  # with Retry-After: 100000, which huggingface_hub would sleep
    ("status:429", r"rate-limited this client \(HTTP 429\)"),
    ("drip-headers", "did not answer within 2.5 s"),
    ("drip-body", "did not finish its answer within 2.5 s"),
])
def test_a_misbehaving_hub_is_one_clear_line_in_bounded_time(serve, mode, match):
    serve(mode)
    err, elapsed = timed_failure(match=match)
    one_line(err)
    assert elapsed < STALL_BOUND_S, elapsed


def test_an_endless_answer_is_cut_at_the_size_limit(serve, monkeypatch):
    monkeypatch.setattr(hub, "MAX_ANSWER_BYTES", 1 << 20)
    serve("big-body")
    err, elapsed = timed_failure(match="sent more than 1 MiB in one answer")
    one_line(err)
    assert elapsed < STALL_BOUND_S


def test_the_budget_is_one_deadline_for_config_and_headers(serve, monkeypatch):
    """config.json answers at once; the safetensors headers then stall: the whole read still ends in time."""
    server = serve("files", {"config.json": json.dumps(catalog_config("meta-llama__Llama-3.2-1B")).encode()})

    def stall_after_config(conn, head):
        if "config.json" in head.split("\r\n")[0]:
            return FakeHub._answer(server, conn, head)
        server._stop.wait()
        return False

    monkeypatch.setattr(server, "_answer", stall_after_config)
    err, elapsed = timed_failure(match="did not answer within 2.5 s")
    assert elapsed < STALL_BOUND_S, elapsed
    one_line(err)


def test_the_budget_can_be_raised_and_is_validated(monkeypatch):
    monkeypatch.setenv(hub.HUB_BUDGET_ENV, "10")
    assert hub.HubBudget().seconds == 10
    for bad in ("0", "-1", "nan", "inf", "1e9", "soon"):
        monkeypatch.setenv(hub.HUB_BUDGET_ENV, bad)
        with pytest.raises(VramscopeError, match=hub.HUB_BUDGET_ENV):
            hub.HubBudget()


def test_a_local_cache_lookup_sends_no_request(serve, monkeypatch):
    """huggingface_hub fetches an 'agent harnesses' registry even for local_files_only: not through vramscope."""
    import importlib

    # forget the registry this process may hold already, so that the library wants to fetch it
    with contextlib.suppress(ImportError, AttributeError):  # other huggingface_hub versions
        monkeypatch.setattr(importlib.import_module("huggingface_hub.utils._detect_agent"), "_registry", None)
    server = serve("stall")
    t = time.perf_counter()
    with pytest.raises(OfflineError, match="not in the local cache"):
        load_model(REPO, offline=True)
    assert time.perf_counter() - t < 1 and server.requests == []


# --- a well-behaved hub: the whole path works through the bounded client -------------------------
def test_a_working_hub_is_read_through_the_bounded_client(serve):
    config = catalog_config("meta-llama__Llama-3.2-1B")
    server = serve("files", {"config.json": json.dumps(config).encode(),
                             "model.safetensors": safetensors_file(tiny_header())})
    spec = load_model(REPO, offline=False)
    assert spec.source == "hub" and spec.params_total == 1_235_814_400
    assert spec.stored.bytes_by_dtype == {"BF16": 128256 * 2048 * 2}
    assert any("model.safetensors" in r.split("\r\n")[0] for r in server.requests)


def test_a_sharded_repo_is_read_through_the_bounded_client(serve, capsys):
    """huggingface_hub reads the shards from threads of its own: they are held to the same budget."""
    shards = {f"model-0000{i}-of-00003.safetensors": {f"model.layers.{i}.w": _entry("BF16", (64, 64))}
              for i in range(1, 4)}
    index = {"metadata": {"total_size": 3 * 64 * 64 * 2},
             "weight_map": {name: shard for shard, header in shards.items() for name in header}}
    files = {"config.json": json.dumps(catalog_config("meta-llama__Llama-3.2-1B")).encode(),
             "model.safetensors.index.json": json.dumps(index).encode(),
             **{shard: safetensors_file(header) for shard, header in shards.items()}}
    serve("files", files)
    spec = load_model(REPO, offline=False)
    assert spec.stored.bytes_by_dtype == {"BF16": 3 * 64 * 64 * 2} and len(spec.stored.tensors) == 3
    assert capsys.readouterr().err == ""  # huggingface_hub's "Parse safetensors files" bar is not drawn


def test_a_repo_without_safetensors_answers_from_its_config(serve):
    serve("files", {"config.json": json.dumps(catalog_config("meta-llama__Llama-3.2-1B")).encode()})
    spec = load_model(REPO, offline=False)
    assert spec.stored is None and any("config.json alone" in a for a in spec.assumptions)


@pytest.mark.parametrize(("header", "match"), [
    (tiny_header("Q7"), r"'model.embed_tokens.weight' has dtype 'Q7', which is not a safetensors dtype"),
    ({"w": {"dtype": "F32", "shape": [2, -3], "data_offsets": [0, 0]}}, r"'w' has shape \[2, -3\]"),
    # huggingface_hub multiplies the dims itself ("ab" * 2): refused as malformed before our checks
    ({"w": {"dtype": "F32", "shape": [2, "ab"], "data_offsets": [0, 0]}}, r"'w' has shape|malformed"),
    ({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 15]}}, r"'w' has data_offsets \(0, 15\)"),
    ([1, 2, 3], "malformed|not valid safetensors"),
])
def test_a_malformed_header_on_the_hub_is_one_config_error(serve, header, match):
    serve("files", {"config.json": json.dumps(catalog_config("meta-llama__Llama-3.2-1B")).encode(),
                    "model.safetensors": safetensors_file(header)})
    err, _ = timed_failure(ConfigError, match=match)
    one_line(err)


def test_a_non_utf8_header_is_refused_or_read_never_a_traceback(serve):
    raw = b'{"w\xff\xfe": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}'
    serve("files", {"config.json": json.dumps(catalog_config("meta-llama__Llama-3.2-1B")).encode(),
                    "model.safetensors": struct.pack("<Q", len(raw)) + raw})
    try:
        spec = load_model(REPO, offline=False)
    except VramscopeError as exc:
        one_line(exc)
    else:
        assert spec.stored.total_bytes == 16


# --- 2. safetensors headers validated ----------------------------------------------------------
def _entry(dtype="F32", shape=(4, 4), offsets=None):
    n = 1
    for d in shape:
        n *= d
    return {"dtype": dtype, "shape": list(shape), "data_offsets": offsets or [0, n * SAFETENSORS_DTYPE_BITS[dtype] // 8]}


@pytest.mark.parametrize(("entry", "match"), [
    ({"dtype": "Q4", "shape": [4], "data_offsets": [0, 2]}, r"tensor 'w' has dtype 'Q4'"),
    ({"dtype": "bf16", "shape": [4], "data_offsets": [0, 8]}, r"tensor 'w' has dtype 'bf16'"),
    ({"dtype": 7, "shape": [4], "data_offsets": [0, 8]}, r"tensor 'w' has dtype 7"),
    ({"dtype": "F32", "shape": "4,4", "data_offsets": [0, 64]}, "a shape is a list"),
    ({"dtype": "F32", "shape": 16, "data_offsets": [0, 64]}, "a shape is a list"),
    ({"dtype": "F32", "shape": [4, -4], "data_offsets": [0, 64]}, "dimensions must be integers"),
    ({"dtype": "F32", "shape": [4, 1.5], "data_offsets": [0, 64]}, "dimensions must be integers"),
    ({"dtype": "F32", "shape": [4, 4.0], "data_offsets": [0, 64]}, "dimensions must be integers"),
    ({"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]}, "dimensions must be integers"),
    ({"dtype": "F32", "shape": [None], "data_offsets": [0, 4]}, "dimensions must be integers"),
    ({"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}, "at most 8 dimensions"),
    ({"dtype": "U8", "shape": [2**40, 2**10], "data_offsets": [0, 2**50]}, "elements, above vramscope's limit"),
    ({"dtype": "U8", "shape": [2**49], "data_offsets": [0, 2**49]}, "dimensions must be integers from 0"),
    ({"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}, "do not fill whole bytes"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [0, 15]}, r"data_offsets \[0, 15\]"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [0.0, 16.0]}, "data_offsets"),
    ({"dtype": "F32", "shape": [4], "data_offsets": ["0", "16"]}, "data_offsets"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}, "data_offsets"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [0, 16, 32]}, "data_offsets"),
    ({"dtype": "F32", "shape": [4], "data_offsets": "0-16"}, "data_offsets"),
    ({"dtype": "F32", "shape": [4]}, "not an object with dtype, shape and data_offsets"),
    ("F32", "not an object"),
])
def test_every_header_value_is_checked(entry, match):
    with pytest.raises(ConfigError, match=match) as info:
        hub.stored_from_header({"w": entry})
    one_line(info.value)


def test_header_names_and_counts_are_bounded(monkeypatch):
    from vramscope import bounds

    with pytest.raises(ConfigError, match="tensor name"):
        hub.stored_from_header({"x" * 5000: _entry()})
    with pytest.raises(ConfigError, match="tensor name"):
        StoredWeights.from_tensors({"": ("F32", [4])})
    with pytest.raises(ConfigError, match="tensor name"):
        StoredWeights.from_tensors({7: ("F32", [4])})
    with pytest.raises(ConfigError, match="JSON object"):
        hub.stored_from_header(["w"])
    monkeypatch.setattr(bounds, "MAX_TENSORS", 3)
    with pytest.raises(ConfigError, match="4 tensors, above vramscope's limit of 3"):
        hub.stored_from_header({f"t{i}": _entry() for i in range(4)})


def test_total_stored_bytes_are_bounded():
    big = {f"t{i}": ("U8", [2**47]) for i in range(33)}  # 33 × 2**47 B > 2**52
    with pytest.raises(ConfigError, match="bytes of tensors, above vramscope's limit"):
        StoredWeights.from_tensors(big)


def test_every_safetensors_dtype_is_sized_from_its_bit_width():
    header = {f"t.{d}": _entry(d, (8, 2)) for d in SAFETENSORS_DTYPE_BITS}
    stored = hub.stored_from_header({"__metadata__": {"format": "pt"}, **header})
    assert stored.bytes_by_dtype["F4"] == 8 and stored.bytes_by_dtype["F6_E2M3"] == 12
    assert stored.bytes_by_dtype["F8_E4M3FNUZ"] == 16 and stored.bytes_by_dtype["C64"] == 128
    assert stored.bytes_by_dtype["BF16"] == 32 and stored.total_elements == 16 * len(SAFETENSORS_DTYPE_BITS)
    # empty and scalar tensors are legal safetensors
    assert hub.stored_from_header({"e": _entry("F32", (0, 5)), "s": _entry("F32", ())}).total_bytes == 4


# --- 3. vramscope's own cache file ---------------------------------------------------------------
@pytest.fixture
def cache_case(tmp_path, monkeypatch):
    """A vramscope cache folder, and a hub whose safetensors headers are served by a fake."""
    import huggingface_hub

    monkeypatch.setenv("VRAMSCOPE_CACHE", str(tmp_path))
    monkeypatch.setattr(hub, "check_reachable", lambda *a, **k: None)
    calls: list[str] = []

    class Meta:
        files_metadata = {"model.safetensors": type("F", (), {"tensors": {
            "w": type("I", (), {"dtype": "F32", "shape": [4], "data_offsets": (0, 16)})()}})()}

    monkeypatch.setattr(huggingface_hub, "get_safetensors_metadata",
                        lambda repo, revision=None: calls.append(repo) or Meta())
    path = hub._cache_file(REPO, None)
    path.parent.mkdir(parents=True)
    return path, calls


def _write_nested(path: Path) -> None:
    path.write_text("[" * 200_000 + "]" * 200_000)


@pytest.mark.parametrize("kind", ["nested", "wrong-types", "totals", "not-json", "binary", "huge", "fifo",
                                  "dev-zero", "directory", "empty"])
def test_a_broken_cache_entry_is_ignored_and_refetched(cache_case, kind):
    path, calls = cache_case
    if kind == "nested":
        _write_nested(path)
    elif kind == "wrong-types":
        path.write_text(json.dumps({"tensors": [["w", "F32", "4"]], "bytes_by_dtype": {}, "total_bytes": "x"}))
    elif kind == "totals":
        path.write_text(json.dumps({"tensors": [["w", "F32", [4]]], "bytes_by_dtype": {"F32": 16},
                                    "total_bytes": 999, "total_elements": 4}))
    elif kind == "not-json":
        path.write_text("{not json")
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00" * 100)
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(hub.MAX_CACHE_BYTES + 1)  # sparse: nothing written
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_text("")
    t = time.perf_counter()
    stored = hub.fetch_stored(REPO, offline=True)  # offline: nothing to refetch from
    assert stored is None and time.perf_counter() - t < 2
    stored = hub.fetch_stored(REPO, offline=False)
    assert stored is not None and stored.total_bytes == 16 and calls == [REPO]
    if kind != "directory":  # a directory in the way stays (caching is best effort)
        assert hub.fetch_stored(REPO, offline=False).total_bytes == 16 and calls == [REPO]  # now cached


def test_a_good_cache_entry_round_trips(cache_case):
    path, calls = cache_case
    stored = hub.fetch_stored(REPO)
    assert StoredWeights.from_dict(json.loads(path.read_text())) == stored
    assert hub.fetch_stored(REPO) == stored and calls == [REPO]


@pytest.mark.parametrize("data", [None, [], "x", {"tensors": "w"}, {"tensors": [["w", "F32"]]},
                                  {"tensors": [["w", "F32", [4]], ["w", "F32", [4]]]},
                                  {"tensors": [["w", "Q9", [4]]], "bytes_by_dtype": {}, "total_bytes": 0,
                                   "total_elements": 4}])
def test_from_dict_validates_like_from_tensors(data):
    with pytest.raises(ConfigError):
        StoredWeights.from_dict(data)


# --- 4. tokens are never printed or logged -------------------------------------------------------
@pytest.mark.parametrize("mode", ["stall", "echo:401", "echo:404", "echo:gated"])
def test_the_token_appears_in_no_output(serve, monkeypatch, capsys, caplog, mode):
    from conftest import run_cli

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    server = serve(mode)
    caplog.set_level(logging.DEBUG)
    for name in ("huggingface_hub", "httpx2", "httpcore2", "vramscope"):
        caplog.set_level(logging.DEBUG, logger=name)
    with pytest.raises(ModelNotFoundError) as info:  # OfflineError is a ModelNotFoundError
        load_model(REPO, offline=False)
    code, out, err = run_cli(["info", REPO], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert server.authorizations() and all(TOKEN in a for a in server.authorizations()), "the token was sent"
    for text in (str(info.value), repr(info.value.args), out, err, caplog.text):
        assert TOKEN not in text and "hf_secret" not in text
    records = " ".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert "hf_secret" not in records
