"""Embedded DNS for service discovery: per-network records, an asyncio resolver, resolv.conf text."""

from __future__ import annotations

from engine.network.dns.registry import Endpoint, Registry
from engine.network.dns.resolvconf import (
    container_resolv_conf,
    host_nameservers,
    host_search,
    hosts_file,
    resolv_conf,
)
from engine.network.dns.server import DnsServer

__all__ = [
    "DnsServer",
    "Endpoint",
    "Registry",
    "container_resolv_conf",
    "hosts_file",
    "host_nameservers",
    "host_search",
    "resolv_conf",
]
