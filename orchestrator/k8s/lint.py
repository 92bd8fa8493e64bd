"""Checks schema validation cannot see: selectors, targeted ports, volume references, names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .names import DNS1035_LABEL, DNS1123_LABEL, DNS1123_SUBDOMAIN

__all__ = ["lint", "WORKLOADS"]

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def _pod(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod template of a workload."""
    return obj["spec"]["template"]


def _matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Whether every selector label is on the pod."""
    return all(labels.get(k) == v for k, v in selector.items())


def _names(obj: Mapping[str, Any], where: str) -> list[str]:
    """Object, container, volume and port names against their DNS rules."""
    problems = []
    name = obj["metadata"]["name"]
    rule = DNS1035_LABEL if obj["kind"] == "Service" else DNS1123_SUBDOMAIN
    if not rule.match(name) or len(name) > (63 if obj["kind"] == "Service" else 253):
        problems.append(f"{where}: name {name!r} is not valid for a {obj['kind']}")
    if obj["kind"] in WORKLOADS:
        spec = _pod(obj)["spec"]
        items = [c["name"] for c in spec.get("containers", []) + spec.get("initContainers", [])]
        items += [v["name"] for v in spec.get("volumes", [])]
        items += [p["name"] for c in spec.get("containers", []) for p in c.get("ports", []) if "name" in p]
        problems += [f"{where}: {n!r} is not a DNS-1123 label" for n in items
                     if not DNS1123_LABEL.match(n) or len(n) > 63]
    return problems


def _workload(obj: Mapping[str, Any], where: str, kinds: Mapping[str, set[str]]) -> list[str]:
    """Selector matches the template; mounts name declared volumes; references exist."""
    problems = []
    template, spec = _pod(obj), _pod(obj)["spec"]
    labels = template.get("metadata", {}).get("labels", {})
    if obj["kind"] != "Job" and not _matches(obj["spec"]["selector"]["matchLabels"], labels):
        problems.append(f"{where}: selector does not match the pod template labels")
    declared = {v["name"] for v in spec.get("volumes", [])}
    declared |= {c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates", [])}
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        problems += [f"{where}: mount {m['name']!r} has no volume" for m in c.get("volumeMounts", [])
                     if m["name"] not in declared]
    refs = [("PersistentVolumeClaim", (v.get("persistentVolumeClaim") or {}).get("claimName")) for v in spec.get("volumes", [])]
    refs += [("ConfigMap", (v.get("configMap") or {}).get("name")) for v in spec.get("volumes", [])]
    refs += [("Secret", (v.get("secret") or {}).get("secretName")) for v in spec.get("volumes", [])]
    for c in spec.get("containers", []):
        for src in c.get("envFrom", []):
            refs.append(("ConfigMap", (src.get("configMapRef") or {}).get("name")))
            refs.append(("Secret", (src.get("secretRef") or {}).get("name")))
    refs.append(("ServiceAccount", spec.get("serviceAccountName")))
    problems += [f"{where}: refers to {kind} {name!r} which is not in the manifests"
                 for kind, name in refs if name and name not in kinds.get(kind, set())]
    policy = spec.get("restartPolicy")
    if (obj["kind"] == "Job") != (policy in ("Never", "OnFailure")):
        problems.append(f"{where}: restartPolicy {policy!r} not allowed for a {obj['kind']}")
    for c in spec.get("containers", []):
        if c.get("livenessProbe", {}).get("successThreshold", 1) != 1:
            problems.append(f"{where}: liveness successThreshold must be 1")
    return problems


def _service(obj: Mapping[str, Any], where: str, pods: list[Mapping[str, Any]]) -> list[str]:
    """The selector picks some pods and every port targets a port they expose."""
    spec = obj["spec"]
    chosen = [p for p in pods if _matches(spec.get("selector", {}), p.get("metadata", {}).get("labels", {}))]
    if not chosen:
        return [f"{where}: selector matches no pod template"]
    problems = []
    exposed = {(p["containerPort"], p.get("protocol", "TCP")) for pod in chosen
               for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    named = {p.get("name") for pod in chosen for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    ports = spec.get("ports", [])
    for port in ports:
        target = port.get("targetPort", port["port"])
        ok = target in named if isinstance(target, str) else (target, port.get("protocol", "TCP")) in exposed
        if not ok:
            problems.append(f"{where}: port {port['port']} targets {target}, which no pod exposes")
    if len(ports) > 1 and len({p.get("name") for p in ports}) != len(ports):
        problems.append(f"{where}: ports need distinct names")
    return problems


def lint(manifests: Iterable[Mapping[str, Any]],
         external: Iterable[tuple[str, str]] = ()) -> list[str]:
    """Every semantic problem found (empty: consistent); `external` (kind, name) objects pre-exist."""
    objs = list(manifests)
    kinds: dict[str, set[str]] = {}
    for obj in objs:
        kinds.setdefault(obj["kind"], set()).add(obj["metadata"]["name"])
    for kind, name in external:
        kinds.setdefault(kind, set()).add(name)
    problems, seen = [], set()
    pods = [_pod(o) for o in objs if o["kind"] in WORKLOADS]
    for obj in objs:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if where in seen:
            problems.append(f"{where}: defined twice")
        seen.add(where)
        problems += _names(obj, where)
        if obj["kind"] in WORKLOADS:
            problems += _workload(obj, where, kinds)
        elif obj["kind"] == "Service":
            problems += _service(obj, where, pods)
    return problems
