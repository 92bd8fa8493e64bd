"""Registry: per-network scoping, replicas, health, aliases, PTR, case and suffixes."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.network.dns import Registry


@pytest.fixture
def reg() -> Registry:
    r = Registry(domains=["shoal.test"], rng=random.Random(7))
    r.set_network("front")
    r.set_network("back")
    r.set_network("vault", internal=True)
    r.add("front", "web1", "10.1.0.2", ["web", "proj-web-1"])
    r.add("front", "db1", "10.1.0.3", ["proj-db-1", "db", "postgres"])
    r.add("back", "db1", "10.2.0.3", ["proj-db-1", "db", "postgres"])
    r.add("back", "cache1", "10.2.0.4", ["cache", "proj-cache-1"], ipv6="fd00::4")
    return r


def test_each_client_sees_the_address_on_its_own_network(reg):
    assert reg.lookup(reg.networks_of("10.1.0.2"), "db", "A") == ["10.1.0.3"]
    assert reg.lookup(reg.networks_of("10.2.0.4"), "db", "A") == ["10.2.0.3"]


def test_same_service_name_in_two_projects_answers_each_its_own():
    r = Registry()
    r.add("a_default", "a-web", "10.5.0.2", ["web"])
    r.add("a_default", "a-cli", "10.5.0.9", ["cli"])
    r.add("b_default", "b-web", "10.6.0.2", ["web"])
    r.add("b_default", "b-cli", "10.6.0.9", ["cli"])
    assert r.lookup(r.networks_of("10.5.0.9"), "web", "A") == ["10.5.0.2"]
    assert r.lookup(r.networks_of("10.6.0.9"), "web", "A") == ["10.6.0.2"]


def test_names_on_other_networks_are_invisible(reg):
    web = reg.networks_of("10.1.0.2")
    assert web == {"front"}
    assert not reg.exists(web, "cache")
    assert reg.lookup(web, "cache", "A") == []


def test_a_container_on_two_networks_sees_names_of_both(reg):
    nets = reg.networks_of("10.1.0.3")  # db, asking through its front address
    assert nets == {"front", "back"}
    assert reg.lookup(nets, "cache", "A") == ["10.2.0.4"]
    assert reg.lookup(nets, "web", "A") == ["10.1.0.2"]


def test_service_name_returns_every_replica_shuffled():
    r = Registry(rng=random.Random(1))
    ips = [f"10.9.0.{i}" for i in range(2, 6)]
    for i, ip in enumerate(ips):
        r.add("n", f"c{i}", ip, ["api", f"proj-api-{i + 1}"])
    firsts = set()
    for _ in range(200):
        got = r.lookup({"n"}, "api", "A")
        assert sorted(got) == sorted(ips)
        firsts.add(got[0])
    assert firsts == set(ips)  # every replica comes first sometimes: load spreads


def test_unhealthy_replicas_drop_out_and_come_back():
    r = Registry()
    r.add("n", "a", "10.9.0.2", ["api"])
    r.add("n", "b", "10.9.0.3", ["api"])
    r.set_healthy("a", False)
    assert r.lookup({"n"}, "api", "A") == ["10.9.0.3"]
    r.set_healthy("b", False)
    assert r.lookup({"n"}, "api", "A") == []
    assert r.exists({"n"}, "api")  # still ours: answered empty, never forwarded
    r.set_healthy("a", True)
    assert r.lookup({"n"}, "api", "A") == ["10.9.0.2"]


def test_aliases_and_container_names_resolve(reg):
    nets = {"front"}
    assert reg.lookup(nets, "postgres", "A") == ["10.1.0.3"]
    assert reg.lookup(nets, "proj-db-1", "A") == ["10.1.0.3"]


def test_case_trailing_dot_network_suffix_and_search_domain(reg):
    nets = {"front"}
    for name in ["DB", "db.", "Db.", "db.front", "DB.FRONT.", "db.shoal.test", "postgres.shoal.test."]:
        assert reg.lookup(nets, name, "A") == ["10.1.0.3"], name
    assert reg.lookup(nets, "db.back", "A") == []  # a network the client is not on


def test_aaaa_only_for_endpoints_with_ipv6(reg):
    nets = {"back"}
    assert reg.lookup(nets, "cache", "AAAA") == ["fd00::4"]
    assert reg.lookup(nets, "cache", 28) == ["fd00::4"]
    assert reg.lookup(nets, "db", "AAAA") == []


def test_ptr_is_first_name_dot_network_and_scoped(reg):
    assert reg.reverse("10.2.0.4") == "cache.back"
    assert reg.reverse("fd00::4") == "cache.back"
    assert reg.reverse("10.1.0.3", {"front"}) == "proj-db-1.front"
    assert reg.reverse("10.2.0.4", {"front"}) is None
    assert reg.reverse("10.99.0.1") is None
    assert reg.reverse("not-an-ip") is None


def test_remove_from_one_network_then_everywhere(reg):
    reg.remove("db1", "back")
    assert reg.lookup({"back"}, "db", "A") == []
    assert reg.lookup({"front"}, "db", "A") == ["10.1.0.3"]
    assert reg.networks_of("10.2.0.3") == set()
    reg.remove("db1")
    assert not reg.exists({"front", "back"}, "postgres")
    assert reg.networks_of("10.1.0.3") == set()


def test_re_adding_an_endpoint_replaces_its_address_and_names(reg):
    reg.add("front", "web1", "10.1.0.20", ["web"])
    assert reg.lookup({"front"}, "web", "A") == ["10.1.0.20"]
    assert not reg.exists({"front"}, "proj-web-1")
    assert reg.networks_of("10.1.0.2") == set()


def test_internal_only_clients_may_not_forward(reg):
    reg.add("vault", "secret1", "10.3.0.2", ["secret"])
    reg.add("vault", "db1", "10.3.0.3", ["db"])
    assert not reg.may_forward(reg.networks_of("10.3.0.2"))
    assert reg.may_forward(reg.networks_of("10.3.0.3"))  # db also has non-internal networks
    assert reg.may_forward(set())  # unknown clients (the host itself) are forwarded


def test_per_container_dns_servers(reg):
    reg.set_dns("web1", ["127.0.0.99:5353"])
    assert reg.upstreams_for("10.1.0.2") == ("127.0.0.99:5353",)
    assert reg.upstreams_for("10.1.0.3") is None
    reg.remove("web1")
    assert reg.upstreams_for("10.1.0.2") is None


def test_ipv4_mapped_source_addresses_identify_the_client(reg):
    assert reg.networks_of("::ffff:10.1.0.2") == {"front"}


def test_bad_addresses_are_refused():
    with pytest.raises(ValueError):
        Registry().add("n", "c", "10.0.0.300", ["x"])


_ops = st.lists(st.tuples(st.sampled_from(["add", "remove", "remove_net"]), st.sampled_from(["n1", "n2"]),
                          st.sampled_from(["c1", "c2", "c3"]), st.integers(2, 5)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(_ops)
def test_registry_matches_a_simple_model(ops):
    """Whatever the order of adds and removes, answers equal a naive recomputation."""
    r = Registry()
    model: dict[tuple[str, str], str] = {}
    for op, net, cid, last in ops:
        if op == "add":
            r.add(net, cid, f"10.0.{net[-1]}.{last}", ["svc", cid])
            model[(net, cid)] = f"10.0.{net[-1]}.{last}"
        elif op == "remove":
            r.remove(cid)
            model = {k: v for k, v in model.items() if k[1] != cid}
        else:
            r.remove(cid, net)
            model.pop((net, cid), None)
    for net in ("n1", "n2"):
        want = sorted({ip for (n, _c), ip in model.items() if n == net})
        assert sorted(r.lookup({net}, "svc", "A")) == want
        for cid in ("c1", "c2", "c3"):
            assert r.lookup({net}, cid, "A") == ([model[(net, cid)]] if (net, cid) in model else [])


def test_links_are_aliases_only_the_linking_container_sees(reg):
    reg.set_links("web1", {"database": "db"})
    nets = reg.networks_of("10.1.0.2")
    assert reg.lookup(nets, "database", "A", client="web1") == ["10.1.0.3"]
    assert reg.lookup(nets, "DATABASE.", "A", client="web1") == ["10.1.0.3"]
    assert not reg.exists(nets, "database", client="db1")
    assert not reg.exists(nets, "database")
    reg.remove("web1")
    reg.add("front", "web1", "10.1.0.2", ["web"])
    assert not reg.exists(nets, "database", client="web1")  # forgotten with the container
