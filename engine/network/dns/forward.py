"""Send a query upstream from the daemon's own network namespace and wait for the answer.

Each attempt uses a fresh connected socket (random source port, so replies cannot be
confused between queries), a per-server timeout, and fails over to the next server
on timeout, network error, SERVFAIL or REFUSED, as Docker's resolver does.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import Sequence

__all__ = ["forward_udp", "forward_tcp", "forward"]

_RETRY_RCODES = (2, 5)  # SERVFAIL, REFUSED: ask the next server


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _matches(query: bytes, reply: bytes) -> bool:
    """Same id, a response, and the same question (case-insensitively) as the query."""
    if len(reply) < 12 or reply[:2] != query[:2] or not reply[2] & 0x80:
        return False
    end = query.find(b"\x00", 12)
    if end < 0:
        return True
    return reply[12:end + 5].lower() == query[12:end + 5].lower()


async def _udp_once(query: bytes, server: tuple[str, int], timeout: float) -> bytes:
    """One UDP exchange; raises TimeoutError or OSError."""
    loop = asyncio.get_running_loop()
    with socket.socket(_family(server[0]), socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        sock.connect(server)
        await loop.sock_sendall(sock, query)
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no answer from {server[0]}:{server[1]}")
            reply = await asyncio.wait_for(loop.sock_recv(sock, 65535), left)
            if _matches(query, reply):
                return reply


async def _tcp_once(query: bytes, server: tuple[str, int], timeout: float) -> bytes:
    """One TCP exchange (2-byte length prefix); raises TimeoutError, OSError or IncompleteReadError."""
    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(server[0], server[1])
        try:
            writer.write(struct.pack("!H", len(query)) + query)
            await writer.drain()
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                reply = await reader.readexactly(size)
                if _matches(query, reply):
                    return reply
        finally:
            writer.close()
    return await asyncio.wait_for(exchange(), timeout)


async def forward(query: bytes, servers: Sequence[tuple[str, int]], timeout: float, *, tcp: bool) -> bytes | None:
    """The first good upstream reply; else the last SERVFAIL/REFUSED reply; else None."""
    fallback: bytes | None = None
    once = _tcp_once if tcp else _udp_once
    for server in servers:
        try:
            reply = await once(query, server, timeout)
        except (TimeoutError, asyncio.TimeoutError, OSError, asyncio.IncompleteReadError, struct.error):
            continue
        if reply[3] & 0xF in _RETRY_RCODES:
            fallback = reply
            continue
        return reply
    return fallback


async def forward_udp(query: bytes, servers: Sequence[tuple[str, int]], timeout: float = 2.0) -> bytes | None:
    """Forward over UDP (a truncated upstream reply is passed on: the client retries over TCP)."""
    return await forward(query, servers, timeout, tcp=False)


async def forward_tcp(query: bytes, servers: Sequence[tuple[str, int]], timeout: float = 2.0) -> bytes | None:
    """Forward over TCP."""
    return await forward(query, servers, timeout, tcp=True)
