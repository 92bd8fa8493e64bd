"""`shoal daemon`: run shoald in the foreground (for a service unit or debugging)."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    from orchestrator.daemon.flags import add_arguments
    p = sub.add_parser("daemon", help="Run the shoal daemon (shoald) in the foreground")
    add_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from orchestrator.daemon.app import DaemonConfig, run as run_daemon
    from orchestrator.daemon.flags import apply_environment
    apply_environment(args)
    return run_daemon(DaemonConfig(args.root, args.run_dir, networking=args.networking), args.log_level)
