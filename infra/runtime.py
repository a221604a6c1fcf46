"""How a JetDeck process tunes the interpreter."""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on uvloop: every JetDeck process spends much of its CPU in the event loop
    and its transports (docs/architecture.md, The native path)."""
    return uvloop.run(main)


def tune_gc() -> None:
    """Collect the young generations less often.

    Read models keep the objects of every event for the life of the process, so a replay fills
    the young generations with objects that never die and the collector rescans them again and
    again: measured at about 30% of replay CPU with the default thresholds (700, 10, 10).
    """
    gc.set_threshold(100_000, 50, 100)


def give_back_memory() -> None:
    """Hand freed heap memory back to the system (glibc's `malloc_trim`; elsewhere nothing).

    A picture's sections pass through the heap, tens of MB at a time, and glibc keeps what is
    freed for reuse, raising its mmap threshold after each large free: an API writing pictures
    grew by 1.6 KB a job of history while the same state restored in a new process held a
    fifth of that. Trimmed after each picture, its memory follows what it holds."""
    if _libc is not None:
        _libc.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


_libc = _glibc()
