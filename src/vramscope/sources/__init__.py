"""Whatever the user has → :class:`~vramscope.spec.ModelSpec`.

``load_model(ref)`` tries, in order: a bare size (``7B``, ``56B-A14B``); a local path (a
``.gguf`` file, a ``config.json``, or a directory with either); the built-in catalog (HF id,
short name or alias); the Hugging Face hub (``org/name``). This package is the only code that
reads files or the network.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..errors import ModelNotFoundError
from ..spec import ModelSpec
from . import catalog
from .bare_size import is_bare_size, spec_from_size
from .files import path_stat, short_text

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


#: the longest reference accepted: a path (PATH_MAX is 4096); hub ids are far shorter (96 + 96)
MAX_REF_CHARS = 4096


def load_model(ref: str, *, active: int | str | None = None, offline: bool | None = None,
               files: bool | str | os.PathLike[str] = True) -> ModelSpec:
    """Resolve a model reference to its ModelSpec; raise a VramscopeError saying why when it cannot.

    ``files`` says which local paths may be read: ``True`` any (the command line and the Python API:
    the user's own machine), ``False`` none (the web server: a stranger's reference must never open a
    file on the server), or a directory that confines them (``vramscope web --allow-local DIR``).
    """
    if not isinstance(ref, str) or not ref.strip():
        raise ModelNotFoundError("no model given: pass a catalog name, an HF id, a config.json, a .gguf file or a size like 7B")
    ref = ref.strip()
    if len(ref) > MAX_REF_CHARS:
        raise ModelNotFoundError(f"a model reference of {len(ref):,} characters is not a name, an id or a path")
    if is_bare_size(ref):
        return spec_from_size(ref, active)
    if files is not False:
        path = _local_path(ref, files)
        if path is not None:
            return _from_path(path)
    elif _looks_like_path(ref):
        raise ModelNotFoundError(
            "this server reads no files of its own: upload a config.json or GGUF file, or give a catalog "
            "name, a Hugging Face id (org/name) or a size like 7B")
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
    raise ModelNotFoundError(f"unknown model '{short_text(ref, 80)}': not a catalog name, a file, a hub id (org/name) or a size.{hint}")


def _looks_like_path(ref: str) -> bool:
    """Whether a reference names a file rather than a catalog name, hub id or size."""
    return (ref.startswith((".", "/", "~", "\\")) or ref.lower().endswith((".json", ".gguf")) or ref.count("/") > 1
            or "\\" in ref or "\x00" in ref or ".." in ref.split("/"))


def _local_path(ref: str, files: bool | str | os.PathLike[str]) -> Path | None:
    """The local file or directory ``ref`` names, when it exists and may be read; None when it is
    not a path at all (then the catalog and the hub are asked)."""
    if files is True:
        path = Path(ref).expanduser()
        if path_stat(path) is not None:
            return path
        if _looks_like_path(ref):
            raise ModelNotFoundError(f"no such file: {ref}")
        return None
    root = Path(files).resolve()
    candidate = Path(ref) if Path(ref).is_absolute() else root / ref
    if path_stat(candidate) is None:
        if _looks_like_path(ref):
            raise ModelNotFoundError(f"no such file under the allowed folder {root}: {ref}")
        return None
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root):
        raise ModelNotFoundError(f"{ref} is outside the folder this server may read ({root})")
    return resolved


def _from_path(path: Path) -> ModelSpec:
    st = path_stat(path)
    if st is not None and stat.S_ISDIR(st.st_mode):
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


__all__ = ["catalog", "is_bare_size", "load_model"]
