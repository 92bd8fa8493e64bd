"""The network layer as the daemon drives it: batched teardown and reconcile at start by name."""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from engine.network import NetworkConfig, NetworkManager, PortBinding, firewall
from netlab_helpers import run

pytestmark = pytest.mark.root


def _count_loads(monkeypatch) -> list[int]:
    """Count the ruleset loads (each one is an ``nft -f`` of the whole table)."""
    calls = [0]
    real = firewall.apply

    def counting(rs):
        calls[0] += 1
        real(rs)
    monkeypatch.setattr(firewall, "apply", counting)
    return calls


def test_detach_many_is_one_ruleset_load(lab, monkeypatch):
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    m.create_network(NetworkConfig("back"))
    eps = {}
    for name in ("a", "b", "c", "keep"):
        _, [ef, _] = lab.container(name, "front", "back")
        m.publish(name, ef, [PortBinding(80, host_port=8080)], group="web")
        eps[name] = ef
    loads = _count_loads(monkeypatch)
    freed = m.detach_many(["a", "b", "c", "never-attached"])
    assert loads[0] == 1
    assert freed == [f"{c}/{n}" for c in "abc" for n in ("back", "front")]
    assert [e.container_id for e in m.endpoints()] == ["keep", "keep"]
    assert [p.backends for p in m.publications()] == [(("keep", eps["keep"].ipv4_address),)]
    links = run(lab.host, "ip", "-o", "link")
    assert eps["keep"].host_veth in links
    assert not any(eps[c].host_veth in links for c in "abc")
    rules = run(lab.host, "nft", "list", "table", "inet", m.table)
    assert eps["keep"].ipv4_address in rules and eps["a"].ipv4_address not in rules
    assert m.detach_many(["a"]) == [] and loads[0] == 1  # nothing left to do: no load


def _networking(lab, tmp_path, loop):
    """The daemon's Networking, with its manager moved into the lab's private host."""
    from orchestrator.daemon.netwire import Networking
    net = Networking(str(tmp_path / "root"), str(tmp_path / "run"), loop)
    net.nm = lab.manager
    return net


def test_daemon_teardown_batches_concurrent_removes(lab, tmp_path, monkeypatch):
    """Concurrent unwires (a ``down``) share ruleset loads; every container ends fully unwired."""
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    names = [f"c{i}" for i in range(12)]
    for n in names:
        _, [ep] = lab.container(n, "front")
        m.publish(n, ep, [PortBinding(80, host_port=8080)], group="web")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        net = _networking(lab, tmp_path, loop)
        loads = _count_loads(monkeypatch)
        slow = m._apply_rules

        def slower(st):  # widen the window as a busy host would
            import time
            time.sleep(0.05)
            slow(st)
        monkeypatch.setattr(m, "_apply_rules", slower)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: net.unwire(n, n), names))
        assert m.endpoints() == [] and m.publications() == []
        assert loads[0] < len(names)
        assert os.listdir(m.netns_dir) == []
        asyncio.run_coroutine_threadsafe(net.close(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def test_daemon_start_frees_what_gone_containers_held(lab, tmp_path):
    """netns files are named by container name, endpoints by id: only the gone one is freed."""
    m = lab.manager
    m.create_network(NetworkConfig("front"))
    live_ns = m.create_netns(os.path.join(m.netns_dir, "proj-web-1"))
    dead_ns = m.create_netns(os.path.join(m.netns_dir, "proj-db-1"))
    lone_ns = m.create_netns(os.path.join(m.netns_dir, "proj-cut-1"))  # create cut short
    live = m.attach(live_ns, "front", container_id="id-web")
    dead = m.attach(dead_ns, "front", container_id="id-db")
    m.publish("id-db", dead, [PortBinding(5432, host_port=15432)])

    async def start() -> None:
        net = _networking(lab, tmp_path, asyncio.get_running_loop())
        try:
            await net.adopt({"id-web": "proj-web-1"})
        finally:
            await net.close()
    asyncio.run(start())
    assert [(e.container_id, e.netns) for e in m.endpoints()] == [("id-web", live_ns)]
    assert m.publications() == []
    assert sorted(os.listdir(m.netns_dir)) == ["proj-web-1"]
    assert not os.path.exists(lone_ns)
    links = run(lab.host, "ip", "-o", "link")
    assert live.host_veth in links and dead.host_veth not in links
    assert "15432" not in run(lab.host, "nft", "list", "table", "inet", m.table)
