"""Engine-side helpers around monitor processes: waiting for one to exit, and the fork server's owner pipe.

They run in the Engine's process (possibly multi-threaded): no fork here, only
sockets, pidfds and pipes.
"""

from __future__ import annotations

import os
import select
import socket
import time
import weakref

from engine.monitor.protocol import send

__all__ = ["ExitWatch", "OwnerPipe", "wait_gone", "same_process", "start_ticks", "alive"]


class ExitWatch:
    """A pending ``wait`` request to a monitor: ``pause(t)`` sleeps up to ``t`` s or until PID 1 exits."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.sock: socket.socket | None = None

    def __enter__(self) -> "ExitWatch":
        try:
            self.sock = send(self.socket_path, {"op": "wait"}, None)
        except OSError:  # not running (or gone meanwhile): plain sleeps
            self.sock = None
        return self

    def pause(self, seconds: float) -> None:
        """Return after ``seconds``, or at once when the monitor has answered (PID 1 exited)."""
        if self.sock is None:
            time.sleep(seconds)
        elif select.select([self.sock], [], [], seconds)[0]:
            self.sock.close()  # answered: the caller's next state read sees "exited"
            self.sock = None

    def __exit__(self, *exc: object) -> None:
        if self.sock is not None:
            self.sock.close()


class OwnerPipe:
    """The write end of the pipe that keeps a fork server alive; closed on close() or collection."""

    def __init__(self) -> None:
        self._fd = [-1]
        weakref.finalize(self, OwnerPipe._close_fd, self._fd)

    def open(self) -> int:
        """A fresh pipe; returns the read end for the server (the previous write end is closed)."""
        self.close()
        r, w = os.pipe()  # both close-on-exec: no other child of this process inherits them
        self._fd[0] = w
        return r

    def close(self) -> None:
        """Let the server exit: it sees EOF on its end."""
        OwnerPipe._close_fd(self._fd)

    @staticmethod
    def _close_fd(box: list[int]) -> None:
        if box[0] >= 0:
            os.close(box[0])
            box[0] = -1


def wait_gone(pid: int | None, started: int | None, timeout: float) -> None:
    """Wait (bounded) until the monitor ``pid`` that started at ``started`` ticks has exited.

    A pidfd becomes readable when the process exits, so this returns at once instead of on
    the next tick of a poll; the start time is checked after opening it, so it is the right one.
    """
    deadline = time.monotonic() + timeout
    if not same_process(pid, started):
        return
    try:
        fd = os.pidfd_open(pid)
    except OSError:  # gone meanwhile, or no pidfd support: poll
        fd = -1
    try:
        while same_process(pid, started) and (left := deadline - time.monotonic()) > 0:
            if fd >= 0:
                select.select([fd], [], [], left)
            else:
                time.sleep(0.005)
    finally:
        if fd >= 0:
            os.close(fd)


def start_ticks(pid: int) -> int | None:
    """The kernel start time of ``pid`` (clock ticks since boot; tells a reused pid apart), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b") ", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def same_process(pid: int | None, started: int | None) -> bool:
    """True while ``pid`` is alive and is still the process that started at ``started``."""
    if not pid or not alive(pid):
        return False
    ticks = start_ticks(pid)
    return ticks is not None and (started is None or ticks == started)


def alive(pid: int) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().split(b") ", 1)[1][:1] != b"Z"
    except OSError:
        return False
