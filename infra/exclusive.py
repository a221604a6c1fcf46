"""What one JetDeck holds alone: its data directory and its ports. A second one refuses to start
and names the process in the way, instead of attaching to a server it did not start."""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from domain.errors import InUseError
from domain.values import is_sequence_number

LOCK_NAME = "jetdeck.lock"


@contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """An exclusive lock on `data_dir` for the block. The kernel releases it when this process
    ends however it ends, so a killed JetDeck leaves nothing to clean up."""
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise InUseError(
                f"data directory {data_dir} is in use by another JetDeck ({describe(holder)})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def require_free(port: int, what: str, host: str = "127.0.0.1") -> None:
    """InUseError naming the listener if `port` is taken."""
    with socket.socket() as sock:
        # As servers bind: connections of a previous run in TIME_WAIT do not hold the port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return
        except OSError:
            pass
    raise InUseError(f"port {port} for {what} is in use by {describe(listener_of(port))}")


def listener_of(port: int) -> str:
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                return str(conn.pid or "")
    except psutil.Error:
        pass
    return ""


def describe(pid: str) -> str:
    """`pid 123: <command line>`, as far as this process may see it."""
    if not is_sequence_number(pid):
        return "a process this one cannot see"
    try:
        command = " ".join(psutil.Process(int(pid)).cmdline())
    except psutil.Error:
        return f"pid {pid}"
    return f"pid {pid}: {command}"
