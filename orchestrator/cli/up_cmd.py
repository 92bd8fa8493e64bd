"""`shoal up`: send the loaded project to the daemon, show progress, then attach to logs.

Attached mode behaves as compose: interleaved coloured logs, `web-1 exited with
code N`, Ctrl-C stops gracefully (a second Ctrl-C kills), and the exit code
follows `--abort-on-container-exit` / `--abort-on-container-failure` / `--exit-code-from`.
"""

from __future__ import annotations

import argparse
import datetime
import queue
import signal
import sys
import threading
import time
from typing import Any

from orchestrator.cli.client import Client, error, load_project_body
from orchestrator.cli.lifecycle_cmd import add_timeout_flag, project_action
from orchestrator.cli.logs_cmd import Followers, LogPrinter, container_number, display_name, use_color
from orchestrator.cli.scale_cmd import parse_scale

__all__ = ["register", "run", "build_options", "validate", "Attacher", "now_rfc3339", "will_restart", "not_ready"]

POLL_INTERVAL = 1.0  # seconds without news before the container list is checked

def now_rfc3339() -> str:
    """The daemon's event time format, for `since` and to drop replayed history."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def validate(args: argparse.Namespace, services: list[str]) -> None:
    """Compose's flag conflicts, as one-line errors."""
    abort = args.abort_on_container_exit or args.abort_on_container_failure or args.exit_code_from
    if args.detach and abort:
        raise error("--abort-on-container-exit and --detach are incompatible")
    if args.build and args.no_build:
        raise error("--build and --no-build are incompatible")
    if args.force_recreate and args.no_recreate:
        raise error("--force-recreate and --no-recreate are incompatible")
    if args.exit_code_from and args.exit_code_from not in services:
        raise error(f"no such service: {args.exit_code_from}")
    for name in list(args.attach or []) + list(args.no_attach or []):
        if name not in services:
            raise error(f"no such service: {name}")


def build_options(args: argparse.Namespace, services: list[str]) -> dict:
    """The `options` object of POST /projects/{name}/up."""
    scale = parse_scale(args.scale or [])
    for name in scale:
        if name not in services:
            raise error(f"no such service: {name}")
    options: dict[str, Any] = {
        "services": list(args.services), "scale": scale, "force_recreate": args.force_recreate,
        "no_recreate": args.no_recreate, "remove_orphans": args.remove_orphans,
        "no_deps": args.no_deps, "build": args.build, "no_build": args.no_build,
        "wait": args.wait, "detach": args.detach or args.wait, "no_start": args.no_start,
    }
    if args.pull:
        options["pull"] = args.pull
    if args.wait_timeout is not None:
        options["wait_timeout"] = args.wait_timeout
    if args.timeout is not None:
        options["timeout"] = args.timeout
    return options


def run(args: argparse.Namespace) -> int:
    name, body = load_project_body(args, tuple(args.services))
    services = list((body["project"].get("services") or {}))
    validate(args, services)
    body["options"] = build_options(args, services)
    _build_first(args, name, body["project"].get("services") or {})
    client = Client()
    since = now_rfc3339()
    rc = project_action(args, name, "up", body, client, _explainer(client, name, services))
    if rc != 0 or args.detach or args.wait or args.no_start:
        return rc
    attached = list(args.attach or args.services or services)
    attached = [s for s in attached if s not in set(args.no_attach or [])]
    model = body["project"].get("services") or {}
    return Attacher(args, client, name, attached, since, model).run()


def _build_first(args: argparse.Namespace, name: str, model: dict) -> None:
    """Like compose: `--build` builds every service with `build:`, else only those whose image is missing."""
    if args.no_build:
        return
    from orchestrator.cli.build_cmd import build_services, services_to_build
    targets = list(args.services or model)
    if not args.no_deps:  # a target's dependencies are started too, so they need their images
        seen: list[str] = []
        todo = list(targets)
        while todo:
            svc = todo.pop()
            if svc in seen or svc not in model:
                continue
            seen.append(svc)
            todo.extend((model[svc].get("depends_on") or {}).keys())
        targets = [s for s in model if s in seen]
    wanted = services_to_build(name, model, targets, force=args.build)
    mode = "quiet" if args.progress == "quiet" else "plain"
    build_services(name, model, wanted, mode=mode)


