"""`shoal down`: stop and remove the project's containers and networks (volumes with -v)."""

from __future__ import annotations

import argparse
from typing import Any

from orchestrator.cli.client import project_name
from orchestrator.cli.lifecycle_cmd import add_timeout_flag, project_action

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    """POST /projects/{name}/down with compose's flags; progress like compose."""
    body: dict = {"remove_volumes": args.volumes, "remove_orphans": args.remove_orphans,
                  "rmi": args.rmi or ""}
    if args.timeout is not None:
        body["timeout"] = args.timeout
    return project_action(args, project_name(args), "down", body)


def register(sub: Any) -> None:
    """Add `down`."""
    p = sub.add_parser("down", help="Stop and remove containers, networks")
    p.add_argument("services", nargs="*", metavar="SERVICE", help=argparse.SUPPRESS)
    p.add_argument("-v", "--volumes", action="store_true",
                   help="remove named volumes declared in the volumes section and anonymous volumes")
    p.add_argument("--remove-orphans", action="store_true",
                   help="remove containers for services not defined in the compose file")
    p.add_argument("--rmi", choices=("local", "all"), help="remove images used by services")
    add_timeout_flag(p)
    p.set_defaults(func=run)
