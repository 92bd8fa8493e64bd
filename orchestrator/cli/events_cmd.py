"""`shoal events`: the project's container events, live (compose's text or `--json` lines)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from orchestrator.cli.client import Client, project_name

__all__ = ["register", "format_event"]


def format_event(ev: dict) -> str:
    """Compose's text form: `2026-11-21 15:04:05.123456 container start <id> (name=..., image=...)`."""
    when = str(ev.get("time", "")).replace("T", " ").rstrip("Z")
    attrs = dict(ev.get("attributes") or {})
    if ev.get("service"):
        attrs.setdefault("service", ev["service"])
    tail = ", ".join(f"{k}={v}" for k, v in sorted(attrs.items()))
    text = f"{when} {ev.get('type', 'container')} {ev.get('action', '')} {ev.get('id', '')}"
    return f"{text} ({tail})" if tail else text


def run(args: argparse.Namespace) -> int:
    name = project_name(args)
    one = args.services[0] if len(args.services) == 1 else None  # several: filtered here
    query = {"project": name, "service": one, "since": args.since,
             "until": args.until, "follow": not args.until}
    for ev in Client().stream("GET", "/events", query=query):
        if args.services and ev.get("service") not in args.services:
            continue
        print(json.dumps(ev) if args.json else format_event(ev), flush=True)
    return 0


def register(sub: Any) -> None:
    """Add `events`."""
    p = sub.add_parser("events", help="Receive real time events from containers")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.add_argument("--json", action="store_true", help="output events as a stream of json objects")
    p.add_argument("--since", help="show events since a timestamp or relative time (10m)")
    p.add_argument("--until", help="stream events until this timestamp")
    p.set_defaults(func=run)
