"""Print a normalised model like ``docker compose config`` (YAML or JSON).

Compose prints from Go structs, so keys come out in struct-field order, maps
keyed by user names come out sorted, and ``x-*`` extensions come last. The
order is a table per kind of object (``LAYOUT``). YAML output quotes, with
double quotes as go-yaml does, every string a YAML 1.1 or 1.2 reader would
take for something else (``"22:22"``, ``"no"``, ``"0440"``), so the printed
file reads back the same in PyYAML, go-yaml and Compose.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import yaml

from .parse import resolve_scalar

__all__ = ["to_yaml", "to_json", "ordered", "LAYOUT"]

# Per kind: (key, kind of its value) in print order. A kind starting with "map:"
# is a user-keyed map (sorted) whose values have the named kind; "list:" a list.
_S = "scalar"
LAYOUT: dict[str, list[tuple[str, str]]] = {
    "project": [
        ("name", _S), ("services", "map:service"), ("networks", "map:network"),
        ("volumes", "map:volume"), ("secrets", "map:fileobj"), ("configs", "map:fileobj"),
        ("models", "map:plain"),
    ],
    "service": [
        ("profiles", _S), ("annotations", "map:"), ("attach", _S), ("build", "build"),
        ("develop", "plain"), ("blkio_config", "plain"), ("cap_add", _S), ("cap_drop", _S),
        ("cgroup_parent", _S), ("cgroup", _S), ("cpu_count", _S), ("cpu_percent", _S),
        ("cpu_period", _S), ("cpu_quota", _S), ("cpu_rt_period", _S), ("cpu_rt_runtime", _S),
        ("cpus", _S), ("cpuset", _S), ("cpu_shares", _S), ("command", _S),
        ("configs", "list:fileref"), ("container_name", _S), ("credential_spec", "plain"),
        ("depends_on", "map:depends"), ("deploy", "deploy"), ("device_cgroup_rules", _S),
        ("devices", "list:device"), ("dns", _S), ("dns_opt", _S), ("dns_search", _S),
        ("dockerfile", _S), ("domainname", _S), ("entrypoint", _S), ("provider", "plain"),
        ("environment", "map:"), ("env_file", "list:envfile"), ("expose", _S),
        ("extends", "plain"), ("external_links", _S), ("extra_hosts", _S), ("group_add", _S),
        ("gpus", "plain"), ("hostname", _S), ("healthcheck", "healthcheck"), ("image", _S),
        ("init", _S), ("ipc", _S), ("isolation", _S), ("labels", "map:"), ("label_file", _S),
        ("links", _S), ("logging", "logging"), ("log_driver", _S), ("log_opt", "map:"),
        ("mem_limit", _S), ("mem_reservation", _S), ("memswap_limit", _S),
        ("mem_swappiness", _S), ("mac_address", _S), ("models", "map:plain"), ("net", _S),
        ("network_mode", _S), ("networks", "map:svcnet"), ("oom_kill_disable", _S),
        ("oom_score_adj", _S), ("pid", _S), ("pids_limit", _S), ("platform", _S),
        ("ports", "list:port"), ("privileged", _S), ("pull_policy", _S), ("read_only", _S),
        ("restart", _S), ("runtime", _S), ("scale", _S), ("secrets", "list:fileref"),
        ("security_opt", _S), ("shm_size", _S), ("stdin_open", _S),
        ("stop_grace_period", _S), ("stop_signal", _S), ("storage_opt", "map:"),
        ("sysctls", "map:"), ("tmpfs", _S), ("tty", _S), ("ulimits", "map:ulimit"),
        ("use_api_socket", _S), ("user", _S), ("userns_mode", _S), ("uts", _S),
        ("volume_driver", _S), ("volumes", "list:mount"), ("volumes_from", _S),
        ("working_dir", _S), ("post_start", "plain"), ("pre_start", "plain"),
        ("pre_stop", "plain"),
    ],
    "build": [
        ("context", _S), ("dockerfile", _S), ("dockerfile_inline", _S), ("entitlements", _S),
        ("args", "map:"), ("ssh", _S), ("labels", "map:"), ("cache_from", _S),
        ("cache_to", _S), ("no_cache", _S), ("additional_contexts", "map:"), ("network", _S),
        ("provenance", _S), ("sbom", _S), ("pull", _S), ("target", _S), ("shm_size", _S),
        ("extra_hosts", _S), ("isolation", _S), ("privileged", _S),
        ("secrets", "list:fileref"), ("tags", _S), ("ulimits", "map:ulimit"),
        ("platforms", _S),
    ],
    "deploy": [
        ("mode", _S), ("replicas", _S), ("labels", "map:"), ("update_config", "update"),
        ("rollback_config", "update"), ("resources", "resources"),
        ("restart_policy", "restart_policy"), ("placement", "placement"),
        ("endpoint_mode", _S),
    ],
    "update": [
        ("parallelism", _S), ("delay", _S), ("failure_action", _S), ("monitor", _S),
        ("max_failure_ratio", _S), ("order", _S),
    ],
    "resources": [("limits", "resource"), ("reservations", "resource")],
    "resource": [
        ("cpus", _S), ("memory", _S), ("pids", _S), ("devices", "plain"),
        ("generic_resources", "plain"),
    ],
    "restart_policy": [("condition", _S), ("delay", _S), ("max_attempts", _S), ("window", _S)],
    "placement": [("constraints", _S), ("preferences", "plain"), ("max_replicas_per_node", _S)],
    "healthcheck": [
        ("test", _S), ("timeout", _S), ("interval", _S), ("retries", _S),
        ("start_period", _S), ("start_interval", _S), ("disable", _S),
    ],
    "port": [
        ("name", _S), ("mode", _S), ("host_ip", _S), ("target", _S), ("published", _S),
        ("protocol", _S), ("app_protocol", _S),
    ],
    "mount": [
        ("type", _S), ("source", _S), ("target", _S), ("read_only", _S), ("consistency", _S),
        ("bind", "bind"), ("volume", "volopts"), ("tmpfs", "tmpfsopts"), ("image", "plain"),
    ],
    "bind": [("selinux", _S), ("propagation", _S), ("create_host_path", _S), ("recursive", _S)],
    "volopts": [("labels", "map:"), ("nocopy", _S), ("subpath", _S)],
    "tmpfsopts": [("size", _S), ("mode", _S)],
    "svcnet": [
        ("aliases", _S), ("driver_opts", "map:"), ("gw_priority", _S),
        ("interface_name", _S), ("ipv4_address", _S), ("ipv6_address", _S),
        ("link_local_ips", _S), ("mac_address", _S), ("priority", _S),
    ],
    "depends": [("condition", _S), ("restart", _S), ("required", _S)],
    "fileref": [("source", _S), ("target", _S), ("uid", _S), ("gid", _S), ("mode", _S)],
    "envfile": [("path", _S), ("required", _S), ("format", _S)],
    "device": [("source", _S), ("target", _S), ("permissions", _S)],
    "logging": [("driver", _S), ("options", "map:")],
    "ulimit": [("soft", _S), ("hard", _S)],
    "network": [
        ("name", _S), ("driver", _S), ("driver_opts", "map:"), ("ipam", "ipam"),
        ("external", _S), ("internal", _S), ("attachable", _S), ("labels", "map:"),
        ("enable_ipv4", _S), ("enable_ipv6", _S),
    ],
    "ipam": [("driver", _S), ("config", "list:pool"), ("options", "map:")],
    "pool": [("subnet", _S), ("gateway", _S), ("ip_range", _S), ("aux_addresses", "map:")],
    "volume": [
        ("name", _S), ("driver", _S), ("driver_opts", "map:"), ("external", _S),
        ("labels", "map:"),
    ],
    "fileobj": [
        ("name", _S), ("file", _S), ("environment", _S), ("content", _S), ("external", _S),
        ("labels", "map:"), ("driver", _S), ("driver_opts", "map:"), ("template_driver", _S),
    ],
}
_INDEX = {kind: {key: (i, sub) for i, (key, sub) in enumerate(keys)} for kind, keys in LAYOUT.items()}


def _omit(kind: str, key: str, value: Any) -> bool:
    """Values Compose leaves out: opt-out booleans at their default ``true``."""
    if kind == "bind" and key == "create_host_path":
        return value is True
    if kind == "envfile" and key == "required":
        return value is True
    if kind == "depends" and key == "restart":
        return value is False
    return False


def ordered(value: Any, kind: str = "project") -> Any:
    """Return ``value`` with keys in Compose's print order for ``kind``."""
    if kind.startswith("map:"):
        sub = kind[4:] or "plain"
        if not isinstance(value, Mapping):
            return value
        return {k: ordered(value[k], sub) for k in sorted(value, key=str)}
    if kind.startswith("list:"):
        if not isinstance(value, list):
            return value
        return [ordered(item, kind[5:]) for item in value]
    if not isinstance(value, Mapping):
        return value
    index = _INDEX.get(kind)
    if index is None:  # plain data: keep the user's order
        return {k: ordered(v, "plain") for k, v in value.items()}
    known = sorted((k for k in value if k in index), key=lambda k: index[k][0])
    other = sorted((k for k in value if k not in index and not str(k).startswith("x-")), key=str)
    ext = sorted((k for k in value if str(k).startswith("x-")), key=str)
    out = {}
    for key in known:
        if not _omit(kind, key, value[key]):
            out[key] = ordered(value[key], index[key][1])
    for key in other + ext:
        out[key] = ordered(value[key], "plain")
    return out


