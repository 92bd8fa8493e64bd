"""Bridges, veths, IPAM, NAT and isolation, in a private host netns per test."""

from __future__ import annotations

import asyncio
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from pyroute2 import IPRoute

from engine.network import (AddressError, IPAMConfig, NetworkConfig, NetworkError,
                            NetworkNotFound, SubnetConflict, run_in_netns)
from netlab_helpers import OUTSIDE_IP, UPLINK_MTU, run, tcp_ask, tcp_blocked

pytestmark = pytest.mark.root


def _iface(netns: str, name: str) -> dict:
    """Addresses, MAC, MTU and routes of one interface inside ``netns``."""
    def body() -> dict:
        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname=name)[0]
            link = ipr.link("get", index=idx)[0]
            addrs = [f"{a.get('address')}/{a['prefixlen']}" for a in ipr.addr("dump", index=idx)]
            routes = [(r["dst_len"], r.get("gateway")) for r in ipr.route("dump", family=2)]
            return {"mac": link.get("address"), "mtu": link.get("mtu"), "addrs": addrs,
                    "routes": routes, "state": link.get("state")}
    return run_in_netns(netns, body)


def test_two_containers_on_one_network_reach_each_other(lab):
    net = lab.manager.create_network(NetworkConfig("front"))
    assert net.bridge.startswith("shl-") and len(net.bridge) <= 15
    c1, [e1] = lab.container("c1", "front")
    c2, [e2] = lab.container("c2", "front")
    assert e1.ipv4_address != e2.ipv4_address
    lab.server(c2, "c2", 80)
    assert tcp_ask(c1, e2.ipv4_address, 80) == f"c2 {e1.ipv4_address}"
    info = _iface(c1, "eth0")
    assert info["state"] == "up" and f"{e1.ipv4_address}/24" in info["addrs"]
    assert (0, net.gateway) in info["routes"]  # default route via the gateway


def test_create_network_is_idempotent_and_picks_free_subnets(lab):
    a = lab.manager.create_network(NetworkConfig("a"))
    assert lab.manager.create_network(NetworkConfig("a")) == a
    b = lab.manager.create_network(NetworkConfig("b"))
    assert a.subnet != b.subnet and a.bridge != b.bridge
    assert not a.subnet.startswith("198.51.100.")
    # the default pool skips a host route: take 10.89.2.0/24 on the uplink's side first
    run(lab.host, "ip", "route", "add", "10.89.2.0/24", "via", OUTSIDE_IP)
    c = lab.manager.create_network(NetworkConfig("c"))
    assert c.subnet not in (a.subnet, b.subnet, "10.89.2.0/24")


def test_mtu_follows_default_route_unless_driver_opts(lab):
    net = lab.manager.create_network(NetworkConfig("front"))
    assert net.mtu == UPLINK_MTU
    small = lab.manager.create_network(NetworkConfig("small", driver_opts=(
        ("com.docker.network.driver.mtu", "1300"),)))
    c1, _ = lab.container("c1", "front", "small")
    assert _iface(c1, "eth0")["mtu"] == UPLINK_MTU
    assert _iface(c1, "eth1")["mtu"] == 1300 == small.mtu


def test_static_ip_gateway_range_and_mac(lab):
    net = lab.manager.create_network(NetworkConfig("static", ipam=(IPAMConfig(
        subnet="172.30.5.0/24", ip_range="172.30.5.128/25", gateway="172.30.5.254"),)))
    assert net.gateway == "172.30.5.254"
    c1, [e1] = lab.container("c1", "static", ipv4_address="172.30.5.10",
                             mac_address="02:42:ac:1e:05:0a")
    c2, [e2] = lab.container("c2", "static")
    assert e1.ipv4_address == "172.30.5.10" and e2.ipv4_address == "172.30.5.128"
    info = _iface(c1, "eth0")
    assert info["mac"] == "02:42:ac:1e:05:0a" and "172.30.5.10/24" in info["addrs"]
    assert (0, "172.30.5.254") in info["routes"]
    lab.server(c1, "c1", 80)
    assert tcp_ask(c2, "172.30.5.10", 80) == "c1 172.30.5.128"


