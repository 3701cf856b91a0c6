"""Models named as Ollama names them (``llama3.1:8b``, ``qwen3:8b-q8_0``) and Ollama's blob store.

A name is ``[host/][namespace/]model[:tag]`` with host ``registry.ollama.ai``, namespace
``library`` and tag ``latest`` by default (``server/modelpath.go`` / ``types/model/name.go`` at
ollama/ollama 4372d0bfefc7). Two ways to its tensors:

* **on disk**: ``$OLLAMA_MODELS`` (default ``~/.ollama/models``) holds
  ``manifests/<host>/<namespace>/<model>/<tag>``, a JSON manifest whose layer of media type
  ``application/vnd.ollama.image.model`` names the GGUF blob ``blobs/sha256-<hex>`` (and
  ``…image.projector`` a separate mmproj GGUF for llama-engine vision models). When that is present
  the GGUF itself is read: exact tensor types and sizes.
* **by name**: :data:`LIBRARY` maps library models to the catalog entry with the same tensor shapes
  and the file type of the tag (``q8_0``, ``fp16`` … in the tag, else the library's default).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelNotFoundError
from .files import path_stat, read_bounded

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
MODEL_MEDIA = "application/vnd.ollama.image.model"
PROJECTOR_MEDIA = "application/vnd.ollama.image.projector"
MAX_MANIFEST_BYTES = 1 << 20

_NAME = re.compile(r"^(?:(?P<host>[A-Za-z0-9.-]+(?::\d+)?)/)??(?:(?P<ns>[A-Za-z0-9_.-]+)/)?"
                   r"(?P<model>[A-Za-z0-9][A-Za-z0-9_.-]*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]*))?$")
#: a file type at the end of a tag ("8b-instruct-q4_K_M", "70b-q8_0", "27b-it-fp16")
_QUANT = re.compile(r"(?:^|-)(q[2-8]_k_[sml]|q[2-8]_k|q[458]_[01]|iq[1-4]_[a-z]+|fp16|f16|bf16|f32)$", re.IGNORECASE)
_SIZE = re.compile(r"^(\d+(?:\.\d+)?[bm])(?:-|$)", re.IGNORECASE)


@dataclass(frozen=True)
class LibraryModel:
    """One model of the Ollama library: sizes → catalog id, and the default file type of its tags."""

    sizes: dict[str, str]
    latest: str
    default_quant: str = "Q4_K_M"
    #: a published server log whose weights confirm the mapping (validation/published/ollama_logs.jsonl)
    verified_by: tuple[str, ...] = ()


#: Library models whose shapes equal a catalog entry. Default file type: Q4_K_M, the type of the
#: library's default tags (https://ollama.com/library/<model>/tags lists each tag's quantisation);
#: ``verified_by`` names the published logs whose logged weights this mapping reproduces.
LIBRARY: dict[str, LibraryModel] = {
    "llama3.2": LibraryModel({"1b": "meta-llama/Llama-3.2-1B", "3b": "meta-llama/Llama-3.2-3B"}, "3b",
                             verified_by=("ollama-8098-llama3.2-3b-a100",)),
    "llama3.1": LibraryModel({"8b": "meta-llama/Llama-3.1-8B", "70b": "meta-llama/Llama-3.1-70B",
                              "405b": "meta-llama/Llama-3.1-405B"}, "8b"),
    "llama3.3": LibraryModel({"70b": "meta-llama/Llama-3.3-70B-Instruct"}, "70b",
                             verified_by=("ollama-8922-70b-q4_k_m-3gpu",)),
    "qwen2.5": LibraryModel({"0.5b": "Qwen/Qwen2.5-0.5B", "1.5b": "Qwen/Qwen2.5-1.5B", "3b": "Qwen/Qwen2.5-3B",
                             "7b": "Qwen/Qwen2.5-7B-Instruct", "14b": "Qwen/Qwen2.5-14B", "32b": "Qwen/Qwen2.5-32B",
                             "72b": "Qwen/Qwen2.5-72B-Instruct"}, "7b",
                            verified_by=("ollama-9031-qwen2.5-0.5b-h200", "ollama-8588-qwen2.5-14b-10gb")),
    "qwen3": LibraryModel({"0.6b": "Qwen/Qwen3-0.6B", "1.7b": "Qwen/Qwen3-1.7B", "4b": "Qwen/Qwen3-4B",
                           "8b": "Qwen/Qwen3-8B", "14b": "Qwen/Qwen3-14B", "32b": "Qwen/Qwen3-32B",
                           "30b": "Qwen/Qwen3-30B-A3B", "235b": "Qwen/Qwen3-235B-A22B"}, "8b",
                          verified_by=("ollama-10810-qwen3-235b-5gpu",)),
    "gemma3": LibraryModel({"1b": "google/gemma-3-1b-it", "4b": "google/gemma-3-4b-it", "12b": "google/gemma-3-12b-it",
                            "27b": "google/gemma-3-27b-it"}, "4b",
                           verified_by=("ollama-11819-gemma3-12b-ctx2048", "ollama-12000-gemma3-12b-ctx8192")),
    "deepseek-v3": LibraryModel({"671b": "deepseek-ai/DeepSeek-V3"}, "671b",
                                verified_by=("ollama-8447-deepseek-v3-671b-24gb",)),
    "deepseek-r1": LibraryModel({"671b": "deepseek-ai/DeepSeek-R1", "7b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
                                 "1.5b": "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"}, "7b"),
    "gpt-oss": LibraryModel({"20b": "openai/gpt-oss-20b", "120b": "openai/gpt-oss-120b"}, "20b",
                            default_quant="MXFP4_MOE"),
}


@dataclass(frozen=True)
class OllamaName:
    host: str
    namespace: str
    model: str
    tag: str

    def __str__(self) -> str:
        prefix = "" if (self.host, self.namespace) == (DEFAULT_HOST, DEFAULT_NAMESPACE) else f"{self.host}/{self.namespace}/"
        return f"{prefix}{self.model}:{self.tag}"


def looks_like_ollama_name(ref: str) -> bool:
    """``model:tag`` (optionally with namespace/host): a colon and no path-like part."""
    return ":" in ref and not ref.startswith((".", "/", "~")) and "\\" not in ref and _NAME.match(ref) is not None


def parse_name(ref: str) -> OllamaName:
    """Split an Ollama model name into host, namespace, model and tag (defaults filled in)."""
    m = _NAME.match(ref.strip())
    if m is None:
        raise ModelNotFoundError(f"{ref!r} is not an Ollama model name like llama3.1:8b")
    host = m.group("host")
    ns = m.group("ns")
    if host and not ns:  # "namespace/model": one part before the model is the namespace
        host, ns = None, host
    return OllamaName(host or DEFAULT_HOST, ns or DEFAULT_NAMESPACE, m.group("model"), m.group("tag") or DEFAULT_TAG)


def quant_of_tag(tag: str) -> str | None:
    """The GGUF file type a tag names ("8b-instruct-q8_0" → Q8_0, "27b-it-fp16" → F16), else None."""
    m = _QUANT.search(tag)
    if m is None:
        return None
    q = m.group(1).upper()
    return {"FP16": "F16"}.get(q, q)


@dataclass(frozen=True)
class LibraryRef:
    """A library tag resolved by name: the catalog entry with its shapes and the GGUF file type."""

    name: OllamaName
    catalog_id: str
    quant: str
    quant_from_tag: bool


def library_ref(ref: str | OllamaName) -> LibraryRef:
    """The catalog model and file type of a library tag; a clear error listing what is known."""
    name = parse_name(ref) if isinstance(ref, str) else ref
    entry = LIBRARY.get(name.model.lower()) if name.namespace == DEFAULT_NAMESPACE else None
    if entry is None:
        raise ModelNotFoundError(f"Ollama model {name.model!r} is not in vramscope's table of library models "
                                 f"({', '.join(sorted(LIBRARY))}); point at its GGUF blob instead "
                                 "(`ollama show --modelfile` prints its path)")
    tag = entry.latest if name.tag == DEFAULT_TAG else name.tag
    m = _SIZE.match(tag)
    size = m.group(1).lower() if m else None
    if size not in entry.sizes:
        raise ModelNotFoundError(f"{name}: size {size or tag!r} unknown for {name.model}; known: "
                                 f"{', '.join(f'{name.model}:{s}' for s in entry.sizes)}")
    q = quant_of_tag(tag)
    return LibraryRef(name, entry.sizes[size], q or entry.default_quant, q is not None)


def models_dir(env: dict[str, str] | None = None) -> Path:
    """``envconfig.Models()``: ``$OLLAMA_MODELS`` or ``~/.ollama/models``."""
    env = os.environ if env is None else env
    return Path(env.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models").expanduser()


@dataclass(frozen=True)
class StoredModel:
    """A model found in Ollama's blob store: its GGUF blob and, for llama-engine vision models, the
    separate projector blob."""

    name: OllamaName
    manifest: Path
    model_blob: Path
    projector_blob: Path | None = None


def find_in_store(ref: str | OllamaName, root: Path | None = None) -> StoredModel | None:
    """The blobs of ``ref`` in the store at ``root`` (default :func:`models_dir`); None when the
    manifest is not there. A manifest that is there but broken is a clear error."""
    name = parse_name(ref) if isinstance(ref, str) else ref
    base = models_dir() if root is None else root
    manifest = base / "manifests" / name.host / name.namespace / name.model / name.tag
    if path_stat(manifest) is None:
        return None
    try:
        doc = json.loads(read_bounded(manifest, MAX_MANIFEST_BYTES, "Ollama manifest"))
        layers = doc["layers"]
        digests = {layer["mediaType"]: layer["digest"] for layer in layers}
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelNotFoundError(f"{manifest}: not an Ollama manifest ({type(exc).__name__})") from None

    def blob(media: str) -> Path | None:
        digest = digests.get(media)
        if digest is None:
            return None
        if not isinstance(digest, str) or not re.fullmatch(r"sha256[:-][0-9a-fA-F]{64}", digest):
            raise ModelNotFoundError(f"{manifest}: layer {media} has no sha256 digest")
        path = base / "blobs" / digest.replace(":", "-")
        if path_stat(path) is None:
            raise ModelNotFoundError(f"{manifest} names blob {path.name}, which is missing (interrupted pull?)")
        return path

    model = blob(MODEL_MEDIA)
    if model is None:
        raise ModelNotFoundError(f"{manifest}: no model layer ({MODEL_MEDIA})")
    return StoredModel(name, manifest, model, blob(PROJECTOR_MEDIA))


def projector_bytes(path: Path) -> int:
    """``projectorMemoryRequirements``: Σ tensor bytes of a projector (mmproj) GGUF."""
    from .gguf_file import _read

    return sum(nbytes for _, _, _, nbytes in _read(path)[1])
