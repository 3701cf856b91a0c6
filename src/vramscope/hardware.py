"""Built-in GPU / accelerator facts (``data/gpus.json``): memory, bandwidth and dense tensor
throughput of common cards, each with the URL its figures were taken from.

``memory_bytes`` is what a model may use: the driver-reported total where a public measurement
exists (``memory_note`` says which), otherwise the marketed capacity read as GiB. Apple rows are
unified memory; ``gpu_share`` is the fraction macOS lets the GPU wire by default.

Lookup (:func:`find_gpu`) is case-insensitive on id, name and aliases and ignores spaces,
underscores and hyphens ("H100 SXM" = "h100-sxm" = "h100_sxm").
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import ConfigError, UnknownGPUError, VramscopeError

DATA_FILE = Path(__file__).resolve().parent / "data" / "gpus.json"

VENDORS = frozenset({"nvidia", "amd", "apple", "huawei", "intel", "custom"})
SEGMENTS = frozenset({"consumer", "workstation", "datacenter", "apple", "accelerator", "custom"})
_BRANDS = ("nvidia", "geforce", "tesla", "amd", "instinct", "apple", "huawei", "intel")


@dataclass(frozen=True)
class GPU:
    id: str
    name: str
    memory_bytes: int
    aliases: tuple[str, ...] = ()
    vendor: str = "custom"
    segment: str = "custom"
    memory_marketed: str = ""
    memory_note: str = ""
    bandwidth_gbs: float | None = None
    bf16_tflops: float | None = None
    fp8_tflops: float | None = None
    fp4_tflops: float | None = None
    interconnect: str = ""
    nvlink: bool = False
    max_gpus_per_node: int = 1
    price_usd: float | None = None
    rent_usd_per_hour: float | None = None
    price_source: str | None = None
    rent_source: str | None = None
    unified_memory: bool = False
    gpu_share: float | None = None
    default_for: tuple[str, ...] = ()
    source: str = ""
    note: str = ""

    @property
    def memory_gib(self) -> float:
        return self.memory_bytes / (1 << 30)

    @property
    def cuda_capability(self) -> tuple[int, int] | None:
        """NVIDIA compute capability (engines pick kernels, and so padding, by it); None when not NVIDIA
        or not known. From the architecture in the name (NVIDIA's CUDA GPUs table)."""
        return cuda_capability(self.id) if self.vendor == "nvidia" else None

    @property
    def usable_bytes(self) -> int:
        """Memory the GPU may use: all of it, or ``gpu_share`` of a unified pool."""
        if self.unified_memory and self.gpu_share:
            return int(self.memory_bytes * self.gpu_share)
        return self.memory_bytes


# (pattern in the catalog id, compute capability): https://developer.nvidia.com/cuda-gpus
_CAPABILITY = (
    (r"^V100", (7, 0)), (r"^T4|^RTX-20", (7, 5)), (r"^A100|^A800|^A30\b", (8, 0)),
    (r"^A10|^A40|^RTX-30|^RTX-A\d", (8, 6)), (r"^L4|^L20|^L40|^RTX-40|-ADA-", (8, 9)),
    (r"^H100|^H200|^H800|^H20|^GH200", (9, 0)), (r"^B200|^B300|^GB200|^GB300", (10, 0)),
    (r"^RTX-50|^RTX-PRO-6000-BLACKWELL", (12, 0)),
)


def cuda_capability(gpu_id: str) -> tuple[int, int] | None:
    for pattern, cap in _CAPABILITY:
        if re.search(pattern, gpu_id.upper()):
            return cap
    return None


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(text).lower())


def _number(raw: object, field: str, where: str, *, optional: bool = True) -> float | None:
    if raw is None and optional:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        raise ConfigError(f"{where}: {field} must be a positive number{' or null' if optional else ''}, got {raw!r}")
    return float(raw)


