"""The last loading stage: the merged model as ``docker compose config`` prints it.

After :func:`canonical.canonicalize` (long syntax, absolute paths) this adds
what Compose infers (compose-go ``loader/normalize.go``): the project ``name``,
the implicit ``default`` network for services that attach to nothing, resource
names ``<project>_<key>``, implicit ``depends_on`` from links, shared
namespaces and ``volumes_from``, build defaults, and each service's
environment with ``env_file`` folded in. It never checks references: the
validate stage does that on this output.
"""

from __future__ import annotations

import copy
import os
from typing import Any, Mapping

from . import dotenv
from .canonical import canonicalize
from .environment import resolve_service_environment
from .errors import ComposeError
from .parse import Locator

__all__ = ["normalize", "implicit_dependencies"]

_NAMESPACES = ("network_mode", "ipc", "pid", "uts", "cgroup")
_RESOURCES = ("networks", "volumes", "secrets", "configs")


def implicit_dependencies(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Dependencies Compose adds for ``links``, ``<ns>: service:x`` and ``volumes_from``."""
    deps: dict[str, dict[str, Any]] = {}
    started = {"condition": "service_started", "required": True}
    for link in service.get("links") or []:
        deps.setdefault(str(link).split(":")[0], dict(started, restart=True))
    for key in _NAMESPACES:
        value = service.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            deps.setdefault(value[len("service:") :], dict(started, restart=True))
    for ref in service.get("volumes_from") or []:
        ref = str(ref)
        if not ref.startswith("container:"):
            deps.setdefault(ref.split(":")[0], dict(started))
    return deps


def _add_dependencies(service: dict[str, Any]) -> None:
    implicit = implicit_dependencies(service)
    if not implicit:
        return
    explicit = dict(service.get("depends_on") or {})
    for name, dep in implicit.items():
        explicit.setdefault(name, dep)
    service["depends_on"] = explicit


def _labels_from_files(service: dict[str, Any], env: Mapping[str, str]) -> None:
    """Fold ``label_file`` into ``labels`` (labels written in the service win)."""
    files = service.get("label_file") or []
    if not files:
        return
    labels: dict[str, str] = {}
    for path in files:
        labels.update(dotenv.read_dotenv(path, env.get))
    labels.update(service.get("labels") or {})
    service["labels"] = labels


def _environment(service: dict[str, Any], env: Mapping[str, str], working_dir: str) -> None:
    if service.get("environment") is None and not service.get("env_file"):
        return
    resolved = resolve_service_environment(service, env, working_dir)
    if resolved:
        service["environment"] = resolved
    else:
        service.pop("environment", None)


def _build_defaults(service: dict[str, Any], env: Mapping[str, str]) -> None:
    build = service.get("build")
    if not isinstance(build, dict):
        return
    if not build.get("dockerfile") and not build.get("dockerfile_inline"):
        build["dockerfile"] = "Dockerfile"
    args = build.get("args")
    if isinstance(args, dict):
        resolved = {k: (env[k] if v is None else v) for k, v in args.items() if v is not None or k in env}
        build["args"] = resolved
        if not resolved:
            del build["args"]


def _hooks_inherit_image(service: dict[str, Any]) -> None:
    image = service.get("image")
    if not image:
        return
    for hook in service.get("pre_start") or []:
        if isinstance(hook, dict):
            hook.setdefault("image", image)


def _name_resources(model: dict[str, Any], project: str) -> None:
    for kind in _RESOURCES:
        section = model.get(kind)
        if not isinstance(section, dict):
            continue
        for key, spec in list(section.items()):
            spec = dict(spec or {})
            if not spec.get("name"):
                name = key if spec.get("external") else f"{project}_{key}"
                spec = {"name": name, **spec}
            section[key] = spec


def _default_network(model: dict[str, Any]) -> None:
    needed = False
    for service in (model.get("services") or {}).values():
        if not service.get("networks") and not service.get("network_mode"):
            service["networks"] = {"default": None}
        if "default" in (service.get("networks") or {}):
            needed = True
    if needed:
        networks = model.setdefault("networks", {})
        networks.setdefault("default", {})


def _service(
    service: dict[str, Any], env: Mapping[str, str], working_dir: str, *, discard_env_files: bool
) -> None:
    _environment(service, env, working_dir)
    if discard_env_files:
        service.pop("env_file", None)
    _labels_from_files(service, env)
    _add_dependencies(service)
    _build_defaults(service, env)
    _hooks_inherit_image(service)


def normalize(
    model: Mapping[str, Any],
    *,
    project_name: str,
    working_dir: str,
    env: Mapping[str, str],
    locator: Locator | None = None,
    skip_normalization: bool = False,
    discard_env_files: bool = True,
) -> dict[str, Any]:
    """Return ``model`` as ``docker compose config --format json`` prints it (as plain data).

    ``skip_normalization`` stops after canonical form, paths and environment
    (compose-go's ``SkipNormalization``); ``discard_env_files=False`` keeps
    ``env_file`` after folding it into ``environment``.
    """
    data = copy.deepcopy(dict(model))
    data.pop("version", None)
    data.pop("name", None)
    home = env.get("HOME") or os.path.expanduser("~")
    data = canonicalize(data, working_dir=working_dir, home=home, locator=locator)
    working_dir = os.path.abspath(working_dir)
    services = data.setdefault("services", {})
    for name, service in services.items():
        try:
            if skip_normalization:
                _environment(service, env, working_dir)
                _labels_from_files(service, env)
                if discard_env_files:
                    service.pop("env_file", None)
            else:
                _service(service, env, working_dir, discard_env_files=discard_env_files)
        except ComposeError as exc:
            if locator is not None and exc.pos is None:
                raise exc.at(locator.find(("services", name))) from None
            raise
    if not skip_normalization:
        _default_network(data)
        _name_resources(data, project_name)
    return {"name": project_name, **data}
