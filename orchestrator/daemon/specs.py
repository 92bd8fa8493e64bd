"""From a plan's create actions to engine specs: ``to_spec.container_spec`` plus the image config.

The image's OCI config (Entrypoint, Cmd, Healthcheck) is read from the store
once per reference, so a HEALTHCHECK baked into an image is probed too.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from typing import Any, Callable, Mapping

from engine.spec import ContainerSpec
from orchestrator.compose.model import Project, Service
from orchestrator.daemon.state import ProjectRecord
from orchestrator.reconciler.actions import CreateContainer, ReplaceUnhealthy
from orchestrator.to_spec import container_spec

__all__ = ["SpecMaker"]


class SpecMaker:
    """Builds ContainerSpecs for a project's slots and one-off runs."""

    def __init__(self, root: str) -> None:
        self.images_root = os.path.join(root, "images")
        self._cache: dict[str, Mapping[str, Any] | None] = {}
        self._lock = threading.Lock()

    def image_config(self, ref: str | None) -> Mapping[str, Any] | None:
        """The ``config`` part of the image's OCI config, None when the image is not stored."""
        if not ref:
            return None
        with self._lock:
            if ref in self._cache:
                return self._cache[ref]
        try:
            from engine.images.store import ImageStore  # heavy: only when a spec is made
            image = ImageStore(self.images_root).lookup(ref)
            cfg: Mapping[str, Any] | None = dict(image.config.get("config") or {})
        except Exception:  # unknown image: the engine reports it at create
            cfg = None
        with self._lock:
            if cfg is not None:
                self._cache[ref] = cfg
        return cfg

    def spec(self, project: Project, rec: ProjectRecord, service: Service, number: int, *,
             oneoff: bool = False, name: str | None = None) -> ContainerSpec:
        return container_spec(project, service, number, image_config=self.image_config(service.image),
                              working_dir=rec.working_dir, config_files=rec.config_files,
                              oneoff=oneoff, name=name)

    def factory(self, project: Project, rec: ProjectRecord) -> Callable[[CreateContainer | ReplaceUnhealthy],
                                                                           ContainerSpec]:
        """The executor's ``spec_for``: the spec of the slot an action creates."""
        def spec_for(action: CreateContainer | ReplaceUnhealthy) -> ContainerSpec:
            return self.spec(project, rec, project.service(action.service), action.number)
        return spec_for

    def oneoff(self, project: Project, rec: ProjectRecord, service: Service, name: str,
               overrides: Mapping[str, Any]) -> ContainerSpec:
        """The spec of ``run``: the service with command/entrypoint/env/user/workdir replaced."""
        changes: dict[str, Any] = {}
        if overrides.get("command"):
            changes["command"] = tuple(overrides["command"])
        if overrides.get("entrypoint") is not None:
            changes["entrypoint"] = tuple(overrides["entrypoint"])
        if overrides.get("env"):
            env = dict(service.environment)
            for item in overrides["env"]:
                k, _, v = str(item).partition("=")
                env[k] = v
            changes["environment"] = env
        for key, field in (("user", "user"), ("workdir", "working_dir")):
            if overrides.get(key):
                changes[field] = overrides[key]
        extras = dict(service.extras)
        for key in ("tty", "interactive"):
            if overrides.get(key) is not None:
                extras["tty" if key == "tty" else "stdin_open"] = bool(overrides[key])
        changes["extras"] = extras
        changes["container_name"] = None
        changes["restart"] = None
        changes["deploy"] = dataclasses.replace(service.deploy, restart_policy=None) if service.deploy else None
        svc = dataclasses.replace(service, **changes)
        return self.spec(project, rec, svc, 1, oneoff=True, name=name)
