"""Volumes: PVCs for named volumes, emptyDir for tmpfs, and the pod volumes/mounts of a service."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator.compose.units import parse_bytes

from .context import Context
from .files import file_mounts, object_name
from .names import dns_label
from .resources import memory_quantity

__all__ = ["PodStorage", "volume_users", "exclusive_volumes", "pod_storage", "claims", "volume_settings",
           "claim_name", "external_objects"]


@dataclass
class PodStorage:
    """What a pod template needs: volumes, the container's mounts and StatefulSet claim templates."""

    volumes: list[dict[str, Any]] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    claim_templates: list[dict[str, Any]] = field(default_factory=list)

    def add(self, volume: dict[str, Any], mount: dict[str, Any]) -> None:
        """Declare a pod volume (a unique name is chosen) and mount it."""
        taken = {v["name"] for v in self.volumes} | {c["metadata"]["name"] for c in self.claim_templates}
        base, n = volume["name"], 2
        while volume["name"] in taken:
            volume["name"], n = f"{base[:58]}-{n}", n + 1
        self.volumes.append(volume)
        self.mounts.append(dict(mount, name=volume["name"]))


def _named(ctx: Context, mount: Mapping[str, Any]) -> str | None:
    """The top-level volume a service mount refers to (None: anonymous or not a volume)."""
    if mount.get("type") != "volume" or not mount.get("source"):
        return None
    return str(mount["source"]) if mount["source"] in ctx.section("volumes") else None


def volume_users(ctx: Context) -> dict[str, list[tuple[str, bool]]]:
    """Named volume -> [(service, read_only)] of every service that mounts it."""
    users: dict[str, list[tuple[str, bool]]] = {}
    for service, svc in ctx.services.items():
        for mount in svc.get("volumes") or []:
            name = _named(ctx, mount)
            if name:
                users.setdefault(name, []).append((service, bool(mount.get("read_only"))))
    return users


def exclusive_volumes(ctx: Context) -> dict[str, list[str]]:
    """Service -> named volumes only it mounts, read-write, and the project creates (per-replica state)."""
    out: dict[str, list[str]] = {}
    for name, users in volume_users(ctx).items():
        if ctx.section("volumes")[name].get("external"):
            continue
        if len({s for s, _ in users}) == 1 and not any(ro for _, ro in users):
            out.setdefault(users[0][0], []).append(name)
    return out


def claim_name(ctx: Context, name: str) -> str:
    """The PVC a named volume is: its own for project volumes, `name:` for external ones."""
    vol = ctx.section("volumes")[name]
    if vol.get("external"):
        return dns_label(str(vol.get("name") or name), letter_first=False)
    return dns_label(name)


def external_objects(ctx: Context) -> list[tuple[str, str]]:
    """(kind, name) of external volumes, configs and secrets services use: they must pre-exist."""
    out: list[tuple[str, str]] = []
    for name in volume_users(ctx):
        if ctx.section("volumes")[name].get("external"):
            out.append(("PersistentVolumeClaim", claim_name(ctx, name)))
    for section, kind in (("configs", "ConfigMap"), ("secrets", "Secret")):
        used = {str(ref.get("source")) for svc in ctx.services.values() for ref in svc.get(section) or []}
        for key, item in ctx.section(section).items():
            if key in used and item.get("external"):
                out.append((kind, object_name(ctx, section, key)))
    return out


def volume_settings(ctx: Context, name: str) -> dict[str, Any]:
    """The x-kubernetes extension of a top-level volume (size, storage_class, access_modes)."""
    ext = ctx.section("volumes")[name].get("x-kubernetes") or {}
    return ext if isinstance(ext, Mapping) else {}


def _claim_spec(ctx: Context, name: str, modes: list[str]) -> dict[str, Any]:
    """A PVC spec with the size and class of the volume's extension, else the defaults."""
    ext = volume_settings(ctx, name)
    spec: dict[str, Any] = {
        "accessModes": list(ext.get("access_modes") or modes),
        "resources": {"requests": {"storage": str(ext.get("size") or ctx.options.default_volume_size)}},
    }
    if ext.get("storage_class"):
        spec["storageClassName"] = str(ext["storage_class"])
    vol = ctx.section("volumes")[name]
    if vol.get("driver") or vol.get("driver_opts"):
        ctx.warn("", f"volumes.{name}", "driver and driver_opts have no PVC equivalent; "
                 "set x-kubernetes.storage_class instead")
    return spec


