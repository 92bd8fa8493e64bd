"""The Cgroup/CgroupDriver contract, run against every implementation (real and simulated)."""

from __future__ import annotations

import os
import signal

import pytest

from conftest import DRIVER_CLASSES, IMPLEMENTATIONS
from engine.cgroups import open_driver
from engine.cgroups.base import PARENT, CgroupError, CgroupStats
from engine.spec import ResourceSpec


def test_every_driver_is_in_the_conformance_fixture():
    import engine.cgroups.v1 as v1
    import engine.cgroups.v2 as v2

    classes = {n for mod in (v1, v2) for n in mod.__all__ if n.endswith("Driver")}
    assert classes == set(DRIVER_CLASSES)
    assert {i for ids in DRIVER_CLASSES.values() for i in ids} == set(IMPLEMENTATIONS)


def test_create_list_open_remove(impl, cgname):
    cg = impl.driver.create(cgname, ResourceSpec())
    assert cg.name == cgname
    assert cgname in impl.driver.list()
    assert impl.driver.open(cgname).procs() == []
    with pytest.raises(CgroupError, match="exists"):
        impl.driver.create(cgname, ResourceSpec())
    cg.remove()
    cg.remove()  # idempotent
    assert cgname not in impl.driver.list()
    with pytest.raises(CgroupError, match="no such cgroup"):
        impl.driver.open(cgname)


@pytest.mark.parametrize("bad", ["", "a/b", "..", "-x", "x y"])
def test_invalid_names_are_refused(impl, bad):
    with pytest.raises(ValueError):
        impl.driver.create(bad, ResourceSpec())


def test_memory_below_6mb_is_refused_before_anything_is_made(impl, cgname):
    with pytest.raises(ValueError, match="Minimum memory limit allowed is 6MB"):
        impl.driver.create(cgname, ResourceSpec(memory=4 * 1024 * 1024))
    assert cgname not in impl.driver.list()


def test_process_joins_and_is_listed(impl, cgname, sleeper):
    cg = impl.driver.create(cgname, ResourceSpec())
    p = sleeper()
    cg.add_process(p.pid)
    assert cg.procs() == [p.pid]


def test_reopened_by_a_fresh_driver_after_a_restart(impl, cgname, sleeper):
    cg = impl.driver.create(cgname, ResourceSpec())
    p = sleeper()
    cg.add_process(p.pid)
    fresh = open_driver(impl.root, impl.fake)
    again = fresh.open(cgname)
    assert again.procs() == [p.pid]
    again.kill_all()
    again.remove()
    assert cgname not in impl.driver.list()


def test_freeze_and_thaw(impl, cgname, sleeper):
    cg = impl.driver.create(cgname, ResourceSpec())
    cg.add_process(sleeper().pid)
    assert not cg.frozen()
    cg.freeze()
    assert cg.frozen()
    cg.thaw()
    assert not cg.frozen()


def test_kill_all_empties_the_cgroup(impl, cgname, sleeper):
    cg = impl.driver.create(cgname, ResourceSpec())
    procs = [sleeper() for _ in range(3)]
    for p in procs:
        cg.add_process(p.pid)
    cg.kill_all()
    assert cg.procs() == []
    assert [p.wait(timeout=5) for p in procs] == [-signal.SIGKILL] * 3
    cg.remove()
    assert cgname not in impl.driver.list()


def test_kill_all_with_sigterm_delivers_it(impl, cgname, sleeper):
    cg = impl.driver.create(cgname, ResourceSpec())
    p = sleeper()
    cg.add_process(p.pid)
    cg.kill_all(signal.SIGTERM)
    assert p.wait(timeout=5) == -signal.SIGTERM
    assert not cg.frozen()  # thawed again afterwards


def test_remove_refuses_while_processes_remain(impl, cgname, sleeper):
    cg = impl.driver.create(cgname, ResourceSpec())
    cg.add_process(sleeper().pid)
    with pytest.raises(CgroupError):
        cg.remove()
    assert cgname in impl.driver.list()


def test_limits_show_in_stats(impl, cgname):
    if not {"memory", "pids"} <= impl.controllers:
        pytest.skip(f"{impl.id} has no memory/pids controller")
    cg = impl.driver.create(cgname, ResourceSpec(memory=64 << 20, pids_limit=42))
    st = cg.stats()
    assert isinstance(st, CgroupStats)
    assert (st.memory_limit, st.pids_limit) == (64 << 20, 42)


def test_unlimited_reads_as_zero(impl, cgname):
    st = impl.driver.create(cgname, ResourceSpec()).stats()
    assert (st.memory_limit, st.pids_limit) == (0, 0)


def test_limits_without_a_controller_fail_clearly(impl, cgname):
    if "memory" in impl.controllers:
        pytest.skip(f"{impl.id} has a memory controller")
    with pytest.raises(CgroupError, match="memory"):
        impl.driver.create(cgname, ResourceSpec(memory=64 << 20))
    assert cgname not in impl.driver.list()


def test_fresh_cgroup_was_not_oom_killed(impl, cgname):
    assert impl.driver.create(cgname, ResourceSpec()).oom_killed() is False


def test_only_the_shoal_parent_is_used(impl, cgname):
    impl.driver.create(cgname, ResourceSpec())
    if impl.fake is None:
        pytest.skip("checked on the simulated tree, where every directory is ours")
    made = {os.path.relpath(d, impl.fake.root) for d, _, _ in os.walk(impl.fake.root)} - {"."}
    prefix = "" if impl.fake.version == 2 else "*/"
    allowed = {f"{prefix}{PARENT}", f"{prefix}{PARENT}/{cgname}"}
    for d in made:
        parts = d.split("/")
        shape = "/".join(["*"] + parts[1:]) if impl.fake.version == 1 else d
        assert len(parts) == 1 and impl.fake.version == 1 or shape in allowed, d
