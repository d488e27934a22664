"""Hand freed heap pages back to the kernel (glibc malloc_trim) after large, short-lived allocations."""

from __future__ import annotations

from typing import Callable


def _load_trim() -> Callable[[], object]:
    try:
        import ctypes

        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


_TRIM = _load_trim()


def release_freed_memory() -> None:
    """glibc's ``malloc_trim(0)``; a no-op where there is no glibc. Building a grammar's automata frees tens of MB
    of temporaries that would otherwise stay in the daemon's RSS."""
    _TRIM()