class Attacher:
    """Follows logs and container exits of the attached services until the stack ends."""

    def __init__(self, args: argparse.Namespace, client: Client, name: str,
                 services: list[str], since: str, model: dict | None = None):
        self.args, self.client, self.name, self.services = args, client, name, services
        self.since = since
        self.queue: queue.Queue = queue.Queue()
        self.pending: list[tuple[str, Any]] = []
        self.exited: dict[str, bool] = {}  # container id -> its exit was shown (and no start since)
        self.polled = time.monotonic()
        self.interrupts = 0
        self.stopping: threading.Thread | None = None
        self.rows = self._rows()
        self.model: dict[str, dict] = model or {}  # the project's services, for restart policies
        self.followers = Followers(client, lambda entry: self.queue.put(("log", entry)))
        self.alias = {str(r.get("Name")): str(r.get("ID")) for r in self.rows}
        self.names_by_id = {v: k for k, v in self.alias.items()}
        self.names = sorted(display_name(_entry(r), name) for r in self.rows)
        self.printer = LogPrinter(
            self.names,
            color=use_color(args.no_color, sys.stdout), prefix=not args.no_log_prefix,
            timestamps=getattr(args, "timestamps", False), project=name)

    def _rows(self) -> list[dict]:
        return self.client.call("GET", f"/projects/{self.name}/containers",
                                query={"all": True, "services": self.services}) or []

    def _pump(self, kind: str, method: str, path: str, query: dict) -> None:
        try:
            for item in self.client.stream(method, path, query=query):
                self.queue.put((kind, item))
            self.queue.put(("closed", kind))
        except Exception as exc:  # noqa: BLE001 - reported to the main loop
            self.queue.put(("error", str(exc)))

    def _start_pumps(self) -> None:
        for row in self.rows:
            self.followers.follow(str(row.get("ID")), row.get("Service"), container_number(row),
                                  str(row.get("Name")), self.since)
        events_q = {"project": self.name, "follow": True, "since": self.since}
        threading.Thread(target=self._pump, args=("event", "GET", "/events", events_q), daemon=True).start()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.interrupts += 1

    def run(self) -> int:
        """The event loop: print logs, react to exits and Ctrl-C; returns compose's exit code."""
        old = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.printer.write(f"Attaching to {', '.join(self.names)}")
            self._start_pumps()
            return self._loop()
        finally:
            self.followers.close()
            for s, handler in old.items():
                signal.signal(s, handler)

    def _loop(self) -> int:
        handled = 0
        while True:
            if self.interrupts > handled:
                handled = self.interrupts
                if handled == 1:
                    self._graceful_stop()
                else:
                    self.printer.write("Killing...")
                    project_action(self.args, self.name, "kill", {"services": [], "signal": "SIGKILL"},
                                   self.client)
                    return 130
            try:
                kind, item = self.pending.pop(0) if self.pending else self.queue.get(timeout=0.1)
            except queue.Empty:
                code = self._poll() if time.monotonic() - self.polled > POLL_INTERVAL else None
                if code is not None:
                    return code
                continue
            code = self._handle(kind, item)
            if code is not None:
                return code

    def _handle(self, kind: str, item: Any) -> int | None:
        if kind == "log" and "line" in item:
            if item.get("service") in self.services:
                self.printer.print(item)
        elif kind == "event":
            return self._on_event(item)
        elif kind == "stopped":
            self._settle()
            return 130
        elif kind == "error" and self.stopping is None:
            raise error(item)
        elif kind == "closed" and item == "event" and self.stopping is None:
            raise error("the shoal daemon closed the event stream (was it stopped?)")
        return None

    def _graceful_stop(self) -> None:
        self.printer.write("Gracefully stopping... (press Ctrl+C again to force)")

        def stop() -> None:
            project_action(self.args, self.name, "stop", {"services": []}, self.client)
            self.queue.put(("stopped", None))
        self.stopping = threading.Thread(target=stop, daemon=True)
        self.stopping.start()

    def _on_event(self, ev: dict) -> int | None:
        """A `die` event: print the exit line, then decide whether `up` ends (and with which code)."""
        if ev.get("type", "container") != "container" or ev.get("service") not in self.services:
            return None
        if str(ev.get("time", "")) < self.since:
            return None
        cid = self._canon(ev)
        if ev.get("action") in ("start", "restart"):
            self.exited[cid] = False
            name = self.names_by_id.get(cid) or display_name(ev, self.name)
            self.followers.follow(cid, ev.get("service"), ev.get("number"), name, str(ev["time"]))
            return None
        if ev.get("action") != "die" or self.exited.get(cid):
            return None
        self.exited[cid] = True
        self._drain_logs()
        code = _exit_code(ev, self.client)
        restarting = self.stopping is None and self._restarting(ev, code)
        self.printer.notice(display_name(ev, self.name),
                            f"exited with code {code}" + (" (restarting)" if restarting else ""))
        if self.stopping is not None:
            return None
        if self._aborts(code):
            return self._abort(ev, code)
        if restarting:
            return None
        rows = self._rows()
        if any(r.get("State") in ("running", "restarting", "created") for r in rows):
            return None
        for row in rows:  # exits no event told us about, so every container gets its line
            if row.get("State") in ("exited", "dead"):
                result = self._on_event(_die_of(row))
                if result is not None:
                    return result
        return 0

    def _canon(self, ev: dict) -> str:
        """The container id an event is about (events may name a container by its name)."""
        ident = str(ev.get("id", ""))
        name = str((ev.get("attributes") or {}).get("name") or "")
        if name and name != ident and not _is_id(name) and _is_id(ident):
            self.alias[name] = ident
            self.names_by_id.setdefault(ident, name)
        return self.alias.get(ident, ident)

    def _settle(self) -> None:
        """After a stop: show the last lines and an exit line for every container, as compose does."""
        self._drain_logs(0.3)
        while self.pending:
            kind, item = self.pending.pop(0)
            if kind == "event":
                self._on_event(item)
        for row in self._rows():
            if row.get("State") in ("exited", "dead"):
                self._on_event(_die_of(row))

    def _aborts(self, code: int) -> bool:
        args = self.args
        return bool(args.abort_on_container_exit or args.exit_code_from or
                    (args.abort_on_container_failure and code != 0))

    def _poll(self) -> int | None:
        """Catch exits no event reported (a container that died before it was seen running)."""
        self.polled = time.monotonic()
        if self.stopping is not None:
            return None
        for row in self._rows():
            if row.get("State") in ("exited", "dead"):
                code = self._on_event(_die_of(row))
                if code is not None:
                    return code
        return None

    def _drain_logs(self, quiet: float = 0.15) -> None:
        """Print log lines already on their way, so a container's last lines precede its exit."""
        while True:
            try:
                kind, item = self.queue.get(timeout=quiet)
            except queue.Empty:
                return
            if kind == "log":
                self._handle(kind, item)
            else:
                self.pending.append((kind, item))

    def _restarting(self, ev: dict, code: int) -> bool:
        """Will this container come back? Its state says so, or its restart policy does."""
        try:
            info = self.client.call("GET", f"/containers/{ev.get('id')}")
        except Exception:  # noqa: BLE001 - the container may be gone already
            return False
        if not isinstance(info, dict):
            return False
        if info.get("state") == "restarting":
            return True
        service = self.model.get(str(ev.get("service")), {})
        return will_restart(service, code, int(info.get("restart_count") or 0))

    def _abort(self, ev: dict, code: int) -> int:
        self.printer.write("Aborting on container exit...")
        self.stopping = threading.current_thread()  # later exits are reported, not acted on
        project_action(self.args, self.name, "stop", {"services": []}, self.client)
        self._settle()
        target = self.args.exit_code_from
        if not target or ev.get("service") == target:
            return code
        for row in self._rows():
            if row.get("Service") == target:
                return int(row.get("ExitCode") or 0)
        return code


