"""resolv.conf / hosts text for containers, reading the host's resolvers, and the DNS wire codec."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.network.dns import (
    Registry,
    container_resolv_conf,
    host_nameservers,
    host_search,
    hosts_file,
    resolv_conf,
    wire,
)
from engine.network.dns.answer import Forward, decide
from engine.network.dns.resolvconf import parse_server, read_resolv_conf


def test_resolv_conf_points_at_the_resolver_with_ndots0():
    assert resolv_conf("10.89.0.1") == "nameserver 10.89.0.1\noptions ndots:0\n"


def test_resolv_conf_honours_dns_search_and_dns_opt():
    text = resolv_conf("10.89.0.1", ["corp.example", "lab.example."], ["ndots:2", "timeout:1", "use-vc"])
    assert text.splitlines() == [
        "nameserver 10.89.0.1",
        "search corp.example lab.example",
        "options ndots:2 timeout:1 use-vc",  # the user's ndots wins over our default
    ]


def test_resolv_conf_search_dot_means_none_and_several_nameservers():
    text = resolv_conf(["10.89.0.1", "10.90.0.1"], ["."], ["rotate"])
    assert text == "nameserver 10.89.0.1\nnameserver 10.90.0.1\noptions ndots:0 rotate\n"


def test_host_resolv_conf_keeps_loopback_stubs(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text("# generated\nnameserver 127.0.0.53\nnameserver ::1\nnameserver bogus\n"
                    "nameserver 192.0.2.7 ; comment\nnameserver 192.0.2.8\nsearch a.example b.example\n"
                    "options edns0 trust-ad\n")
    assert host_nameservers(str(path)) == ["127.0.0.53", "::1", "192.0.2.7"]  # first 3 valid
    assert host_search(str(path)) == ["a.example", "b.example"]
    assert read_resolv_conf(str(path))[2] == ["edns0", "trust-ad"]
    assert host_nameservers(str(tmp_path / "missing")) == []


@pytest.mark.parametrize("text,want", [
    ("10.0.0.1", ("10.0.0.1", 53)), ("127.0.0.5:5353", ("127.0.0.5", 5353)),
    ("::1", ("::1", 53)), ("[::1]:5300", ("::1", 5300)), ("fe80::1%eth0", ("fe80::1%eth0", 53)),
])
def test_parse_server_forms(text, want):
    assert parse_server(text) == want


@pytest.mark.parametrize("text", ["example.com", "10.0.0.1:0", "10.0.0.1:70000", "[::1"])
def test_parse_server_rejects(text):
    with pytest.raises(ValueError):
        parse_server(text)


def test_hosts_file_has_localhost_own_name_and_extra_hosts():
    text = hosts_file("web", ["10.89.0.2"], [("host.docker.internal", "10.89.0.1")], domainname="corp")
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.89.0.2\tweb.corp web" in lines
    assert lines[-1] == "10.89.0.1\thost.docker.internal"


def test_query_round_trip_and_answer_echoes_the_question():
    q = wire.parse_query(wire.build_query("Web.Example", wire.AAAA, qid=77, edns_size=1400))
    assert (q.id, q.name, q.qtype, q.edns_size, q.udp_limit) == (77, "Web.Example", wire.AAAA, 1400, 1400)
    resp = wire.parse_response(wire.build_answer(q, wire.AAAA, [wire.rdata_for(wire.AAAA, "fd00::1")], 0, 512))
    assert resp.id == 77 and resp.name == "Web.Example" and resp.authoritative
    assert [(a.rtype, a.value) for a in resp.answers] == [(wire.AAAA, "fd00::1")]


def test_answer_too_big_for_udp_is_truncated():
    q = wire.parse_query(wire.build_query("api"))
    rd = [wire.rdata_for(wire.A, f"10.0.{i // 250}.{i % 250 + 1}") for i in range(40)]
    resp = wire.parse_response(wire.build_answer(q, wire.A, rd, 0, q.udp_limit))
    assert resp.truncated and resp.answers == ()
    full = wire.parse_response(wire.build_answer(q, wire.A, rd, 0, None))
    assert not full.truncated and len(full.answers) == 40


def test_reverse_names_both_ways():
    assert wire.reverse_name("10.1.2.3") == "3.2.1.10.in-addr.arpa"
    assert wire.ip_from_reverse("3.2.1.10.in-addr.arpa.") == "10.1.2.3"
    assert wire.ip_from_reverse(wire.reverse_name("fd00::4")) == "fd00::4"
    assert wire.ip_from_reverse("2.1.10.in-addr.arpa") is None
    assert wire.ip_from_reverse("x.2.1.10.in-addr.arpa") is None


@pytest.mark.parametrize("data", [
    b"", b"\x00" * 11, b"\x12\x34\x81\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01",  # a response
    b"\x12\x34\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x01",  # two questions
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01",  # pointer to itself
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x3f" + b"a" * 10,  # label past the end
])
def test_malformed_queries_raise_wire_error(data):
    with pytest.raises(wire.WireError):
        wire.parse_query(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_decide_never_raises_on_garbage(data):
    """Arbitrary bytes give an answer, a forward or None, never an exception."""
    reg = Registry()
    reg.add("n", "c", "10.0.0.2", ["web"])
    result = decide(reg, data, "10.0.0.2", default_upstreams=["127.0.0.53"])
    assert result is None or isinstance(result, (bytes, Forward))


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=12, max_size=12), st.binary(max_size=80))
def test_decide_survives_corrupted_valid_queries(header, tail):
    reg = Registry()
    reg.add("n", "c", "10.0.0.2", ["web"])
    data = struct.pack("!HHHHHH", 1, 0, 1, *struct.unpack("!HHH", header[6:])) + wire.build_query("web")[12:] + tail
    result = decide(reg, data, "10.0.0.2")
    assert result is None or isinstance(result, bytes)


def test_container_resolv_conf_takes_host_search_and_options_unless_compose_sets_them(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nsearch corp.example\noptions ndots:3 edns0\n")
    assert container_resolv_conf("10.89.0.1", host_path=str(host)) == (
        "nameserver 10.89.0.1\nsearch corp.example\noptions ndots:0 edns0\n")
    assert container_resolv_conf("10.89.0.1", ["svc.local"], ["ndots:1"], host_path=str(host)) == (
        "nameserver 10.89.0.1\nsearch svc.local\noptions ndots:1\n")
    assert "127.0.0.53" not in container_resolv_conf("10.89.0.1", host_path=str(host))
