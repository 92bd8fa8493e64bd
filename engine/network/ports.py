"""Published ports: validate bindings (pure) and hold host-port placeholders.

shoal binds each published host port with a socket that never listens (and has
no SO_REUSEADDR), so a port another process holds is a clear error up front and
no other process can take it later; the traffic itself goes through kernel DNAT.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable

from engine.network.errors import PortError, PortInUse
from engine.network.types import PortBinding

__all__ = ["port_key", "parse_key", "validate_bindings", "candidates", "bind_placeholder"]


def port_key(host_ip: str, port: int, protocol: str) -> str:
    """The key of one published host port, e.g. ``*:8080/tcp`` or ``127.0.0.1:53/udp``."""
    return f"{host_ip or '*'}:{port}/{protocol}"


def parse_key(key: str) -> tuple[str, int, str]:
    """(host_ip, port, protocol) of a key made by ``port_key``."""
    addr, _, rest = key.rpartition(":")
    port, _, proto = rest.partition("/")
    return ("" if addr == "*" else addr), int(port), proto


def _check_port(value: int, what: str) -> None:
    """A port must be 1..65535."""
    if not isinstance(value, int) or not 1 <= value <= 65535:
        raise PortError(f"{what} {value!r} is out of range (1-65535)")


def validate_bindings(bindings: Iterable[PortBinding]) -> list[PortBinding]:
    """Reject malformed bindings and two bindings on the same fixed host port."""
    seen: dict[str, PortBinding] = {}
    out = list(bindings)
    for b in out:
        _check_port(b.container_port, "container port")
        if b.protocol not in ("tcp", "udp"):
            raise PortError(f"unsupported protocol {b.protocol!r} (tcp or udp)")
        if b.host_port:
            _check_port(b.host_port, "host port")
        if b.host_port_end:
            _check_port(b.host_port_end, "host port")
            if not b.host_port or b.host_port_end < b.host_port:
                raise PortError(f"invalid host port range {b.host_port}-{b.host_port_end}")
        if b.host_ip:
            try:
                if ipaddress.ip_address(b.host_ip).version != 4:
                    raise ValueError
            except ValueError:
                raise PortError(f"invalid host IP {b.host_ip!r} (IPv4 only)") from None
        if b.host_port and not b.host_port_end:
            key = port_key(b.host_ip, b.host_port, b.protocol)
            if key in seen:
                raise PortInUse(f"host port {b.host_port}/{b.protocol} is bound twice")
            seen[key] = b
    return out


def candidates(b: PortBinding) -> list[int]:
    """Host ports to try for a binding, in order; [0] means "let the kernel choose"."""
    if not b.host_port:
        return [0]
    return list(range(b.host_port, (b.host_port_end or b.host_port) + 1))


def bind_placeholder(host_ip: str, port: int, protocol: str) -> socket.socket:
    """Bind (never listen) ``host_ip:port``; raises PortInUse naming the port when taken."""
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.bind((host_ip or "0.0.0.0", port))
    except OSError as exc:
        sock.close()
        where = f"{host_ip}:{port}" if host_ip else str(port)
        raise PortInUse(f"host port {where}/{protocol} is already in use ({exc.strerror})") from None
    sock.set_inheritable(False)
    return sock
