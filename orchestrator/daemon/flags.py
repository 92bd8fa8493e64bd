"""The daemon's command-line flags, kept apart from the daemon so `shoal` starts fast.

(`shoal daemon` registers these flags on every CLI start; importing the daemon itself
costs about 0.2 s.)
"""

from __future__ import annotations

import argparse
import os

__all__ = ["add_arguments", "apply_environment"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The daemon's flags (shared by ``shoal daemon`` and ``python -m orchestrator.daemon``)."""
    parser.add_argument("--root", default="", help="state root (default $SHOAL_ROOT or /var/lib/shoal)")
    parser.add_argument("--run-dir", default="", help="runtime dir for the socket (default $SHOAL_RUN or /run/shoal)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--networking", default="bridge", choices=["bridge", "none"],
                        help="bridge: compose networks, published ports, DNS; none: loopback only")
    parser.add_argument("--mqtt", default="", metavar="URL",
                        help="publish events and replica states to this MQTT broker "
                             "(mqtt:// or mqtts://; default $SHOAL_MQTT_URL or daemon.json)")


def apply_environment(args: argparse.Namespace) -> None:
    """``--mqtt`` wins over ``SHOAL_MQTT_URL`` and the daemon config file, as documented."""
    if getattr(args, "mqtt", ""):
        os.environ["SHOAL_MQTT_URL"] = args.mqtt
