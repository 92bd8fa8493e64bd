"""The embedded DNS server: asyncio UDP + TCP, answers service names, forwards the rest.

Where it listens (the choice, and why): **each network's gateway IP on the host
side** (aardvark-dns's model); a container's resolv.conf says ``nameserver
<gateway of its first network>`` and the client is identified by its source IP
(``Registry.networks_of``), which gives all networks of its container. Reasons:
one UDP+TCP socket pair per *network* instead of per container; no socket pins a
container's network namespace (Docker's per-netns socket keeps the netns alive
until closed and must be re-opened from every netns after a daemon restart);
forwarding naturally happens from the host side so loopback stubs (127.0.0.53)
work; and the network layer only has to hand over gateway addresses. Internal
networks keep their gateway address (like Docker), so they are served too, but
their clients are never forwarded. The known weak spots of this model are a host
DNS server owning ``*:53`` or a host firewall dropping port 53 on new bridges: for
those, ``add_listener`` takes any port (the network layer can DNAT gateway:53 to
it, as netavark does) and also supports Docker's model: a socket opened inside a
container's netns (``netns=``) whose clients are that container (``container_id=``).

Answers: A/AAAA/PTR from the registry with TTL 0 (aardvark's choice, not Docker's
600): replicas scale, restart with new addresses and turn unhealthy, and a caching
client (nginx, the JVM, a stub resolver in the container) must not keep a dead
address for ten minutes; answering costs ~0.3 ms, so caching buys nothing here.
Internal answers are computed synchronously in the receive callback, so they never
wait behind a forwarded query; each forwarded query is its own task, at most
``max_inflight`` at once (Docker: 1024), beyond that the client gets SERVFAIL.
Malformed packets are dropped; oversized UDP answers are truncated with TC set.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import Iterable

from engine.network.dns import wire
from engine.network.dns.answer import Forward, decide
from engine.network.dns.forward import forward
from engine.network.dns.netns import bind_socket
from engine.network.dns.registry import Registry
from engine.network.dns.resolvconf import host_nameservers

__all__ = ["DnsServer"]

log = logging.getLogger("shoal.dns")


class _Udp(asyncio.DatagramProtocol):
    """Hands each datagram to the server with the listener's fixed client, if any."""

    def __init__(self, server: "DnsServer", container_id: str | None) -> None:
        self.server, self.container_id = server, container_id
        self.transport: asyncio.DatagramTransport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)  # the socket is really closed now

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        if self.transport is not None:
            self.server._on_datagram(self.transport, data, addr, self.container_id)

    def error_received(self, exc: Exception) -> None:
        log.debug("dns udp error: %s", exc)  # ICMP errors for earlier replies: nothing to do


class _Listener:
    """One bound address: its UDP transport and TCP server."""

    def __init__(self, addr: tuple[str, int], udp: asyncio.DatagramTransport, proto: _Udp,
                 tcp: asyncio.Server) -> None:
        self.addr, self.udp, self.proto, self.tcp = addr, udp, proto, tcp


