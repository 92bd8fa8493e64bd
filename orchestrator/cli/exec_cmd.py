"""`shoal exec`: run a command in a running service container (pty, stdin, exit code passed through).

Non-interactive runs use the JSON exec call; a TTY or piped stdin upgrades the
connection to a raw stream relayed live (docs/api.md) whose last line carries the exit code;
SIGWINCH resizes the exec's pty (by the ``X-Shoal-Exec-Id`` the upgrade answered).
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import select
import signal
import socket
import stat
import sys
from typing import Any

from orchestrator.cli.client import ApiError, Client, error, project_name

__all__ = ["register", "run_exec", "ExitTail", "pipe_stream", "find_container", "stdin_has_input",
           "winsize", "raw_tty"]

MARKER = b'{"exit_code"'
_EXIT_RE = re.compile(rb'^\{"exit_code":\s*(-?\d+)\s*\}\s*$')


class ExitTail:
    """Splits a raw stream into output and the trailing `{"exit_code": N}` line the daemon adds."""

    def __init__(self) -> None:
        self.held = b""

    def feed(self, data: bytes) -> bytes:
        """Return the bytes safe to show now; keep back what may be the start of the exit line."""
        buf = self.held + data
        idx = buf.rfind(MARKER)
        if idx < 0:
            idx = len(buf)
            for n in range(min(len(MARKER) - 1, len(buf)), 0, -1):
                if MARKER.startswith(buf[-n:]):
                    idx = len(buf) - n
                    break
        if idx > 0 and buf[idx - 1:idx] == b"\n":
            idx -= 1  # shoald writes a newline before the exit line: not the command's output
        self.held = buf[idx:]
        return buf[:idx]

    def close(self) -> tuple[bytes, int | None]:
        """At end of stream: (output still held, the exit code or None when none came)."""
        held = self.held[1:] if self.held.startswith(b"\n") else self.held
        match = _EXIT_RE.match(held)
        if match:
            return b"", int(match.group(1))
        return self.held, None


def stdin_has_input() -> bool:
    """True when stdin is a pipe, file or socket (forward it), not a terminal or /dev/null."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


def find_container(client: Client, project: str, service: str, index: int | None,
                   running: bool = True) -> dict:
    """The container of `service` with number `index` (default the lowest) or a one-line error."""
    rows = client.call("GET", f"/projects/{project}/containers",
                       query={"all": not running, "services": [service]}) or []
    rows = [r for r in rows if r.get("Service") == service]
    if not rows:
        raise error(f"service {service!r} is not running")
    from orchestrator.cli.logs_cmd import container_number

    def number(row: dict) -> int:
        try:
            return int(container_number(row) or 0)
        except ValueError:
            return 0
    rows.sort(key=number)
    if index is None:
        return rows[0]
    for row in rows:
        if number(row) == index:
            return row
    raise error(f"service {service!r} has no container with index {index}")


def winsize() -> tuple[int, int]:
    """The terminal size of stdout: (rows, columns)."""
    size = os.get_terminal_size(sys.stdout.fileno())
    return size.lines, size.columns


def pipe_stream(sock: socket.socket, rest: bytes, tty: bool, forward_stdin: bool,
                resize: Any = None) -> int:
    """Copy stdin to the socket and the socket to stdout until it closes; return the exit code."""
    tail = ExitTail()
    out = sys.stdout.buffer
    flags = {"winch": False}
    old_winch = None
    if tty and resize is not None:
        old_winch = signal.signal(signal.SIGWINCH, lambda *_: flags.__setitem__("winch", True))
    stdin_fd = sys.stdin.fileno() if forward_stdin else -1
    try:
        if rest:
            out.write(tail.feed(rest))
            out.flush()
        while True:
            if flags["winch"]:
                flags["winch"] = False
                resize(*winsize())
            watch = [sock] + ([stdin_fd] if stdin_fd >= 0 else [])
            try:
                ready, _, _ = select.select(watch, [], [], 0.2)
            except InterruptedError:
                continue
            if stdin_fd >= 0 and stdin_fd in ready:
                data = os.read(stdin_fd, 65536)
                if data:
                    sock.sendall(data)
                else:
                    stdin_fd = -1
                    if not tty:
                        sock.shutdown(socket.SHUT_WR)
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break
                out.write(tail.feed(data))
                out.flush()
    finally:
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        sock.close()
    held, code = tail.close()
    out.write(held)
    out.flush()
    return 0 if code is None else code


