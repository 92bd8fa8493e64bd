"""cgroup v1 on this host's kernel: limits read back from the kernel files, OOM, pids, devices."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from engine.cgroups import open_driver
from engine.cgroups.base import PARENT
from engine.spec import DeviceSpec, ResourceSpec

pytestmark = pytest.mark.root
ROOT = "/sys/fs/cgroup"


@pytest.fixture
def v1(cgname):
    """The real v1 driver and a fresh name; whatever the test made is killed and removed."""
    if not os.path.isdir(f"{ROOT}/freezer"):
        pytest.skip("host has no cgroup v1 hierarchies")
    driver = open_driver(ROOT)
    assert driver.version == 1
    yield driver, cgname
    if cgname in driver.list():
        cg = driver.open(cgname)
        cg.kill_all()
        cg.remove()
    assert not any(os.path.exists(f"{ROOT}/{c}/{PARENT}/{cgname}") for c in os.listdir(ROOT))


def _read(controller: str, name: str, file: str) -> str:
    with open(f"{ROOT}/{controller}/{PARENT}/{name}/{file}", encoding="ascii") as f:
        return f.read().strip()


def test_limits_reach_the_kernel(v1):
    driver, name = v1
    res = ResourceSpec(memory=64 << 20, memory_reservation=32 << 20, cpus=1.5, cpu_shares=512,
                       pids_limit=50, cpuset_cpus="0", cpuset_mems="0", blkio_weight=300)
    driver.create(name, res)
    assert _read("memory", name, "memory.limit_in_bytes") == str(64 << 20)
    assert _read("memory", name, "memory.soft_limit_in_bytes") == str(32 << 20)
    if os.path.exists(f"{ROOT}/memory/{PARENT}/{name}/memory.memsw.limit_in_bytes"):
        assert _read("memory", name, "memory.memsw.limit_in_bytes") == str(128 << 20)  # Docker: 2x
    assert (_read("cpu", name, "cpu.cfs_quota_us"), _read("cpu", name, "cpu.cfs_period_us")) == ("150000", "100000")
    assert _read("cpu", name, "cpu.shares") == "512"
    assert _read("pids", name, "pids.max") == "50"
    assert (_read("cpuset", name, "cpuset.cpus"), _read("cpuset", name, "cpuset.mems")) == ("0", "0")
    weights = [f for f in ("blkio.weight", "blkio.bfq.weight") if os.path.exists(f"{ROOT}/blkio/{PARENT}/{name}/{f}")]
    if weights:  # kernels without a proportional I/O scheduler have neither; Docker ignores it then
        assert _read("blkio", name, weights[0]) == "300"


def test_devices_default_list_and_extra_device(v1):
    driver, name = v1
    driver.create(name, ResourceSpec(), [DeviceSpec("/dev/kmsg", permissions="r")])
    rules = _read("devices", name, "devices.list").splitlines()
    assert rules[:2] == ["c *:* m", "b *:* m"]
    assert {"c 1:3 rwm", "c 1:9 rwm", "c 136:* rwm", "c 1:11 r"} <= set(rules)
    assert "a *:* rwm" not in rules


def test_device_outside_the_list_is_denied(v1, tmp_path):
    driver, name = v1
    cg = driver.create(name, ResourceSpec())
    code = ("import os,sys; os.read(0,1)\n"
            "open('/dev/null').read()\n"
            "try:\n    open('/dev/kmsg').read(1); sys.exit(3)\n"
            "except PermissionError:\n    sys.exit(0)\n")
    p = subprocess.Popen([sys.executable, "-I", "-S", "-c", code], stdin=subprocess.PIPE)
    cg.add_process(p.pid)
    p.communicate(b"x", timeout=10)
    assert p.returncode == 0


def test_memory_hog_is_oom_killed(v1):
    driver, name = v1
    cg = driver.create(name, ResourceSpec(memory=16 << 20, memory_swap=16 << 20))
    code = "import os; os.read(0,1); b=[bytearray(1<<20) for _ in range(200)]"
    p = subprocess.Popen([sys.executable, "-I", "-S", "-c", code], stdin=subprocess.PIPE)
    cg.add_process(p.pid)
    p.communicate(b"x", timeout=30)
    assert p.returncode == -signal.SIGKILL
    assert cg.oom_killed()
    assert cg.stats().memory_max_usage >= 15 << 20


def test_pids_limit_stops_forking(v1):
    driver, name = v1
    cg = driver.create(name, ResourceSpec(pids_limit=4))
    code = ("import os,sys,time; os.read(0,1); n=0\n"
            "try:\n    for _ in range(10):\n        if os.fork()==0: time.sleep(5); os._exit(0)\n        n+=1\n"
            "except BlockingIOError:\n    pass\n"
            "print(n, flush=True)")
    p = subprocess.Popen([sys.executable, "-I", "-S", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    cg.add_process(p.pid)
    out, _ = p.communicate(b"x", timeout=30)
    assert int(out) == 3  # the parent plus 3 children reach pids.max = 4
    cg.kill_all()


def test_stats_count_real_usage(v1):
    driver, name = v1
    cg = driver.create(name, ResourceSpec(memory=64 << 20))
    code = "import os; os.read(0,1); x=bytearray(8<<20); sum(range(3_000_000)); os.read(0,1)"
    p = subprocess.Popen([sys.executable, "-I", "-S", "-c", code], stdin=subprocess.PIPE)
    cg.add_process(p.pid)
    os.write(p.stdin.fileno(), b"x")
    while cg.stats().cpu_usage_ns < 10_000_000 and p.poll() is None:
        time.sleep(0.01)
    st = cg.stats()
    p.communicate(b"x", timeout=10)
    assert st.cpu_usage_ns > 0 and st.memory_usage > 0 and st.pids_current == 1
    assert st.memory_limit == 64 << 20
