"""Published ports: loopback, other containers, hairpin, UDP, load balancing, conflicts, restarts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from engine.network import (NetworkConfig, NetworkManager, PortBinding, PortError, PortInUse,
                            run_in_netns)
from netlab_helpers import OUTSIDE_IP, run, tcp_ask, tcp_blocked, udp_ask

pytestmark = pytest.mark.root


def test_published_tcp_from_loopback_other_container_hairpin_and_outside(lab):
    m = lab.manager
    net = m.create_network(NetworkConfig("front"))
    m.create_network(NetworkConfig("back"))
    web, [ew] = lab.container("web", "front")
    other, [eo] = lab.container("other", "front")
    far, [ef] = lab.container("far", "back")
    lab.server(web, "web", 80)
    [pub] = m.publish("web", ew, [PortBinding(80, host_port=8080)])
    assert pub.key == "*:8080/tcp" and pub.host_port == 8080
    assert tcp_ask(lab.host, "127.0.0.1", 8080).startswith("web ")  # host loopback
    assert tcp_ask(other, net.gateway, 8080) == f"web {eo.ipv4_address}"  # client IP kept
    assert tcp_ask(far, "198.51.100.1", 8080).startswith("web ")  # from another network
    assert tcp_ask(web, net.gateway, 8080).startswith("web ")  # hairpin to itself
    run(lab.outside, "ip", "route", "add", "10.0.0.0/8", "via", "198.51.100.1")
    assert tcp_ask(lab.outside, "198.51.100.1", 8080) == f"web {OUTSIDE_IP}"  # other interface
    assert tcp_blocked(lab.outside, ew.ipv4_address, 80)  # but not the container IP directly


def test_published_udp(lab):
    m = lab.manager
    net = m.create_network(NetworkConfig("front"))
    dns, [ed] = lab.container("dns", "front")
    other, [eo] = lab.container("other", "front")
    lab.server(dns, "dns", 5353, proto="udp")
    [pub] = m.publish("dns", ed, [PortBinding(5353, protocol="udp", host_port=5300)])
    assert pub.key == "*:5300/udp"
    assert udp_ask(lab.host, "127.0.0.1", 5300).startswith("dns ")
    assert udp_ask(other, net.gateway, 5300) == f"dns {eo.ipv4_address}"
    assert udp_ask(dns, net.gateway, 5300).startswith("dns ")


def test_host_ip_and_random_port(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    web, [ew] = lab.container("web", "front")
    lab.server(web, "web", 80)
    pubs = m.publish("web", ew, [PortBinding(80), PortBinding(80, host_ip="127.0.0.1", host_port=9090)])
    assert pubs[0].host_port > 1024 and pubs[0].key == f"*:{pubs[0].host_port}/tcp"
    assert tcp_ask(lab.host, "127.0.0.1", pubs[0].host_port).startswith("web ")
    assert tcp_ask(lab.host, "127.0.0.1", 9090).startswith("web ")
    assert sorted(p.key for p in m.publications("web")) == sorted(p.key for p in pubs)
    assert m.publications("nobody") == []
    assert tcp_blocked(lab.host, "198.51.100.1", 9090)  # bound to 127.0.0.1 only


def test_load_balancing_and_set_backends(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    servers = {}
    for name in ("r1", "r2", "r3"):
        ns, [ep] = lab.container(name, "front")
        servers[name] = lab.server(ns, name, 80)
        [pub] = m.publish(name, ep, [PortBinding(80, host_port=8000)], group="web")
    assert [c for c, _ in pub.backends] == ["r1", "r2", "r3"]
    for _ in range(30):
        tcp_ask(lab.host, "127.0.0.1", 8000)
    assert all(s.count > 0 for s in servers.values()), {n: s.count for n, s in servers.items()}
    m.set_backends("*:8000/tcp", ["r1", "r3"])  # r2 became unhealthy
    before = servers["r2"].count
    for _ in range(20):
        tcp_ask(lab.host, "127.0.0.1", 8000)
    assert servers["r2"].count == before
    assert servers["r1"].count > 0 and servers["r3"].count > 0
    m.set_backends("*:8000/tcp", [])  # nobody healthy: refused, not hung
    assert "Refused" in tcp_blocked(lab.host, "127.0.0.1", 8000)
    m.set_backends("*:8000/tcp", ["r1", "r3"])
    m.unpublish("r1")  # r1 killed: only r3 is left
    answers = {tcp_ask(lab.host, "127.0.0.1", 8000).split()[0] for _ in range(6)}
    assert answers == {"r3"}
    with pytest.raises(PortError):
        m.set_backends("*:8000/tcp", ["r9"])


def test_port_range_gives_each_replica_its_own_port(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    got = []
    for name in ("r1", "r2", "r3"):
        ns, [ep] = lab.container(name, "front")
        lab.server(ns, name, 80)
        [pub] = m.publish(name, ep, [PortBinding(80, host_port=8100, host_port_end=8102)], group="web")
        got.append(pub.host_port)
    assert got == [8100, 8101, 8102]
    assert [tcp_ask(lab.host, "127.0.0.1", p).split()[0] for p in got] == ["r1", "r2", "r3"]
    ns, [ep] = lab.container("r4", "front")
    with pytest.raises(PortInUse, match="8100-8102"):
        m.publish("r4", ep, [PortBinding(80, host_port=8100, host_port_end=8102)], group="web")


def test_port_conflicts_and_bad_ports(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    web, [ew] = lab.container("web", "front")
    api, [ea] = lab.container("api", "front")
    squatter = run_in_netns(lab.host, socket.create_server, ("0.0.0.0", 8081))
    try:
        with pytest.raises(PortInUse, match="8081"):
            m.publish("web", ew, [PortBinding(80, host_port=8082), PortBinding(81, host_port=8081)])
    finally:
        squatter.close()
    assert m.publications() == []  # all or nothing: 8082 was released too
    m.publish("web", ew, [PortBinding(80, host_port=8082)], group="web")
    with pytest.raises(PortInUse, match="8082"):
        m.publish("api", ea, [PortBinding(80, host_port=8082)], group="api")
    with pytest.raises(PortInUse, match="8083"):
        m.publish("api", ea, [PortBinding(80, host_port=8083), PortBinding(81, host_port=8083)])
    for bad in (PortBinding(0), PortBinding(70000), PortBinding(80, host_port=-1),
                PortBinding(80, protocol="sctp"), PortBinding(80, host_port=9000, host_port_end=8999)):
        with pytest.raises(PortError):
            m.publish("api", ea, [bad])
    # the published port is held: nobody else can bind it in the host
    with pytest.raises(OSError):
        run_in_netns(lab.host, socket.create_server, ("0.0.0.0", 8082))


def test_rules_outlive_the_manager_object(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    web, [ew] = lab.container("web", "front")
    lab.server(web, "web", 80, echo=True)
    m.publish("web", ew, [PortBinding(80, host_port=8080)])
    conn = run_in_netns(lab.host, socket.create_connection, ("127.0.0.1", 8080), 3)
    try:
        conn.sendall(b"before")
        assert conn.recv(100) == b"before"
        m.close()  # the daemon is gone: placeholders closed, kernel rules stay
        del lab.manager
        conn.sendall(b"during")
        assert conn.recv(100) == b"during"
        fresh = NetworkManager(m.root, m.run_dir, host_netns=lab.host)
        lab.manager = fresh
        fresh.reconcile(["web"])
        conn.sendall(b"after")
        assert conn.recv(100) == b"after"
        c2 = run_in_netns(lab.host, socket.create_connection, ("127.0.0.1", 8080), 3)
        c2.sendall(b"new")
        assert c2.recv(100) == b"new"
        c2.close()
        assert [p.key for p in fresh.publications()] == ["*:8080/tcp"]
        with pytest.raises(OSError):  # the new manager holds the port again
            run_in_netns(lab.host, socket.create_server, ("0.0.0.0", 8080))
    finally:
        conn.close()


def test_forward_drop_host_with_br_netfilter(lab):
    """A Docker-like host: iptables FORWARD policy DROP with a DOCKER-USER chain."""
    for argv in (["-N", "DOCKER-USER"], ["-A", "FORWARD", "-j", "DOCKER-USER"],
                 ["-P", "FORWARD", "DROP"]):
        run(lab.host, "iptables-nft", *argv)
    assert run(lab.host, "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").strip() == "1"
    m = lab.manager
    net = m.create_network(NetworkConfig("front"))
    lab.server(lab.outside, "outside", 9000)
    c1, [e1] = lab.container("c1", "front")
    c2, [e2] = lab.container("c2", "front")
    lab.server(c2, "c2", 80)
    assert tcp_ask(c1, e2.ipv4_address, 80) == f"c2 {e1.ipv4_address}"  # bridged, through FORWARD
    assert tcp_ask(c1, OUTSIDE_IP, 9000) == "outside 198.51.100.1"
    m.publish("c2", e2, [PortBinding(80, host_port=8080)])
    assert tcp_ask(c1, net.gateway, 8080) == f"c2 {e1.ipv4_address}"
    rules = run(lab.host, "iptables-nft", "-S", "DOCKER-USER")
    assert rules.count("shoal") == 2 and "FORWARD DROP" in run(lab.host, "iptables-nft", "-S", "FORWARD")
    m.cleanup_all()
    assert "shoal" not in run(lab.host, "iptables-nft", "-S")
    assert "-P FORWARD DROP" in run(lab.host, "iptables-nft", "-S", "FORWARD")  # Docker's untouched


def test_udp_client_that_tried_before_publish_is_not_stuck(lab):
    """A stale UDP conntrack entry (from before the rule) is flushed on publish (moby#8795)."""
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    dns, [ed] = lab.container("dns", "front")
    lab.server(dns, "dns", 53, proto="udp")
    client = run_in_netns(lab.host, socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    try:
        client.settimeout(0.3)
        client.bind(("127.0.0.1", 40053))
        client.sendto(b"early", ("127.0.0.1", 5353))  # nobody there yet: conntrack remembers
        with pytest.raises(OSError):
            client.recvfrom(100)
        m.publish("dns", ed, [PortBinding(53, protocol="udp", host_port=5353)])
        client.settimeout(3)
        client.sendto(b"again", ("127.0.0.1", 5353))  # same 4-tuple as before
        assert client.recvfrom(100)[0].decode().startswith("dns ")
    finally:
        client.close()


_DAEMON = """
import os, sys
sys.path.insert(0, sys.argv[1])
from engine.network import NetworkConfig, NetworkManager, PortBinding
m = NetworkManager(sys.argv[2], sys.argv[3], host_netns=sys.argv[4])
m.create_network(NetworkConfig("front"))
ep = m.attach(m.create_netns("web"), "front")
m.publish("web", ep, [PortBinding(80, host_port=8080)])
ns = m.create_netns("half")  # killed mid-up: netns made, never attached
os.kill(os.getpid(), 9)
"""


def test_daemon_killed_with_sigkill(lab):
    """A process that wired a container and died by SIGKILL: the port works, reconcile tidies."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    m = lab.manager
    proc = subprocess.run([sys.executable, "-c", _DAEMON, repo, m.root, m.run_dir, lab.host])
    assert proc.returncode == -9
    web = os.path.join(m.run_dir, "netns", "web")
    lab.server(web, "web", 80)
    assert tcp_ask(lab.host, "127.0.0.1", 8080).startswith("web ")  # nobody in userland serves it
    assert m.reconcile(["web"])["endpoints_removed"] == []
    assert not os.path.exists(os.path.join(m.run_dir, "netns", "half"))
    assert tcp_ask(lab.host, "127.0.0.1", 8080).startswith("web ")
    m.reconcile([])  # the container is gone too
    assert m.publications() == [] and tcp_blocked(lab.host, "127.0.0.1", 8080)


def test_detach_from_another_network_keeps_the_published_port(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    m.create_network(NetworkConfig("back"))
    web, [ef, eb] = lab.container("web", "front", "back")
    lab.server(web, "web", 80)
    m.publish("web", ef, [PortBinding(80, host_port=8080)])
    m.detach("web", "back")
    assert tcp_ask(lab.host, "127.0.0.1", 8080).startswith("web ")
    m.detach("web", "front")
    assert m.publications() == [] and tcp_blocked(lab.host, "127.0.0.1", 8080)