class DnsServer:
    """Embedded resolver over a ``Registry``; forwards unknown names to ``upstreams``."""

    def __init__(self, registry: Registry, upstreams: list[str] | None = None, timeout: float = 2.0, *,
                 ttl: int = 0, max_inflight: int = 1024, resolv_conf: str = "/etc/resolv.conf",
                 tcp_idle: float = 10.0) -> None:
        self.registry = registry
        self.upstreams = list(upstreams) if upstreams is not None else host_nameservers(resolv_conf)
        self.timeout, self.ttl, self.max_inflight, self.tcp_idle = timeout, ttl, max_inflight, tcp_idle
        self._listeners: dict[tuple[str, int], _Listener] = {}
        self._tasks: set[asyncio.Task] = set()
        self._conns: set[asyncio.StreamWriter] = set()

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Addresses currently served (with real ports when 0 was asked for)."""
        return list(self._listeners)

    async def start(self, listen: Iterable[tuple[str, int]] = (), netns: str | None = None) -> list[tuple[str, int]]:
        """Listen on every (ip, port), UDP and TCP; return the bound addresses."""
        try:
            return [await self.add_listener(ip, port, netns=netns) for ip, port in listen]
        except BaseException:
            await self.stop()
            raise

    async def add_listener(self, ip: str, port: int = 53, *, netns: str | None = None,
                           container_id: str | None = None) -> tuple[str, int]:
        """Serve (ip, port) over UDP and TCP, in ``netns`` if given; ``container_id`` fixes the client."""
        udp_sock, tcp_sock = self._bind_pair(ip, port, netns)
        loop = asyncio.get_running_loop()
        try:
            udp, proto = await loop.create_datagram_endpoint(lambda: _Udp(self, container_id), sock=udp_sock)
        except BaseException:
            udp_sock.close()
            tcp_sock.close()
            raise
        try:
            tcp = await asyncio.start_server(lambda r, w: self._on_stream(r, w, container_id), sock=tcp_sock)
        except BaseException:
            udp.close()
            tcp_sock.close()
            raise
        addr = (ip, udp_sock.getsockname()[1])
        self._listeners[addr] = _Listener(addr, udp, proto, tcp)
        return addr

    @staticmethod
    def _bind_pair(ip: str, port: int, netns: str | None) -> tuple[socket.socket, socket.socket]:
        """UDP and TCP sockets on the same port (port 0: the UDP port the kernel picks, retried)."""
        for _attempt in range(20):
            udp = bind_socket(socket.SOCK_DGRAM, (ip, port), netns)
            try:
                return udp, bind_socket(socket.SOCK_STREAM, (ip, udp.getsockname()[1]), netns)
            except OSError:
                udp.close()
                if port:
                    raise
        raise OSError(f"no free port for UDP and TCP together on {ip}")

    async def remove_listener(self, addr: tuple[str, int]) -> None:
        """Stop serving one address (e.g. its network was removed)."""
        lst = self._listeners.pop(addr, None)
        if lst is not None:
            lst.udp.close()
            lst.tcp.close()
            await lst.tcp.wait_closed()
            await lst.proto.closed

    async def stop(self) -> None:
        """Close every listener, connection and forwarding task."""
        for addr in list(self._listeners):
            await self.remove_listener(addr)
        for writer in list(self._conns):
            writer.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _decide(self, data: bytes, client_ip: str, container_id: str | None, udp: bool) -> bytes | Forward | None:
        """The pure decision, shielded: a bug or a weird packet never takes the server down."""
        try:
            return decide(self.registry, data, client_ip, default_upstreams=self.upstreams,
                          exclude=self._listeners.keys(), ttl=self.ttl, udp=udp, container_id=container_id)
        except Exception:  # noqa: BLE001 - the resolver must keep serving
            log.exception("dns: failed to handle a query from %s", client_ip)
            return None

    def _on_datagram(self, transport: asyncio.DatagramTransport, data: bytes, addr: tuple,
                     container_id: str | None) -> None:
        result = self._decide(data, addr[0], container_id, udp=True)
        if isinstance(result, bytes):
            transport.sendto(result, addr)
        elif isinstance(result, Forward):
            if len(self._tasks) >= self.max_inflight:
                transport.sendto(wire.build_error(result.query, wire.SERVFAIL), addr)
                return
            task = asyncio.get_running_loop().create_task(self._forward_udp(transport, result, addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _resolve(self, fwd: Forward, tcp: bool) -> bytes:
        """Upstream's reply, or SERVFAIL when no upstream answered."""
        reply = await forward(fwd.data, fwd.servers, self.timeout, tcp=tcp)
        return reply if reply is not None else wire.build_error(fwd.query, wire.SERVFAIL)

    async def _forward_udp(self, transport: asyncio.DatagramTransport, fwd: Forward, addr: tuple) -> None:
        reply = await self._resolve(fwd, tcp=False)
        if not transport.is_closing():
            transport.sendto(reply, addr)

    async def _on_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         container_id: str | None) -> None:
        """Length-prefixed queries on one TCP connection, answered in order until idle or EOF."""
        peer = writer.get_extra_info("peername") or ("", 0)
        self._conns.add(writer)
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), self.tcp_idle)
                data = await asyncio.wait_for(reader.readexactly(struct.unpack("!H", head)[0]), self.tcp_idle)
                result = self._decide(data, peer[0], container_id, udp=False)
                if result is None:
                    break  # malformed: drop the connection, as there is no id to answer to
                reply = await self._resolve(result, tcp=True) if isinstance(result, Forward) else result
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, TimeoutError, ConnectionError, OSError):
            pass
        finally:
            self._conns.discard(writer)
            writer.close()
