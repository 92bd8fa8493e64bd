"""Entry point of the `shoal` command: global flags, subcommand dispatch, error reporting.

Each command lives in its own module under ``orchestrator.cli`` exposing
``register(subparsers)``; it adds its parser and sets ``func(args) -> int``.
Errors the user can fix (``ShoalError`` and ``ComposeError``) print one line
and exit non-zero; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from orchestrator.cli.errors import ShoalError
from orchestrator.compose.errors import ComposeError

__all__ = ["main", "build_parser", "ShoalError", "COMMAND_MODULES"]

# Modules that contribute subcommands, in help order. A missing module is skipped
# so that the CLI keeps working while a command is being written.
COMMAND_MODULES = (
    "orchestrator.cli.up_cmd",
    "orchestrator.cli.down_cmd",
    "orchestrator.cli.ps_cmd",
    "orchestrator.cli.logs_cmd",
    "orchestrator.cli.exec_cmd",
    "orchestrator.cli.run_cmd",
    "orchestrator.cli.lifecycle_cmd",
    "orchestrator.cli.scale_cmd",
    "orchestrator.cli.info_cmd",
    "orchestrator.cli.events_cmd",
    "orchestrator.cli.config_cmd",
    "orchestrator.cli.images_cmd",
    "orchestrator.cli.build_cmd",
    "orchestrator.cli.convert_cmd",
    "orchestrator.cli.daemon_cmd",
)


def _add_global_flags(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("global options")
    g.add_argument("-f", "--file", dest="files", action="append", default=None,
                   metavar="FILE", help="compose configuration file (repeatable, - for stdin)")
    g.add_argument("-p", "--project-name", dest="project_name", help="project name")
    g.add_argument("--project-directory", dest="project_directory",
                   help="working directory (default: directory of the first compose file)")
    g.add_argument("--env-file", dest="env_files", action="append", default=None,
                   metavar="PATH", help="alternate environment file (repeatable)")
    g.add_argument("--profile", dest="profiles", action="append", default=None,
                   metavar="NAME", help="profile to enable (repeatable)")
    g.add_argument("--progress", choices=("auto", "tty", "plain", "quiet", "json"), default="auto",
                   help="type of progress output")
    g.add_argument("--debug", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shoal",
        description="Compose-compatible multi-container orchestrator with its own container engine.",
    )
    _add_global_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except (ComposeError, ShoalError) as exc:
        if args.debug:
            traceback.print_exc()
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
