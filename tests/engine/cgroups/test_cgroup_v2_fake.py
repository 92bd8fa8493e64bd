"""cgroup v2 file writes on a simulated unified tree: what a pure-v2 host's kernel would receive."""

from __future__ import annotations

import os

import pytest

from cgroup_fakefs import FakeCgroupFS
from engine.cgroups import open_driver
from engine.cgroups.base import PARENT, CgroupError
from engine.cgroups.devices import DEFAULT_RULES, DeviceRule
from engine.spec import DeviceSpec, ResourceSpec


@pytest.fixture
def fake(tmp_path):
    fs = FakeCgroupFS(str(tmp_path / "cg2"), 2)
    return fs, open_driver(fs.root, fs)


def _read(fs: FakeCgroupFS, rel: str) -> str:
    with open(os.path.join(fs.root, rel), encoding="ascii") as f:
        return f.read().strip()


def test_controllers_are_delegated_down_to_the_parent(fake):
    fs, driver = fake
    driver.create("c1", ResourceSpec())
    assert _read(fs, "cgroup.subtree_control").split() == ["cpu", "cpuset", "io", "memory", "pids"]
    assert _read(fs, f"{PARENT}/cgroup.subtree_control").split() == ["cpu", "cpuset", "io", "memory", "pids"]


def test_limits_are_written_in_v2_units(fake):
    fs, driver = fake
    driver.create("c1", ResourceSpec(memory=256 << 20, memory_swap=384 << 20, memory_reservation=64 << 20,
                                     cpus=0.5, cpu_shares=512, pids_limit=100, cpuset_cpus="1-2",
                                     cpuset_mems="0", blkio_weight=500))
    leaf = f"{PARENT}/c1"
    assert _read(fs, f"{leaf}/memory.max") == str(256 << 20)
    assert _read(fs, f"{leaf}/memory.swap.max") == str(128 << 20)  # swap only, not mem+swap
    assert _read(fs, f"{leaf}/memory.low") == str(64 << 20)
    assert _read(fs, f"{leaf}/cpu.max") == "50000 100000"
    assert _read(fs, f"{leaf}/cpu.weight") == "20"  # runc: 1 + (512-2)*9999/262142
    assert _read(fs, f"{leaf}/pids.max") == "100"
    assert (_read(fs, f"{leaf}/cpuset.cpus"), _read(fs, f"{leaf}/cpuset.mems")) == ("1-2", "0")
    assert _read(fs, f"{leaf}/io.weight") == "default 4950"  # runc: 1 + (500-10)*9999/990


@pytest.mark.parametrize("swap,expected", [(0, str(256 << 20)), (-1, "max")])
def test_docker_swap_defaults(fake, swap, expected):
    fs, driver = fake
    driver.create("c1", ResourceSpec(memory=256 << 20, memory_swap=swap))
    assert _read(fs, f"{PARENT}/c1/memory.swap.max") == expected


def test_oom_kill_is_read_from_memory_events(fake):
    fs, driver = fake
    cg = driver.create("c1", ResourceSpec(memory=64 << 20))
    assert not cg.oom_killed()
    with open(f"{fs.root}/{PARENT}/c1/memory.events", "w", encoding="ascii") as f:
        f.write("low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n")
    assert cg.oom_killed()


def test_stats_parse_v2_files(fake):
    fs, driver = fake
    cg = driver.create("c1", ResourceSpec(memory=64 << 20))
    leaf = f"{fs.root}/{PARENT}/c1"
    for name, text in {"cpu.stat": "usage_usec 1234\nuser_usec 1000\n", "memory.current": "4096",
                       "memory.peak": "8192", "io.stat": "8:0 rbytes=100 wbytes=20 rios=1\n"
                       "8:16 rbytes=1 wbytes=2 rios=1\n"}.items():
        with open(f"{leaf}/{name}", "w", encoding="ascii") as f:
            f.write(text)
    st = cg.stats()
    assert (st.cpu_usage_ns, st.memory_usage, st.memory_max_usage) == (1_234_000, 4096, 8192)
    assert (st.memory_limit, st.io_read_bytes, st.io_write_bytes) == (64 << 20, 101, 22)


def test_device_filter_gets_default_rules_plus_devices(fake):
    fs, driver = fake
    driver.create("c1", ResourceSpec(), [DeviceSpec("/dev/kmsg", permissions="r")])
    rules = fs.device_rules[f"{fs.root}/{PARENT}/c1"]
    assert rules == DEFAULT_RULES + (DeviceRule("c", 1, 11, "r"),)


def test_privileged_attaches_no_filter(fake):
    fs, driver = fake
    driver.create("c1", ResourceSpec(), privileged=True)
    assert fs.device_rules == {}


def test_missing_controller_fails_before_mkdir(tmp_path):
    fs = FakeCgroupFS(str(tmp_path / "cg2"), 2)
    with open(f"{fs.root}/cgroup.controllers", "w", encoding="ascii") as f:
        f.write("cpu pids")
    driver = open_driver(fs.root, fs)
    with pytest.raises(CgroupError, match="memory"):
        driver.create("c1", ResourceSpec(memory=64 << 20))
    assert not os.path.exists(f"{fs.root}/{PARENT}/c1")
    driver.create("c2", ResourceSpec(pids_limit=5))
    assert _read(fs, f"{PARENT}/c2/pids.max") == "5"


def test_failed_apply_removes_the_leaf(fake):
    fs, driver = fake
    os.unlink(f"{fs.root}/cgroup.controllers")
    with open(f"{fs.root}/cgroup.controllers", "w", encoding="ascii") as f:
        f.write("cpu cpuset io memory pids")
    bad = ResourceSpec(cpuset_cpus="0")
    orig = fs.write

    def failing(path: str, value: str) -> None:
        if path.endswith("cpuset.cpus"):
            raise CgroupError("Invalid argument")
        orig(path, value)

    fs.write = failing  # type: ignore[method-assign]
    with pytest.raises(CgroupError):
        driver.create("c1", bad)
    assert "c1" not in driver.list()
