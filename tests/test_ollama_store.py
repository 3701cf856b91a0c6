"""Ollama model names and Ollama's blob store (sources/ollama_store.py), and a stored blob through
Ollama's estimate."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from test_gguf import write_tiny_llama
from vramscope.errors import ModelNotFoundError
from vramscope.estimators.engines import ollama_memory as O
from vramscope.formats.gguf_types import tensor_nbytes
from vramscope.sources import ollama_store as ST
from vramscope.sources.gguf_file import spec_from_gguf


def test_names_parse_as_ollama_does():
    n = ST.parse_name("llama3.1:8b")
    assert (n.host, n.namespace, n.model, n.tag) == ("registry.ollama.ai", "library", "llama3.1", "8b")
    assert ST.parse_name("qwen3").tag == "latest"
    u = ST.parse_name("someone/mymodel:v2")
    assert (u.host, u.namespace, u.model, u.tag) == ("registry.ollama.ai", "someone", "mymodel", "v2")
    h = ST.parse_name("hf.co/bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M")
    assert (h.host, h.namespace, h.tag) == ("hf.co", "bartowski", "Q4_K_M")
    assert ST.looks_like_ollama_name("gemma3:12b") and not ST.looks_like_ollama_name("meta-llama/Llama-3.1-8B")
    assert not ST.looks_like_ollama_name("./model.gguf")


@pytest.mark.parametrize(("ref", "catalog_id", "quant"), [
    ("llama3.1:8b", "meta-llama/Llama-3.1-8B", "Q4_K_M"),
    ("llama3.1:70b-instruct-q8_0", "meta-llama/Llama-3.1-70B", "Q8_0"),
    ("llama3.2", "meta-llama/Llama-3.2-3B", "Q4_K_M"),  # latest = 3b
    ("qwen3:8b", "Qwen/Qwen3-8B", "Q4_K_M"),
    ("gemma3:27b-it-fp16", "google/gemma-3-27b-it", "F16"),
    ("qwen2.5:14b-instruct-q6_K", "Qwen/Qwen2.5-14B", "Q6_K"),
    ("gpt-oss:20b", "openai/gpt-oss-20b", "MXFP4_MOE"),
])
def test_library_tags_map_to_the_catalog(ref, catalog_id, quant):
    r = ST.library_ref(ref)
    assert (r.catalog_id, r.quant) == (catalog_id, quant)


def test_unknown_library_names_are_one_clear_line():
    with pytest.raises(ModelNotFoundError, match="not in vramscope's table of library models"):
        ST.library_ref("nosuchmodel:7b")
    with pytest.raises(ModelNotFoundError, match="known: llama3.1:8b, llama3.1:70b, llama3.1:405b"):
        ST.library_ref("llama3.1:13b")


def _store(root: Path, name: str = "tiny", tag: str = "latest") -> Path:
    blobs = root / "blobs"
    blobs.mkdir(parents=True)
    tmp = root / "tmp.gguf"
    write_tiny_llama(tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    blob = blobs / f"sha256-{digest}"
    tmp.rename(blob)
    man = root / "manifests" / "registry.ollama.ai" / "library" / name / tag
    man.parent.mkdir(parents=True)
    man.write_text(json.dumps({"schemaVersion": 2, "layers": [
        {"mediaType": ST.MODEL_MEDIA, "digest": f"sha256:{digest}", "size": blob.stat().st_size},
        {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "0" * 64, "size": 1},
    ]}))
    return blob


def test_a_stored_blob_is_found_and_read(tmp_path):
    blob = _store(tmp_path)
    found = ST.find_in_store("tiny", tmp_path)
    assert found is not None and found.model_blob == blob and found.projector_blob is None
    assert ST.find_in_store("tiny:other", tmp_path) is None
    assert ST.models_dir({"OLLAMA_MODELS": str(tmp_path)}) == tmp_path
    # the blob's own tensors: blk.0 = 2 F32 norms + F16 q/o + Q8_0 k/v/gate/up + Q4_K down (test_gguf's tiny llama)
    m = O.model_from_spec(spec_from_gguf(found.model_blob))
    h, ff, q, kv = 64, 256, 4 * 16, 2 * 16
    blk0 = (2 * h * 4 + 2 * tensor_nbytes("F16", (q, h)) + 2 * tensor_nbytes("Q8_0", (kv, h))
            + 2 * tensor_nbytes("Q8_0", (ff, h)) + tensor_nbytes("Q4_K", (h, ff)))
    assert m.layer_bytes[0] == blk0
    assert m.output_layer_bytes == tensor_nbytes("Q8_0", (128, h)) + h * 4
    est = O.estimate_gpu_layers(m, [O.Gpu(1 << 30)], ctx=2048)
    assert est.layers_offload == 3 and est.required_kv == 2 * 2048 * (16 + 16) * 2 * 2


def test_a_broken_store_is_one_clear_line(tmp_path):
    blob = _store(tmp_path)
    blob.unlink()
    with pytest.raises(ModelNotFoundError, match="which is missing"):
        ST.find_in_store("tiny", tmp_path)
    man = tmp_path / "manifests" / "registry.ollama.ai" / "library" / "tiny" / "latest"
    man.write_text("{not json")
    with pytest.raises(ModelNotFoundError, match="not an Ollama manifest"):
        ST.find_in_store("tiny", tmp_path)
