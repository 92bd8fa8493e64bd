"""Benchmark: embedded DNS answer latency, internal and forwarded, on loopback only.

The server (and a fake upstream on 127.0.0.53:<port>) run on an event loop in a
background thread; a plain blocking client in a separate process (so the two never
share a GIL) sends one query at a time and times each round trip. Also measured: internal answers while 50 queries
wait on a slow upstream (they must not slow down), and over one TCP connection.
Usage: python3 bench/bench_dns.py [N]   (N internal queries, default 2000)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import socket
import statistics
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.network.dns import DnsServer, Registry, wire  # noqa: E402
from engine.network.dns.testing import FakeUpstream, Reply  # noqa: E402

CLIENT = "127.0.0.21"


class Stack:
    """Server + fake upstream on a loop in a daemon thread."""

    def __init__(self, endpoints: int) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.reg = Registry()
        self.reg.add("bench", "client", CLIENT, ["client"])
        for i in range(endpoints):
            self.reg.add("bench", f"c{i}", f"10.{64 + i // 65000}.{i // 250 % 250}.{i % 250 + 1}",
                         ["api" if i < 3 else f"svc{i}", f"proj-svc-{i}"])
        self.up = FakeUpstream({"example.test": Reply(["192.0.2.1"]), "slow.test": Reply(["192.0.2.2"], delay=5)})
        up = self.call(self.up.start("127.0.0.53"))
        self.server = DnsServer(self.reg, upstreams=[f"{up[0]}:{up[1]}"], timeout=10)
        (self.addr,) = self.call(self.server.start([("127.0.0.2", 0)]))

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.call(self.server.stop())
        self.call(self.up.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)


def _udp_times(addr, name: str, n: int) -> list[float]:
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((CLIENT, 0))
        s.connect(addr)
        s.settimeout(5)
        for i in range(n):
            q = wire.build_query(name, qid=i & 0xFFFF)
            t0 = time.perf_counter()
            s.send(q)
            while s.recv(65535)[:2] != q[:2]:
                pass
            out.append(time.perf_counter() - t0)
    return out


def _tcp_times(addr, name: str, n: int) -> list[float]:
    out = []
    with socket.create_connection(addr, source_address=(CLIENT, 0)) as s:
        for i in range(n):
            q = wire.build_query(name, qid=i & 0xFFFF)
            t0 = time.perf_counter()
            s.sendall(struct.pack("!H", len(q)) + q)
            size = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
            s.recv(size, socket.MSG_WAITALL)
            out.append(time.perf_counter() - t0)
    return out


def _row(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{label:<44} {statistics.median(ms):8.3f} {p99:8.3f} {len(ms) / sum(times):9.0f}"


def _client(fn, addr, name: str, n: int) -> list[float]:
    """Run one timing loop in a child process."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, (addr, name, n))


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    stack = Stack(endpoints=1000)
    held = []
    try:
        print(f"{'path (1000 endpoints registered)':<44} {'med ms':>8} {'p99 ms':>8} {'q/s':>9}")
        print(_row("internal A, 3 replicas, UDP", _client(_udp_times, stack.addr, "api", n)))
        print(_row("internal A, network suffix, UDP", _client(_udp_times, stack.addr, "svc500.bench", n)))
        print(_row("internal A, one TCP connection", _client(_tcp_times, stack.addr, "api", n // 2)))
        print(_row("forwarded to loopback upstream, UDP",
                   _client(_udp_times, stack.addr, "example.test", max(50, n // 4))))
        for i in range(50):  # 50 queries stuck on a 5 s upstream
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((CLIENT, 0))
            s.sendto(wire.build_query("slow.test", qid=i), stack.addr)
            held.append(s)
        time.sleep(0.05)
        print(_row("internal A while 50 forwards hang upstream", _client(_udp_times, stack.addr, "api", n)))
        t0 = time.perf_counter()
        for _ in range(100_000):
            stack.reg.lookup({"bench"}, "api", "A")
        took = time.perf_counter() - t0
        print(f"{'Registry.lookup, pure (median col = us each)':<44} {took * 10:8.3f} {'':>8} {100_000 / took:9.0f}")
    finally:
        for s in held:
            s.close()
        stack.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
