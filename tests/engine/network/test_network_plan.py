"""Pure parts of the network layer: IPAM planning, port validation, the nft ruleset (no root)."""

from __future__ import annotations

import ipaddress

import pytest

from engine.network import AddressError, IPAMConfig, PortBinding, PortError, PortInUse, SubnetConflict
from engine.network.firewall import Ruleset, render
from engine.network.ipam import allocate, plan_ipv4, plan_ipv6
from engine.network.ports import candidates, parse_key, port_key, validate_bindings
from engine.network.types import Network, Publication

net = ipaddress.ip_network


def test_default_subnet_skips_networks_and_host_routes():
    p = plan_ipv4("a", None, {}, [])
    assert (str(p.subnet), str(p.gateway)) == ("10.89.0.0/24", "10.89.0.1")
    p = plan_ipv4("b", None, {"a": net("10.89.0.0/24")}, [net("10.89.1.0/24"), net("10.0.0.0/32")])
    assert str(p.subnet) == "10.89.2.0/24"
    p = plan_ipv4("c", None, {}, [net("10.89.0.0/16")])  # whole first pool routed away
    assert str(p.subnet) == "10.90.0.0/24"


def test_explicit_subnet_errors():
    with pytest.raises(SubnetConflict, match="overlaps network a"):
        plan_ipv4("b", IPAMConfig(subnet="10.1.2.0/24"), {"a": net("10.1.0.0/16")}, [])
    with pytest.raises(SubnetConflict, match="host route 192.168.1.0/24"):
        plan_ipv4("b", IPAMConfig(subnet="192.168.0.0/16"), {}, [net("192.168.1.0/24")])
    with pytest.raises(AddressError, match="invalid subnet"):
        plan_ipv4("b", IPAMConfig(subnet="10.1.2.3/24"), {}, [])
    with pytest.raises(AddressError, match="ip_range 10.2.0.0/24 is outside"):
        plan_ipv4("b", IPAMConfig(subnet="10.1.0.0/16", ip_range="10.2.0.0/24"), {}, [])
    with pytest.raises(AddressError, match="gateway of network b 10.1.0.0 is outside"):
        plan_ipv4("b", IPAMConfig(subnet="10.1.0.0/16", gateway="10.1.0.0"), {}, [])
    with pytest.raises(AddressError, match="need a subnet"):
        plan_ipv4("b", IPAMConfig(gateway="10.1.0.1"), {}, [])
    # the network itself (re-planned) is not a conflict
    assert str(plan_ipv4("a", IPAMConfig(subnet="10.1.0.0/16"), {"a": net("10.1.0.0/16")}, []).subnet)


def test_allocate_in_order_range_static_and_exhaustion():
    sub, gw = net("10.5.0.0/29"), ipaddress.ip_address("10.5.0.1")
    assert allocate(sub, gw, []) == "10.5.0.2"
    assert allocate(sub, gw, ["10.5.0.2", "10.5.0.4"]) == "10.5.0.3"
    assert allocate(sub, gw, [], ip_range=net("10.5.0.4/30")) == "10.5.0.4"
    assert allocate(sub, gw, [], wanted="10.5.0.6") == "10.5.0.6"
    with pytest.raises(AddressError, match="already in use"):
        allocate(sub, gw, ["10.5.0.6"], wanted="10.5.0.6")
    with pytest.raises(AddressError, match="outside subnet"):
        allocate(sub, gw, [], wanted="10.5.0.7")  # broadcast
    with pytest.raises(AddressError, match="no free address"):
        allocate(sub, gw, [f"10.5.0.{i}" for i in range(2, 7)])


def test_ipv6_subnets_are_stable_and_distinct():
    a, gw = plan_ipv6("a", {})
    assert a.prefixlen == 64 and a.network_address.is_private and gw == a.network_address + 1
    assert plan_ipv6("a", {}) == (a, gw)
    b, _ = plan_ipv6("a", {"x": a})
    assert b != a


def test_port_validation_and_keys():
    assert port_key("", 80, "tcp") == "*:80/tcp" and parse_key("*:80/tcp") == ("", 80, "tcp")
    assert parse_key("127.0.0.1:53/udp") == ("127.0.0.1", 53, "udp")
    assert candidates(PortBinding(80)) == [0]
    assert candidates(PortBinding(80, host_port=8000, host_port_end=8002)) == [8000, 8001, 8002]
    ok = [PortBinding(80, host_port=8080), PortBinding(80, protocol="udp", host_port=8080),
          PortBinding(80, host_ip="127.0.0.1", host_port=8080)]
    assert validate_bindings(ok) == ok  # same number, other protocol or other IP: fine
    with pytest.raises(PortInUse, match="8080/tcp is bound twice"):
        validate_bindings([PortBinding(80, host_port=8080), PortBinding(81, host_port=8080)])
    for bad, msg in ((PortBinding(65536), "out of range"), (PortBinding(80, host_ip="::1"), "IPv4"),
                     (PortBinding(80, host_port_end=90), "range"), (PortBinding(80, protocol="x"), "protocol")):
        with pytest.raises(PortError, match=msg):
            validate_bindings([bad])


def _ruleset(brnf: bool = True) -> str:
    nets = (Network("a", "shl-a", "10.89.0.0/24", "10.89.0.1"),
            Network("i", "shl-i", "10.89.1.0/24", "10.89.1.1", internal=True))
    pubs = (Publication("*:80/tcp", "tcp", "", 80, 8080, "web",
                        (("r1", "10.89.0.2"), ("r2", "10.89.0.3"), ("r3", "10.89.0.4")), ("r1", "r3")),
            Publication("127.0.0.1:53/udp", "udp", "127.0.0.1", 53, 53, "dns", (("d", "10.89.0.9"),), ("d",)),
            Publication("*:81/tcp", "tcp", "", 81, 81, "off", (("x", "10.89.0.5"),), ()))
    return render(Ruleset(nets, pubs, brnf))


def test_ruleset_dnat_load_balancing_and_loopback_guard():
    text = _ruleset()
    assert "tcp dport 80 dnat ip to numgen inc mod 2 map { 0 : 10.89.0.2, 1 : 10.89.0.4 }:8080" in text
    assert "ip daddr 127.0.0.1 udp dport 53 dnat ip to 10.89.0.9:53" in text
    assert "dport 81 dnat" not in text  # no active backend: no rule
    assert 'iifname != "lo" ip daddr 127.0.0.0/8 tcp dport 80 drop' in text
    assert text.startswith("table inet shoal\ndelete table inet shoal\n")  # atomic replace


def test_ruleset_nat_and_isolation():
    text = _ruleset()
    assert 'ip saddr 10.89.0.0/24 oifname != "shl-a" masquerade' in text
    assert "ip saddr 10.89.1.0/24 oifname" not in text  # internal: no way out
    assert 'iifname "shl-i" drop' in text
    assert "ip saddr 10.89.0.2 ip daddr 10.89.0.2 ct status dnat masquerade" in text  # hairpin
    forward = text[text.index("chain forward"):]
    assert forward.index('oifname "shl-i" drop') < forward.index('iifname "shl-a" oifname != "shl-*" accept')
    assert 'ip saddr 10.89.0.0/24 ct status dnat masquerade' in _ruleset(brnf=False)
