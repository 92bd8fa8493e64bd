"""Embedded DNS for service discovery: per-network records, an asyncio resolver, resolv.conf text."""

from __future__ import annotations

from engine.network.dns.registry import Endpoint, Registry
from engine.network.dns.resolvconf import hosts_file, host_nameservers, host_search, resolv_conf
from engine.network.dns.server import DnsServer

__all__ = ["DnsServer", "Endpoint", "Registry", "hosts_file", "host_nameservers", "host_search", "resolv_conf"]