def _str(raw: object, field: str, where: str, *, required: bool = False) -> str:
    if raw is None and not required:
        return ""
    if not isinstance(raw, str) or (required and not raw.strip()):
        raise ConfigError(f"{where}: {field} must be a {'non-empty ' if required else ''}string, got {raw!r}")
    return raw


def _strings(raw: object, field: str, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(a, str) and a.strip() for a in raw):
        raise ConfigError(f"{where}: {field} must be a list of non-empty strings, got {raw!r}")
    return tuple(raw)


def _parse(data: object, index: int) -> GPU:
    where = f"gpus.json row {index}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    where = f"gpus.json row {index} ({data.get('id', '?')})"
    gpu_id = _str(data.get("id"), "id", where, required=True)
    vendor = _str(data.get("vendor"), "vendor", where, required=True)
    segment = _str(data.get("segment"), "segment", where, required=True)
    if vendor not in VENDORS:
        raise ConfigError(f"{where}: vendor must be one of {sorted(VENDORS)}, got {vendor!r}")
    if segment not in SEGMENTS:
        raise ConfigError(f"{where}: segment must be one of {sorted(SEGMENTS)}, got {segment!r}")
    mem = data.get("memory_bytes")
    if isinstance(mem, bool) or not isinstance(mem, int) or mem <= 0:
        raise ConfigError(f"{where}: memory_bytes must be a positive integer, got {mem!r}")
    max_gpus = data.get("max_gpus_per_node", 1)
    if isinstance(max_gpus, bool) or not isinstance(max_gpus, int) or max_gpus < 1:
        raise ConfigError(f"{where}: max_gpus_per_node must be a positive integer, got {max_gpus!r}")
    unified = data.get("unified_memory", False)
    nvlink = data.get("nvlink", False)
    if not isinstance(unified, bool) or not isinstance(nvlink, bool):
        raise ConfigError(f"{where}: unified_memory and nvlink must be true or false")
    share = _number(data.get("gpu_share"), "gpu_share", where)
    if share is not None and share > 1:
        raise ConfigError(f"{where}: gpu_share must be a fraction in (0, 1], got {share!r}")
    if unified and share is None:
        raise ConfigError(f"{where}: a unified-memory entry needs gpu_share")
    known = {f for f in GPU.__dataclass_fields__}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
    return GPU(
        id=gpu_id,
        name=_str(data.get("name"), "name", where, required=True),
        memory_bytes=mem,
        aliases=_strings(data.get("aliases"), "aliases", where),
        vendor=vendor,
        segment=segment,
        memory_marketed=_str(data.get("memory_marketed"), "memory_marketed", where),
        memory_note=_str(data.get("memory_note"), "memory_note", where),
        bandwidth_gbs=_number(data.get("bandwidth_gbs"), "bandwidth_gbs", where),
        bf16_tflops=_number(data.get("bf16_tflops"), "bf16_tflops", where),
        fp8_tflops=_number(data.get("fp8_tflops"), "fp8_tflops", where),
        fp4_tflops=_number(data.get("fp4_tflops"), "fp4_tflops", where),
        interconnect=_str(data.get("interconnect"), "interconnect", where),
        nvlink=nvlink,
        max_gpus_per_node=max_gpus,
        price_usd=_number(data.get("price_usd"), "price_usd", where),
        rent_usd_per_hour=_number(data.get("rent_usd_per_hour"), "rent_usd_per_hour", where),
        price_source=_str(data.get("price_source"), "price_source", where) or None,
        rent_source=_str(data.get("rent_source"), "rent_source", where) or None,
        unified_memory=unified,
        gpu_share=share,
        default_for=_strings(data.get("default_for"), "default_for", where),
        source=_str(data.get("source"), "source", where, required=True),
        note=_str(data.get("note"), "note", where),
    )


def load_rows(rows: object) -> tuple[GPU, ...]:
    """Validate parsed ``gpus.json`` content; a malformed row raises :class:`ConfigError` naming it."""
    if not isinstance(rows, list):
        raise ConfigError("gpus.json: expected a list of GPU objects")
    out = tuple(_parse(r, i) for i, r in enumerate(rows))
    seen: dict[str, str] = {}
    for g in out:
        key = _norm(g.id)
        if key in seen:
            raise ConfigError(f"gpus.json: duplicate id {g.id!r} (also {seen[key]!r})")
        seen[key] = g.id
    return out


