"""``python -m orchestrator.daemon``: run shoald in the foreground."""

from __future__ import annotations

import argparse
import sys

from orchestrator.daemon.app import DaemonConfig, run

__all__ = ["main", "add_arguments"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The daemon's flags (shared by ``shoal daemon``)."""
    parser.add_argument("--root", default="", help="state root (default $SHOAL_ROOT or /var/lib/shoal)")
    parser.add_argument("--run-dir", default="", help="runtime dir for the socket (default $SHOAL_RUN or /run/shoal)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--networking", default="bridge", choices=["bridge", "none"],
                        help="bridge: compose networks, published ports, DNS; none: loopback only")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shoald", description="shoal's daemon, in the foreground")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(DaemonConfig(args.root, args.run_dir, networking=args.networking), args.log_level)


if __name__ == "__main__":
    sys.exit(main())
