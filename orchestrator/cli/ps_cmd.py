"""`shoal ps`: the project's containers as compose shows them (table, JSON Lines, -q, --services)."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from orchestrator.cli.client import Client, error, project_name

__all__ = ["register", "format_table", "format_ports", "format_command", "JSON_FIELDS", "STATUSES"]

JSON_FIELDS = ("Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels", "LocalVolumes",
               "Mounts", "Name", "Names", "Networks", "Ports", "Project", "Publishers", "RunningFor",
               "Service", "Size", "State", "Status")
STATUSES = ("paused", "restarting", "removing", "running", "dead", "created", "exited", "failed")
COLUMNS = ("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS")


def format_command(command: str, width: int = 20) -> str:
    """Quoted and cut like compose's table: `"sh -c 'echo…"`."""
    command = command or ""
    if len(command) > width:
        command = command[: width - 1] + "…"
    return f'"{command}"'


def format_ports(row: dict) -> str:
    """`127.0.0.1:8088->80/tcp` from Publishers (exposed-only ports as `80/tcp`)."""
    if row.get("Ports"):
        return str(row["Ports"])
    parts = []
    for pub in row.get("Publishers") or []:
        target = f"{pub.get('TargetPort')}/{pub.get('Protocol', 'tcp')}"
        if pub.get("PublishedPort"):
            parts.append(f"{pub.get('URL') or '0.0.0.0'}:{pub['PublishedPort']}->{target}")
        else:
            parts.append(target)
    return ", ".join(parts)


def format_table(rows: list[dict]) -> str:
    """Compose's default `ps` table, columns sized to their widest cell."""
    cells = [COLUMNS] + [
        (r.get("Name", ""), r.get("Image", ""), format_command(r.get("Command", "")),
         r.get("Service", ""), r.get("RunningFor", "") or r.get("CreatedAt", ""),
         r.get("Status", ""), format_ports(r)) for r in rows]
    widths = [max(len(str(c[i])) for c in cells) for i in range(len(COLUMNS))]
    lines = ["   ".join(str(c[i]).ljust(widths[i]) for i in range(len(COLUMNS))).rstrip()
             for c in cells]
    return "\n".join(lines) + "\n"


def _json_row(row: dict) -> dict:
    """Keep compose's fields (and only those), in its order, with its types."""
    out: dict[str, Any] = {}
    for key in JSON_FIELDS:
        value = row.get(key)
        if key == "Labels" and isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
        if key == "Publishers" and value is None:
            value = []
        if key == "ExitCode" and value is None:
            value = 0
        if key in ("Ports", "Mounts", "Networks", "Names") and value is None:
            value = row.get("Name", "") if key == "Names" else ""
        if key in ("LocalVolumes", "Size", "RunningFor", "CreatedAt", "Health") and value is None:
            value = "0" if key == "LocalVolumes" else ""
        out[key] = value if value is not None else ""
    return out


def _format_rows(rows: list[dict], fmt: str) -> str:
    if fmt == "json":
        return "".join(json.dumps(_json_row(r)) + "\n" for r in rows)
    if fmt == "table":
        return format_table(rows)
    if fmt.startswith("table "):
        fmt = fmt[6:]
    # A Go-template subset: {{.Field}} placeholders.
    return "".join(re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: str(r.get(m.group(1), "")), fmt)
                   .replace("\\t", "\t") + "\n" for r in rows)


def run(args: argparse.Namespace) -> int:
    name = project_name(args)
    statuses = list(args.status or [])
    for flt in args.filter or []:
        key, _, value = flt.partition("=")
        if key != "status":
            raise error(f"ps: unsupported filter {key!r} (only status=...)")
        statuses.append(value)
    for status in statuses:
        if status not in STATUSES:
            raise error(f"ps: invalid status {status!r} (one of {', '.join(STATUSES)})")
    query = {"all": args.all or bool(statuses), "services": list(args.services),
             "status": ",".join(statuses) or None}
    rows = Client().call("GET", f"/projects/{name}/containers", query=query) or []
    if statuses:
        rows = [r for r in rows if r.get("State") in statuses]
    rows.sort(key=lambda r: r.get("Name", ""))
    if args.services_only:
        for service in dict.fromkeys(r.get("Service", "") for r in rows):
            print(service)
    elif args.quiet:
        for r in rows:
            print(r.get("ID", "") if args.no_trunc else str(r.get("ID", ""))[:12])
    else:
        print(_format_rows(rows, args.format), end="")
    return 0


def register(sub: Any) -> None:
    """Add `ps`."""
    p = sub.add_parser("ps", help="List containers")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.add_argument("-a", "--all", action="store_true", help="show all stopped containers too")
    p.add_argument("-q", "--quiet", action="store_true", help="only display IDs")
    p.add_argument("--services", dest="services_only", action="store_true", help="display services")
    p.add_argument("--status", action="append", metavar="STATUS", help="filter by status (repeatable)")
    p.add_argument("--filter", action="append", metavar="status=STATUS", help="filter (status=...)")
    p.add_argument("--format", default="table", help="table, json, or a {{.Field}} template")
    p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
    p.set_defaults(func=run)