def test_bad_input_fails_before_anything_is_created(lab):
    m = lab.manager
    m.create_network(NetworkConfig("a", ipam=(IPAMConfig(subnet="10.50.0.0/16"),)))
    before = run(lab.host, "ip", "-o", "link")
    with pytest.raises(SubnetConflict, match="overlaps network a"):
        m.create_network(NetworkConfig("b", ipam=(IPAMConfig(subnet="10.50.3.0/24"),)))
    with pytest.raises(SubnetConflict, match="host route"):
        m.create_network(NetworkConfig("c", ipam=(IPAMConfig(subnet="198.51.100.0/25"),)))
    with pytest.raises(AddressError, match="outside subnet"):
        m.create_network(NetworkConfig("d", ipam=(IPAMConfig(subnet="10.60.0.0/24",
                                                             gateway="10.61.0.1"),)))
    with pytest.raises(NetworkNotFound):
        m.create_network(NetworkConfig("ext", external=True))
    ns = m.create_netns("c1")
    with pytest.raises(NetworkNotFound, match="nope"):
        m.attach(ns, "nope")
    with pytest.raises(AddressError, match="outside subnet"):
        m.attach(ns, "a", ipv4_address="10.99.0.5")
    assert run(lab.host, "ip", "-o", "link") == before
    assert [n.name for n in m.networks()] == ["a"] and m.endpoints() == []
    m.attach(ns, "a", ipv4_address="10.50.0.7")
    with pytest.raises(AddressError, match="already in use"):
        m.attach(m.create_netns("c2"), "a", ipv4_address="10.50.0.7")
    with pytest.raises(NetworkError, match="active endpoints"):
        m.remove_network("a")