def raw_tty(fd: int) -> Any:
    """Put the terminal ``fd`` in raw mode; returns the function that restores it."""
    import termios
    import tty
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    return lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _decode(value: Any) -> bytes:
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    if isinstance(value, str):
        return value.encode()
    return b""


def run_exec(client: Client, cid: str, body: dict, detach: bool = False) -> int:
    """Run one exec: upgraded (pty/stdin) or a single JSON call; returns the command's exit code."""
    if not body["tty"] and not body["stdin"]:
        answer = client.call("POST", f"/containers/{cid}/exec", body) or {}
        if not detach:
            sys.stdout.buffer.write(_decode(answer.get("stdout")))
            sys.stdout.flush()
            sys.stderr.buffer.write(_decode(answer.get("stderr")))
            sys.stderr.flush()
        return int(answer.get("exit_code") or 0)
    sized = bool(body["tty"]) and sys.stdout.isatty()
    if sized:
        body = dict(body, height=winsize()[0], width=winsize()[1])  # the pty starts at the right size
    try:
        sock, rest = client.upgrade(f"/containers/{cid}/exec", body)
    except ApiError as exc:
        raise error(exc.message) from exc
    exec_id = (getattr(client, "upgrade_headers", None) or {}).get("x-shoal-exec-id", "")
    restore = raw_tty(sys.stdin.fileno()) if body["tty"] and sys.stdin.isatty() else None

    def resize(height: int, width: int) -> None:
        size = {"height": height, "width": width}
        client.call("POST", f"/containers/{cid}/resize", dict(size, exec_id=exec_id) if exec_id else size)
    try:
        if sized and not exec_id:  # an older daemon: no size in the exec request
            resize(*winsize())
        return pipe_stream(sock, rest, body["tty"], body["stdin"], resize if body["tty"] else None)
    finally:
        if restore:
            restore()


def run(args: argparse.Namespace) -> int:
    client = Client(timeout=None)  # the command may run as long as it likes
    row = find_container(client, project_name(args), args.service, args.index)
    tty = not args.no_tty and not args.detach and sys.stdin.isatty() and sys.stdout.isatty()
    interactive = not args.detach and (tty or (args.interactive and stdin_has_input()))
    body = {"cmd": [args.command, *args.args], "env": list(args.env or []), "user": args.user,
            "workdir": args.workdir, "tty": tty, "stdin": interactive,
            "privileged": args.privileged, "detach": args.detach}
    return run_exec(client, row.get("ID") or row.get("Name"), body, args.detach)


def register(sub: Any) -> None:
    """Add `exec`."""
    p = sub.add_parser("exec", help="Execute a command in a running container")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("command", metavar="COMMAND")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    p.add_argument("-T", "--no-TTY", dest="no_tty", action="store_true", help="disable pseudo-TTY allocation")
    p.add_argument("-i", "--interactive", action="store_true", default=True, help="keep STDIN open (default)")
    p.add_argument("-d", "--detach", action="store_true", help="run command in the background")
    p.add_argument("-u", "--user", help="run the command as this user")
    p.add_argument("-w", "--workdir", help="path to workdir directory for this command")
    p.add_argument("-e", "--env", action="append", metavar="KEY=VAL", help="set environment variables")
    p.add_argument("--index", type=int, default=None, help="index of the container if replicas")
    p.add_argument("--privileged", action="store_true", help="give extended privileges to the process")
    p.set_defaults(func=run)
