"""A scriptable upstream DNS server and small DNS clients, for tests and the benchmark.

Loopback-only helpers: ``FakeUpstream`` answers from a dict of names (with optional
delays and rcodes) and records every query it gets, so tests can prove what was or
was not forwarded; ``ask_udp``/``ask_tcp`` send one query from a chosen source IP.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
from dataclasses import dataclass, field

from engine.network.dns import wire

__all__ = ["FakeUpstream", "Reply", "ask_udp", "ask_tcp", "ask_tcp_many"]


@dataclass
class Reply:
    """How the fake upstream answers one name."""

    addresses: list[str] = field(default_factory=list)
    rcode: int = wire.NOERROR
    delay: float = 0.0


class FakeUpstream(asyncio.DatagramProtocol):
    """UDP+TCP DNS server on a loopback address answering scripted names; unknown names get NXDOMAIN."""

    def __init__(self, answers: dict[str, Reply] | None = None) -> None:
        self.answers = {k.lower(): v for k, v in (answers or {}).items()}
        self.seen: list[str] = []  # query names in arrival order
        self.addr: tuple[str, int] = ("", 0)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self, ip: str = "127.0.0.53", port: int = 0) -> tuple[str, int]:
        """Bind UDP and TCP on the same port; return the address."""
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(ip, port))
        self.addr = self._udp.get_extra_info("sockname")[:2]
        self._tcp = await asyncio.start_server(self._on_stream, ip, self.addr[1])
        return self.addr

    async def stop(self) -> None:
        """Close sockets and pending delayed answers."""
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _answer(self, data: bytes, udp: bool) -> bytes:
        q = wire.parse_query(data)
        self.seen.append(q.name.lower())
        rule = self.answers.get(q.name.lower())
        if rule is None:
            return wire.build_error(q, wire.NXDOMAIN)
        if rule.delay:
            await asyncio.sleep(rule.delay)
        if rule.rcode != wire.NOERROR:
            return wire.build_error(q, rule.rcode)
        want = 6 if q.qtype == wire.AAAA else 4 if q.qtype == wire.A else 0
        rdatas = [wire.rdata_for(q.qtype, a) for a in rule.addresses if ipaddress.ip_address(a).version == want]
        return wire.build_answer(q, q.qtype, rdatas, 300, q.udp_limit if udp else None)

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        async def reply() -> None:
            out = await self._answer(data, True)
            if self._udp is not None and not self._udp.is_closing():
                self._udp.sendto(out, addr)
        task = asyncio.get_running_loop().create_task(reply())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                out = await self._answer(await reader.readexactly(size), False)
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def ask_udp(server: tuple[str, int], payload: bytes, source: str = "127.0.0.1",
                  timeout: float = 3.0) -> bytes | None:
    """Send one datagram from ``source`` and return the reply, or None after ``timeout``."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.setblocking(False)
        sock.connect(server)
        await loop.sock_sendall(sock, payload)
        try:
            return await asyncio.wait_for(loop.sock_recv(sock, 65535), timeout)
        except (asyncio.TimeoutError, TimeoutError):
            return None


async def ask_tcp_many(server: tuple[str, int], payloads: list[bytes], source: str = "127.0.0.1",
                       timeout: float = 3.0) -> list[bytes]:
    """Send several length-prefixed queries on one TCP connection; return the replies in order."""
    async def run() -> list[bytes]:
        reader, writer = await asyncio.open_connection(server[0], server[1], local_addr=(source, 0))
        try:
            out = []
            for payload in payloads:
                writer.write(struct.pack("!H", len(payload)) + payload)
                await writer.drain()
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                out.append(await reader.readexactly(size))
            return out
        finally:
            writer.close()
    return await asyncio.wait_for(run(), timeout)


async def ask_tcp(server: tuple[str, int], payload: bytes, source: str = "127.0.0.1",
                  timeout: float = 3.0) -> bytes:
    """One query over TCP."""
    return (await ask_tcp_many(server, [payload], source, timeout))[0]