@lru_cache(maxsize=1)
def gpus() -> tuple[GPU, ...]:
    """Every built-in GPU, in file order."""
    try:
        rows = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"gpus.json: unreadable ({exc})") from exc
    return load_rows(rows)


def _unbranded(text: str) -> str:
    """``"NVIDIA GeForce RTX 4090"`` → ``"rtx4090"``."""
    return _norm(re.sub(rf"\b(?:{'|'.join(_BRANDS)})\b", " ", str(text).lower()))


def _keys(g: GPU) -> set[str]:
    return ({_norm(k) for k in (g.id, g.name, *g.aliases)} | {_unbranded(g.name)}) - {""}


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, list[GPU]], dict[str, GPU]]:
    index: dict[str, list[GPU]] = {}
    defaults: dict[str, GPU] = {}
    for g in gpus():
        for key in _keys(g):
            index.setdefault(key, []).append(g)
        for short in g.default_for:
            defaults[_norm(short)] = g
    return index, defaults


def find_gpu(name: str) -> GPU:
    """The GPU for an id, name or alias (case, spaces, ``_`` and ``-`` ignored).

    A short name shared by several variants ("v100") resolves only when one entry claims it in
    ``default_for`` ("a100" → A100 SXM4 80GB); otherwise :class:`UnknownGPUError` lists the choices.
    """
    key = _norm(name)
    index, defaults = _index()
    if not key:
        raise UnknownGPUError("empty GPU name; see `vramscope gpus` for the list")
    hits = index.get(key) or index.get(_unbranded(name), [])
    if len({g.id for g in hits}) == 1:
        return hits[0]
    if key in defaults or _unbranded(name) in defaults:
        return defaults.get(key) or defaults[_unbranded(name)]
    if not hits:  # a prefix of several names ("v100", "mi3") is ambiguous, of one is a match
        hits = [g for g in gpus() if any(k.startswith(key) for k in _keys(g))]
        if len(hits) == 1 and len(key) >= 3:
            return hits[0]
    if len(hits) > 1:
        ids = ", ".join(sorted({g.id for g in hits}))
        raise UnknownGPUError(f"{name!r} matches several GPUs: {ids}. Name one of them.")
    close = difflib.get_close_matches(key, list(index), n=5, cutoff=0.6)
    ids = list(dict.fromkeys(index[k][0].id for k in close))
    hint = f" Did you mean: {', '.join(ids)}?" if ids else ""
    raise UnknownGPUError(
        f"unknown GPU {name!r}.{hint} Use `vramscope gpus` to list them, or give a memory size such as 24GiB."
    )


def search_gpus(query: str = "") -> list[GPU]:
    """GPUs whose id, name, aliases, vendor or segment contain every word of ``query``."""
    words = [_norm(w) for w in query.split()]
    out = []
    for g in gpus():
        hay = " ".join((*_keys(g), g.vendor, g.segment))
        if all(w in hay for w in words):
            out.append(g)
    return out


def custom_gpu(memory: str | int, name: str = "custom") -> GPU:
    """A GPU known only by its memory: ``"24GiB"``, ``"80GB"``, ``"16384MiB"`` or a byte count."""
    from .units import parse_bytes

    if isinstance(memory, bool):
        raise VramscopeError(f"cannot read {memory!r} as a memory size; write e.g. 24GiB, 80GB or 16384MiB")
    if isinstance(memory, int):
        if memory <= 0:
            raise VramscopeError(f"memory size must be positive, got {memory!r}")
        nbytes = memory
    else:
        nbytes = parse_bytes(memory)
    return GPU(
        id=name,
        name=name,
        memory_bytes=nbytes,
        memory_marketed=str(memory),
        memory_note="given by the user",
        source="user",
    )
