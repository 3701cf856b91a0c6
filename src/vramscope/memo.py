"""Memoising functions of a ModelSpec by identity.

Specs are frozen but hold dicts (so they are not hashable); solvers and the web ask the same
question of one spec many times (the GPU fit list alone asks ~60 times per estimate). The cache
keys on ``id(spec)`` plus the other (hashable) arguments and keeps the spec alive beside its
result, so a recycled id can never return another spec's answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_MAX_ENTRIES = 256


def per_spec(fn: F) -> F:
    """Memoise ``fn(spec, *args, **kwargs)``; the other arguments must be hashable.

    Results are shared between callers, so they must be immutable (tuples, frozen dataclasses).
    """
    cache: dict[tuple, tuple[Any, Any]] = {}

    @functools.wraps(fn)
    def wrapper(spec, *args, **kwargs):
        key = (id(spec), args, tuple(sorted(kwargs.items())))
        hit = cache.get(key)
        if hit is None or hit[0] is not spec:
            if len(cache) >= _MAX_ENTRIES:
                cache.clear()
            hit = (spec, fn(spec, *args, **kwargs))
            cache[key] = hit
        return hit[1]

    wrapper.cache_clear = cache.clear  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
