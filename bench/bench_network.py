"""Benchmark: container attach latency, and a published port against direct access.

Everything runs in a private "host" netns this script creates (and removes):
a network, a sink/echo server in a container netns, clients in the host netns
and in a second container. Reports, median of ``--rounds``:
  * attach: create_netns + attach (veth, address, routes) and detach + remove, ms each;
  * bulk TCP throughput (MB/s) direct to the container IP vs through the published port
    (127.0.0.1 DNAT + masquerade from the host, gateway DNAT from another container);
  * connection rate (connect + 1 round trip per connection), same three paths.
Needs root. Traffic stays inside the script's namespaces and 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine.network import (NetworkConfig, NetworkManager, PortBinding, create_netns,  # noqa: E402
                            remove_netns, run_in_netns)

CHUNK = 256 * 1024


def _serve(listener: socket.socket) -> None:
    """Per connection: answer 'ok' to a 1-byte hello, then sink everything until EOF."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_handle, args=(conn,), daemon=True).start()


def _handle(conn: socket.socket) -> None:
    """One client: hello/answer, then sink until EOF and confirm."""
    buf = bytearray(CHUNK)
    with conn:
        if conn.recv(1) == b"h":
            conn.sendall(b"ok")
        while conn.recv_into(buf):
            pass
        conn.sendall(b"done")


def _listener(port: int) -> socket.socket:
    """A listening TCP socket on all addresses of the calling thread's netns."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(256)
    return s


def bulk(ns: str, ip: str, port: int, megabytes: int) -> float:
    """MB/s of one upload of ``megabytes`` from ``ns``."""
    def body() -> float:
        data = b"\0" * CHUNK
        with socket.create_connection((ip, port), timeout=10) as s:
            s.sendall(b"x")
            start = time.perf_counter()
            for _ in range(megabytes * 1024 * 1024 // CHUNK):
                s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            s.recv(8)
            return megabytes / (time.perf_counter() - start)
    return run_in_netns(ns, body)


def conn_rate(ns: str, ip: str, port: int, count: int) -> float:
    """Connections per second (connect, hello, answer, close) from ``ns``."""
    def body() -> float:
        start = time.perf_counter()
        for _ in range(count):
            with socket.create_connection((ip, port), timeout=5) as s:
                s.sendall(b"h")
                s.recv(2)
        return count / (time.perf_counter() - start)
    return run_in_netns(ns, body)


def attach_times(m: NetworkManager, n: int) -> tuple[float, float]:
    """Median ms of create_netns+attach and of detach+remove_netns over ``n`` containers."""
    up, down = [], []
    for i in range(n):
        t = time.perf_counter()
        m.attach(m.create_netns(f"a{i}"), "bench")
        up.append(time.perf_counter() - t)
    for i in range(n):
        t = time.perf_counter()
        m.detach(f"a{i}", "bench")
        m.remove_netns(f"a{i}")
        down.append(time.perf_counter() - t)
    return statistics.median(up) * 1000, statistics.median(down) * 1000


def main() -> int:
    """Build the private host, measure, tear everything down."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mb", type=int, default=200, help="megabytes per bulk upload")
    ap.add_argument("--conns", type=int, default=300, help="connections per rate run")
    ap.add_argument("--attaches", type=int, default=20)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="shoal-bench-net-")
    host = create_netns(os.path.join(tmp, "host"))
    m = NetworkManager(os.path.join(tmp, "root"), os.path.join(tmp, "run"), host_netns=host)
    try:
        net = m.create_network(NetworkConfig("bench"))
        up, down = attach_times(m, args.attaches)
        print(f"attach (netns + veth + address + routes): {up:.1f} ms median of {args.attaches}; "
              f"detach + netns removal: {down:.1f} ms")
        srv_ns, cli_ns = m.create_netns("srv"), m.create_netns("cli")
        ep = m.attach(srv_ns, "bench")
        m.attach(cli_ns, "bench")
        listener = run_in_netns(srv_ns, _listener, 5001)
        threading.Thread(target=_serve, args=(listener,), daemon=True).start()
        m.publish("srv", ep, [PortBinding(5001, host_port=8001)])
        paths = {"direct (host -> container IP)": (host, ep.ipv4_address, 5001),
                 "published (host -> 127.0.0.1)": (host, "127.0.0.1", 8001),
                 "direct (container -> container)": (cli_ns, ep.ipv4_address, 5001),
                 "published (container -> gateway)": (cli_ns, net.gateway, 8001)}
        results = {k: ([], []) for k in paths}
        for _ in range(args.rounds):  # interleaved, so load changes hit every path alike
            for name, (ns, ip, port) in paths.items():
                results[name][0].append(bulk(ns, ip, port, args.mb))
                results[name][1].append(conn_rate(ns, ip, port, args.conns))
        print(f"{'path':36} {'MB/s':>8} {'conn/s':>8}   (median of {args.rounds} rounds)")
        for name, (mbs, rates) in results.items():
            print(f"{name:36} {statistics.median(mbs):8.0f} {statistics.median(rates):8.0f}")
        direct, pub = (statistics.median(results[k][0]) for k in list(paths)[:2])
        print(f"published/direct throughput from the host: {pub / direct:.0%}")
        listener.close()
    finally:
        m.cleanup_all()
        remove_netns(host)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