def test_networks_are_isolated_from_each_other(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    m.create_network(NetworkConfig("back"))
    c1, [f1] = lab.container("c1", "front")
    c2, [b2] = lab.container("c2", "back")
    c3, [f3, b3] = lab.container("c3", "front", "back")
    lab.server(c2, "c2", 80)
    lab.server(c1, "c1", 80)
    assert tcp_blocked(c1, b2.ipv4_address, 80)  # front -> back: dropped
    assert tcp_blocked(c2, f1.ipv4_address, 80)  # back -> front: dropped
    assert tcp_ask(c3, b2.ipv4_address, 80) == f"c2 {b3.ipv4_address}"  # shared network works
    assert tcp_ask(c3, f1.ipv4_address, 80) == f"c1 {f3.ipv4_address}"


def test_outbound_nat_and_internal_network_has_no_way_out(lab):
    m = lab.manager
    m.create_network(NetworkConfig("out"))
    inner = m.create_network(NetworkConfig("inner", internal=True))
    lab.server(lab.outside, "outside", 9000)
    c1, _ = lab.container("c1", "out")
    # the outside sees the host's uplink address: the container was masqueraded
    assert tcp_ask(c1, OUTSIDE_IP, 9000) == "outside 198.51.100.1"
    c2, [e2] = lab.container("c2", "inner")
    assert all(dst != 0 for dst, _ in _iface(c2, "eth0")["routes"])  # no default route
    assert "unreachable" in tcp_blocked(c2, OUTSIDE_IP, 9000)
    # even with a hand-made route through the gateway, the host forwards nothing out
    run(c2, "ip", "route", "add", "default", "via", inner.gateway)
    assert tcp_blocked(c2, OUTSIDE_IP, 9000)
    lab.server(c2, "c2", 80)  # ...while the internal network itself works
    c3, [e3] = lab.container("c3", "inner")
    assert tcp_ask(c3, e2.ipv4_address, 80) == f"c2 {e3.ipv4_address}"


def test_ipv6_network(lab):
    net = lab.manager.create_network(NetworkConfig("six", enable_ipv6=True))
    assert net.subnet6.endswith("/64")
    c1, [e1] = lab.container("c1", "six")
    c2, [e2] = lab.container("c2", "six")
    assert e1.ipv6_address and e1.ipv6_address != e2.ipv6_address
    out = run(c1, "busybox", "ping", "-c", "1", "-W", "2", e2.ipv6_address, check=False)
    assert " 0% packet loss" in out, out


def test_detach_frees_the_address_and_the_veth(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    c1, [e1] = lab.container("c1", "front")
    assert e1.host_veth in run(lab.host, "ip", "-o", "link")
    m.detach("c1", "front")
    assert e1.host_veth not in run(lab.host, "ip", "-o", "link")
    _, [again] = lab.container("c2", "front")
    assert again.ipv4_address == e1.ipv4_address
    state = json.load(open(os.path.join(lab.dir, "root", "network", "state.json")))
    assert list(state["endpoints"]) == ["c2/front"]


def test_reconcile_frees_what_dead_containers_held(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    c1, [e1] = lab.container("c1", "front")
    c2, [e2] = lab.container("c2", "front")
    run(lab.host, "ip", "link", "add", "shl-stray0", "type", "bridge")  # a crash mid-create
    run(lab.host, "ip", "link", "add", "shvstray0", "type", "veth", "peer", "name", "x0")
    for name in ("shl-stray0", "shvstray0"):
        run(lab.host, "ip", "link", "set", name, "alias", m.owner)
    run(lab.host, "ip", "link", "add", "shl-other0", "type", "bridge")  # another root's (no label)
    result = m.reconcile(["c1"])
    assert result["endpoints_removed"] == ["c2/front"]
    assert sorted(result["links_removed"]) == ["shl-stray0", "shvstray0"]
    links = run(lab.host, "ip", "-o", "link")
    assert "stray" not in links and m.get_network("front").bridge in links
    assert "shl-other0" in links
    assert e2.host_veth not in run(lab.host, "ip", "-o", "link")
    assert not os.path.exists(c2)
    assert [e.container_id for e in m.endpoints()] == ["c1"]
    _, [e3] = lab.container("c3", "front")
    assert e3.ipv4_address == e2.ipv4_address  # reused, never doubly assigned
    assert e3.ipv4_address != e1.ipv4_address


def test_ipv6_explicit_subnet_and_changed_config(lab):
    m = lab.manager
    net = m.create_network(NetworkConfig("six", enable_ipv6=True, ipam=(
        IPAMConfig(subnet="172.31.9.0/24"), IPAMConfig(subnet="fd00:9::/80"))))
    assert (net.subnet, net.subnet6, net.gateway6) == ("172.31.9.0/24", "fd00:9::/80", "fd00:9::1")
    c1, [e1] = lab.container("c1", "six")
    assert e1.ipv6_address == "fd00:9::2" and "fd00:9::2/80" in _iface(c1, "eth0")["addrs"]
    with pytest.raises(NetworkError, match="another configuration"):
        m.create_network(NetworkConfig("six", internal=True))
    with pytest.raises(NetworkError, match="enable_ipv6"):
        m.create_network(NetworkConfig("v6only", ipam=(IPAMConfig(subnet="fd00:10::/64"),)))
    with pytest.raises(SubnetConflict, match="overlaps network six"):
        m.create_network(NetworkConfig("v6b", enable_ipv6=True, ipam=(IPAMConfig(subnet="fd00:9::/64"),)))


def test_attach_failure_leaves_nothing(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    with pytest.raises(NetworkError, match="invalid MTU"):
        m.create_network(NetworkConfig("bad", driver_opts=(("mtu", "huge"),)))
    ns = m.create_netns("c1")
    run(ns, "ip", "link", "add", "eth0", "type", "bridge")  # the name is already taken inside
    before = run(lab.host, "ip", "-o", "link")
    with pytest.raises(NetworkError, match="cannot attach c1"):
        m.attach(ns, "front")
    assert run(lab.host, "ip", "-o", "link") == before and m.endpoints() == []
    assert m.attach(ns, "front", interface="eth1").ipv4_address == "10.89.0.2"


def test_concurrent_attaches_never_share_an_address(lab):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    paths = [m.create_netns(f"c{i}") for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        eps = list(pool.map(lambda p: m.attach(p, "front"), paths))
    ips = [e.ipv4_address for e in eps]
    assert len(set(ips)) == 8 and sorted(ips) == sorted(e.ipv4_address for e in m.endpoints())


def test_usable_from_inside_a_running_event_loop(lab):
    """pyroute2's sync IPRoute fails inside a running loop; the manager's helper threads do not."""
    async def daemon_like() -> str:
        m = lab.manager
        m.create_network(NetworkConfig("front"))
        ns = m.create_netns("c1")
        ep = await asyncio.get_running_loop().run_in_executor(None, m.attach, ns, "front")
        m.detach("c1", "front")
        return ep.ipv4_address
    assert asyncio.run(daemon_like()) == "10.89.0.2"
