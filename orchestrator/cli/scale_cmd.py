"""`shoal scale svc=N ...`: set the number of replicas of services."""

from __future__ import annotations

import argparse
from typing import Any, Iterable

from orchestrator.cli.client import error, project_name
from orchestrator.cli.lifecycle_cmd import project_action

__all__ = ["register", "parse_scale"]


def parse_scale(items: Iterable[str]) -> dict[str, int]:
    """`web=3` pairs to {"web": 3}; one-line errors for anything else."""
    out: dict[str, int] = {}
    for item in items:
        service, sep, count = item.partition("=")
        if not sep or not service:
            raise error(f"invalid scale {item!r}: expected SERVICE=REPLICAS")
        try:
            replicas = int(count)
        except ValueError:
            raise error(f"invalid scale {item!r}: {count!r} is not a number") from None
        if replicas < 0:
            raise error(f"invalid scale {item!r}: replicas cannot be negative")
        out[service] = replicas
    return out


def run(args: argparse.Namespace) -> int:
    scale = parse_scale(args.scale)
    if not scale:
        raise error("scale: give at least one SERVICE=REPLICAS")
    return project_action(args, project_name(args), "scale",
                          {"scale": scale, "no_deps": args.no_deps})


def register(sub: Any) -> None:
    """Add `scale`."""
    p = sub.add_parser("scale", help="Scale services")
    p.add_argument("scale", nargs="+", metavar="SERVICE=REPLICAS")
    p.add_argument("--no-deps", action="store_true", help="don't start linked services")
    p.set_defaults(func=run)
