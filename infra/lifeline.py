"""A child process that dies with its parent, however the parent dies (`kill -9`, an OOM kill, a
closed terminal): nothing JetDeck starts outlives it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>."""
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None
"""Looked up once, here: a child forked from a process with threads must not `dlopen`, which
takes a lock another thread may have held at the fork."""


def die_with_parent(parent: int) -> None:
    """In a child: SIGKILL when the parent `parent` ends (Linux), or now if it already has.

    The check after the request closes the race of a parent that died before it was made. On
    other systems a child must notice on its own (a pipe to the parent that closes)."""
    if _PRCTL is not None and _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:
        os._exit(1)


def lifeline() -> Callable[[], None]:
    """A `preexec_fn` for a child process: it dies with this process. The request survives the
    child's exec (nats-server, a worker's interpreter). It is tied to the thread that starts the
    child, so children are started from the event loop's thread, which lives as long as we do."""
    parent = os.getpid()
    return lambda: die_with_parent(parent)
