"""Contents of the per-container /etc/hosts, /etc/hostname and /etc/resolv.conf (pure functions)."""

from __future__ import annotations

from engine.spec import ContainerSpec

__all__ = ["hosts_file", "hostname_file", "resolv_conf"]

_HOSTS_BASE = ("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
               "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
               "ff02::2\tip6-allrouters\n")
_FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")  # Docker's fallback when the host only has loopback resolvers


def hosts_file(spec: ContainerSpec) -> str:
    """Docker's default hosts plus the spec's extra_hosts lines."""
    extra = "".join(f"{ip}\t{name}\n" for name, ip in spec.extra_hosts)
    return _HOSTS_BASE + extra


def hostname_file(hostname: str) -> str:
    """/etc/hostname."""
    return hostname + "\n"


def _host_resolv(text: str) -> tuple[list[str], list[str], list[str]]:
    servers, search, options = [], [], []
    for line in text.splitlines():
        f = line.split()
        if not f or f[0].startswith(("#", ";")):
            continue
        if f[0] == "nameserver" and len(f) > 1:
            servers.append(f[1])
        elif f[0] in ("search", "domain"):
            search = f[1:]
        elif f[0] == "options":
            options += f[1:]
    return servers, search, options


def resolv_conf(spec: ContainerSpec, host_text: str) -> str:
    """The spec's DNS settings, else the host's minus loopback resolvers (as Docker does)."""
    servers, search, options = _host_resolv(host_text)
    servers = [s for s in servers if not s.startswith("127.") and s != "::1"]
    servers = list(spec.dns) or servers or list(_FALLBACK_DNS)
    search = list(spec.dns_search) or search
    options = list(spec.dns_options) or options
    out = "".join(f"nameserver {s}\n" for s in servers)
    if search:
        out += "search " + " ".join(search) + "\n"
    if options:
        out += "options " + " ".join(options) + "\n"
    return out