def claims(ctx: Context, templated: set[str], replicas: Mapping[str, int]) -> list[dict[str, Any]]:
    """PersistentVolumeClaims for the named volumes not turned into StatefulSet claim templates."""
    out = []
    for name, users in volume_users(ctx).items():
        if name in templated or ctx.section("volumes")[name].get("external"):
            continue
        services = sorted({s for s, _ in users})
        pods = sum(replicas.get(s, 1) for s in services)
        modes = ["ReadWriteOnce"]
        if pods > 1:
            modes = ["ReadWriteMany"]
            ctx.warn("", f"volumes.{name}", f"shared by {', '.join(services)} "
                     f"({pods} pods): the claim asks for ReadWriteMany, which needs a storage "
                     "class that supports it")
        out.append({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": ctx.meta(dns_label(name), None),
            "spec": _claim_spec(ctx, name, modes),
        })
    return out


def _claim_template(ctx: Context, name: str, service: str) -> dict[str, Any]:
    """A StatefulSet volumeClaimTemplate: one volume per replica."""
    meta = {"name": dns_label(name), "labels": ctx.labels(service)}
    return {"metadata": meta, "spec": _claim_spec(ctx, name, ["ReadWriteOnce"])}


def _tmpfs_volume(size: Any) -> dict[str, Any]:
    """An in-memory emptyDir, limited like the tmpfs was."""
    empty: dict[str, Any] = {"medium": "Memory"}
    if size not in (None, "", 0, "0"):
        empty["sizeLimit"] = memory_quantity(size)
    return {"name": "tmpfs", "emptyDir": empty}


def _tmpfs_option(entry: str) -> tuple[str, Any]:
    """A short `tmpfs:` entry ("/run:size=64m,mode=1777") to (target, size)."""
    target, _, opts = entry.partition(":")
    size = None
    for opt in opts.split(","):
        key, _, value = opt.partition("=")
        if key == "size" and value:
            size = parse_bytes(value)
    return target, size


def _mount(storage: PodStorage, ctx: Context, service: str, m: Mapping[str, Any],
           templated: list[str]) -> None:
    """Add one compose volume mount to the pod."""
    kind, target = m.get("type"), str(m.get("target"))
    mount: dict[str, Any] = {"mountPath": target}
    if m.get("read_only"):
        mount["readOnly"] = True
    if (m.get("volume") or {}).get("subpath"):
        mount["subPath"] = str(m["volume"]["subpath"])
    name = _named(ctx, m)
    if name and name in templated:
        storage.mounts.append(dict(mount, name=dns_label(name)))
    elif name:
        vol = ctx.section("volumes")[name]
        claim = claim_name(ctx, name)
        if vol.get("external"):
            ctx.warn(service, "volumes", f"external volume {name!r} must exist as the "
                     f"PersistentVolumeClaim {claim!r} in the namespace")
        storage.add({"name": dns_label(name), "persistentVolumeClaim": {"claimName": claim}}, mount)
    elif kind == "volume":
        storage.add({"name": "anonymous", "emptyDir": {}}, mount)
    elif kind == "tmpfs":
        storage.add(_tmpfs_volume((m.get("tmpfs") or {}).get("size")), mount)
    elif kind == "bind":
        ctx.warn(service, "volumes", f"host bind mount {m.get('source')} -> {target} cannot be "
                 "expressed; an empty emptyDir is mounted instead (bake the files into the image "
                 "or use a ConfigMap)")
        storage.add({"name": "bind", "emptyDir": {}}, mount)
    else:
        ctx.warn(service, "volumes", f"mount of type {kind!r} at {target} is not supported; dropped")


def pod_storage(svc: Mapping[str, Any], service: str, ctx: Context,
                templated: list[str]) -> PodStorage:
    """Pod volumes and mounts of one service; `templated` volumes become claim templates."""
    storage = PodStorage()
    storage.claim_templates = [_claim_template(ctx, v, service) for v in templated]
    for m in svc.get("volumes") or []:
        _mount(storage, ctx, service, m, templated)
    tmpfs = svc.get("tmpfs") or []
    for entry in [tmpfs] if isinstance(tmpfs, str) else tmpfs:
        target, size = _tmpfs_option(str(entry))
        storage.add(_tmpfs_volume(size), {"mountPath": target})
    if svc.get("shm_size") not in (None, "", 0, "0"):
        storage.add(_tmpfs_volume(svc["shm_size"]) | {"name": "dshm"}, {"mountPath": "/dev/shm"})
    if svc.get("volumes_from"):
        ctx.warn(service, "volumes_from", "containers of different pods cannot share volumes "
                 "this way; declare a named volume instead")
    for volume, mount in file_mounts(svc, service, ctx):
        storage.add(volume, mount)
    return storage
