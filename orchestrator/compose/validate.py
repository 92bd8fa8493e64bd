"""Stage "validate": the consistency checks Compose makes on a whole project.

Runs on the merged, normalised project dict (the shape ``docker compose config
--format json`` prints: long-syntax ports and volumes, ``depends_on`` and
``networks`` as mappings). Messages follow compose-go's wording (e.g.
``service "web" refers to undefined volume data: invalid compose project``);
each error points, through the :class:`~orchestrator.compose.parse.Locator`,
at the line the user wrote. Services are checked in name order and the first
problem found is raised, so the same project always gives the same error.

Shoal additionally refuses at load time what Docker would only refuse when
starting containers: port numbers out of range and two services publishing
the same host address, port and protocol.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any, Callable, Collection, Iterator, Mapping

from .parse import Locator, Path

__all__ = ["check_model", "parse_bytes"]

INVALID = "invalid compose project"
_CONTAINER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_BYTES = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)i?b?$", re.IGNORECASE)
_HEALTH_FIRST = ("NONE", "CMD", "CMD-SHELL")
_WILDCARD_IPS = ("", "0.0.0.0", "::")


def parse_bytes(value: Any) -> int | None:
    """A byte size as Compose reads it (base 1024: ``512m``, ``1g``, ``1.5GiB``); None if unparsable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    match = _BYTES.match(str(value).strip())
    if not match:
        return None
    power = " kmgtp".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * 1024**power)


def _as_map(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list):  # a short-syntax list of names
        return {str(item): None for item in value}
    return {}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass
class _Ctx:
    """What every check needs: the project, where to point, and what is disabled."""

    project: Mapping[str, Any]
    locator: Locator
    disabled: Collection[str]

    @property
    def services(self) -> Mapping[str, Any]:
        return _as_map(self.project.get("services"))

    def fail(self, message: str, path: Path) -> None:
        raise self.locator.error(message, path)


# --- per-service checks ------------------------------------------------------