class _Dumper(yaml.SafeDumper):
    """SafeDumper printing like go-yaml: indented lists, double quotes, literal blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


_STR = "tag:yaml.org,2002:str"
_YAML11 = yaml.resolver.Resolver()


def _ambiguous(data: str) -> bool:
    """True when a YAML 1.1 reader or Compose's 1.2 reading would not give ``data`` back as a string."""
    if _YAML11.resolve(yaml.ScalarNode, data, (True, False)) != _STR:
        return True
    try:
        return not isinstance(resolve_scalar(data), str)
    except Exception:  # e.g. an int literal too odd to build: quote it to be safe
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar(_STR, data, style="|")
    if _ambiguous(data):
        return dumper.represent_scalar(_STR, data, style='"')
    return dumper.represent_scalar(_STR, data)


def _represent_float(dumper: yaml.SafeDumper, data: float) -> yaml.ScalarNode:
    text = repr(data)
    if text in ("inf", "-inf", "nan"):
        text = {"inf": ".inf", "-inf": "-.inf", "nan": ".nan"}[text]
    elif "e" in text and "." not in text:
        text = text.replace("e", ".0e", 1)  # YAML 1.1 readers need the dot to see a float
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(float, _represent_float)


def to_yaml(project: Mapping[str, Any]) -> str:
    """The model as ``docker compose config`` prints it in YAML."""
    return yaml.dump(
        ordered(project),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 30,
        indent=2,
    )


def _json_shape(data: dict[str, Any]) -> dict[str, Any]:
    """Go's JSON tags: nested ``x-*`` dropped, ``ipam`` always present, services' ``command``."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if not str(k).startswith("x-")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    out = {k: (v if str(k).startswith("x-") else strip(v)) for k, v in data.items()}
    for network in (out.get("networks") or {}).values():
        if isinstance(network, dict) and "ipam" not in network:
            keys = list(network)
            at = next((i for i, k in enumerate(keys) if _INDEX["network"].get(k, (0,))[0] > 3), len(keys))
            items = list(network.items())
            network.clear()
            network.update(items[:at] + [("ipam", {})] + items[at:])
    for service in (out.get("services") or {}).values():
        if isinstance(service, dict):
            service.setdefault("command", None)
            service.setdefault("entrypoint", None)
    return {k: out[k] for k in sorted(out)}


def _escape_html(text: str) -> str:
    """Go's encoding/json escapes <, > and & inside strings."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def to_json(project: Mapping[str, Any]) -> str:
    """The model as ``docker compose config --format json`` prints it (Go encoding/json style)."""
    text = json.dumps(_json_shape(ordered(project)), indent=2, ensure_ascii=False)
    return _escape_html(text)
