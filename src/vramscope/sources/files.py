"""Bounded, non-blocking reads of the user's local files.

A path the user names may be anything: ``/dev/zero`` (endless), a FIFO (``open`` blocks until a
writer appears), a socket, a name longer than the file system allows, or one with a NUL byte. Every
local read in :mod:`vramscope.sources` goes through :func:`regular_file` (stat first, refuse
anything that is not a regular file) and :func:`read_bounded` (open without blocking, read at most
``limit`` + 1 bytes), so such a path ends in one :class:`~vramscope.errors.VramscopeError` line at
once instead of a hang or an out-of-memory kill.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import ConfigError, ModelNotFoundError

MAX_PATH_CHARS = 4096  # PATH_MAX on Linux


def path_stat(path: Path) -> os.stat_result | None:
    """``os.stat`` of ``path``, or ``None`` when nothing is there (or no file system could hold the name:
    too long, a NUL byte, unencodable); other failures (permissions) become one clear error."""
    text = str(path)
    if len(text) > MAX_PATH_CHARS or "\x00" in text:
        return None  # no file system holds such a name: it names no file
    try:
        return os.stat(text)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
            return None
        raise ModelNotFoundError(f"cannot read {short_text(text)}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeError):  # a name the file system encoding cannot hold names no file
        return None


def regular_file(path: Path, what: str = "model file") -> os.stat_result:
    """The stat of ``path`` when it is a regular file; a clear error for devices, FIFOs, sockets, dirs."""
    st = path_stat(path)
    if st is None:
        raise ModelNotFoundError(f"no such file: {short_text(str(path))}")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise ModelNotFoundError(f"{short_text(str(path))} is {kind}, not a {what}; pass a regular file")
    return st


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refusing it when it holds more than ``limit`` bytes.

    The size is checked before reading and again while reading (a file may grow, and some file
    systems report 0), and the open never blocks (``O_NONBLOCK``), so nothing waits on a writer.
    """
    regular_file(path, what)
    try:
        fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read {short_text(str(path))}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # replaced between the stat and the open
            raise ModelNotFoundError(f"{short_text(str(path))} is not a regular file; pass a {what}")
        if st.st_size > limit:
            raise ConfigError(f"{short_text(str(path))}: {st.st_size:,} bytes is far too large for a {what} "
                              f"(the limit is {limit:,} bytes)")
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise ConfigError(f"{short_text(str(path))}: more than {limit:,} bytes, far too large for a {what}")
        return b"".join(chunks)
    except OSError as exc:
        raise ModelNotFoundError(f"cannot read {short_text(str(path))}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def short_text(text: str, n: int = 120) -> str:
    """A path as it can be shown in one line: control characters escaped, long names shortened."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)  # lone surrogates are not printable
    return shown if len(shown) <= n else shown[: n // 2] + "…" + shown[-n // 2 :]