def _check_image_build(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """Something to run: an image or a build; a build has one Dockerfile source."""
    build = svc.get("build")
    if not svc.get("image") and build is None:
        ctx.fail(f'service "{name}" has neither an image nor a build context specified: {INVALID}',
                 ("services", name))
    if isinstance(build, Mapping):
        if build.get("dockerfile") and build.get("dockerfile_inline"):
            ctx.fail(f'service "{name}" declares mutually exclusive dockerfile and dockerfile_inline: '
                     f"{INVALID}", ("services", name, "build", "dockerfile_inline"))
        platforms, platform = build.get("platforms") or [], svc.get("platform")
        if platforms and platform and platform not in platforms:
            ctx.fail(f'service.build.platforms MUST include service.platform "{platform}": {INVALID}',
                     ("services", name, "build", "platforms"))


def _check_container_name(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """container_name is a valid Docker name and unique (so one replica)."""
    cname = svc.get("container_name")
    if cname is None:
        return
    path = ("services", name, "container_name")
    if not _CONTAINER_NAME.match(str(cname)):
        ctx.fail(f'services.{name}.container_name "{cname}" is invalid: it must match '
                 f"[a-zA-Z0-9][a-zA-Z0-9_.-]+", path)
    if _replicas(svc) > 1:
        attr = "scale" if svc.get("scale") is not None else "deploy.replicas"
        ctx.fail(f"services.{name}: can't set container_name and {attr} as container name must be "
                 f"unique: {INVALID}", path)


def _check_networks(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """networks are declared and not combined with network_mode."""
    networks = _as_map(svc.get("networks"))
    if svc.get("network_mode") and networks:
        ctx.fail(f"service {name} declares mutually exclusive `network_mode` and `networks`: {INVALID}",
                 ("services", name, "network_mode"))
    defined = _as_map(ctx.project.get("networks"))
    for net in networks:
        if net not in defined:
            ctx.fail(f'service "{name}" refers to undefined network {net}: {INVALID}',
                     ("services", name, "networks", net))


def _service_ref(ctx: _Ctx, name: str, svc: Mapping[str, Any], attr: str) -> None:
    value = svc.get(attr)
    if isinstance(value, str) and value.startswith("service:"):
        target = value[len("service:"):]
        if target not in ctx.services:
            ctx.fail(f"service \"{target}\" not found for {attr} 'service:{target}'", ("services", name, attr))


def _check_service_refs(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """links, volumes_from and service:x namespaces name existing services."""
    for attr in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        _service_ref(ctx, name, svc, attr)
    for i, link in enumerate(_as_list(svc.get("links"))):
        target = str(link).split(":", 1)[0]
        if target not in ctx.services:
            ctx.fail(f'service "{name}" links to undefined service "{target}": {INVALID}',
                     ("services", name, "links", i))
    for i, entry in enumerate(_as_list(svc.get("volumes_from"))):
        text = str(entry)
        if text.startswith("container:"):
            continue
        target = text.split(":", 1)[0]
        if target not in ctx.services:
            ctx.fail(f'service "{name}" refers to undefined service "{target}" in volumes_from: {INVALID}',
                     ("services", name, "volumes_from", i))


def _check_depends_on(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """depends_on names existing services (or disabled optional ones), never itself."""
    for dep, cfg in _as_map(svc.get("depends_on")).items():
        path = ("services", name, "depends_on", dep)
        if dep == name:
            ctx.fail(f"dependency cycle detected: {name} -> {name}", path)
        if dep in ctx.services:
            continue
        required = not isinstance(cfg, Mapping) or cfg.get("required", True) is not False
        if dep in ctx.disabled and not required:
            continue
        ctx.fail(f'service "{name}" depends on undefined service "{dep}": {INVALID}', path)


def _source_of(entry: Any) -> Any:
    return entry.get("source") if isinstance(entry, Mapping) else entry


def _check_resources_refs(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """Named volumes, secrets and configs used by a service are declared."""
    volumes = _as_map(ctx.project.get("volumes"))
    for i, vol in enumerate(_as_list(svc.get("volumes"))):
        if isinstance(vol, Mapping) and vol.get("type") == "volume" and vol.get("source"):
            if vol["source"] not in volumes:
                ctx.fail(f'service "{name}" refers to undefined volume {vol["source"]}: {INVALID}',
                         ("services", name, "volumes", i, "source"))
    build = svc.get("build")
    groups = [("secrets", "secret", svc.get("secrets"), ("services", name, "secrets")),
              ("configs", "config", svc.get("configs"), ("services", name, "configs"))]
    if isinstance(build, Mapping):
        groups.append(("secrets", "build secret", build.get("secrets"),
                       ("services", name, "build", "secrets")))
    for top, label, entries, base in groups:
        defined = _as_map(ctx.project.get(top))
        for i, entry in enumerate(_as_list(entries)):
            source = _source_of(entry)
            if source is not None and source not in defined:
                ctx.fail(f'service "{name}" refers to undefined {label} {source}: {INVALID}', base + (i,))


def _check_healthcheck(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """healthcheck.test starts with NONE/CMD/CMD-SHELL; start_interval needs start_period."""
    health = svc.get("healthcheck")
    if not isinstance(health, Mapping):
        return
    test = health.get("test")
    if isinstance(test, list) and test and test[0] not in _HEALTH_FIRST:
        ctx.fail(f'services.{name}.healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"',
                 ("services", name, "healthcheck", "test", 0))
    if health.get("start_interval") is not None and health.get("start_period") is None:
        ctx.fail(f"services.{name}: healthcheck.start_interval requires healthcheck.start_period to be set",
                 ("services", name, "healthcheck", "start_interval"))


def _replicas(svc: Mapping[str, Any]) -> int:
    deploy = svc.get("deploy") if isinstance(svc.get("deploy"), Mapping) else {}
    for value in (svc.get("scale"), deploy.get("replicas")):
        if value is not None:
            try:
                return int(value)
            except (TypeError, ValueError):
                return 1
    return 1


def _deploy_path(svc: Mapping[str, Any], *keys: str) -> Any:
    node: Any = svc.get("deploy")
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _same_number(a: Any, b: Any, convert: Callable[[Any], Any]) -> bool:
    try:
        return convert(a) == convert(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _check_scale_and_limits(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """scale/replicas and the legacy resource keys agree with deploy."""
    scale, replicas = svc.get("scale"), _deploy_path(svc, "replicas")
    for attr, value in (("scale", scale), ("deploy.replicas", replicas)):
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            ctx.fail(f"services.{name}.{attr} must be greater than or equal to 0: {INVALID}",
                     ("services", name, *attr.split(".")))
    if scale is not None and replicas is not None and not _same_number(scale, replicas, int):
        ctx.fail(f"services.{name}: can't set distinct values on 'scale' and 'deploy.replicas': {INVALID}",
                 ("services", name, "scale"))
    pairs = (("cpus", ("resources", "limits", "cpus"), float),
             ("mem_limit", ("resources", "limits", "memory"), parse_bytes),
             ("mem_reservation", ("resources", "reservations", "memory"), parse_bytes),
             ("pids_limit", ("resources", "limits", "pids"), int))
    for attr, keys, convert in pairs:
        ours, theirs = svc.get(attr), _deploy_path(svc, *keys)
        if ours is None or theirs is None or _same_number(ours, theirs, convert):
            continue
        ctx.fail(f"services.{name}: can't set distinct values on '{attr}' and 'deploy.{'.'.join(keys)}': "
                 f"{INVALID}", ("services", name, attr))


def _tmpfs_targets(svc: Mapping[str, Any]) -> Iterator[tuple[int, str]]:
    for i, entry in enumerate(_as_list(svc.get("tmpfs"))):
        yield i, str(entry).split(":", 1)[0]


def _check_mount_targets(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """No tmpfs mounts over a path a volume already mounts."""
    seen: dict[str, str] = {}
    for i, vol in enumerate(_as_list(svc.get("volumes"))):
        if isinstance(vol, Mapping) and vol.get("target"):
            seen.setdefault(posixpath.normpath(str(vol["target"])), "volumes")
    for i, target in _tmpfs_targets(svc):
        clean = posixpath.normpath(target)
        if clean in seen:
            ctx.fail(f'service "{name}" mounts {clean} twice (tmpfs and {seen[clean]}): duplicate mount '
                     f"target: {INVALID}", ("services", name, "tmpfs", i))
        seen[clean] = "tmpfs"


def _port_range(value: Any) -> tuple[int, int] | None:
    """``8080`` or ``"8000-8005"`` as (first, last); None when unset or unparsable."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    first, _, last = text.partition("-")
    try:
        return int(first), int(last or first)
    except ValueError:
        return None


def _check_port_numbers(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """Published and target ports are valid port numbers or ranges."""
    for i, port in enumerate(_as_list(svc.get("ports"))):
        if not isinstance(port, Mapping):
            continue
        for key, low in (("target", 1), ("published", 0)):
            span = _port_range(port.get(key))
            if span is None:
                continue
            bad = next((n for n in span if not low <= n <= 65535), None)
            if bad is not None or span[0] > span[1]:
                shown = port.get(key)
                ctx.fail(f"services.{name}.ports.{i}: invalid {key} port {shown}: port numbers must be "
                         f"between {low} and 65535: {INVALID}", ("services", name, "ports", i, key))


def _check_expose(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """Exposed ports are valid port numbers or ranges."""
    for i, entry in enumerate(_as_list(svc.get("expose"))):
        span = _port_range(str(entry).split("/", 1)[0])
        if span is not None and (not 1 <= span[0] <= span[1] <= 65535):
            ctx.fail(f"services.{name}.expose.{i}: invalid port {entry}: port numbers must be between 1 "
                     f"and 65535: {INVALID}", ("services", name, "expose", i))


def _check_watch(ctx: _Ctx, name: str, svc: Mapping[str, Any]) -> None:
    """develop.watch rules other than rebuild say where to sync."""
    develop = svc.get("develop")
    watch = develop.get("watch") if isinstance(develop, Mapping) else None
    for i, rule in enumerate(_as_list(watch)):
        if isinstance(rule, Mapping) and rule.get("action") != "rebuild" and not rule.get("target"):
            ctx.fail(f"services.{name}.develop.watch: target is required for non-rebuild actions: {INVALID}",
                     ("services", name, "develop", "watch", i))


_SERVICE_CHECKS: tuple[Callable[[_Ctx, str, Mapping[str, Any]], None], ...] = (
    _check_image_build,
    _check_container_name,
    _check_networks,
    _check_service_refs,
    _check_depends_on,
    _check_resources_refs,
    _check_healthcheck,
    _check_scale_and_limits,
    _check_mount_targets,
    _check_port_numbers,
    _check_expose,
    _check_watch,
)


# --- whole-project checks ----------------------------------------------------


def _check_secrets(ctx: _Ctx) -> None:
    """A project secret has a source unless it is external."""
    for name in sorted(_as_map(ctx.project.get("secrets"))):
        secret = ctx.project["secrets"][name] or {}
        if secret.get("external") in (True, "true") or isinstance(secret.get("external"), Mapping):
            continue
        if not secret.get("file") and not secret.get("environment"):
            ctx.fail(f'secret "{name}" must declare either `file` or `environment`: {INVALID}',
                     ("secrets", name))


def _check_cycles(ctx: _Ctx) -> None:
    """Depth-first search in name order, like compose-go, so the message is stable."""
    graph = {n: sorted(d for d in _as_map((s or {}).get("depends_on")) if d in ctx.services)
             for n, s in ctx.services.items()}
    done: set[str] = set()

    def visit(trail: list[str]) -> None:
        for child in graph[trail[-1]]:
            if child in trail:
                cycle = trail[trail.index(child):] + [child]
                ctx.fail(f"dependency cycle detected: {' -> '.join(cycle)}",
                         ("services", trail[-1], "depends_on", child))
            if child not in done:
                visit(trail + [child])
        done.add(trail[-1])

    for name in sorted(graph):
        if name not in done:
            visit([name])


def _published(ctx: _Ctx) -> Iterator[tuple[str, int, Mapping[str, Any], int]]:
    for name in sorted(ctx.services):
        for i, port in enumerate(_as_list((ctx.services[name] or {}).get("ports"))):
            if isinstance(port, Mapping):
                span = _port_range(port.get("published"))
                if span is not None and span[0] == span[1] and span[0] != 0:
                    yield name, i, port, span[0]


def _check_port_conflicts(ctx: _Ctx) -> None:
    """No two published ports claim the same host address, port and protocol."""
    taken: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for name, i, port, number in _published(ctx):
        proto = str(port.get("protocol") or "tcp").lower()
        ip = str(port.get("host_ip") or "")
        for other_ip, owner in taken.get((number, proto), []):
            if ip == other_ip or ip in _WILDCARD_IPS or other_ip in _WILDCARD_IPS:
                where = f"{ip or '0.0.0.0'}:{number}/{proto}"
                ctx.fail(f'service "{name}" publishes {where}, which service "{owner}" already publishes: '
                         "port is already allocated", ("services", name, "ports", i, "published"))
        taken.setdefault((number, proto), []).append((ip, name))


def check_model(project: Mapping[str, Any], locator: Locator, *, disabled: Collection[str] = ()) -> None:
    """Raise the first consistency error of ``project`` as a positioned ComposeError.

    ``disabled`` names services removed by profiles: a ``depends_on`` on one of
    them with ``required: false`` is not an error.
    """
    ctx = _Ctx(project, locator, disabled)
    for name in sorted(ctx.services):
        svc = ctx.services[name] or {}
        for check in _SERVICE_CHECKS:
            check(ctx, name, svc)
    _check_cycles(ctx)
    _check_secrets(ctx)
    _check_port_conflicts(ctx)
