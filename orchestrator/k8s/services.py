"""Services: one ClusterIP per service others reach by name, aliases, and published ports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .containers import container_ports
from .context import Context
from .names import dns_label, port_name

__all__ = ["cluster_services", "published_service", "headless_service", "SERVICE_TYPES"]

SERVICE_TYPES = ("NodePort", "LoadBalancer", "ClusterIP")
NODE_PORTS = range(30000, 32768)


def _ports(svc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Service ports equal to the container ports, as Compose's service DNS reaches them."""
    return [{"name": port_name(proto, port), "port": port, "targetPort": port,
             "protocol": proto.upper()} for port, proto in container_ports(svc)]


def _service(ctx: Context, name: str, service: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A Service object selecting the pods of `service`."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": ctx.meta(name, service),
            "spec": {"selector": ctx.selector(service), **spec}}


def _aliases(ctx: Context) -> dict[str, set[str]]:
    """Extra DNS names per service: network aliases and the aliases others give it in `links`."""
    out: dict[str, set[str]] = {}
    for service, svc in ctx.services.items():
        for net in (svc.get("networks") or {}).values():
            for alias in (net or {}).get("aliases") or []:
                out.setdefault(service, set()).add(str(alias))
        for link in svc.get("links") or []:
            target, _, alias = str(link).partition(":")
            if alias and alias != target:
                out.setdefault(target, set()).add(alias)
    return out


def cluster_services(ctx: Context) -> list[dict[str, Any]]:
    """A ClusterIP Service per service with ports (plus one per alias); warns for unreachable ones."""
    out: list[dict[str, Any]] = []
    taken = {ctx.name(s) for s in ctx.services}
    aliases = _aliases(ctx)
    wanted = {d for svc in ctx.services.values() for d, spec in (svc.get("depends_on") or {}).items()
              if (spec or {}).get("condition") != "service_completed_successfully"}
    wanted |= {str(link).partition(":")[0] for svc in ctx.services.values() for link in svc.get("links") or []}
    for service, svc in ctx.services.items():
        ports = _ports(svc)
        if not ports:
            if service in wanted and svc.get("network_mode") is None:
                ctx.warn(service, "expose", "others depend on it but it declares no ports, so it "
                         "gets no Service; add `expose` for the ports it listens on")
            continue
        out.append(_service(ctx, ctx.name(service), service, {"type": "ClusterIP", "ports": ports}))
        for alias in sorted(aliases.get(service, ())):
            name = dns_label(alias)
            if name in taken:
                ctx.warn(service, "networks.aliases", f"alias {alias!r} clashes with another "
                         "Service name; not created")
                continue
            taken.add(name)
            out.append(_service(ctx, name, service, {"type": "ClusterIP", "ports": ports}))
    return out


def _published_port(ctx: Context, p: Mapping[str, Any], notes: dict[str, list[str]]) -> dict[str, Any]:
    """One host-published port as a NodePort/LoadBalancer port (no host port: one is assigned)."""
    published = str(p.get("published") or "")
    target, proto = int(p["target"]), str(p.get("protocol") or "tcp")
    if p.get("host_ip") not in (None, "", "0.0.0.0", "::"):
        notes["host_ip"].append(f"{p['host_ip']}:{published}")
    if "-" in published:
        notes["range"].append(published)
        published = published.split("-")[0]
    port = int(published) if published else target
    out = {"name": port_name(proto, port), "port": port, "targetPort": target, "protocol": proto.upper()}
    if ctx.options.service_type == "NodePort" and published:
        if port in NODE_PORTS:
            out["nodePort"] = port
        else:
            notes["node_port"].append(str(port))
    return out


def _port_warnings(ctx: Context, service: str, notes: Mapping[str, list[str]]) -> None:
    """One warning per kind of loss, listing the ports concerned."""
    if notes["host_ip"]:
        ctx.warn(service, "ports", f"host_ip of {', '.join(notes['host_ip'])} cannot be expressed; "
                 "those ports are reachable on every node/load-balancer address")
    if notes["range"]:
        ctx.warn(service, "ports", f"published ranges {', '.join(notes['range'])} kept as their first port")
    if notes["node_port"]:
        ctx.warn(service, "ports", f"host ports {', '.join(notes['node_port'])} are outside the "
                 "NodePort range 30000-32767; Kubernetes assigns node ports (see `kubectl get svc`)")


def published_service(ctx: Context, service: str) -> dict[str, Any] | None:
    """The NodePort/LoadBalancer Service `<name>-published` for the ports published on the host."""
    svc = ctx.services[service]
    host_ports = svc.get("ports") or []
    if host_ports and ctx.options.service_type == "ClusterIP":
        ctx.warn(service, "ports", "not published outside the cluster (service type ClusterIP); "
                 "use kubectl port-forward")
        return None
    ports: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {"host_ip": [], "range": [], "node_port": []}
    for p in host_ports:
        port = _published_port(ctx, p, notes)
        if all((q["port"], q["protocol"]) != (port["port"], port["protocol"]) for q in ports):
            ports.append(port)
    _port_warnings(ctx, service, notes)
    if not ports:
        return None
    name = f"{ctx.name(service)}-published"
    return _service(ctx, name, service, {"type": ctx.options.service_type, "ports": ports})


def headless_service(ctx: Context, service: str) -> dict[str, Any]:
    """The headless Service a StatefulSet names its pods under."""
    spec = {"clusterIP": "None", "ports": _ports(ctx.services[service])}
    if not spec["ports"]:
        del spec["ports"]
    return _service(ctx, f"{ctx.name(service)}-headless", service, spec)
