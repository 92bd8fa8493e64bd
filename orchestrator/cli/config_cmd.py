"""`shoal config`: parse, resolve and render the compose file in canonical format."""

from __future__ import annotations

import argparse
import sys

from orchestrator.compose import output
from orchestrator.compose.loader import ProjectOptions, load_project, load_model
from orchestrator.compose.profiles import all_profiles

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="Parse, resolve and render compose file in canonical format")
    p.add_argument("services", nargs="*", help="services to show (default: all)")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format")
    p.add_argument("-q", "--quiet", action="store_true", help="only validate the configuration")
    p.add_argument("--services", dest="list_services", action="store_true", help="print the service names")
    p.add_argument("--volumes", dest="list_volumes", action="store_true", help="print the volume names")
    p.add_argument("--networks", dest="list_networks", action="store_true", help="print the network names")
    p.add_argument("--profiles", dest="list_profiles", action="store_true", help="print the profile names")
    p.add_argument("--images", dest="list_images", action="store_true", help="print the image names")
    p.add_argument("--no-interpolate", action="store_true", help="don't interpolate environment variables")
    p.add_argument("--no-normalize", action="store_true", help="don't normalize the compose model")
    p.add_argument("-o", "--output", help="save to file (default: stdout)")
    p.set_defaults(func=run)


def _write(text: str, path: str | None) -> None:
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def escape_dollars(value):
    """Write `$` back as `$$` so the printed model reads back to itself (values were interpolated)."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_dollars(v) for v in value]
    return value


def run(args: argparse.Namespace) -> int:
    options = ProjectOptions.from_args(
        args,
        services=tuple(args.services),
        interpolate=not args.no_interpolate,
        normalize=not args.no_normalize,
    )
    if args.list_profiles:
        _, model, _ = load_model(ProjectOptions.from_args(args, profiles=["*"]))
        _write("".join(f"{p}\n" for p in all_profiles(model)), args.output)
        return 0
    loaded = load_project(options)
    data = loaded.data
    if args.services:
        keep = set(args.services)
        unknown = sorted(keep - set(data.get("services", {})))
        if unknown:
            from orchestrator.cli.errors import ShoalError
            raise ShoalError(f"no such service: {unknown[0]}")
        data = dict(data, services={k: v for k, v in data.get("services", {}).items() if k in keep})
    if args.quiet:
        return 0
    services = data.get("services", {}) or {}
    listings = {
        "list_services": list(services),
        "list_volumes": list(data.get("volumes") or {}),
        "list_networks": list(data.get("networks") or {}),
        "list_images": [svc.get("image") or f"{loaded.name}-{name}" for name, svc in services.items()],
    }
    for flag, names in listings.items():
        if getattr(args, flag):
            _write("".join(f"{n}\n" for n in names), args.output)
            return 0
    if not args.no_interpolate:
        data = escape_dollars(data)
    render = output.to_json if args.format == "json" else output.to_yaml
    _write(render(data), args.output)
    return 0
