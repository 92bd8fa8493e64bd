"""DnsServer on loopback: internal answers, scoping by source IP, forwarding, timeouts, TCP, garbage."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from engine.network.dns import DnsServer, Registry, wire
from engine.network.dns.testing import FakeUpstream, Reply, ask_tcp, ask_tcp_many, ask_udp

WEB_CLIENT, BACK_CLIENT, VAULT_CLIENT, STRANGER = "127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.29"


def _registry() -> Registry:
    r = Registry()
    r.set_network("front")
    r.set_network("back")
    r.set_network("vault", internal=True)
    r.add("front", "web1", WEB_CLIENT, ["web", "proj-web-1"])
    r.add("front", "api1", "10.1.0.11", ["api", "proj-api-1"], ipv6="fd00::11")
    r.add("front", "api2", "10.1.0.12", ["api", "proj-api-2"])
    r.add("front", "db1", "10.1.0.3", ["db", "postgres"])
    r.add("back", "db1", "10.2.0.3", ["db", "postgres"])
    r.add("back", "worker1", BACK_CLIENT, ["worker"])
    r.add("back", "cache1", "10.2.0.4", ["cache"])
    r.add("vault", "secret1", VAULT_CLIENT, ["secret"])
    for i in range(40):
        r.add("front", f"big{i}", f"10.1.1.{i + 1}", ["big"])
    return r


def run(coro_fn, *, upstream: dict[str, Reply] | None = None, timeout: float = 1.0, **kw):
    """Start a fake upstream and the server on loopback, run the test body, stop both."""
    async def main():
        up = FakeUpstream(upstream or {"example.test": Reply(["192.0.2.1"])})
        await up.start("127.0.0.53")
        reg = _registry()
        server = DnsServer(reg, upstreams=[f"{up.addr[0]}:{up.addr[1]}"], timeout=timeout, **kw)
        try:
            (addr,) = await server.start([("127.0.0.2", 0)])
            return await coro_fn(server, addr, up, reg)
        finally:
            await server.stop()
            await up.stop()
    return asyncio.run(main())


def _ips(data: bytes) -> list[str]:
    return sorted(a.value for a in wire.parse_response(data).answers)


def test_service_name_answers_all_replicas_with_ttl0_authoritatively():
    async def body(server, addr, up, reg):
        resp = wire.parse_response(await ask_udp(addr, wire.build_query("api"), WEB_CLIENT))
        assert resp.rcode == wire.NOERROR and resp.authoritative
        assert sorted(a.value for a in resp.answers) == ["10.1.0.11", "10.1.0.12"]
        assert {a.ttl for a in resp.answers} == {0}
        six = wire.parse_response(await ask_udp(addr, wire.build_query("api", wire.AAAA), WEB_CLIENT))
        assert [a.value for a in six.answers] == ["fd00::11"]
        nodata = wire.parse_response(await ask_udp(addr, wire.build_query("db", wire.AAAA), WEB_CLIENT))
        assert nodata.rcode == wire.NOERROR and nodata.answers == ()
        mx = wire.parse_response(await ask_udp(addr, wire.build_query("db", wire.MX), WEB_CLIENT))
        assert mx.rcode == wire.NOERROR and mx.answers == ()
        assert up.seen == []  # none of it left the resolver
    run(body)


def test_client_identity_by_source_ip_scopes_answers():
    async def body(server, addr, up, reg):
        assert _ips(await ask_udp(addr, wire.build_query("db"), WEB_CLIENT)) == ["10.1.0.3"]
        assert _ips(await ask_udp(addr, wire.build_query("DB."), BACK_CLIENT)) == ["10.2.0.3"]
        # cache is only on "back": for the web client it is not ours, so it goes upstream (NXDOMAIN there)
        resp = wire.parse_response(await ask_udp(addr, wire.build_query("cache"), WEB_CLIENT))
        assert resp.rcode == wire.NXDOMAIN and up.seen == ["cache"]
    run(body)


def test_ptr_answers_scoped_reverse_names():
    async def body(server, addr, up, reg):
        resp = wire.parse_response(await ask_udp(addr, wire.build_query(wire.reverse_name("10.1.0.3"), wire.PTR),
                                                  WEB_CLIENT))
        assert [a.value for a in resp.answers] == ["db.front"]
        assert _ips(await ask_udp(addr, wire.build_query("db.front"), WEB_CLIENT)) == ["10.1.0.3"]
    run(body)


def test_unknown_names_are_forwarded_and_upstream_answers_pass_through():
    async def body(server, addr, up, reg):
        resp = wire.parse_response(await ask_udp(addr, wire.build_query("Example.Test", qid=4242), WEB_CLIENT))
        assert resp.id == 4242 and [a.value for a in resp.answers] == ["192.0.2.1"] and resp.answers[0].ttl == 300
        assert wire.parse_response(await ask_udp(addr, wire.build_query("nope.test"), STRANGER)).rcode == wire.NXDOMAIN
        assert up.seen == ["example.test", "nope.test"]
    run(body)


def test_slow_upstream_never_delays_internal_answers():
    async def body(server, addr, up, reg):
        t0 = time.monotonic()
        slow = asyncio.create_task(ask_udp(addr, wire.build_query("slow.test"), WEB_CLIENT))
        await asyncio.sleep(0.05)  # the slow query is in flight upstream
        t1 = time.monotonic()
        for _ in range(20):
            assert _ips(await ask_udp(addr, wire.build_query("db"), WEB_CLIENT)) == ["10.1.0.3"]
        internal = (time.monotonic() - t1) / 20
        resp = wire.parse_response(await slow)
        forwarded = time.monotonic() - t0
        assert internal < 0.05, f"internal answer took {internal:.3f}s while upstream was slow"
        assert resp.rcode == wire.SERVFAIL  # upstream timed out (1 s) before its 3 s answer
        assert 0.9 < forwarded < 2.5
    run(body, upstream={"slow.test": Reply(["192.0.2.9"], delay=3.0)}, timeout=1.0)


def test_failover_to_the_next_upstream_on_servfail_and_dead_server():
    async def main():
        bad = FakeUpstream({"example.test": Reply(rcode=wire.SERVFAIL)})
        good = FakeUpstream({"example.test": Reply(["192.0.2.1"])})
        await bad.start("127.0.0.54")
        await good.start("127.0.0.55")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
            dead.bind(("127.0.0.56", 0))  # bound, never answers
            ups = [f"127.0.0.56:{dead.getsockname()[1]}", f"127.0.0.54:{bad.addr[1]}", f"127.0.0.55:{good.addr[1]}"]
            server = DnsServer(Registry(), upstreams=ups, timeout=0.3)
            try:
                (addr,) = await server.start([("127.0.0.2", 0)])
                resp = wire.parse_response(await ask_udp(addr, wire.build_query("example.test")))
            finally:
                await server.stop()
                await bad.stop()
                await good.stop()
        assert [a.value for a in resp.answers] == ["192.0.2.1"]
        assert bad.seen == ["example.test"] and good.seen == ["example.test"]
    asyncio.run(main())


def test_internal_network_clients_are_never_forwarded():
    async def body(server, addr, up, reg):
        resp = wire.parse_response(await ask_udp(addr, wire.build_query("example.test"), VAULT_CLIENT))
        assert resp.rcode == wire.NXDOMAIN
        assert wire.parse_response(await ask_udp(addr, wire.build_query("secret"), VAULT_CLIENT)).answers
        assert up.seen == []
    run(body)


def test_per_container_dns_servers_replace_the_defaults():
    async def body(server, addr, up, reg):
        own = FakeUpstream({"example.test": Reply(["198.51.100.7"])})
        await own.start("127.0.0.57")
        try:
            reg.set_dns("web1", [f"127.0.0.57:{own.addr[1]}"])
            assert _ips(await ask_udp(addr, wire.build_query("example.test"), WEB_CLIENT)) == ["198.51.100.7"]
            assert _ips(await ask_udp(addr, wire.build_query("api"), WEB_CLIENT)) == ["10.1.0.11", "10.1.0.12"]
            assert _ips(await ask_udp(addr, wire.build_query("example.test"), BACK_CLIENT)) == ["192.0.2.1"]
            assert own.seen == ["example.test"] and up.seen == ["example.test"]
        finally:
            await own.stop()
    run(body)


def test_no_upstream_or_only_itself_gives_nxdomain():
    async def main():
        server = DnsServer(Registry(), upstreams=[])
        try:
            (addr,) = await server.start([("127.0.0.2", 0)])
            assert wire.parse_response(await ask_udp(addr, wire.build_query("x.test"))).rcode == wire.NXDOMAIN
            server.upstreams = [f"{addr[0]}:{addr[1]}"]  # a resolv.conf pointing back at us: no loop
            assert wire.parse_response(await ask_udp(addr, wire.build_query("x.test"))).rcode == wire.NXDOMAIN
        finally:
            await server.stop()
    asyncio.run(main())


def test_malformed_packets_are_ignored_and_the_server_keeps_serving():
    async def body(server, addr, up, reg):
        garbage = [b"", b"\x00", b"\xff" * 11, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01",
                   wire.build_query("web")[:-3], b"\x12\x34\x81\x80" + b"\x00" * 8]
        for data in garbage:
            assert await ask_udp(addr, data, WEB_CLIENT, timeout=0.2) is None
        assert _ips(await ask_udp(addr, wire.build_query("web"), WEB_CLIENT)) == [WEB_CLIENT]
        assert up.seen == []
    run(body)


def test_non_query_opcode_gets_notimp():
    async def body(server, addr, up, reg):
        data = bytearray(wire.build_query("web"))
        data[2] |= 4 << 3  # opcode NOTIFY
        assert wire.parse_response(await ask_udp(addr, bytes(data), WEB_CLIENT)).rcode == wire.NOTIMP
    run(body)


def test_large_udp_answer_is_truncated_and_complete_over_tcp_and_edns():
    async def body(server, addr, up, reg):
        udp = wire.parse_response(await ask_udp(addr, wire.build_query("big"), WEB_CLIENT))
        assert udp.truncated and udp.answers == ()
        edns = wire.parse_response(await ask_udp(addr, wire.build_query("big", edns_size=4096), WEB_CLIENT))
        assert not edns.truncated and len(edns.answers) == 40
        tcp = wire.parse_response(await ask_tcp(addr, wire.build_query("big"), WEB_CLIENT))
        assert not tcp.truncated and len(tcp.answers) == 40
    run(body)


def test_tcp_answers_several_queries_on_one_connection_and_forwards():
    async def body(server, addr, up, reg):
        replies = await ask_tcp_many(addr, [wire.build_query("db", qid=1), wire.build_query("example.test", qid=2),
                                            wire.build_query("worker", qid=3)], BACK_CLIENT)
        assert [wire.parse_response(r).id for r in replies] == [1, 2, 3]
        assert [_ips(r) for r in replies] == [["10.2.0.3"], ["192.0.2.1"], [BACK_CLIENT]]
        assert up.seen == ["example.test"]
    run(body)


def test_tcp_garbage_closes_only_that_connection():
    async def body(server, addr, up, reg):
        reader, writer = await asyncio.open_connection(*addr)
        writer.write(b"\x00\x05hello")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed without an answer
        writer.close()
        assert _ips(await ask_tcp(addr, wire.build_query("web"), WEB_CLIENT)) == [WEB_CLIENT]
    run(body)


def test_inflight_limit_answers_servfail_at_once_when_full():
    async def body(server, addr, up, reg):
        first = asyncio.create_task(ask_udp(addr, wire.build_query("slow.test"), WEB_CLIENT))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        second = wire.parse_response(await ask_udp(addr, wire.build_query("example.test"), WEB_CLIENT))
        assert second.rcode == wire.SERVFAIL and time.monotonic() - t0 < 0.3
        assert _ips(await ask_udp(addr, wire.build_query("db"), WEB_CLIENT)) == ["10.1.0.3"]
        await first
    run(body, upstream={"slow.test": Reply(["192.0.2.9"], delay=0.5)}, timeout=2.0, max_inflight=1)


def test_stop_releases_the_ports():
    async def main():
        server = DnsServer(Registry(), upstreams=[])
        (addr,) = await server.start([("127.0.0.2", 0)])
        await server.stop()
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(addr)  # would raise EADDRINUSE if anything was left open
        assert server.addresses == []
    asyncio.run(main())


def test_busy_port_is_an_error_and_nothing_is_left_listening():
    async def main():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(("127.0.0.2", 0))
            port = busy.getsockname()[1]
            server = DnsServer(Registry(), upstreams=[])
            with pytest.raises(OSError):
                await server.start([("127.0.0.3", 0), ("127.0.0.2", port)])
            assert server.addresses == []
    asyncio.run(main())


def test_links_resolve_for_the_linking_client_only_and_ttl_is_configurable():
    async def body(server, addr, up, reg):
        reg.set_links("web1", {"database": "db"})
        resp = wire.parse_response(await ask_udp(addr, wire.build_query("database"), WEB_CLIENT))
        assert [a.value for a in resp.answers] == ["10.1.0.3"] and resp.answers[0].ttl == 600
        other = wire.parse_response(await ask_udp(addr, wire.build_query("database"), BACK_CLIENT))
        assert other.rcode == wire.NXDOMAIN
        assert up.seen == ["database"]  # not ours for the back client: forwarded
    run(body, ttl=600)


def test_ipv6_listener_identifies_ipv6_clients():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")

    async def main():
        reg = Registry()
        reg.add("v6net", "cli", "", ["cli"], ipv6="::1")
        reg.add("v6net", "api1", "10.7.0.2", ["api"], ipv6="fd00::2")
        server = DnsServer(reg, upstreams=[])
        try:
            try:
                (addr,) = await server.start([("::1", 0)])
            except OSError as exc:
                pytest.skip(f"cannot bind ::1: {exc}")
            loop = asyncio.get_running_loop()
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.setblocking(False)
                s.connect(addr)
                await loop.sock_sendall(s, wire.build_query("api", wire.AAAA))
                udp = wire.parse_response(await asyncio.wait_for(loop.sock_recv(s, 4096), 3))
            tcp = wire.parse_response(await ask_tcp(addr, wire.build_query("api"), "::1"))
        finally:
            await server.stop()
        assert [a.value for a in udp.answers] == ["fd00::2"]
        assert [a.value for a in tcp.answers] == ["10.7.0.2"]
    asyncio.run(main())
