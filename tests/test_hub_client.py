"""The hub client: strict about what it reads — every safetensors header value checked, and
vramscope's own cache file read safely whatever is in its place.

Tests never use the real network: the hub is replaced by fakes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from vramscope.errors import ConfigError
from vramscope.sources import hub
from vramscope.spec import SAFETENSORS_DTYPE_BITS, StoredWeights

pytest.importorskip("huggingface_hub")

REPO = "some-org/some-model"


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and 0 < len(text) < 400, text
    return text


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
