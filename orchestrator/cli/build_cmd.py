"""``shoal build [SERVICE...]`` for compose ``build:`` sections, and ``shoal image bootstrap``.

Each service with a ``build:`` key is built by ``engine.build`` into the engine's
image store and named like compose does: its ``image:`` or ``<project>-<service>``,
plus ``build.tags``. Progress is BuildKit-style plain lines on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, Mapping

__all__ = ["register", "build_options", "image_name", "parse_build_args", "check_build_keys",
           "services_to_build", "build_services"]


def _fail(message: str) -> Exception:
    from orchestrator.cli.errors import ShoalError
    return ShoalError(message)


def image_name(project: str, service: str, svc: Mapping[str, Any]) -> str:
    """The name compose gives a built image: ``image:`` or ``<project>-<service>``."""
    return svc.get("image") or f"{project}-{service}".lower()


def parse_build_args(items: list[str] | None, env: Mapping[str, str]) -> dict[str, str]:
    """``--build-arg K=V`` / ``--build-arg K`` (value from the environment, dropped when unset)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if eq:
            out[key] = value
        elif key in env:
            out[key] = env[key]
    return out


_IGNORED_KEYS = ("cache_from", "cache_to")
_UNSUPPORTED_KEYS = ("ssh", "secrets", "additional_contexts", "extra_hosts", "isolation", "privileged",
                     "shm_size", "ulimits", "entitlements")


def check_build_keys(service: str, build: Mapping[str, Any], warn: Callable[[str], None]) -> None:
    """Refuse compose build keys the builder cannot honour; warn for cache hints it ignores."""
    for key in _UNSUPPORTED_KEYS:
        if build.get(key):
            raise _fail(f"service {service!r}: build.{key} is not supported by shoal's builder")
    if build.get("network") not in (None, "", "default", "host"):
        raise _fail(f"service {service!r}: build.network {build['network']!r} is not supported "
                    "(RUN steps use the host network)")
    from engine.build.stages import platform_args
    host = platform_args()["TARGETPLATFORM"]
    others = [p for p in build.get("platforms") or [] if p != host]
    if others:
        raise _fail(f"service {service!r}: build.platforms {others} differ from this host ({host}); "
                    "cross-platform builds are not supported")
    for key in _IGNORED_KEYS:
        if build.get(key):
            warn(f"service {service!r}: build.{key} is ignored (shoal keeps its own local layer cache)")


def build_options(project: str, service: str, svc: Mapping[str, Any], cli_args: Mapping[str, str],
                  no_cache: bool, pull: bool) -> dict[str, Any]:
    """Keyword arguments for ``engine.build.build`` from a normalised compose service."""
    b = svc["build"]
    name = image_name(project, service, svc)
    tags = [name] + [t for t in b.get("tags") or [] if t != name]
    return {
        "context_dir": b["context"], "dockerfile": b.get("dockerfile") or "Dockerfile",
        "dockerfile_inline": b.get("dockerfile_inline"), "target": b.get("target"),
        "build_args": {**(b.get("args") or {}), **cli_args}, "labels": dict(b.get("labels") or {}),
        "tags": tags, "no_cache": bool(no_cache or b.get("no_cache")), "pull": bool(pull or b.get("pull")),
    }


class _Progress:
    """Plain mode prints every line; tty mode prints steps and statuses, keeping RUN output for errors."""

    def __init__(self, service: str, mode: str, quiet: bool) -> None:
        self.service, self.mode, self.quiet = service, mode, quiet
        self.tail: list[str] = []

    def __call__(self, line: str) -> None:
        if self.quiet:
            return
        if self.mode == "tty" and not _is_status(line):
            self.tail = (self.tail + [line])[-15:]
            return
        prefix = f"[{self.service}] " if self.mode == "tty" else ""
        print(prefix + line, file=sys.stderr, flush=True)

    def flush_tail(self) -> None:
        """After a failure in tty mode, show the output the step printed last."""
        for line in self.tail if self.mode == "tty" and not self.quiet else []:
            print(f"[{self.service}] {line}", file=sys.stderr)


def _is_status(line: str) -> bool:
    head, _, rest = line.partition(" ")
    return not head.startswith("#") or rest.startswith("[") or rest == "CACHED" or rest.startswith("DONE ")


def _engine_and_store():
    from engine.api import Engine
    from engine.images.store import ImageStore
    engine = Engine()
    return engine, ImageStore(os.path.join(engine.root, "images"))


def _cmd_build(args: argparse.Namespace) -> int:
    from orchestrator.compose.loader import ProjectOptions, load_project
    loaded = load_project(ProjectOptions.from_args(args, services=tuple(args.services)))
    services = loaded.data.get("services") or {}
    unknown = [s for s in args.services if s not in services]
    if unknown:
        raise _fail(f"no such service: {unknown[0]}")
    wanted = [s for s in (args.services or sorted(services)) if services[s].get("build")]
    cli_args = parse_build_args(args.build_args, os.environ)
    mode = args.build_progress or ("plain" if args.progress in ("auto", "plain", "json") else args.progress)
    build_services(loaded.name, services, wanted, cli_args=cli_args, no_cache=args.no_cache, pull=args.pull,
                   mode=mode, quiet=args.quiet)
    return 0


