"""Convert a normalised compose project into Kubernetes manifests (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .containers import env_objects
from .context import Context, ConversionWarning, Options, Warning
from .deps import rbac_objects
from .files import file_objects
from .services import SERVICE_TYPES, cluster_services, headless_service, published_service
from .storage import claims, exclusive_volumes, external_objects
from .unsupported import warn_deploy, warn_unsupported
from .workloads import plan, workload

__all__ = ["convert", "Conversion", "Warning", "ConversionWarning", "KIND_ORDER"]

# The order objects are emitted (and applied): what others refer to comes first.
KIND_ORDER = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret",
              "PersistentVolumeClaim", "Service", "Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass
class Conversion:
    """The manifests, in apply order, and everything that could not be expressed."""

    manifests: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[ConversionWarning] = field(default_factory=list)
    external: list[tuple[str, str]] = field(default_factory=list)  # (kind, name) that must pre-exist


def _project_warnings(ctx: Context) -> None:
    """Project-level losses: network isolation."""
    custom = [n for n, net in ctx.section("networks").items() if n != "default" and not net.get("external")]
    if len(custom) > 1 or any(net.get("internal") for net in ctx.section("networks").values()):
        ctx.warn("", "networks", f"{', '.join(custom)}: Kubernetes has one flat pod network, so "
                 "services on different networks can reach each other (add NetworkPolicies)")


def _namespace(ctx: Context) -> list[dict[str, Any]]:
    """The Namespace object when one was asked for."""
    if not ctx.options.namespace:
        return []
    meta = {"name": ctx.options.namespace, "labels": ctx.labels(None)}
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": meta}]


def convert(project: Mapping[str, Any], *, namespace: str | None = None,
            replicas_from_scale: bool = True, service_type: str = "NodePort",
            default_volume_size: str = "1Gi",
            read_file: Callable[[str], bytes] | None = None,
            environ: Mapping[str, str] | None = None) -> Conversion:
    """Manifests for a normalised project; read_file/environ supply config and secret content."""
    if service_type not in SERVICE_TYPES:
        raise ValueError(f"service_type must be one of {', '.join(SERVICE_TYPES)}")
    options = Options(namespace, replicas_from_scale, service_type, default_volume_size, read_file, environ)
    ctx = Context(project, options)
    exclusive = exclusive_volumes(ctx)
    the_plan = plan(ctx, exclusive)
    objects: list[dict[str, Any]] = _namespace(ctx)
    objects += file_objects(ctx)
    templated = {v for vols in the_plan.templated.values() for v in vols}
    objects += claims(ctx, templated, the_plan.replicas)
    objects += cluster_services(ctx)
    for service, svc in ctx.services.items():
        warn_unsupported(svc, service, ctx)
        warn_deploy(svc, service, ctx)
        objects += env_objects(svc, service, ctx)
        if the_plan.kinds[service] == "StatefulSet":
            objects.append(headless_service(ctx, service))
        published = published_service(ctx, service)
        if published:
            objects.append(published)
        objects.append(workload(ctx, service, the_plan))
    if any(o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")
           and o["spec"]["template"]["spec"].get("initContainers") for o in objects):
        objects += rbac_objects(ctx)
    _project_warnings(ctx)
    objects.sort(key=lambda o: KIND_ORDER.index(o["kind"]))
    return Conversion(objects, ctx.warnings, external_objects(ctx))
