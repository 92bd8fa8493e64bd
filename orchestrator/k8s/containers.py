"""The main container of a service: image, command, environment, ports, resources, probes."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from .context import Context
from .files import SECRET_NAME
from .names import dns_label, port_name
from .probes import container_probes
from .resources import container_resources
from .security import container_security

__all__ = ["escape", "container_ports", "env_objects", "main_container", "image_of"]

_PULL = {"always": "Always", "never": "Never", "missing": "IfNotPresent", "if_not_present": "IfNotPresent"}


def escape(text: str) -> str:
    """Escape `$` so Kubernetes' $(VAR) expansion leaves the text as Compose gave it."""
    return text.replace("$", "$$")


def _argv(value: Any) -> list[str] | None:
    """command/entrypoint as a list (a string is split like a shell would)."""
    if value is None:
        return None
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _expose(entry: Any) -> list[tuple[int, str]]:
    """An `expose` entry ("80", "3000-3002", "53/udp") to (port, protocol) pairs."""
    text, _, proto = str(entry).partition("/")
    low, _, high = text.partition("-")
    return [(p, proto or "tcp") for p in range(int(low), int(high or low) + 1)]


def container_ports(svc: Mapping[str, Any]) -> list[tuple[int, str]]:
    """(port, protocol) the container listens on, from `ports` targets and `expose`, de-duplicated."""
    seen: list[tuple[int, str]] = []
    pairs = [(int(p["target"]), str(p.get("protocol") or "tcp")) for p in svc.get("ports") or []]
    for entry in svc.get("expose") or []:
        pairs.extend(_expose(entry))
    for port, proto in pairs:
        if (port, proto.lower()) not in seen:
            seen.append((port, proto.lower()))
    return seen


def image_of(svc: Mapping[str, Any], service: str, ctx: Context) -> str:
    """The image to run; a build-only service runs the image Compose would have tagged."""
    if svc.get("build"):
        image = svc.get("image") or f"{ctx.project_name}-{service}"
        ctx.warn(service, "build", f"images are not built; build and push {image!r} to a "
                 "registry the cluster can pull from")
        return str(image)
    return str(svc.get("image") or "")


def env_objects(svc: Mapping[str, Any], service: str, ctx: Context) -> list[dict[str, Any]]:
    """For a service with env_file: a ConfigMap of its variables, and a Secret of credential-like ones."""
    if not svc.get("env_file"):
        return []
    env = {k: str(v) for k, v in (svc.get("environment") or {}).items() if v is not None}
    plain = {k: v for k, v in env.items() if not SECRET_NAME.search(k)}
    secret = {k: v for k, v in env.items() if SECRET_NAME.search(k)}
    name = f"{ctx.name(service)}-env"
    out: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": ctx.meta(name, service), "data": plain}]
    if secret:
        out.append({"apiVersion": "v1", "kind": "Secret", "metadata": ctx.meta(name, service),
                    "type": "Opaque", "stringData": secret})
    return out


def _env(svc: Mapping[str, Any], service: str, ctx: Context, c: dict[str, Any]) -> None:
    """env inline, or envFrom the service's env ConfigMap/Secret when it reads env files."""
    environment = {k: v for k, v in (svc.get("environment") or {}).items() if v is not None}
    if svc.get("env_file"):
        name = f"{ctx.name(service)}-env"
        c["envFrom"] = [{"configMapRef": {"name": name}}]
        if any(SECRET_NAME.search(k) for k in environment):
            c["envFrom"].append({"secretRef": {"name": name}})
    elif environment:
        c["env"] = [{"name": k, "value": escape(str(v))} for k, v in environment.items()]


def _ports(svc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """containerPort entries, named for the Services that target them."""
    return [{"name": port_name(proto, port), "containerPort": port, "protocol": proto.upper()}
            for port, proto in container_ports(svc)]


def main_container(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any]:
    """The container spec (volume mounts are added by the workload)."""
    c: dict[str, Any] = {"name": dns_label(service, letter_first=False), "image": image_of(svc, service, ctx)}
    if svc.get("pull_policy") in _PULL:
        c["imagePullPolicy"] = _PULL[svc["pull_policy"]]
    command, args = _argv(svc.get("entrypoint")), _argv(svc.get("command"))
    if command:
        c["command"] = [escape(a) for a in command]
    if args:
        c["args"] = [escape(a) for a in args]
    if command == [] or args == []:
        ctx.warn(service, "entrypoint" if command == [] else "command",
                 "an empty list (reset to nothing) cannot be expressed; the image default is used")
    if svc.get("working_dir"):
        c["workingDir"] = str(svc["working_dir"])
    _env(svc, service, ctx, c)
    ports = _ports(svc)
    if ports:
        c["ports"] = ports
    resources = container_resources(svc, service, ctx)
    if resources:
        c["resources"] = resources
    c.update(container_probes(svc, service, ctx))
    security = container_security(svc, service, ctx)
    if security:
        c["securityContext"] = security
    if svc.get("tty"):
        c["tty"] = True
    if svc.get("stdin_open"):
        c["stdin"] = True
    return c
