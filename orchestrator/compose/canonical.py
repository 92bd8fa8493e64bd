"""Short syntax to long syntax, the way compose-go canonicalises a model.

A pure function over plain dicts: every service attribute with a short form
(ports, volumes, depends_on, healthcheck, build, env lists ...) is rewritten to
the single long form ``docker compose config`` prints, durations and byte sizes
are re-printed as Compose prints them, and host paths are made absolute
against the project working directory. The rewrites are a table keyed by
attribute name (``SERVICE_RULES``, ``BUILD_RULES``, ``TOP_RULES``), so adding
one is one line.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import posixpath
import shlex
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import ComposeError
from .parse import Locator, Path
from .units import canonical_bytes, canonical_duration

__all__ = [
    "canonicalize",
    "parse_port",
    "parse_volume",
    "SERVICE_RULES",
    "BUILD_RULES",
    "TOP_RULES",
]


@dataclass(frozen=True)
class _Ctx:
    """What a rule needs besides the value: paths to resolve and errors to place."""

    working_dir: str
    home: str
    locator: Locator | None

    def error(self, message: str, path: Path) -> ComposeError:
        if self.locator is not None:
            return self.locator.error(message, path)
        return ComposeError(message)

    def abspath(self, value: str) -> str:
        """Resolve ``~`` and relative host paths like compose-go's ResolveRelativePaths."""
        if value == "~" or value.startswith("~/"):
            value = self.home + value[1:]
        if not posixpath.isabs(value):
            value = posixpath.join(self.working_dir, value)
        return posixpath.normpath(value)


Rule = Callable[[Any, _Ctx, Path], Any]


# ---------------------------------------------------------------- scalars


