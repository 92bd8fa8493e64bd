"""Test helpers: a private "host" netns with an uplink to an "outside" netns, servers, clients.

All traffic stays inside namespaces these helpers create (or on 127.0.0.0/8).
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from dataclasses import dataclass, field

from pyroute2 import IPRoute

from engine.network import NetworkManager, create_netns, remove_netns, run_in_netns

__all__ = ["host_snapshot", "Lab", "Server", "make_lab", "tcp_ask", "udp_ask", "tcp_blocked", "run", "OUTSIDE_IP"]

UPLINK_HOST_IP = "198.51.100.1"
OUTSIDE_IP = "198.51.100.2"
UPLINK_MTU = 1400


def host_snapshot(mount_filter: str = "") -> dict[str, str]:
    """What a leak would change in this netns: links, named netns, nft tables, netns mounts.

    Mounts are limited to those under ``mount_filter`` (other sessions share this machine).
    """
    def out(*argv: str) -> str:
        return subprocess.run(argv, capture_output=True, text=True).stdout
    links = sorted(line.split(":")[1].strip() for line in out("ip", "-o", "link").splitlines())
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(line.split()[4] for line in f if mount_filter in line.split()[4])
    return {"links": "\n".join(links), "netns": out("ip", "netns"),
            "nft": out("nft", "list", "tables"), "mounts": "\n".join(mounts)}


class Server:
    """A TCP or UDP server inside a netns answering ``<name> <client ip>``; counts clients."""

    def __init__(self, netns: str, name: str, port: int, proto: str = "tcp", echo: bool = False):
        self.name, self.proto, self.echo, self.count = name, proto, echo, 0
        self.sock = run_in_netns(netns, self._open, port)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _open(self, port: int) -> socket.socket:
        kind = socket.SOCK_STREAM if self.proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        if self.proto == "tcp":
            s.listen(64)
        return s

    def _serve(self) -> None:
        while True:
            try:
                if self.proto == "udp":
                    data, peer = self.sock.recvfrom(2048)
                    if peer is None:  # shut down
                        return
                    self.count += 1
                    self.sock.sendto(f"{self.name} {peer[0]}".encode(), peer)
                    continue
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.count += 1
            if self.echo:
                threading.Thread(target=self._echo, args=(conn,), daemon=True).start()
            else:
                conn.sendall(f"{self.name} {peer[0]}".encode())
                conn.close()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=2)


def tcp_ask(netns: str | None, ip: str, port: int, timeout: float = 3.0) -> str:
    """Connect from ``netns`` and return what the server says."""
    def body() -> str:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            return s.recv(200).decode()
    return run_in_netns(netns, body)


def udp_ask(netns: str | None, ip: str, port: int, timeout: float = 3.0) -> str:
    """Send one datagram from ``netns`` and return the reply."""
    def body() -> str:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(b"ping", (ip, port))
            return s.recvfrom(200)[0].decode()
    return run_in_netns(netns, body)


def tcp_blocked(netns: str | None, ip: str, port: int, timeout: float = 1.0) -> str:
    """'' if a connection succeeds, else the error (timeout, unreachable, refused)."""
    try:
        tcp_ask(netns, ip, port, timeout)
    except OSError as exc:
        return type(exc).__name__ + ": " + str(exc)
    return ""


def run(netns: str | None, *argv: str, check: bool = True) -> str:
    """Run a command inside ``netns`` (it inherits the thread's namespace)."""
    proc = run_in_netns(netns, subprocess.run, list(argv), capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{argv}: {proc.stderr}")
    return proc.stdout


@dataclass
class Lab:
    """A private host netns ``host`` (uplink to ``outside``), a manager, and what to close."""

    dir: str
    host: str
    outside: str
    manager: NetworkManager
    servers: list[Server] = field(default_factory=list)

    def server(self, netns: str, name: str, port: int, proto: str = "tcp", echo: bool = False) -> Server:
        srv = Server(netns, name, port, proto, echo)
        self.servers.append(srv)
        return srv

    def container(self, cid: str, *networks: str, **kw) -> tuple[str, list]:
        """A container netns attached to ``networks`` (eth0, eth1, ...)."""
        path = self.manager.create_netns(cid)
        eps = [self.manager.attach(path, n, interface=f"eth{i}", **kw) for i, n in enumerate(networks)]
        return path, eps

    def close(self) -> None:
        for srv in self.servers:
            srv.close()
        try:
            self.manager.cleanup_all()
        finally:
            remove_netns(self.host)
            remove_netns(self.outside)


def _uplink(host: str, outside: str) -> None:
    """veth host:up0 <-> outside:up1, addresses, default route of the host via outside."""
    def in_host() -> None:
        with IPRoute() as ipr:
            fd = os.open(outside, os.O_RDONLY)
            try:
                ipr.link("add", ifname="up0", kind="veth", mtu=UPLINK_MTU,
                         peer={"ifname": "up1", "net_ns_fd": fd, "mtu": UPLINK_MTU})
            finally:
                os.close(fd)
            idx = ipr.link_lookup(ifname="up0")[0]
            ipr.addr("add", index=idx, address=UPLINK_HOST_IP, prefixlen=24)
            ipr.link("set", index=idx, state="up")
            ipr.route("add", dst="default", gateway=OUTSIDE_IP)

    def in_outside() -> None:
        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname="up1")[0]
            ipr.addr("add", index=idx, address=OUTSIDE_IP, prefixlen=24)
            ipr.link("set", index=idx, state="up")
    run_in_netns(host, in_host)
    run_in_netns(outside, in_outside)


def make_lab(tmp: str) -> Lab:
    """Build the private host, the outside and a manager rooted in ``tmp``."""
    host = create_netns(os.path.join(tmp, "ns", "host"))
    outside = create_netns(os.path.join(tmp, "ns", "outside"))
    try:
        _uplink(host, outside)
    except BaseException:
        remove_netns(host)
        remove_netns(outside)
        raise
    mgr = NetworkManager(os.path.join(tmp, "root"), os.path.join(tmp, "run"), host_netns=host)
    return Lab(tmp, host, outside, mgr)
