"""Create a bound socket inside another network namespace without moving the daemon.

setns(2) only changes the calling thread, so a short-lived thread enters the
namespace, creates and binds the socket, and exits; the socket stays in that
namespace for its whole life while the daemon's event loop uses it from the host.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading

__all__ = ["bind_socket", "CLONE_NEWNET"]

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_setns = _libc.setns
_setns.restype = ctypes.c_int
_setns.argtypes = [ctypes.c_int, ctypes.c_int]


def _make(family: int, kind: int, addr: tuple[str, int]) -> socket.socket:
    """A non-blocking socket bound to ``addr`` (TCP sockets also listen)."""
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:  # TIME_WAIT only; on UDP it would let two servers share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(addr)
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _in_netns(netns: str, family: int, kind: int, addr: tuple[str, int]) -> socket.socket:
    """Run ``_make`` on a thread that first joins the namespace at path ``netns``."""
    result: list[socket.socket | BaseException] = []

    def worker() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(_make(family, kind, addr))
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)

    thread = threading.Thread(target=worker, name="shoal-dns-netns", daemon=True)
    thread.start()  # the thread ends inside the namespace: only it ever changed namespace
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def bind_socket(kind: int, addr: tuple[str, int], netns: str | None = None) -> socket.socket:
    """A bound UDP (SOCK_DGRAM) or listening TCP (SOCK_STREAM) socket, in ``netns`` if given."""
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    if netns is None:
        return _make(family, kind, addr)
    return _in_netns(netns, family, kind, addr)