def _entry(row: dict) -> dict:
    return {"service": row.get("Service"), "number": container_number(row), "container": row.get("Name")}


def _explainer(client: Client, name: str, services: list[str]) -> Any:
    """A failure message rewriter: name the containers not ready when the message names no service."""
    def explain(message: str) -> str:
        if any(s in message for s in services):
            return message
        try:
            rows = client.call("GET", f"/projects/{name}/containers", query={"all": True}) or []
        except Exception:  # noqa: BLE001 - the plain message is still right
            return message
        return message + not_ready(rows)
    return explain


def not_ready(rows: list[dict]) -> str:
    """` (web-1 is unhealthy, db-1 is exited)` for containers that are neither healthy nor running."""
    bad = []
    for r in sorted(rows, key=lambda r: r.get("Name", "")):
        if r.get("Health") in ("unhealthy", "starting"):
            bad.append(f"{r.get('Name')} is {r['Health']}")
        elif r.get("State") not in ("running",) and not (r.get("State") == "exited" and not r.get("ExitCode")):
            bad.append(f"{r.get('Name')} is {r.get('State')}")
    return f" ({', '.join(bad)})" if bad else ""


def will_restart(service: dict, code: int, restarts: int) -> bool:
    """Docker's restart decision after an exit with `code`, from `restart:` or deploy.restart_policy."""
    policy = (service.get("deploy") or {}).get("restart_policy")
    if policy:
        condition = policy.get("condition", "any")
        limit = int(policy.get("max_attempts") or 0)
        wanted = condition == "any" or (condition == "on-failure" and code != 0)
        return wanted and (not limit or restarts < limit)
    name, _, limit_text = str(service.get("restart") or "no").partition(":")
    if name in ("always", "unless-stopped"):
        return True
    if name == "on-failure" and code != 0:
        return not limit_text or restarts < int(limit_text)
    return False


