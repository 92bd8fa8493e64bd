"""De-duplicate merged sequences the way Compose does (compose-go override/uncity.go).

After files are merged, sequences are plain concatenations. Each sequence
path listed in :data:`INDEXERS` has a *unicity key* per item; a later item with
a key already seen replaces the earlier one in place, so an override file can
redefine ``- "8080:80"`` or ``- FOO=bar`` without duplicating it.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from . import paths
from .errors import ComposeError, Pos

__all__ = ["enforce_unicity", "INDEXERS", "unicity_key", "split_volume_spec"]

Indexer = Callable[[Any, tuple], str]
Locate = Callable[[tuple], "Pos | None"]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def key_value(item: Any, path: tuple) -> str:
    """``KEY=VAL`` and bare ``KEY`` are both keyed by ``KEY``; other scalars by text."""
    if isinstance(item, str):
        return item.split("=", 1)[0]
    if isinstance(item, (dict, list)):
        raise ComposeError(f"{paths.dotted(path)}: unexpected type {type(item).__name__}")
    return _scalar(item)


def split_volume_spec(spec: str) -> list[str]:
    """Split short volume syntax on ``:``, keeping Windows drive letters whole."""
    parts = spec.split(":")
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        if len(part) == 1 and part.isalpha() and nxt is not None and nxt[:1] in ("\\", "/"):
            out.append(part + ":" + nxt)
            i += 2
            continue
        out.append(part)
        i += 1
    return out


def volume_target(item: Any, path: tuple) -> str:
    """A service volume is keyed by its container path (``target``)."""
    if isinstance(item, dict):
        target = item.get("target")
        if not isinstance(target, str):
            raise ComposeError(f"service volume {paths.dotted(path)} is missing a mount target")
        return target
    if isinstance(item, str):
        parts = split_volume_spec(item)
        return parts[0] if len(parts) == 1 else parts[1]
    return ""


def device_target(item: Any, path: tuple) -> str:
    """A device is keyed by its path inside the container (``host:container[:perms]``)."""
    if isinstance(item, dict):
        target = item.get("target")
        if not isinstance(target, str):
            raise ComposeError(f"service device {paths.dotted(path)} is missing a mount target")
        return target
    if isinstance(item, str):
        parts = item.split(":")
        return parts[0] if len(parts) == 1 else parts[1]
    return ""


def expose_key(item: Any, path: tuple) -> str:
    """``expose`` entries are keyed by their text (``"3000"`` and ``3000`` are one)."""
    if isinstance(item, (str, int)) and not isinstance(item, bool):
        return str(item)
    raise ComposeError(f"{paths.dotted(path)}: unsupported expose value {item!r}")


def mount_key(default_dir: str) -> Indexer:
    """Secrets/configs are keyed by target, defaulting to ``<default_dir>/<source>``."""

    def index(item: Any, path: tuple) -> str:
        if isinstance(item, str):
            return f"{default_dir}/{item}"
        if isinstance(item, dict):
            if "target" in item:
                return _scalar(item["target"])
            return f"{default_dir}/{_scalar(item.get('source'))}"
        raise ComposeError(f"{paths.dotted(path)}: unsupported value {item!r}")

    return index


def port_key(item: Any, path: tuple) -> str:
    """Short ports are keyed by their text; long ones by ``host_ip:published:target/proto``."""
    if isinstance(item, dict):
        if "target" not in item:
            raise ComposeError(f"service ports {paths.dotted(path)} is missing a target port")
        published = item.get("published")
        host = item.get("host_ip", "0.0.0.0")
        proto = item.get("protocol", "tcp")
        pub = "" if published is None else _scalar(published)
        return f"{host}:{pub}:{_scalar(item['target'])}/{proto}"
    if isinstance(item, (str, int)) and not isinstance(item, bool):
        return str(item)
    return ""


def env_file_key(item: Any, path: tuple) -> str:
    """``env_file`` entries are keyed by path (string or ``{path: ...}``)."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        if "path" not in item:
            raise ComposeError(f"environment path attribute {paths.dotted(path)} is missing")
        return _scalar(item["path"])
    return ""


INDEXERS: dict[str, Indexer] = {
    "networks.*.labels": key_value,
    "networks.*.ipam.options": key_value,
    "volumes.*.labels": key_value,
    "services.*.annotations": key_value,
    "services.*.build.args": key_value,
    "services.*.build.additional_contexts": key_value,
    "services.*.build.platform": key_value,
    "services.*.build.tags": key_value,
    "services.*.build.labels": key_value,
    "services.*.cap_add": key_value,
    "services.*.cap_drop": key_value,
    "services.*.configs": mount_key(""),
    "services.*.deploy.labels": key_value,
    "services.*.devices": device_target,
    "services.*.dns": key_value,
    "services.*.dns_opt": key_value,
    "services.*.dns_search": key_value,
    "services.*.environment": key_value,
    "services.*.env_file": env_file_key,
    "services.*.label_file": key_value,
    "services.*.expose": expose_key,
    "services.*.labels": key_value,
    "services.*.links": key_value,
    "services.*.networks.*.aliases": key_value,
    "services.*.networks.*.link_local_ips": key_value,
    "services.*.ports": port_key,
    "services.*.profiles": key_value,
    "services.*.secrets": mount_key("/run/secrets"),
    "services.*.sysctls": key_value,
    "services.*.tmpfs": key_value,
    "services.*.volumes": volume_target,
}


def unicity_key(path: tuple, item: Any, index: int = 0) -> str | None:
    """The unicity key of ``item`` in the sequence at ``path``, or None if not de-duplicated."""
    indexer = paths.lookup(INDEXERS, path)
    return None if indexer is None else indexer(item, path + (index,))


def _dedupe(items: list, indexer: Indexer, path: tuple, pos: Locate | None) -> list:
    out: list = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        try:
            key = indexer(item, path + (i,))
        except ComposeError as exc:
            raise exc.at(pos(path + (i,)) if pos else None) from None
        if key in seen:
            out[seen[key]] = item
        else:
            seen[key] = len(out)
            out.append(item)
    return out


def _walk(value: Any, path: tuple, pos: Locate | None) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, path + (k,), pos) for k, v in value.items()}
    if isinstance(value, list):
        indexer = paths.lookup(INDEXERS, path)
        return list(value) if indexer is None else _dedupe(value, indexer, path, pos)
    return value


def enforce_unicity(model: dict, pos: Locate | None = None) -> dict:
    """A copy of ``model`` with redefined sequence items collapsed (later wins, in place).

    ``pos`` (e.g. ``Locator.find``) places errors at a line.
    """
    if not isinstance(model, dict):
        raise ComposeError("top-level object must be a mapping")
    return _walk(copy.deepcopy(model), (), pos)
