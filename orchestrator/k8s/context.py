"""Shared state of one conversion: options, the project, names and the warnings found."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .names import Namer, standard_labels

__all__ = ["Warning", "ConversionWarning", "Options", "Context"]


class ConversionWarning(NamedTuple):
    """Something of the compose file the manifests cannot express (service "" = project level)."""

    service: str
    key: str
    message: str

    def __str__(self) -> str:
        """The line printed on stderr."""
        where = f"service {self.service!r}" if self.service else "project"
        return f"WARN {where}: {self.key}: {self.message}"


Warning = ConversionWarning  # the name the public API uses


@dataclass(frozen=True)
class Options:
    """What the user chose on the command line."""

    namespace: str | None = None
    replicas_from_scale: bool = True
    service_type: str = "NodePort"
    default_volume_size: str = "1Gi"
    read_file: Callable[[str], bytes] | None = None
    environ: Mapping[str, str] | None = None


@dataclass
class Context:
    """The project being converted, with helpers shared by the per-kind modules."""

    project: Mapping[str, Any]
    options: Options
    warnings: list[ConversionWarning] = field(default_factory=list)
    namer: Namer = field(default_factory=Namer)

    def __post_init__(self) -> None:
        """Name the project and every service up front, so references agree."""
        self.project_name = str(self.project.get("name") or "project")
        self.instance = self.namer.label_value(self.project_name)
        for service in self.services:
            self.namer.reserve_service(service, self.warn)

    @property
    def services(self) -> Mapping[str, Mapping[str, Any]]:
        """The project's services (normalised dicts)."""
        return self.project.get("services") or {}

    def section(self, key: str) -> Mapping[str, Mapping[str, Any]]:
        """A top-level section (volumes, secrets, configs, networks), never None."""
        return {k: (v or {}) for k, v in (self.project.get(key) or {}).items()}

    def warn(self, service: str, key: str, message: str) -> None:
        """Record a warning once."""
        item = ConversionWarning(service, key, message)
        if item not in self.warnings:
            self.warnings.append(item)

    def name(self, service: str) -> str:
        """The Kubernetes name (DNS-1035 label) of a service."""
        return self.namer.service(service)

    def selector(self, service: str) -> dict[str, str]:
        """Labels that select the pods of one service."""
        return {
            "app.kubernetes.io/name": self.name(service),
            "app.kubernetes.io/instance": self.instance,
        }

    def labels(self, service: str | None, component: str | None = None) -> dict[str, str]:
        """The app.kubernetes.io/* labels of an object belonging to a service (or the project)."""
        return standard_labels(
            self.instance, self.name(service) if service else None, component
        )

    def meta(self, name: str, service: str | None = None, **extra: Any) -> dict[str, Any]:
        """Object metadata: name, namespace and standard labels."""
        meta: dict[str, Any] = {"name": name}
        if self.options.namespace:
            meta["namespace"] = self.options.namespace
        meta["labels"] = self.labels(service)
        meta.update(extra)
        return meta
