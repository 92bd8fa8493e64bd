"""Nothing left behind; the real root netns; a real engine container behind a published port."""

from __future__ import annotations

import os
import time

import pytest

from engine import Engine
from engine.network import NetworkConfig, NetworkManager, PortBinding, run_in_netns
from engine.spec import ContainerSpec, NamespaceSpec
from netlab_helpers import Server, host_snapshot, run, tcp_ask, tcp_blocked

pytestmark = pytest.mark.root


def test_cleanup_all_leaves_nothing(lab, tmp_path):
    before = run_in_netns(lab.host, host_snapshot, str(tmp_path))
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    m.create_network(NetworkConfig("inner", internal=True, enable_ipv6=True))
    web, [ew, _] = lab.container("web", "front", "inner")
    m.publish("web", ew, [PortBinding(80, host_port=8080), PortBinding(53, protocol="udp")])
    during = run_in_netns(lab.host, host_snapshot, str(tmp_path))
    assert "shl-" in during["links"] and "shoal" in during["nft"] and "run/netns/web" in during["mounts"]
    m.cleanup_all()
    assert run_in_netns(lab.host, host_snapshot, str(tmp_path)) == before
    assert os.listdir(os.path.join(str(tmp_path), "run", "netns")) == []
    assert m.networks() == [] and m.endpoints() == [] and m.publications() == []


def _own_objects(m: NetworkManager, tmp: str) -> dict[str, str]:
    """What ``m`` (its root) holds in this netns: its table, its labelled links, mounts under ``tmp``.

    Other shoal roots (daemons, parallel tests) share the host; their objects are not ours to check.
    """
    table = run(None, "nft", "list", "table", "inet", m.table, check=False)
    links = [line for line in run(None, "ip", "-o", "link").splitlines() if m.owner in line]
    return {"table": table, "links": "\n".join(links), "mounts": host_snapshot(tmp)["mounts"]}


def test_real_root_netns(tmp_path):
    """The same wiring in this machine's own netns; only 127.0.0.1 and test namespaces are used."""
    forward = open("/proc/sys/net/ipv4/ip_forward").read()
    m = NetworkManager(str(tmp_path / "root"), str(tmp_path / "run"))
    before = _own_objects(m, str(tmp_path))
    assert before["table"] == "" and before["links"] == ""
    try:
        net = m.create_network(NetworkConfig("shoal-roottest"))
        c1 = m.create_netns("c1")
        e1 = m.attach(c1, net.name)
        c2 = m.create_netns("c2")
        e2 = m.attach(c2, net.name)
        srv = Server(c2, "c2", 80)
        try:
            assert tcp_ask(c1, e2.ipv4_address, 80) == f"c2 {e1.ipv4_address}"
            m.publish("c2", e2, [PortBinding(80, host_ip="127.0.0.1")])
            port = m.publications()[0].host_port
            assert tcp_ask(None, "127.0.0.1", port).startswith("c2 ")
            during = _own_objects(m, str(tmp_path))
            assert f"dport {port}" in during["table"]
            assert net.bridge in during["links"] and e1.host_veth in during["links"]
        finally:
            srv.close()
    finally:
        m.cleanup_all()
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write(forward)
    assert _own_objects(m, str(tmp_path)) == before


def test_engine_container_behind_a_published_port(lab, tmp_path, busybox_rootfs):
    """A real shoal container (busybox httpd) joins the netns the manager wired."""
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    ns, [ep] = lab.container("web", "front")
    client, [ec] = lab.container("client", "front")
    eng = Engine(str(tmp_path / "eroot"), str(tmp_path / "erun"))
    spec = ContainerSpec(name=f"web{time.monotonic_ns()}", rootfs=busybox_rootfs,
                         command=("sh", "-c", "echo hello-from-shoal > /tmp/index.html; "
                                              "exec httpd -f -p 80 -h /tmp"),
                         namespaces=NamespaceSpec(network=ns))
    cid = eng.create(spec)
    try:
        eng.start(cid)
        m.publish(cid, ep, [PortBinding(80, host_port=8080)])
        deadline = time.monotonic() + 10
        while tcp_blocked(lab.host, "127.0.0.1", 8080) and time.monotonic() < deadline:
            time.sleep(0.1)
        body = run(lab.host, "busybox", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html")
        assert body == "hello-from-shoal\n"
        out = run(client, "busybox", "wget", "-q", "-O", "-", f"http://{ep.ipv4_address}/index.html")
        assert out == "hello-from-shoal\n"
    finally:
        eng.remove(cid, force=True)


def test_two_roots_keep_to_their_own(lab, tmp_path):
    """Managers with different state roots on one host: own tables, own links, own cleanup."""
    a = lab.manager
    b = NetworkManager(str(tmp_path / "root2"), str(tmp_path / "run2"), host_netns=lab.host)
    try:
        assert a.table != b.table and a.table.startswith("shoal_") and b.table.startswith("shoal_")
        na, nb = a.create_network(NetworkConfig("front")), b.create_network(NetworkConfig("front"))
        assert na.bridge != nb.bridge and na.subnet != nb.subnet
        _, [ea] = lab.container("web", "front")
        nsb = b.create_netns("webb")
        eb = b.attach(nsb, "front")
        b.publish("webb", eb, [PortBinding(80, host_port=8080)])
        tables = run(lab.host, "nft", "list", "tables")
        assert f"inet {a.table}" in tables and f"inet {b.table}" in tables
        assert "dport 8080" in run(lab.host, "nft", "list", "table", "inet", b.table)
        a.detach("web", "front")
        a.remove_network("front")  # a's last network: only a's table goes
        tables = run(lab.host, "nft", "list", "tables")
        assert f"inet {a.table}" not in tables and f"inet {b.table}" in tables
        a.create_network(NetworkConfig("front"))
        a.cleanup_all()
        links = run(lab.host, "ip", "-o", "link")
        assert nb.bridge in links and eb.host_veth in links and na.bridge not in links
        assert f"inet {b.table}" in run(lab.host, "nft", "list", "tables")
        assert "dport 8080" in run(lab.host, "nft", "list", "table", "inet", b.table)
        assert b.reconcile(["webb"])["endpoints_removed"] == []
        assert [e.container_id for e in b.endpoints()] == ["webb"]
    finally:
        b.cleanup_all()
    assert "shoal" not in run(lab.host, "nft", "list", "tables")
