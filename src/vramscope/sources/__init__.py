"""Whatever the user has → :class:`~vramscope.spec.ModelSpec`.

``load_model(ref)`` tries, in order: a bare size (``7B``, ``56B-A14B``); a local path (a
``.gguf`` file, a ``config.json``, or a directory with either); the built-in catalog (HF id,
short name or alias); the Hugging Face hub (``org/name``). This package is the only code that
reads files or the network.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import ModelNotFoundError
from ..spec import ModelSpec
from . import catalog
from .bare_size import is_bare_size, spec_from_size

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def load_model(ref: str, *, active: int | str | None = None, offline: bool | None = None) -> ModelSpec:
    """Resolve a model reference to its ModelSpec; raise a VramscopeError saying why when it cannot."""
    if not isinstance(ref, str) or not ref.strip():
        raise ModelNotFoundError("no model given: pass a catalog name, an HF id, a config.json, a .gguf file or a size like 7B")
    ref = ref.strip()
    if is_bare_size(ref):
        return spec_from_size(ref, active)
    path = Path(ref).expanduser()
    if path.exists():
        return _from_path(path)
    if ref.lower().endswith((".json", ".gguf")) or ref.startswith((".", "/", "~")):
        raise ModelNotFoundError(f"no such file: {ref}")
    entry = catalog.find(ref)
    if entry is not None:
        return entry.spec()
    if _HUB_ID.match(ref):
        if offline is None:
            offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
        from .hub import spec_from_hub

        # offline: answer from the local HF cache only (what huggingface_hub's local_files_only does)
        return spec_from_hub(ref, offline=offline)
    hints = catalog.suggest(ref)
    hint = (f" Did you mean: {', '.join(hints)}? (`vramscope models` lists the catalog)" if hints
            else " See `vramscope models` for the catalog.")
    raise ModelNotFoundError(f"unknown model {ref!r}: not a catalog name, a file, a hub id (org/name) or a size.{hint}")


def _from_path(path: Path) -> ModelSpec:
    if path.is_dir():
        if (path / "config.json").is_file():
            from .config_file import spec_from_path

            return spec_from_path(path)
        ggufs = sorted(path.glob("*.gguf"))
        if ggufs:
            from .gguf_file import spec_from_gguf

            return spec_from_gguf(ggufs[0])
        raise ModelNotFoundError(f"{path} holds neither a config.json nor a .gguf file")
    if path.suffix.lower() == ".gguf":
        from .gguf_file import spec_from_gguf

        return spec_from_gguf(path)
    from .config_file import spec_from_path

    return spec_from_path(path)


__all__ = ["catalog", "load_model"]