def _str(value: Any) -> str:
    """A scalar as Go's YAML decoder turns it into a string (``true``, ``42``, ``1.5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _split_kv(item: str) -> tuple[str, str | None]:
    key, sep, val = item.partition("=")
    return key, (val if sep else None)


def _to_map(value: Any, *, missing: str | None) -> dict[str, str | None]:
    """``[K=V, K]`` or ``{K: V}`` -> ``{K: str|missing}`` (labels, sysctls, args, environment)."""
    out: dict[str, str | None] = {}
    if isinstance(value, list):
        for item in value:
            key, val = _split_kv(_str(item))
            out[key] = val if val is not None else missing
    elif isinstance(value, Mapping):
        for key, val in value.items():
            out[str(key)] = missing if val is None else _str(val)
    return out


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [_str(v) for v in value]
    return [_str(value)]


def _labels(value: Any, ctx: _Ctx, path: Path) -> dict[str, str | None]:
    return _to_map(value, missing="")


def _env_map(value: Any, ctx: _Ctx, path: Path) -> dict[str, str | None]:
    return _to_map(value, missing=None)


def _string_map(value: Any, ctx: _Ctx, path: Path) -> dict[str, str]:
    return {str(k): _str(v) for k, v in (value or {}).items()}


def _strings(value: Any, ctx: _Ctx, path: Path) -> list[str]:
    return _str_list(value)


def _duration(value: Any, ctx: _Ctx, path: Path) -> Any:
    try:
        return canonical_duration(value)
    except (ValueError, TypeError):
        raise ctx.error(f"invalid duration {value!r}", path) from None


def _bytes(value: Any, ctx: _Ctx, path: Path) -> Any:
    try:
        return canonical_bytes(value)
    except (ValueError, TypeError):
        raise ctx.error(f"invalid size: {value!r}", path) from None


def _float(value: Any, ctx: _Ctx, path: Path) -> float:
    try:
        return float(value)
    except (ValueError, TypeError):
        raise ctx.error(f"invalid number {value!r}", path) from None


def _command(value: Any, ctx: _Ctx, path: Path) -> Any:
    """Shell-style split of a string command, like go-shellwords; lists keep their items."""
    if value is None or isinstance(value, list):
        return None if value is None else [_str(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError as exc:
        raise ctx.error(f"invalid command {value!r}: {exc}", path) from None


def _file_mode(value: Any) -> str:
    """Octal file mode as Compose prints it (``0440``); strings are read as octal."""
    mode = int(value, 8) if isinstance(value, str) else int(value)
    return "0" + format(mode, "o")


# ---------------------------------------------------------------- ports


_PROTOCOLS = ("tcp", "udp", "sctp")


def _port_range(text: str, what: str, spec: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    try:
        low = int(start, 10)
        high = int(end, 10) if sep else low
    except ValueError:
        raise ValueError(f"Invalid {what}: {text}") from None
    if not (0 <= low <= 65535 and 0 <= high <= 65535) or start.startswith("+"):
        raise ValueError(f"Invalid {what}: {text}")
    if high < low:
        raise ValueError(f"Invalid range specified for the Port: {text}")
    return low, high


def _split_port_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def parse_port(spec: str | int) -> list[dict[str, Any]]:
    """Expand one short port spec (``[IP:][HOST:]CONTAINER[/PROTO]``) to long entries.

    Follows docker/go-connections ``nat.ParsePortSpecs``: equal ranges pair up,
    a host range with one container port stays one entry, entries come out
    sorted by ``port/proto`` as text. Raises ``ValueError`` with nat's message.
    """
    raw = str(spec)
    raw, _, proto = raw.partition("/") if "/" in raw else (raw, "", "tcp")
    proto = (proto or "tcp").lower()
    if proto not in _PROTOCOLS:
        raise ValueError(f"Invalid proto: {proto}")
    host_ip, host, container = _split_port_parts(raw)
    if host_ip.startswith("[") and host_ip.endswith("]"):
        host_ip = host_ip[1:-1]
    if host_ip:
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise ValueError(f"Invalid ip address: {host_ip}") from None
    if not container:
        raise ValueError(f"No port specified: {spec}<empty>")
    start, end = _port_range(container, "containerPort", raw)
    host_start = host_end = 0
    if host:
        host_start, host_end = _port_range(host, "hostPort", raw)
        if end - start != host_end - host_start and end != start:
            raise ValueError(
                f"Invalid ranges specified for container and host Ports: {container} and {host}"
            )
    entries = []
    for i in range(end - start + 1):
        published = ""
        if host:
            published = host if (end == start and host_end != host_start) else str(host_start + i)
        entry: dict[str, Any] = {"mode": "ingress"}
        if host_ip:
            entry["host_ip"] = host_ip
        entry["target"] = start + i
        if published:
            entry["published"] = published
        entry["protocol"] = proto
        entries.append((f"{start + i}/{proto}", entry))
    return [entry for _, entry in sorted(entries, key=lambda kv: kv[0])]


def _ports(value: Any, ctx: _Ctx, path: Path) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value or []):
        if isinstance(item, Mapping):
            entry = dict(item)
            entry.setdefault("mode", "ingress")
            entry.setdefault("protocol", "tcp")
            if entry.get("published") is not None:
                entry["published"] = _str(entry["published"])
            if isinstance(entry.get("target"), str) and entry["target"].isdigit():
                entry["target"] = int(entry["target"])
            out.append(entry)
            continue
        try:
            out.extend(parse_port(item))
        except ValueError as exc:
            raise ctx.error(str(exc), path + (i,)) from None
    return out


# ---------------------------------------------------------------- volumes


_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def _is_drive(buffer: str, char: str) -> bool:
    return char == ":" and len(buffer) == 1 and buffer.isalpha()


def _is_file_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and _is_drive(source[0], source[1])


def _split_volume(spec: str) -> list[tuple[str, str]]:
    """Cut a volume spec at colons outside ``${...}`` and Windows drives: (text, delimiter)."""
    sections: list[tuple[str, str]] = []
    buffer, depth, i = "", 0, 0
    while i < len(spec):
        char = spec[i]
        if char == "$" and spec[i + 1 : i + 2] == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char == ":" and not depth and not _is_drive(buffer, char):
            sections.append((buffer, ":"))
            buffer = ""
            i += 1
            continue
        buffer += char
        i += 1
    sections.append((buffer, ""))
    return sections


def _volume_options(volume: dict[str, Any], options: str) -> None:
    for option in options.split(","):
        if option in ("ro", "rw"):
            volume["read_only"] = option == "ro"
        elif option == "nocopy":
            volume["volume"] = {"nocopy": True}
        elif option in _PROPAGATIONS:
            volume.setdefault("bind", {})["propagation"] = option
        elif option in ("z", "Z"):
            volume.setdefault("bind", {})["selinux"] = option


def parse_volume(spec: str) -> dict[str, Any]:
    """Parse ``[SOURCE:]TARGET[:OPTS]`` like compose-go ``format.ParseVolume`` (no path resolution)."""
    if not spec:
        raise ValueError("invalid empty volume spec")
    if len(spec) <= 2:
        return {"type": "volume", "target": spec, "volume": {}}
    source = target = ""
    volume: dict[str, Any] = {}
    for text, delim in _split_volume(spec):
        if not text:
            raise ValueError(f"invalid spec: {spec}: empty section between colons")
        if not source and not delim:
            target = text
        elif not source:
            source = text
        elif not target:
            target = text
        elif delim:
            raise ValueError(f"invalid spec: {spec}: too many colons")
        else:
            _volume_options(volume, text)
    read_only = volume.pop("read_only", False)
    if _is_file_path(source):
        out: dict[str, Any] = {"type": "bind", "source": source, "target": target}
        extra = {"bind": volume.get("bind", {})}
    else:
        out = {"type": "volume", "target": target}
        if source:
            out = {"type": "volume", "source": source, "target": target}
        extra = {"volume": volume.get("volume", {})}
        if "bind" in volume:
            extra["bind"] = volume["bind"]
    if read_only:
        out["read_only"] = True
    out.update(extra)
    return out


def _volumes(value: Any, ctx: _Ctx, path: Path) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(value or []):
        if isinstance(item, Mapping):
            entry = copy.deepcopy(dict(item))
        else:
            try:
                entry = parse_volume(str(item))
            except ValueError as exc:
                raise ctx.error(str(exc), path + (i,)) from None
        source = entry.get("source")
        if entry.get("type") == "bind" and isinstance(source, str) and source:
            entry["source"] = ctx.abspath(source)
        tmpfs = entry.get("tmpfs")
        if isinstance(tmpfs, Mapping) and tmpfs.get("size") is not None:
            entry["tmpfs"] = dict(tmpfs, size=_bytes(tmpfs["size"], ctx, path + (i, "tmpfs", "size")))
        out.append(entry)
    return out


# ---------------------------------------------------------------- other services rules


def _depends_on(value: Any, ctx: _Ctx, path: Path) -> dict[str, dict[str, Any]]:
    if isinstance(value, list):
        return {str(n): {"condition": "service_started", "required": True} for n in value}
    out = {}
    for name, dep in (value or {}).items():
        dep = dict(dep or {})
        entry: dict[str, Any] = {"condition": dep.pop("condition", "service_started")}
        restart = dep.pop("restart", False)
        if restart:
            entry["restart"] = True
        entry["required"] = dep.pop("required", True)
        entry.update(dep)
        out[str(name)] = entry
    return out


def _healthcheck(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    out = dict(value or {})
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    elif isinstance(test, list):
        out["test"] = [_str(t) for t in test]
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if out.get(key) is not None:
            out[key] = _duration(out[key], ctx, path + (key,))
    return out


def _file_refs(value: Any, ctx: _Ctx, path: Path) -> list[dict[str, Any]]:
    """Service ``secrets``/``configs``: ``name`` -> ``{source: name}``; uid/gid text, mode octal."""
    out = []
    for i, item in enumerate(value or []):
        entry = {"source": item} if isinstance(item, str) else dict(item)
        for key in ("uid", "gid"):
            if entry.get(key) is not None:
                entry[key] = _str(entry[key])
        if entry.get("mode") is not None:
            try:
                entry["mode"] = _file_mode(entry["mode"])
            except (ValueError, TypeError):
                raise ctx.error(f"invalid file mode {entry['mode']!r}", path + (i, "mode")) from None
        out.append(entry)
    return out


def _devices(value: Any, ctx: _Ctx, path: Path) -> list[dict[str, Any]]:
    out = []
    for i, item in enumerate(value or []):
        if isinstance(item, Mapping):
            out.append(dict(item))
            continue
        parts = str(item).split(":")
        if len(parts) > 3:
            raise ctx.error(f"confusing device mapping, please use long syntax: {item}", path + (i,))
        source = parts[0]
        target = parts[1] if len(parts) > 1 else source
        perms = parts[2] if len(parts) > 2 else "rwm"
        out.append({"source": source, "target": target, "permissions": perms})
    return out


def _extra_hosts(value: Any, ctx: _Ctx, path: Path) -> list[str]:
    """``host:ip``, ``host=ip`` or ``{host: ip|[ips]}`` -> ``["host=ip"]`` as Compose prints it."""
    out: list[str] = []
    if isinstance(value, Mapping):
        for host, ips in sorted(value.items(), key=lambda kv: str(kv[0])):
            for ip in ips if isinstance(ips, list) else [ips]:
                out.append(f"{host}={_str(ip)}")
        return out
    for item in value or []:
        text = _str(item)
        host, sep, ip = text.partition("=")
        if not sep:
            host, sep, ip = text.partition(":")
        out.append(f"{host}={ip}" if sep else text)
    return out


def _env_files(value: Any, ctx: _Ctx, path: Path) -> list[dict[str, Any]]:
    out = []
    for item in _as_list(value):
        entry = {"path": item} if isinstance(item, str) else dict(item)
        entry["path"] = ctx.abspath(str(entry["path"]))
        if entry.get("required", True) is True:
            entry.pop("required", None)
        out.append(entry)
    return out


def _paths(value: Any, ctx: _Ctx, path: Path) -> list[str]:
    return [ctx.abspath(p) for p in _str_list(value)]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _networks(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    if isinstance(value, list):
        return {str(n): None for n in value}
    return {str(k): (None if v is None else dict(v)) for k, v in (value or {}).items()}


def _expose(value: Any, ctx: _Ctx, path: Path) -> list[str]:
    return _str_list(value)


def _logging(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    out = dict(value or {})
    if out.get("options") is not None:
        out["options"] = _string_map(out["options"], ctx, path)
    return out


def _blkio(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    """``blkio_config`` byte rates (``device_read_bps``...) printed as byte counts."""
    out = copy.deepcopy(dict(value or {}))
    for key in ("device_read_bps", "device_write_bps"):
        for i, entry in enumerate(out.get(key) or []):
            if isinstance(entry, dict) and entry.get("rate") is not None:
                entry["rate"] = _bytes(entry["rate"], ctx, path + (key, i, "rate"))
    return out


def _pull_policy(value: Any, ctx: _Ctx, path: Path) -> Any:
    return "missing" if value == "if_not_present" else value


def _develop(value: Any, ctx: _Ctx, path: Path) -> Any:
    out = copy.deepcopy(dict(value or {}))
    for rule in out.get("watch") or []:
        if isinstance(rule, dict) and isinstance(rule.get("path"), str):
            rule["path"] = ctx.abspath(rule["path"])
    return out


def _resource(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    out = dict(value or {})
    if out.get("cpus") is not None:
        out["cpus"] = _float(out["cpus"], ctx, path + ("cpus",))
    if out.get("memory") is not None:
        out["memory"] = _bytes(out["memory"], ctx, path + ("memory",))
    return out


def _update_config(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    out = dict(value or {})
    for key in ("delay", "monitor"):
        if out.get(key) is not None:
            out[key] = _duration(out[key], ctx, path + (key,))
    return out


def _deploy(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    out = copy.deepcopy(dict(value or {}))
    if out.get("labels") is not None:
        out["labels"] = _labels(out["labels"], ctx, path)
    for key in ("update_config", "rollback_config"):
        if out.get(key) is not None:
            out[key] = _update_config(out[key], ctx, path + (key,))
    resources = out.get("resources")
    if isinstance(resources, Mapping):
        out["resources"] = {
            k: (_resource(v, ctx, path + ("resources", k)) if k in ("limits", "reservations") else v)
            for k, v in resources.items()
        }
    policy = out.get("restart_policy")
    if isinstance(policy, Mapping):
        policy = dict(policy)
        for key in ("delay", "window"):
            if policy.get(key) is not None:
                policy[key] = _duration(policy[key], ctx, path + ("restart_policy", key))
        out["restart_policy"] = policy
    return out


# ---------------------------------------------------------------- build


def _is_remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def _context_path(value: str, ctx: _Ctx) -> str:
    if _is_remote(value) or value.startswith(("service:", "target:")):
        return value
    return ctx.abspath(value)


def _contexts(value: Any, ctx: _Ctx, path: Path) -> dict[str, str]:
    return {k: _context_path(v or "", ctx) for k, v in _to_map(value, missing="").items()}


def _build(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    build = {"context": value} if isinstance(value, str) else copy.deepcopy(dict(value or {}))
    build["context"] = _context_path(str(build.get("context") or "."), ctx)
    ordered = {"context": build.pop("context")}
    ordered.update(build)
    return _apply(ordered, BUILD_RULES, ctx, path)


BUILD_RULES: dict[str, Rule] = {
    "args": _env_map,
    "labels": _labels,
    "additional_contexts": _contexts,
    "secrets": _file_refs,
    "extra_hosts": _extra_hosts,
    "shm_size": _bytes,
    "cache_from": _strings,
    "cache_to": _strings,
    "tags": _strings,
    "platforms": _strings,
}

SERVICE_RULES: dict[str, Rule] = {
    "annotations": _labels,
    "blkio_config": _blkio,
    "build": _build,
    "command": _command,
    "configs": _file_refs,
    "cpus": _float,
    "depends_on": _depends_on,
    "deploy": _deploy,
    "develop": _develop,
    "devices": _devices,
    "dns": _strings,
    "dns_opt": _strings,
    "dns_search": _strings,
    "entrypoint": _command,
    "env_file": _env_files,
    "environment": _env_map,
    "expose": _expose,
    "extra_hosts": _extra_hosts,
    "healthcheck": _healthcheck,
    "label_file": _paths,
    "labels": _labels,
    "logging": _logging,
    "mem_limit": _bytes,
    "mem_reservation": _bytes,
    "memswap_limit": _bytes,
    "networks": _networks,
    "ports": _ports,
    "pull_policy": _pull_policy,
    "secrets": _file_refs,
    "shm_size": _bytes,
    "stop_grace_period": _duration,
    "storage_opt": _string_map,
    "sysctls": _labels,
    "tmpfs": _strings,
    "volumes": _volumes,
}


# ---------------------------------------------------------------- top level


def _resource_def(value: Any, ctx: _Ctx, path: Path, *, files: bool) -> dict[str, Any]:
    """A top-level network/volume/secret/config: ``external: {name}`` moved to ``name``."""
    out = copy.deepcopy(dict(value or {}))
    external = out.get("external")
    if isinstance(external, Mapping):
        if external.get("name") is not None:
            if out.get("name") not in (None, external["name"]):
                raise ctx.error(
                    "can't use both 'external.name' (deprecated) and 'name'", path + ("name",)
                )
            out["name"] = external["name"]
        out["external"] = True
    if out.get("labels") is not None:
        out["labels"] = _labels(out["labels"], ctx, path)
    if out.get("driver_opts") is not None:
        out["driver_opts"] = _string_map(out["driver_opts"], ctx, path)
    if files and isinstance(out.get("file"), str):
        out["file"] = ctx.abspath(out["file"])
    opts = out.get("driver_opts") or {}
    if "bind" in str(opts.get("o", "")).split(",") and isinstance(opts.get("device"), str):
        # a local volume that is really a bind mount: its device is a host path
        opts["device"] = ctx.abspath(opts["device"])
    if "name" in out:
        out = {"name": out.pop("name"), **out}
    return out


def _top(kind: str) -> Rule:
    def rule(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
        files = kind in ("secrets", "configs")
        return {
            str(k): _resource_def(v, ctx, path + (k,), files=files)
            for k, v in (value or {}).items()
        }

    return rule


TOP_RULES: dict[str, Rule] = {kind: _top(kind) for kind in ("networks", "volumes", "secrets", "configs")}

_KEEP_EMPTY = {"command", "entrypoint", "networks", "build", "healthcheck", "deploy"}


def _apply(data: dict[str, Any], rules: Mapping[str, Rule], ctx: _Ctx, path: Path) -> dict[str, Any]:
    out = {}
    for key, value in data.items():
        rule = rules.get(key)
        out[key] = rule(value, ctx, path + (key,)) if rule is not None and value is not None else value
    return out


def _service(value: Any, ctx: _Ctx, path: Path) -> dict[str, Any]:
    service = _apply(dict(value or {}), SERVICE_RULES, ctx, path)
    return {
        k: v
        for k, v in service.items()
        if k in _KEEP_EMPTY or k.startswith("x-") or v not in ([], {})
    }


def canonicalize(
    model: Mapping[str, Any],
    *,
    working_dir: str,
    home: str,
    locator: Locator | None = None,
) -> dict[str, Any]:
    """Return a copy of ``model`` with every short syntax rewritten to Compose's long form.

    Raises :class:`ComposeError` (placed with ``locator`` when given) for
    port or volume specs, durations or sizes Compose would reject.
    """
    ctx = _Ctx(os.path.abspath(working_dir), home.rstrip("/") or "/", locator)
    out = _apply(copy.deepcopy(dict(model)), TOP_RULES, ctx, ())
    services = out.get("services")
    if isinstance(services, Mapping):
        out["services"] = {
            str(name): _service(svc, ctx, ("services", name)) for name, svc in services.items()
        }
    return out
