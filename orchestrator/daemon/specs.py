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
        self._cache: dict[str, tuple[int, tuple[str, Mapping[str, Any]]]] = {}
        self._lock = threading.Lock()

    def _image(self, ref: str | None) -> tuple[str, Mapping[str, Any]] | None:
        """(id, OCI ``config``) of a stored image, None when it is not stored.

        Cached per reference until the store's index changes (a build, pull or tag), so a
        rebuilt image is seen at once.
        """
        if not ref:
            return None
        try:
            stamp = os.stat(os.path.join(self.images_root, "index.json")).st_mtime_ns
        except OSError:
            return None
        with self._lock:
            hit = self._cache.get(ref)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        try:
            from engine.images.store import ImageStore  # heavy: only when a spec is made
            image = ImageStore(self.images_root).lookup(ref)
            found: tuple[str, Mapping[str, Any]] | None = (image.id, dict(image.config.get("config") or {}))
        except Exception:  # unknown image: the engine reports it at create
            found = None
        with self._lock:
            if found is not None:
                self._cache[ref] = (stamp, found)
        return found

    def image_config(self, ref: str | None) -> Mapping[str, Any] | None:
        """The ``config`` part of the image's OCI config, None when the image is not stored."""
        found = self._image(ref)
        return found[1] if found else None

    def image_id(self, ref: str | None) -> str:
        """The id ``ref`` resolves to in the store ("" when it is not stored)."""
        found = self._image(ref)
        return found[0] if found else ""

    def image_ids(self, project: Project) -> dict[str, str]:
        """service -> image id, for the plan's config hashes."""
        return {name: self.image_id(_image_ref(project, svc)) for name, svc in project.services.items()}

    def spec(self, project: Project, rec: ProjectRecord, service: Service, number: int, *,
             oneoff: bool = False, name: str | None = None) -> ContainerSpec:
        ref = _image_ref(project, service)
        return container_spec(project, service, number, image_config=self.image_config(ref),
                              working_dir=rec.working_dir, config_files=rec.config_files,
                              oneoff=oneoff, name=name, image_id=self.image_id(ref))

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


def _image_ref(project: Project, service: Service) -> str:
    """The image a service runs: ``image:``, else the name compose gives a built image."""
    return service.image or f"{project.name}-{service.name}"
