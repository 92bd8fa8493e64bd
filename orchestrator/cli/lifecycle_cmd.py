"""`shoal start|stop|restart|kill|pause|unpause|rm`: project actions with progress, as compose."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from orchestrator.cli.client import Client, project_name
from orchestrator.cli.progress import Progress, consume

__all__ = ["register", "project_action", "add_timeout_flag"]

TITLES = {"start": "Running", "stop": "Stopping", "restart": "Restarting", "kill": "Killing",
          "pause": "Pausing", "unpause": "Unpausing", "rm": "Removing", "down": "Running",
          "up": "Running", "scale": "Running"}


def project_action(args: argparse.Namespace, name: str, verb: str, body: dict,
                   client: Client | None = None,
                   explain: Callable[[str], str] | None = None) -> int:
    """POST /projects/{name}/{verb}, show its progress, and return the exit code it ended with.

    On failure the daemon's one-line message is printed, passed through ``explain`` if given.
    """
    client = client or Client()
    progress = Progress(getattr(args, "progress", "auto"), title=TITLES.get(verb, "Running"))
    result = consume(client.stream("POST", f"/projects/{name}/{verb}", body), progress)
    if result.get("ok"):
        return int(result.get("exit_code") or 0)
    message = result.get("message") or f"{verb} failed"
    if explain is not None:
        message = explain(message)
    print(message, file=sys.stderr)
    return int(result.get("exit_code") or 1)


def add_timeout_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("-t", "--timeout", type=int, default=None,
                   help="shutdown timeout in seconds (default: stop_grace_period, else 10)")


def _simple(verb: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        body: dict = {"services": list(args.services)}
        if getattr(args, "timeout", None) is not None:
            body["timeout"] = args.timeout
        if verb == "kill":
            body["signal"] = args.signal
            body["remove_orphans"] = args.remove_orphans
        return project_action(args, project_name(args), verb, body)
    return run


def _confirm(names: list[str]) -> bool:
    """Compose's removal prompt; anything but y/yes (including EOF) means no."""
    print(f"Going to remove {', '.join(names)}", file=sys.stderr)
    sys.stderr.write("? Are you sure you want to remove them? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _rm(args: argparse.Namespace) -> int:
    name = project_name(args)
    client = Client()
    if not args.force:
        rows = client.call("GET", f"/projects/{name}/containers",
                           query={"all": True, "services": list(args.services)}) or []
        candidates = sorted(r.get("Name", "") for r in rows
                            if args.stop or r.get("State") not in ("running", "restarting", "paused"))
        if not candidates:
            print("No stopped containers", file=sys.stderr)
            return 0
        if not _confirm(candidates):
            return 0
    body = {"services": list(args.services), "force": True, "stop": args.stop,
            "volumes": args.volumes}
    return project_action(args, name, "rm", body, client)


def register(sub: Any) -> None:
    """Add start, stop, restart, kill, pause, unpause and rm."""
    helps = {"start": "Start services", "stop": "Stop services", "restart": "Restart service containers",
             "kill": "Force stop service containers", "pause": "Pause services",
             "unpause": "Unpause services"}
    for verb, text in helps.items():
        p = sub.add_parser(verb, help=text)
        p.add_argument("services", nargs="*", metavar="SERVICE")
        if verb in ("stop", "restart"):
            add_timeout_flag(p)
        if verb == "kill":
            p.add_argument("-s", "--signal", default="SIGKILL", help="signal to send (default SIGKILL)")
            p.add_argument("--remove-orphans", action="store_true",
                           help="also kill containers of services not in the compose file")
        p.set_defaults(func=_simple(verb))
    rm = sub.add_parser("rm", help="Removes stopped service containers")
    rm.add_argument("services", nargs="*", metavar="SERVICE")
    rm.add_argument("-f", "--force", action="store_true", help="don't ask to confirm removal")
    rm.add_argument("-s", "--stop", action="store_true", help="stop the containers first if needed")
    rm.add_argument("-v", "--volumes", action="store_true", help="remove anonymous volumes too")
    rm.set_defaults(func=_rm)

