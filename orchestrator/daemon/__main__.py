"""``python -m orchestrator.daemon``: run shoald in the foreground."""

from __future__ import annotations

import argparse
import sys

from orchestrator.daemon.flags import add_arguments, apply_environment

__all__ = ["main", "add_arguments"]


def main(argv: list[str] | None = None) -> int:
    from orchestrator.daemon.app import DaemonConfig, run

    parser = argparse.ArgumentParser(prog="shoald", description="shoal's daemon, in the foreground")
    add_arguments(parser)
    args = parser.parse_args(argv)
    apply_environment(args)
    return run(DaemonConfig(args.root, args.run_dir, networking=args.networking), args.log_level)


if __name__ == "__main__":
    sys.exit(main())
