"""busybox nslookup inside namespaces the test creates, resolving through the embedded server.

Two namespaces joined by a veth: "h" plays the host side (the server's socket is bound
there on the gateway address, aardvark-style) and "c" plays a container. A second test
uses Docker's model: a socket at 127.0.0.11 inside the container's own namespace.
Forwarded names go to a fake upstream on this process's loopback, which proves that
forwarding happens from the daemon's side, not the container's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess

import pytest

from engine.network.dns import DnsServer, Registry
from engine.network.dns.testing import FakeUpstream, Reply

pytestmark = pytest.mark.root

GATEWAY, CLIENT = "10.250.77.1", "10.250.77.2"


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def namespaces():
    """(host-side netns path, container netns path) joined by a veth; removed afterwards."""
    base = f"shltest-dns{os.getpid()}"
    host, ctr = f"{base}h", f"{base}c"
    try:
        _ip("netns", "add", host)
        _ip("netns", "add", ctr)
        _ip("-n", host, "link", "add", "vgw", "type", "veth", "peer", "name", "eth0", "netns", ctr)
        _ip("-n", host, "addr", "add", f"{GATEWAY}/24", "dev", "vgw")
        _ip("-n", ctr, "addr", "add", f"{CLIENT}/24", "dev", "eth0")
        for ns, dev in ((host, "vgw"), (host, "lo"), (ctr, "eth0"), (ctr, "lo")):
            _ip("-n", ns, "link", "set", dev, "up")
        yield f"/run/netns/{host}", f"/run/netns/{ctr}"
    finally:
        for ns in (ctr, host):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        assert base not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


async def _nslookup(netns: str, name: str, server: str) -> str:
    """busybox nslookup run inside ``netns`` (as a container process would)."""
    proc = await asyncio.create_subprocess_exec(
        "nsenter", f"--net={netns}", "busybox", "nslookup", name, server,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    return out.decode()


def _registry() -> Registry:
    reg = Registry()
    reg.set_network("proj_default")
    reg.add("proj_default", "client", CLIENT, ["client", "proj-client-1"])
    reg.add("proj_default", "web1", "10.250.77.10", ["web", "proj-web-1"])
    reg.add("proj_default", "web2", "10.250.77.11", ["web", "proj-web-2"])
    return reg


def test_nslookup_through_the_gateway_listener(namespaces):
    host_ns, ctr_ns = namespaces

    async def main():
        up = FakeUpstream({"example.test": Reply(["192.0.2.1"])})
        await up.start("127.0.0.53")
        server = DnsServer(_registry(), upstreams=[f"127.0.0.53:{up.addr[1]}"])
        try:
            await server.add_listener(GATEWAY, 53, netns=host_ns)
            web = await _nslookup(ctr_ns, "web", GATEWAY)
            ext = await _nslookup(ctr_ns, "example.test", GATEWAY)
            missing = await _nslookup(ctr_ns, "nothing.test", GATEWAY)
        finally:
            await server.stop()
            await up.stop()
        return web, ext, missing, up.seen

    web, ext, missing, seen = asyncio.run(main())
    assert "10.250.77.10" in web and "10.250.77.11" in web, web
    assert "192.0.2.1" in ext, ext
    assert "NXDOMAIN" in missing or "can't find" in missing, missing
    assert "example.test" in seen and "web" not in seen


def test_nslookup_through_a_socket_inside_the_container_netns(namespaces):
    _host_ns, ctr_ns = namespaces

    async def main():
        server = DnsServer(_registry(), upstreams=[])
        try:
            await server.add_listener("127.0.0.11", 53, netns=ctr_ns, container_id="client")
            return await _nslookup(ctr_ns, "proj-web-2", "127.0.0.11")
        finally:
            await server.stop()

    out = asyncio.run(main())
    assert "10.250.77.11" in out and "10.250.77.10" not in out, out
