"""Kubernetes naming rules: DNS-1123/1035 names, label keys and values, port names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping

__all__ = [
    "DNS1123_LABEL",
    "DNS1035_LABEL",
    "DNS1123_SUBDOMAIN",
    "dns_label",
    "port_name",
    "is_label_key",
    "is_label_value",
    "split_labels",
    "standard_labels",
    "Namer",
    "MANAGED_BY",
]

MANAGED_BY = "shoal"
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def dns_label(text: str, limit: int = 63, letter_first: bool = True) -> str:
    """Turn any text into a DNS-1035 label (lowercase, '-' for others, starts with a letter)."""
    out = re.sub(r"[^a-z0-9-]+", "-", text.lower())
    out = re.sub(r"-{2,}", "-", out).strip("-") or "x"
    if letter_first and not out[0].isalpha():
        out = "x-" + out
    if len(out) > limit:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        out = out[: limit - 9].rstrip("-") + "-" + digest
    return out


def port_name(protocol: str, port: int) -> str:
    """An IANA_SVC_NAME for a port (at most 15 chars, lowercase, has a letter)."""
    return f"{protocol.lower()}-{port}"[:15]


def is_label_value(value: str) -> bool:
    """Whether a string is a valid label value (empty, or <= 63 chars of [A-Za-z0-9._-])."""
    return value == "" or (len(value) <= 63 and bool(_LABEL_NAME.match(value)))


def is_label_key(key: str) -> bool:
    """Whether a string is a valid label/annotation key: [prefix/]name."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= 63 and bool(_LABEL_NAME.match(name))


def split_labels(labels: Mapping[str, object] | None) -> tuple[dict, dict, list[str]]:
    """Compose labels to (valid labels, annotations for values labels can't hold, bad keys)."""
    good: dict[str, str] = {}
    notes: dict[str, str] = {}
    bad: list[str] = []
    for key, value in (labels or {}).items():
        text = "" if value is None else str(value)
        if not is_label_key(key):
            bad.append(key)
        elif is_label_value(text):
            good[key] = text
        else:
            notes[key] = text
    return good, notes, bad


def standard_labels(instance: str, name: str | None, component: str | None = None) -> dict[str, str]:
    """The recommended app.kubernetes.io/* labels."""
    labels = {}
    if name:
        labels["app.kubernetes.io/name"] = name
    labels["app.kubernetes.io/instance"] = instance
    if component:
        labels["app.kubernetes.io/component"] = component
    labels["app.kubernetes.io/part-of"] = instance
    labels["app.kubernetes.io/managed-by"] = MANAGED_BY
    return labels


class Namer:
    """Gives each compose service a unique DNS-1035 name and remembers it."""

    def __init__(self) -> None:
        """Start with no names taken."""
        self._services: dict[str, str] = {}
        self._taken: set[str] = set()

    def reserve_service(self, service: str, warn: Callable[[str, str, str], None]) -> str:
        """Name a service, warning when the Kubernetes name differs from the compose one."""
        base = dns_label(service, limit=50)
        name, n = base, 2
        while name in self._taken:
            name, n = f"{base}-{n}", n + 1
        self._taken.add(name)
        self._services[service] = name
        if name != service:
            warn(service, "name", f"not a valid Kubernetes name; objects are named {name!r} "
                 f"and other services must reach it as {name!r}")
        return name

    def service(self, service: str) -> str:
        """The name given to a service (names a service that was never reserved too)."""
        return self._services.get(service) or dns_label(service, limit=50)

    @staticmethod
    def label_value(text: str) -> str:
        """Text made into a valid label value."""
        out = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63].strip("-_.")
        return out or "x"
