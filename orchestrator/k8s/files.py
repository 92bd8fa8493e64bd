"""Compose configs and secrets as ConfigMaps and Secrets, and their file mounts."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

from .context import Context
from .names import dns_label

__all__ = ["object_name", "data_key", "file_objects", "file_mounts", "SECRET_NAME"]

# Environment variable names that look like credentials go to a Secret, not a ConfigMap.
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY|ACCESS_?KEY", re.I)
_SECTIONS = {"configs": ("ConfigMap", "config"), "secrets": ("Secret", "secret")}


def object_name(ctx: Context, section: str, key: str) -> str:
    """The ConfigMap/Secret name for a top-level config or secret (external: its own name)."""
    item = ctx.section(section).get(key) or {}
    if item.get("external"):
        return dns_label(str(item.get("name") or key), letter_first=False)
    return f"{dns_label(key, limit=50)}-{_SECTIONS[section][1]}"


def data_key(key: str) -> str:
    """The key inside the ConfigMap/Secret that holds the file ([-._a-zA-Z0-9]+)."""
    return re.sub(r"[^-._a-zA-Z0-9]", "_", key) or "file"


def _content(ctx: Context, section: str, key: str, item: Mapping[str, Any]) -> bytes | None:
    """The bytes of a config/secret: inline content, an environment variable, or a file read."""
    if item.get("content") is not None:
        return str(item["content"]).encode()
    if item.get("environment"):
        env = ctx.options.environ or {}
        value = env.get(str(item["environment"]))
        return None if value is None else value.encode()
    path = item.get("file")
    if path and ctx.options.read_file:
        try:
            return ctx.options.read_file(str(path))
        except OSError as exc:
            ctx.warn("", f"{section}.{key}", f"cannot read {path}: {exc.strerror or exc}")
    return None


def _data(kind: str, key: str, content: bytes) -> dict[str, Any]:
    """The data/stringData/binaryData fields holding one file."""
    if kind == "Secret":
        return {"data": {key: base64.b64encode(content).decode()}}
    try:
        return {"data": {key: content.decode("utf-8")}}
    except UnicodeDecodeError:
        return {"binaryData": {key: base64.b64encode(content).decode()}}


def file_objects(ctx: Context) -> list[dict[str, Any]]:
    """ConfigMaps and Secrets for the project's configs and secrets that some service uses."""
    used = {(sec, ref.get("source")) for svc in ctx.services.values()
            for sec in _SECTIONS for ref in svc.get(sec) or []}
    out = []
    for section, (kind, _) in _SECTIONS.items():
        for key, item in ctx.section(section).items():
            if (section, key) not in used or item.get("external"):
                continue
            obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind,
                                   "metadata": ctx.meta(object_name(ctx, section, key))}
            content = _content(ctx, section, key, item)
            if content is None:
                source = item.get("file") or f"${item.get('environment')}"
                ctx.warn("", f"{section}.{key}", f"content of {source} not available; the {kind} "
                         f"is created empty: fill key {data_key(key)!r} before the pods start")
            else:
                obj.update(_data(kind, data_key(key), content))
            if kind == "Secret":
                obj["type"] = "Opaque"
            out.append(obj)
    return out


def _target(section: str, ref: Mapping[str, Any]) -> str:
    """Where a config/secret is mounted, with Compose's defaults."""
    source, target = str(ref.get("source")), ref.get("target")
    if section == "secrets":
        if not target:
            return f"/run/secrets/{source}"
        return target if str(target).startswith("/") else f"/run/secrets/{target}"
    return str(target) if target else f"/{source}"


def file_mounts(svc: Mapping[str, Any], service: str, ctx: Context) -> list[tuple[dict, dict]]:
    """(pod volume, mount) pairs for a service's configs and secrets, one file each."""
    out = []
    for section, (kind, short) in _SECTIONS.items():
        for ref in svc.get(section) or []:
            key = str(ref.get("source"))
            if key not in ctx.section(section):
                ctx.warn(service, section, f"{key!r} is not declared at the top level; dropped")
                continue
            item: dict[str, Any] = {"key": data_key(key), "path": data_key(key)}
            if ref.get("mode") is not None:
                item["mode"] = int(str(ref["mode"]), 8) if isinstance(ref["mode"], str) else int(ref["mode"])
            if ref.get("uid") or ref.get("gid"):
                ctx.warn(service, section, f"uid/gid of {key!r} cannot be set per file; use "
                         "the pod's fsGroup")
            source = {"configMap": {"name": object_name(ctx, section, key), "items": [item]}}
            if kind == "Secret":
                source = {"secret": {"secretName": object_name(ctx, section, key), "items": [item]}}
            volume = {"name": f"{short}-{dns_label(key, limit=40, letter_first=False)}", **source}
            mount = {"mountPath": _target(section, ref), "subPath": data_key(key), "readOnly": True}
            out.append((volume, mount))
    return out
