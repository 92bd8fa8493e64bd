"""`shoal run`: a one-off container of a service (`<project>-<service>-run-<hex>`), attached or -d."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from orchestrator.cli.client import ApiError, Client, error, load_project_body
from orchestrator.cli.exec_cmd import pipe_stream, raw_tty, stdin_has_input, winsize
from orchestrator.cli.up_cmd import now_rfc3339

__all__ = ["register", "run", "build_body"]

DONE_STATES = ("exited", "dead", "removed")


def build_body(args: argparse.Namespace, tty: bool, interactive: bool) -> dict:
    """The body of POST /projects/{name}/run from compose's run flags."""
    command = list(args.command) or None
    entrypoint = None
    if args.entrypoint is not None:
        entrypoint = [args.entrypoint] if args.entrypoint else []
    return {"service": args.service, "command": command, "entrypoint": entrypoint,
            "env": list(args.env or []), "user": args.user, "workdir": args.workdir,
            "rm": args.rm, "detach": args.detach, "name": args.name,
            "volumes": list(args.volume or []), "publish": list(args.publish or []),
            "service_ports": args.service_ports, "labels": list(args.label or []),
            "no_deps": args.no_deps, "tty": tty, "interactive": interactive}


class _ExitWatch:
    """Collects `die` events of a project from before the container exists (so none is missed)."""

    def __init__(self, client: Client, project: str, since: str):
        self.codes: dict[str, int] = {}
        self.seen = threading.Event()
        self.client, self.project, self.since = client, project, since
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        try:
            for ev in self.client.stream("GET", "/events", query={
                    "project": self.project, "since": self.since, "follow": True}):
                if ev.get("action") == "die":
                    self.codes[str(ev.get("id"))] = int((ev.get("attributes") or {}).get("exitCode") or 0)
                    self.seen.set()
        except Exception:  # noqa: BLE001 - then the inspect fallback decides
            pass

    def code(self, cid: str, name: str, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for key in (cid, name):
                if key in self.codes:
                    return self.codes[key]
            self.seen.wait(0.1)
            self.seen.clear()
        return None


def _follow(client: Client, cid: str, name: str, watch: _ExitWatch) -> int:
    """Against a daemon without an attach endpoint: print the container's logs until it exits, then its exit code."""
    def pump() -> None:
        try:
            for entry in client.stream("GET", f"/containers/{cid}/logs", query={"follow": True}):
                if "line" in entry:
                    stream = sys.stderr if entry.get("stream") == "stderr" else sys.stdout
                    stream.write(str(entry["line"]).rstrip("\n") + "\n")
                    stream.flush()
        except Exception:  # noqa: BLE001 - the stream ends when the container goes
            pass
    logs = threading.Thread(target=pump, daemon=True)
    logs.start()
    while True:
        code = watch.code(cid, name, 0.2)
        if code is not None:
            logs.join(2.0)
            return code
        try:
            info = client.call("GET", f"/containers/{cid}") or {}
        except Exception:  # noqa: BLE001 - removed (--rm): the die event is on its way
            code = watch.code(cid, name, 5.0)
            logs.join(2.0)
            return code or 0
        if info.get("state") in DONE_STATES:
            logs.join(2.0)
            return int(info.get("exit_code") or 0)


def run(args: argparse.Namespace) -> int:
    name, project = load_project_body(args, (args.service,))
    tty = not args.no_tty and not args.detach and sys.stdin.isatty() and sys.stdout.isatty()
    interactive = not args.detach and (tty or stdin_has_input())
    body = dict(project, **build_body(args, tty, interactive))
    client = Client()
    watch = None if args.detach else _ExitWatch(client, name, now_rfc3339())
    created = client.call("POST", f"/projects/{name}/run", body) or {}
    cid = created.get("id") or created.get("name")
    if not cid:
        raise error(f"run: the daemon did not create a container for service {args.service!r}")
    if args.detach:
        print(created.get("name") or cid)
        return 0
    try:
        sock, rest = client.upgrade(f"/containers/{cid}/attach", {"stdin": interactive, "tty": tty})
    except ApiError as exc:
        if exc.status != 404:
            raise error(exc.message) from exc
        assert watch is not None
        return _follow(client, cid, str(created.get("name") or cid), watch)
    return _attached(client, cid, sock, rest, tty, interactive)


def _attached(client: Client, cid: str, sock: Any, rest: bytes, tty: bool, interactive: bool) -> int:
    """Relay the attach stream (raw terminal and SIGWINCH resizes with a tty); the exit code."""
    key = (getattr(client, "upgrade_headers", None) or {}).get("x-shoal-exec-id", "")

    def resize(height: int, width: int) -> None:
        client.call("POST", f"/containers/{cid}/resize", {"height": height, "width": width, "exec_id": key})
    sized = tty and bool(key) and sys.stdout.isatty()
    restore = raw_tty(sys.stdin.fileno()) if tty and sys.stdin.isatty() else None
    try:
        if sized:
            resize(*winsize())
        return pipe_stream(sock, rest, tty, interactive, resize if sized else None)
    finally:
        if restore:
            restore()


def register(sub: Any) -> None:
    """Add `run`."""
    p = sub.add_parser("run", help="Run a one-off command on a service")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARGS...]")
    a = p.add_argument
    a("--rm", action="store_true", help="remove the container after it exits")
    a("-d", "--detach", action="store_true", help="run in the background and print the container name")
    a("-e", "--env", action="append", metavar="KEY=VAL", help="set environment variables")
    a("--entrypoint", help="override the entrypoint of the image")
    a("--no-deps", action="store_true", help="don't start linked services")
    a("-u", "--user", help="run as this user")
    a("-w", "--workdir", help="working directory inside the container")
    a("-v", "--volume", action="append", help="bind mount a volume")
    a("-p", "--publish", action="append", help="publish a container's port to the host")
    a("--service-ports", action="store_true", help="publish the service's ports too")
    a("-l", "--label", action="append", help="add or override a label")
    a("--name", help="assign a name to the container")
    a("-T", "--no-TTY", dest="no_tty", action="store_true", help="disable pseudo-TTY allocation")
    a("-i", "--interactive", action="store_true", default=True, help="keep STDIN open (default)")
    p.set_defaults(func=run)
