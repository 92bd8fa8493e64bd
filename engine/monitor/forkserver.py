"""An optional fork server that starts monitors without a new interpreter each time.

The server is single-threaded and imports the monitor's modules once; for each
request it forks, and the child becomes the monitor exactly as if started by
``python -I -S`` (same ``main``, same detach, same one-line handshake, written to
the requesting connection). This removes interpreter start-up and imports from
every container start. Opt in with ``Engine(forkserver=True)`` or SHOAL_FORKSERVER=1.
Protocol: one JSON line ``{"op": "spawn", "state_dir", "run_dir"}`` -> the handshake
line; ``{"op": "exit"}`` stops the server.
"""

from __future__ import annotations

import json
import os
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


def _child(listener: socket.socket, conn: socket.socket, req: dict) -> None:
    """In the forked child: become a monitor whose stdout is the requesting connection."""
    try:
        listener.close()
        os.setsid()
        err = os.open(os.path.join(req["state_dir"], "monitor.log"),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(err, 2)
        os.dup2(conn.fileno(), 1)
        os.close(err)
        conn.close()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        monitor_main.main([req["state_dir"], req["run_dir"]])
    except BaseException:  # noqa: BLE001 - never return into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        os._exit(0)


def serve(sock_path: str) -> None:
    """Accept spawn requests until told to exit."""
    _preload()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    listener = bind_unix(sock_path)
    listener.setblocking(True)
    os.write(1, b"ready\n")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.close(null)
    while True:
        conn, _ = listener.accept()
        try:
            req = _read_line(conn)
            if req.get("op") == "exit":
                conn.sendall(encode({"ok": True}))
                break
            if req.get("op") != "spawn":
                conn.sendall(encode({"ok": False, "message": "unknown op"}))
                continue
            pid = os.fork()
            if pid == 0:
                _child(listener, conn, req)
            os.waitpid(pid, 0)  # the child detaches at once (monitor main forks again)
        except (OSError, ValueError):
            pass
        finally:
            conn.close()
    listener.close()
    os.unlink(sock_path)


if __name__ == "__main__":
    serve(sys.argv[1])
