"""`shoal convert kubernetes`: write Kubernetes manifests for the project, warnings on stderr."""

from __future__ import annotations

import argparse
import os
import sys

from orchestrator.compose.loader import ProjectOptions, load_project
from orchestrator.k8s import convert, file_name, to_yaml, to_yaml_stream
from orchestrator.k8s.names import DNS1123_LABEL
from orchestrator.k8s.services import SERVICE_TYPES

__all__ = ["register", "run_kubernetes", "write_manifests"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add `convert` and its `kubernetes` target."""
    p = sub.add_parser("convert", help="Convert the project for another platform")
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    k = targets.add_parser("kubernetes", aliases=["k8s"], help="Kubernetes manifests")
    k.add_argument("-o", "--output", default="-", metavar="DIR",
                   help="directory for one file per object, or - for one YAML stream on stdout")
    k.add_argument("-n", "--namespace", type=_namespace,
                   help="namespace to put every object in (also created)")
    k.add_argument("--replicas-from-scale", action=argparse.BooleanOptionalAction, default=True,
                   help="set replicas from scale/deploy.replicas (default: yes)")
    k.add_argument("--service-type", choices=SERVICE_TYPES, default="NodePort",
                   help="Service type for ports published on the host (default: NodePort)")
    k.add_argument("--volume-size", default="1Gi",
                   help="size of claims whose volume has no x-kubernetes.size (default: 1Gi)")
    k.set_defaults(func=run_kubernetes)


def _namespace(text: str) -> str:
    """A namespace name must be a DNS-1123 label."""
    if not DNS1123_LABEL.match(text) or len(text) > 63:
        raise argparse.ArgumentTypeError(f"invalid namespace {text!r}: must be a DNS-1123 label")
    return text


def _read(path: str) -> bytes:
    """Content of a config/secret file."""
    with open(path, "rb") as f:
        return f.read()


def write_manifests(manifests: list[dict], output: str) -> list[str]:
    """Write one YAML stream to stdout (`-`) or one file per object in a directory; the paths."""
    if output == "-":
        sys.stdout.write(to_yaml_stream(manifests))
        return []
    os.makedirs(output, exist_ok=True)
    paths = []
    for index, obj in enumerate(manifests, 1):
        path = os.path.join(output, file_name(index, obj))
        with open(path, "w", encoding="utf-8") as f:
            f.write(to_yaml(obj))
        paths.append(path)
    return paths


def run_kubernetes(args: argparse.Namespace) -> int:
    """Load the project, convert it, write the manifests and print the warnings."""
    loaded = load_project(ProjectOptions.from_args(args))
    result = convert(
        loaded.data,
        namespace=args.namespace,
        replicas_from_scale=args.replicas_from_scale,
        service_type=args.service_type,
        default_volume_size=args.volume_size,
        read_file=_read,
        environ=loaded.environment,
    )
    for warning in result.warnings:
        print(str(warning), file=sys.stderr)
    paths = write_manifests(result.manifests, args.output)
    if paths:
        print(f"wrote {len(paths)} manifests to {args.output}; apply with: kubectl apply -f {args.output}",
              file=sys.stderr)
    return 0
