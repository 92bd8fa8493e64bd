"""The fork server: starts monitors without a new interpreter each time.

The server is single-threaded and imports the monitor's modules once; for each
request it forks, and the child becomes the monitor as if started by
``python -I -S`` (same ``main`` and one-line handshake, written to the requesting
connection; no detach fork: the server ignores SIGCHLD, so the kernel reaps it).
This removes interpreter start-up and imports from every container start.
Protocol: one JSON line ``{"op": "spawn", "state_dir", "run_dir"}`` -> the handshake
line; ``{"op": "ping"}`` -> ``{"ok": true, "pid": N}``; ``{"op": "exit"}`` stops the server.

It is the Engine's default (``Engine(forkserver=False)`` or SHOAL_FORKSERVER=0 turn
it off): it is a separate single-threaded process started with fork+exec, so a
multi-threaded caller (the asyncio daemon and its executor threads) never forks
itself; every monitor is a fork of this process, which never runs a thread. It
lives as long as the Engine that started it (an owner pipe: EOF ends it).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

from engine.monitor import main as monitor_main  # noqa: F401 - preloaded for the children
from engine.monitor.protocol import bind_unix, encode

__all__ = ["serve"]


def _preload() -> None:
    """Import what monitors import lazily, so forks start with it in memory."""
    for name in ("engine.cgroups", "engine.spec", "engine.security.caps", "engine.security.seccomp"):
        try:
            __import__(name)
        except ImportError:
            pass


def _read_line(conn: socket.socket) -> dict:
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf) if buf.strip() else {}


def _child(listener: socket.socket, conn: socket.socket, req: dict, owner: int) -> None:
    """In the forked child: become a monitor whose stdout is the requesting connection."""
    try:
        listener.close()
        if owner >= 0:
            os.close(owner)
        os.setsid()
        err = os.open(os.path.join(req["state_dir"], "monitor.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(err, 2)
        os.dup2(conn.fileno(), 1)
        os.close(err)
        conn.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the monitor waits for its own children
        monitor_main.main([req["state_dir"], req["run_dir"]], detach=False)
    except BaseException:  # noqa: BLE001 - never return into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        os._exit(0)


def _answer(listener: socket.socket, conn: socket.socket, owner: int) -> bool:
    """Serve one connection; False when told to exit."""
    req = _read_line(conn)
    op = req.get("op")
    if op == "exit":
        return False
    if op == "ping":
        conn.sendall(encode({"ok": True, "pid": os.getpid()}))
    elif op == "spawn":
        if os.fork() == 0:  # the child is the monitor; the kernel reaps it (SIGCHLD ignored)
            _child(listener, conn, req, owner)
    else:
        conn.sendall(encode({"ok": False, "message": "unknown op"}))
    return True


def serve(sock_path: str, owner: int = -1) -> None:
    """Accept requests until told to exit or, given an ``owner`` pipe fd, until its writer is gone.

    The process detaches first (the starter reaps it at once), so no zombie is left with the
    caller when the server exits on its own.
    """
    if os.fork():
        os._exit(0)
    os.chdir("/")  # its monitors inherit the cwd: never a directory of the caller's
    _preload()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_IGN)
    listener = bind_unix(sock_path)
    listener.setblocking(True)
    os.write(1, b"ready\n")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.close(null)
    watched = [listener] + ([owner] if owner >= 0 else [])
    running = True
    while running:
        ready, _, _ = select.select(watched, [], [])
        if listener not in ready:
            break  # EOF on the owner pipe: the Engine that started this server is gone
        conn, _ = listener.accept()
        try:
            running = _answer(listener, conn, owner)
            if not running:  # gone from the path before the reply: a new server can start at once
                os.unlink(sock_path)
                listener.close()
                conn.sendall(encode({"ok": True, "pid": os.getpid()}))
        except (OSError, ValueError):
            pass
        finally:
            conn.close()
    if running:
        os.unlink(sock_path)
        listener.close()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else -1)