def _is_id(text: str) -> bool:
    """A full container id (64 hex digits), as opposed to a name."""
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _die_of(row: dict) -> dict:
    """A `die` event made from a container summary (for exits no event reported)."""
    return {"type": "container", "action": "die", "id": row.get("ID"), "time": now_rfc3339(),
            "service": row.get("Service"), "number": container_number(row),
            "attributes": {"exitCode": row.get("ExitCode") or 0, "name": row.get("Name")}}


def _exit_code(ev: dict, client: Client) -> int:
    """The exit code of a `die` event (attributes, else the container's inspect)."""
    attrs = ev.get("attributes") or {}
    for key in ("exitCode", "exit_code"):
        if attrs.get(key) not in (None, ""):
            return int(attrs[key])
    try:
        info = client.call("GET", f"/containers/{ev.get('id')}")
        return int(info.get("exit_code") or 0)
    except Exception:  # noqa: BLE001 - unknown is reported as 0, as compose does
        return 0


def register(sub: Any) -> None:
    """Add `up` with docker compose's flags."""
    p = sub.add_parser("up", help="Create and start containers")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    a = p.add_argument
    a("-d", "--detach", action="store_true", help="run containers in the background")
    a("--wait", action="store_true", help="wait for services to be running|healthy (implies -d)")
    a("--wait-timeout", type=int, default=None, help="seconds to wait for the project")
    a("--scale", action="append", metavar="SERVICE=NUM", help="scale a service (overrides scale:)")
    a("--build", action="store_true", help="build images before starting containers")
    a("--no-build", action="store_true", help="don't build an image, even if it's policy")
    a("--pull", choices=("always", "missing", "never", "build"), default=None, help="pull image before running")
    a("--force-recreate", action="store_true", help="recreate containers even if unchanged")
    a("--no-recreate", action="store_true", help="don't recreate existing containers")
    a("--no-deps", action="store_true", help="don't start linked services")
    a("--no-start", action="store_true", help="don't start the services after creating them")
    a("--remove-orphans", action="store_true", help="remove containers of services not in the file")
    a("--abort-on-container-exit", action="store_true", help="stop all containers if any stops")
    a("--abort-on-container-failure", action="store_true", help="stop all if any exits non-zero")
    a("--exit-code-from", metavar="SERVICE", help="return this service's exit code (implies abort)")
    a("--attach", action="append", metavar="SERVICE", help="restrict attaching to these services")
    a("--no-attach", action="append", metavar="SERVICE", help="don't attach to these services")
    a("--no-log-prefix", action="store_true", help="don't print a prefix in logs")
    a("--no-color", action="store_true", help="produce monochrome output")
    a("--timestamps", action="store_true", help="show timestamps")
    add_timeout_flag(p)
    p.set_defaults(func=run)
