"""Byte and count formatting and parsing. Bytes are integers inside; GiB (2**30) when shown."""

from __future__ import annotations

import re

from .errors import VramscopeError

GiB = 1 << 30
MiB = 1 << 20

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)?\s*$", re.IGNORECASE)
_FACTORS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def gib(nbytes: float) -> float:
    return nbytes / GiB


def fmt_gib(nbytes: float, digits: int = 2) -> str:
    """``4912898048`` → ``"4.58 GiB"``."""
    return f"{nbytes / GiB:,.{digits}f} GiB"


def fmt_num(x: float) -> str:
    """A number as a formula text shows it: whole numbers exactly (``131,072``), others to one
    decimal (``575.6``), so that the text multiplies out to the bytes (:mod:`vramscope.invariants`)."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.1f}"


def fmt_count(n: float) -> str:
    """``8030261248`` → ``"8.03B"``."""
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}" if n / scale < 100 else f"{n / scale:,.0f}{unit}"
    return str(int(n))


def parse_bytes(text: str) -> int:
    """``"24GiB"`` → 25769803776; ``"80 GB"`` → 80e9 (decimal GB as written). A bare number is GiB."""
    m = _SIZE.match(str(text))
    if not m:
        raise VramscopeError(f"cannot read {text!r} as a memory size; write e.g. 24GiB, 80GB or 16384MiB")
    unit = (m.group(2) or "GIB").upper()
    value = float(m.group(1)) * _FACTORS[unit]
    if value <= 0:
        raise VramscopeError(f"memory size must be positive, got {text!r}")
    return int(value)
