"""Count live tensor storages while a workload runs, and keep the peak of each phase.

:class:`StorageTracker` is a ``TorchDispatchMode``: every aten op's outputs pass through it. A
storage is counted once however many views share it, from the op that creates it until Python
drops its last tensor (a weak reference on the storage fires then). Sizes are rounded up to
512 bytes per storage, as the CUDA caching allocator rounds every block, so the totals are what
``torch.cuda.memory_allocated`` would show for the same tensors on a GPU.

Each storage carries one category, set when it appears and changed when its role becomes
known (a gradient accumulated into ``.grad``, a tensor kept as optimizer state, a KV-cache
entry). The tracker keeps, per phase (``forward``, ``backward``, ``optimizer``, ``prefill``,
``decode``), the highest total seen and the breakdown by category at that moment.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .result import CATEGORIES

BLOCK = 512  # the CUDA caching allocator's smallest block and rounding unit (kMinBlockSize)



def gpu_bytes(nbytes: int) -> int:
    """Bytes the CUDA caching allocator hands out for a request of ``nbytes`` (rounded up to 512)."""
    return -(-nbytes // BLOCK) * BLOCK if nbytes > 0 else 0


class _Info:
    __slots__ = ("category", "nbytes", "ref")

    def __init__(self, nbytes: int, category: str):
        self.nbytes = nbytes
        self.category = category
        self.ref: weakref.ref | None = None


class StorageTracker(TorchDispatchMode):
    """Live bytes by category; the peak (total and breakdown) of every phase."""

    def __init__(self) -> None:
        super().__init__()
        self._infos: dict[int, _Info] = {}  # id(storage) -> info, while the storage lives
        self.current: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
        self.total = 0
        self.phase = "setup"
        self.segment = "pre"
        self.default_category = "activations"
        self.peaks: dict[tuple[str, str], tuple[int, dict[str, int]]] = {}
        self.ops: set[str] = set()  # names of the attention / optimizer kernels seen, for the notes
        self._param_storages: set[int] = set()
        self._ignored: dict[int, Any] = {}  # id(storage) -> storage, never counted

    # -- bookkeeping -------------------------------------------------------------------------
    def _on_free(self, key: int) -> None:
        info = self._infos.pop(key, None)
        if info is not None:
            self.current[info.category] -= info.nbytes
            self.total -= info.nbytes

    def _add(self, storage: Any, category: str) -> _Info | None:
        key = id(storage)
        if key in self._ignored:
            return None
        info = self._infos.get(key)
        if info is not None:
            size = gpu_bytes(storage.nbytes())
            if size != info.nbytes:  # resized in place
                self.current[info.category] += size - info.nbytes
                self.total += size - info.nbytes
                info.nbytes = size
            return None
        info = _Info(gpu_bytes(storage.nbytes()), category)
        info.ref = weakref.ref(storage, lambda _r, k=key: self._on_free(k))
        self._infos[key] = info
        self.current[category] += info.nbytes
        self.total += info.nbytes
        return info

    def track(self, tensors: Iterable[Any], category: str) -> None:
        """Count ``tensors`` (already existing) under ``category``, or move them to it."""
        for t in tensors:
            if t is None:
                continue
            st = t.untyped_storage()
            if self._add(st, category) is None:
                self.set_category([t], category)

    def set_category(self, tensors: Iterable[Any], category: str) -> None:
        """Move the storages of ``tensors`` to ``category`` (those not yet tracked are added)."""
        for t in tensors:
            if t is None:
                continue
            st = t.untyped_storage()
            info = self._infos.get(id(st))
            if info is None:
                self._add(st, category)
            elif info.category != category:
                self.current[info.category] -= info.nbytes
                self.current[category] += info.nbytes
                info.category = category

    def ignore(self, tensors: Iterable[Any]) -> None:
        """Never count ``tensors`` (tensors that live on the host in a GPU run, e.g. Adam's step counters)."""
        for t in tensors:
            if t is not None:
                st = t.untyped_storage()
                self._on_free(id(st))
                self._ignored[id(st)] = st

    def mark_params(self, tensors: Iterable[Any]) -> None:
        """Remember parameter storages, so that casts of them are recognised as weight copies."""
        self._param_storages.update(id(t.untyped_storage()) for t in tensors)

    def category_of(self, t: Any) -> str | None:
        info = self._infos.get(id(t.untyped_storage()))
        return info.category if info else None

    def set_phase(self, phase: str, default_category: str) -> None:
        """Start a phase; new storages get ``default_category`` until the next phase."""
        self.phase = phase
        self.segment = "pre"
        self.default_category = default_category

    def enter_layer(self, order: int, n: int) -> None:
        """The ``order``-th decoder layer (of ``n``) visited in this pass starts (forward or backward)."""
        self.segment = "only" if n == 1 else "first" if order == 0 else "last" if order == n - 1 else "mid"

    def _note_peak(self) -> None:
        # segments: "pre" (before the first decoder layer of the pass), "first" / "last" / "mid" (inside
        # the first, last or another layer visited), "post" (after the last); one layer is both first and last
        for seg in (("first", "last") if self.segment == "only" else (self.segment,)):
            key = (self.phase, seg)
            best = self.peaks.get(key)
            if best is None or self.total > best[0]:
                self.peaks[key] = (self.total, dict(self.current))

    # -- the dispatch hook -------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.__name__
        if "attention" in name or "fused_adam" in name or "_foreach_" in name:
            self.ops.add(name.split(".")[0])
        category = self.default_category
        if name.startswith("_to_copy") and args and hasattr(args[0], "untyped_storage") \
                and id(args[0].untyped_storage()) in self._param_storages:
            category = "weight_copies"
        flat, _ = tree_flatten(out)
        for t in flat:
            if hasattr(t, "untyped_storage") and getattr(t, "layout", None) is not None:
                try:
                    st = t.untyped_storage()
                except (NotImplementedError, RuntimeError):  # sparse or storage-less tensors
                    continue
                self._add(st, category)
        self._note_peak()
        return out
