"""Text of a container's /etc/resolv.conf and /etc/hosts, and reading the host's resolver list.

Pure string builders plus two small file readers. The container's resolv.conf always
points at the embedded resolver (even with compose ``dns:``: the resolver forwards to
those servers itself, so service names keep resolving), with ``options ndots:0`` as
Docker writes it so a bare service name is asked as is before any search domain.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Sequence

__all__ = [
    "resolv_conf",
    "container_resolv_conf",
    "hosts_file",
    "read_resolv_conf",
    "host_nameservers",
    "host_search",
    "parse_server",
]


def resolv_conf(nameserver: str | Sequence[str], dns_search: Iterable[str] = (),
                dns_options: Iterable[str] = ()) -> str:
    """resolv.conf content: our nameserver(s), compose ``dns_search`` and ``dns_opt`` (plus ndots:0)."""
    servers = [nameserver] if isinstance(nameserver, str) else list(nameserver)
    lines = [f"nameserver {s}" for s in servers]
    search = [d.strip() for d in dns_search if d.strip()]
    if search and search != ["."]:  # "." means: no search domain at all (Docker's convention)
        lines.append("search " + " ".join(d.rstrip(".") if d != "." else d for d in search))
    options = [o.strip() for o in dns_options if o.strip()]
    if not any(o.startswith("ndots:") for o in options):
        options.insert(0, "ndots:0")
    lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def container_resolv_conf(nameserver: str, dns_search: Iterable[str] | None = None,
                          dns_opt: Iterable[str] | None = None, host_path: str = "/etc/resolv.conf") -> str:
    """Docker's rules: compose ``dns_search``/``dns_opt`` when set, else the host's search and options.

    The nameserver is always the embedded resolver; compose ``dns`` goes to
    ``Registry.set_dns`` instead, so the container keeps resolving service names.
    """
    _servers, host_domains, host_options = read_resolv_conf(host_path)
    search = list(dns_search) if dns_search is not None else host_domains
    # the host's ndots suits the host's search list, not service names: only the user's ndots overrides 0
    options = list(dns_opt) if dns_opt is not None else [o for o in host_options if not o.startswith("ndots:")]
    return resolv_conf(nameserver, search, options)


def hosts_file(hostname: str, addresses: Iterable[str] = (), extra_hosts: Iterable[tuple[str, str]] = (),
               domainname: str = "") -> str:
    """/etc/hosts content: localhost, the container's own name on each address, then ``extra_hosts``."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix",
             "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters"]
    own = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    for addr in addresses:
        if addr:
            lines.append(f"{addr}\t{own}")
    for host, ip in extra_hosts:
        lines.append(f"{ip}\t{host}")
    return "\n".join(lines) + "\n"


def read_resolv_conf(path: str = "/etc/resolv.conf") -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search domains, options) of a resolv.conf; empty lists if it is missing."""
    servers: list[str] = []
    search: list[str] = []
    options: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return servers, search, options
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) < 2:
            continue
        if words[0] == "nameserver":
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            search = words[1:]
        elif words[0] == "options":
            options.extend(words[1:])
    return servers, search, options


def host_nameservers(path: str = "/etc/resolv.conf", limit: int = 3) -> list[str]:
    """The host's first ``limit`` nameservers, loopback stubs included (we forward from the host side)."""
    valid = []
    for server in read_resolv_conf(path)[0]:
        try:
            parse_server(server)
        except ValueError:
            continue
        valid.append(server)
    return valid[:limit]


def host_search(path: str = "/etc/resolv.conf") -> list[str]:
    """The host's search domains (Docker copies them when compose sets no ``dns_search``)."""
    return read_resolv_conf(path)[1]


def parse_server(server: str, default_port: int = 53) -> tuple[str, int]:
    """'1.2.3.4', '1.2.3.4:5353', '::1', '[::1]:5353' or 'fe80::1%eth0' -> (host, port)."""
    text = server.strip()
    port = default_port
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"bad server address {server!r}")
        if rest:
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        port = int(p)
    else:
        host = text
    ipaddress.ip_address(host.split("%", 1)[0])
    if not 0 < port < 65536:
        raise ValueError(f"port out of range in {server!r}")
    return host, port