def services_to_build(project: str, services: Mapping[str, Any], targets: list[str], *,
                      force: bool) -> list[str]:
    """What `up` builds first: with --build every target that has `build:`, else those whose image is missing."""
    wanted = [s for s in targets if (services.get(s) or {}).get("build")]
    if force or not wanted:
        return wanted
    _, store = _engine_and_store()
    missing = []
    for service in wanted:
        try:
            store.lookup(image_name(project, service, services[service]))
        except Exception:  # not in the store (or unreadable): build it
            missing.append(service)
    return missing


def build_services(project: str, services: Mapping[str, Any], wanted: list[str], *,
                   cli_args: Mapping[str, str] | None = None, no_cache: bool = False, pull: bool = False,
                   mode: str = "plain", quiet: bool = False) -> None:
    """Build ``wanted`` services' images in order; one-line error naming the service on failure."""
    from engine.build import BuildError, build
    for service in wanted:
        check_build_keys(service, services[service]["build"], lambda m: print(f"WARN[0000] {m}", file=sys.stderr))
    if not wanted:
        return
    engine, store = _engine_and_store()
    for service in wanted:
        opts = build_options(project, service, services[service], dict(cli_args or {}), no_cache, pull)
        started = time.monotonic()
        progress = _Progress(service, mode, quiet or mode == "quiet")
        try:
            image_id = build(opts.pop("context_dir"), store=store, engine=engine, progress=progress, **opts)
        except BuildError as exc:
            progress.flush_tail()
            raise _fail(f"service {service!r} failed to build: {exc}") from None
        if quiet:
            print(image_id)
        else:
            print(f"Service {service}: built {opts['tags'][0]} ({image_id[7:19]}) in "
                  f"{time.monotonic() - started:.1f}s", file=sys.stderr)
    engine.close()


def _cmd_bootstrap(args: argparse.Namespace) -> int:
    from engine.build.bootstrap import BootstrapError, bootstrap, parse_target
    try:
        parse_target(args.image)
    except BootstrapError as exc:
        raise _fail(str(exc)) from None
    engine, store = _engine_and_store()
    try:
        result = bootstrap(store, args.image, mirror=args.mirror,
                           progress=lambda line: print(line, file=sys.stderr, flush=True))
    except BootstrapError as exc:
        raise _fail(str(exc)) from None
    print(result.image_id)
    print(f"tagged {', '.join(result.names)} ({result.size / 1e6:.0f} MB unpacked, "
          f"{result.seconds:.0f}s)", file=sys.stderr)
    return 0


def _cmd_builder_prune(args: argparse.Namespace) -> int:
    from engine.build.cache import BuildCache
    engine, _ = _engine_and_store()
    count = BuildCache(os.path.join(engine.root, "build-cache")).clear()
    print(f"Deleted {count} build cache entries (run `shoal image prune` to free unused layers)")
    return 0


def _add_bootstrap(sub: Any) -> None:
    p = sub.add_parser("bootstrap", help="make a base image locally: Debian with debootstrap, or busybox (offline)")
    p.add_argument("image", help="debian:<suite>, debian:<suite>-slim (e.g. debian:bookworm-slim) or busybox[:tag]")
    p.add_argument("--mirror", default=None, help="Debian mirror (default $SHOAL_DEBIAN_MIRROR or deb.debian.org)")
    p.set_defaults(func=_cmd_bootstrap)


def _image_subparsers(subparsers: Any) -> Any:
    """The sub-commands action of ``shoal image`` (made here when images_cmd is absent)."""
    image = subparsers.choices.get("image")
    if image is None:
        image = subparsers.add_parser("image", help="manage images")
    for action in image._actions:  # argparse keeps the sub-commands action only here
        if isinstance(action, argparse._SubParsersAction):
            return action
    return image.add_subparsers(dest="image_command", metavar="COMMAND")


def register(subparsers: Any) -> None:
    """Add ``build`` and ``image bootstrap``."""
    p = subparsers.add_parser("build", help="build or rebuild services")
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.add_argument("--build-arg", dest="build_args", action="append", metavar="KEY=VAL",
                   help="set build-time variables for services")
    p.add_argument("--no-cache", action="store_true", help="do not use cache when building the image")
    p.add_argument("--pull", action="store_true", help="always attempt to pull a newer version of the image")
    p.add_argument("--progress", dest="build_progress", choices=("auto", "tty", "plain", "quiet"), default=None,
                   help="type of progress output")
    p.add_argument("-q", "--quiet", action="store_true", help="don't print anything to stderr; print image ids")
    p.set_defaults(func=_cmd_build)
    _add_bootstrap(_image_subparsers(subparsers))
    builder = subparsers.add_parser("builder", help="manage the build cache")
    bsub = builder.add_subparsers(dest="builder_command", metavar="COMMAND")
    prune = bsub.add_parser("prune", help="forget every build cache entry")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt (there is no prompt)")
    prune.set_defaults(func=_cmd_builder_prune)
