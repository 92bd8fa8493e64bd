"""`shoal logs`: service logs with compose's coloured, width-aligned `web-1  | ` prefixes."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import IO, Any, Callable, Iterable

from orchestrator.cli.client import Client, error, project_name

__all__ = ["register", "LogPrinter", "Followers", "display_name", "container_number", "COLORS", "use_color"]

# ANSI foreground colours handed out in order of first appearance (then the bright set).
COLORS = ("36", "33", "32", "35", "34", "1;36", "1;33", "1;32", "1;35", "1;34")


def display_name(entry: dict, project: str | None = None) -> str:
    """How compose labels a container in logs: `service-N`, or the container name minus project."""
    service, number = entry.get("service"), entry.get("number")
    if service and number not in (None, ""):
        return f"{service}-{number}"
    name = str(entry.get("container") or service or "")
    if project and name.startswith(project + "-"):
        name = name[len(project) + 1:]
    return name


def use_color(no_color: bool, stream: IO[str]) -> bool:
    """Colours only on a terminal, never with --no-color or NO_COLOR set."""
    import os
    if no_color or os.environ.get("NO_COLOR"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


class LogPrinter:
    """Formats log lines: fixed-width prefix per container, one stable colour per container."""

    def __init__(self, names: Iterable[str] = (), color: bool = False, prefix: bool = True,
                 timestamps: bool = False, out: IO[str] | None = None, project: str | None = None):
        self.width = max((len(n) for n in names), default=0)
        self.color = color
        self.prefix = prefix
        self.timestamps = timestamps
        self.out = out or sys.stdout
        self.project = project
        self.colors: dict[str, str] = {}

    def _paint(self, name: str, text: str) -> str:
        if not self.color:
            return text
        code = self.colors.setdefault(name, COLORS[len(self.colors) % len(COLORS)])
        return f"\x1b[{code}m{text}\x1b[0m"

    def label(self, name: str) -> str:
        """`name  | ` padded to the widest container seen so far."""
        self.width = max(self.width, len(name))
        return self._paint(name, f"{name.ljust(self.width)}  | ")

    def format(self, entry: dict) -> str:
        """One daemon log entry as the line compose would print."""
        line = str(entry.get("line", "")).rstrip("\n")
        if self.timestamps and entry.get("time"):
            line = f"{entry['time']} {line}"
        if not self.prefix:
            return line
        return self.label(display_name(entry, self.project)) + line

    def notice(self, name: str, text: str) -> None:
        """A status line in the stream (`web-1 exited with code 0`), coloured like its logs."""
        self.write(self._paint(name, f"{name} {text}") if self.prefix else text)

    def write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def print(self, entry: dict) -> None:
        self.write(self.format(entry))


class Followers:
    """One thread per container following its logs across restarts (for attached `up`).

    The daemon ends a log stream when its container stops; the thread then waits
    for the container to run again (or to be removed) and resumes after the
    last line it passed on, so restarts neither lose nor repeat lines.
    """

    def __init__(self, client: Client, put: Callable[[dict], None], poll: float = 0.25):
        self.client, self.put, self.poll = client, put, poll
        self.done = threading.Event()
        self.followed: set[str] = set()
        self._lock = threading.Lock()

    def follow(self, cid: str, service: Any, number: Any, name: str, since: str) -> None:
        """Start following `cid` (once; later calls for the same container do nothing)."""
        with self._lock:
            if cid in self.followed:
                return
            self.followed.add(cid)
        threading.Thread(target=self._run, args=(cid, service, number, name, since), daemon=True).start()

    def close(self) -> None:
        self.done.set()

    def _run(self, cid: str, service: Any, number: Any, name: str, since: str) -> None:
        last = ""
        while not self.done.is_set():
            try:
                for item in self.client.stream("GET", f"/containers/{cid}/logs",
                                               query={"follow": True, "since": last or since}):
                    when = str(item.get("time") or "")
                    if "line" not in item or (last and when and when <= last):
                        continue
                    last = max(last, when)
                    self.put(dict(item, service=service, number=number, container=name))
            except Exception:  # noqa: BLE001 - the container went away
                return
            if not self._runs_again(cid):
                return

    def _runs_again(self, cid: str) -> bool:
        """Wait until the container runs again (True) or is gone or we are done (False)."""
        while not self.done.wait(self.poll):
            try:
                info = self.client.call("GET", f"/containers/{cid}") or {}
            except Exception:  # noqa: BLE001 - removed
                return False
            if info.get("state") in ("running", "paused"):
                return True
        return False


def _names(client: Client, name: str, services: list[str]) -> list[str]:
    rows = client.call("GET", f"/projects/{name}/containers",
                       query={"all": True, "services": services}) or []
    return [display_name({"service": r.get("Service"), "number": container_number(r),
                          "container": r.get("Name")}, name) for r in rows]


def container_number(row: dict) -> Any:
    """A summary's replica number: its `Number` field, else the compose label."""
    if row.get("Number") not in (None, "", 0):
        return row["Number"]
    labels = row.get("Labels") or ""
    if isinstance(labels, dict):
        return labels.get("com.docker.compose.container-number")
    for item in str(labels).split(","):
        if item.startswith("com.docker.compose.container-number="):
            return item.split("=", 1)[1]
    return None


def stream_logs(client: Client, name: str, printer: LogPrinter, query: dict,
                index: int | None = None) -> None:
    """Print the project's log stream until it ends (or forever with follow)."""
    for entry in client.stream("GET", f"/projects/{name}/logs", query=query):
        if "line" in entry and (index is None or str(entry.get("number")) == str(index)):
            printer.print(entry)


def run(args: argparse.Namespace) -> int:
    if args.tail not in (None, "all") and not str(args.tail).isdigit():
        raise error(f"logs: invalid --tail {args.tail!r} (a number or 'all')")
    name = project_name(args)
    client = Client()
    names = _names(client, name, list(args.services))
    printer = LogPrinter(names, color=use_color(args.no_color, sys.stdout),
                         prefix=not args.no_log_prefix, timestamps=args.timestamps, project=name)
    query = {"services": list(args.services), "follow": args.follow, "since": args.since,
             "until": args.until, "timestamps": args.timestamps,
             "tail": None if args.tail in (None, "all") else args.tail}
    stream_logs(client, name, printer, query, args.index)
    return 0


def register(sub: Any) -> None:
    """Add `logs`."""
    p = sub.add_parser("logs", help="View output from containers")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.add_argument("-f", "--follow", action="store_true", help="follow log output")
    p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    p.add_argument("-n", "--tail", default="all", help="lines from the end of each container's log")
    p.add_argument("--since", help="since a timestamp (2013-01-02T13:23:37Z) or relative (42m)")
    p.add_argument("--until", help="before a timestamp or relative time")
    p.add_argument("--no-color", action="store_true", help="monochrome output")
    p.add_argument("--no-log-prefix", action="store_true", help="don't print the prefix")
    p.add_argument("--index", type=int, default=None, help="index of the container (replicas)")
    p.set_defaults(func=run)
