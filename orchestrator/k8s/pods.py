"""Pod-level settings: hosts, DNS, host namespaces, grace period, placement and labels."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from orchestrator.compose.units import duration_seconds

from .context import Context
from .names import DNS1123_LABEL, split_labels

__all__ = ["pod_settings", "node_selector", "pod_metadata", "compose_labels"]

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}


def _host_aliases(entries: Any, service: str, ctx: Context) -> list[dict[str, Any]]:
    """extra_hosts ("name=ip" or "name:ip") grouped by IP as hostAliases."""
    by_ip: dict[str, list[str]] = {}
    if isinstance(entries, Mapping):  # {host: ip} or {host: [ip, ...]}
        entries = [f"{h}={ip}" for h, ips in entries.items()
                   for ip in (ips if isinstance(ips, list) else [ips])]
    for entry in entries or []:
        text = str(entry)
        host, sep, ip = text.partition("=")
        if not sep:
            host, _, ip = text.partition(":")
        if ip == "host-gateway":
            ctx.warn(service, "extra_hosts", f"{host}=host-gateway has no meaning in a cluster; dropped")
            continue
        by_ip.setdefault(ip.strip("[]"), []).append(host)
    return [{"ip": ip, "hostnames": hosts} for ip, hosts in by_ip.items()]


def _strings(value: Any) -> list[str]:
    """A string-or-list setting as a list of strings."""
    if value in (None, ""):
        return []
    return [str(value)] if isinstance(value, str) else [str(v) for v in value]


def _dns(svc: Mapping[str, Any]) -> dict[str, Any]:
    """dns, dns_search, dns_opt as a dnsConfig added to the cluster's DNS settings."""
    config: dict[str, Any] = {}
    if svc.get("dns"):
        config["nameservers"] = _strings(svc["dns"])
    if svc.get("dns_search"):
        config["searches"] = _strings(svc["dns_search"])
    options = []
    for opt in _strings(svc.get("dns_opt")):
        name, sep, value = str(opt).partition(":")
        options.append({"name": name, "value": value} if sep else {"name": name})
    if options:
        config["options"] = options
    return config


def _host_namespaces(svc: Mapping[str, Any], service: str, ctx: Context, spec: dict) -> None:
    """network_mode/pid/ipc "host" as the node's namespaces, with a warning each."""
    mode = svc.get("network_mode")
    if mode == "host":
        spec["hostNetwork"] = True
        ctx.warn(service, "network_mode", "host: the pod uses the network of the node it lands "
                 "on (hostNetwork), not of the Compose host; ports may clash between replicas")
    elif mode == "none":
        ctx.warn(service, "network_mode", "none: pods always have a network in Kubernetes")
    elif mode:
        ctx.warn(service, "network_mode", f"{mode!r}: sharing another container's network "
                 "needs both in one pod; not expressed")
    for key, field in (("pid", "hostPID"), ("ipc", "hostIPC")):
        value = svc.get(key)
        if value == "host":
            spec[field] = True
            ctx.warn(service, key, f"host: uses the node's namespace ({field})")
        elif value and value not in ("private", "shareable"):
            ctx.warn(service, key, f"{value!r} cannot be expressed; pods get their own namespace")


def pod_settings(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any]:
    """Pod spec fields other than containers, volumes and restart policy."""
    spec: dict[str, Any] = {}
    hostname = svc.get("hostname")
    if hostname and DNS1123_LABEL.match(str(hostname)):
        spec["hostname"] = str(hostname)
    elif hostname:
        ctx.warn(service, "hostname", f"{hostname!r} is not a DNS-1123 label; not set")
    if svc.get("domainname"):
        ctx.warn(service, "domainname", "needs a headless Service as pod subdomain; not set")
    aliases = _host_aliases(svc.get("extra_hosts"), service, ctx)
    if aliases:
        spec["hostAliases"] = aliases
    dns = _dns(svc)
    if dns:
        spec["dnsConfig"] = dns
    _host_namespaces(svc, service, ctx, spec)
    if svc.get("stop_grace_period"):
        spec["terminationGracePeriodSeconds"] = math.ceil(duration_seconds(svc["stop_grace_period"]))
    selector = node_selector(svc, service, ctx)
    if selector:
        spec["nodeSelector"] = selector
    return spec


def _constraint(text: str, service: str, ctx: Context) -> tuple[str, str] | None:
    """A swarm placement constraint with `==` as a node label (None: inexpressible)."""
    key, sep, value = (part.strip() for part in text.partition("=="))
    if not sep:
        ctx.warn(service, "deploy.placement.constraints", f"{text!r} needs node affinity; ignored")
        return None
    if key.startswith("node.labels."):
        return key.removeprefix("node.labels."), value
    known = {"node.hostname": "kubernetes.io/hostname", "node.platform.os": "kubernetes.io/os",
             "node.platform.arch": "kubernetes.io/arch"}
    if key in known:
        return known[key], _ARCH.get(value, value) if key.endswith("arch") else value
    ctx.warn(service, "deploy.placement.constraints", f"{text!r} has no node label equivalent; ignored")
    return None


def node_selector(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, str]:
    """nodeSelector from `platform` and `deploy.placement.constraints`."""
    out: dict[str, str] = {}
    if svc.get("platform"):
        parts = str(svc["platform"]).split("/")
        out["kubernetes.io/os"] = parts[0]
        if len(parts) > 1:
            out["kubernetes.io/arch"] = _ARCH.get(parts[1], parts[1])
    placement = (svc.get("deploy") or {}).get("placement") or {}
    for text in placement.get("constraints") or []:
        pair = _constraint(str(text), service, ctx)
        if pair:
            out[pair[0]] = pair[1]
    for key in ("preferences", "max_replicas_per_node"):
        if placement.get(key):
            ctx.warn(service, f"deploy.placement.{key}", "not expressed (use topologySpreadConstraints)")
    return out


def compose_labels(labels: Any, service: str, ctx: Context, key: str) -> tuple[dict, dict]:
    """Compose labels as (labels, annotations): values labels can't hold become annotations."""
    good, notes, bad = split_labels(labels)
    for name in bad:
        ctx.warn(service, key, f"{name!r} is not a valid Kubernetes label key; dropped")
    return good, notes


def pod_metadata(svc: Mapping[str, Any], service: str, ctx: Context) -> dict[str, Any]:
    """Pod template metadata: selector + standard labels, compose labels, annotations."""
    labels, notes = compose_labels(svc.get("labels"), service, ctx, "labels")
    extra, more = compose_labels(svc.get("annotations"), service, ctx, "annotations")
    annotations = {**notes, **extra, **more}
    meta: dict[str, Any] = {"labels": {
        **labels,
        "com.docker.compose.project": ctx.instance,
        "com.docker.compose.service": ctx.namer.label_value(service),
        **ctx.labels(service),
    }}
    if annotations:
        meta["annotations"] = annotations
    return meta
