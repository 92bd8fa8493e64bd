"""Pure pieces of the cgroup layer: conversions, device rules, the probe."""

from __future__ import annotations

import pytest

from cgroup_fakefs import FakeCgroupFS
from engine.cgroups.base import CgroupError
from engine.cgroups.convert import blkio_to_io_weight, cpu_quota, shares_to_weight, swap_only, swap_total
from engine.cgroups.devices import DEFAULT_RULES, DeviceRule, device_rules, rule_for
from engine.cgroups.probe import detect
from engine.spec import DeviceSpec, ResourceSpec


@pytest.mark.parametrize("shares,weight", [(2, 1), (1024, 39), (262144, 10000), (0, 0), (1, 1), (10**7, 10000)])
def test_shares_to_weight_like_runc(shares, weight):
    assert shares_to_weight(shares) == weight


@pytest.mark.parametrize("blkio,weight", [(10, 1), (500, 4950), (1000, 10000), (0, 0)])
def test_blkio_to_io_weight_like_runc(blkio, weight):
    assert blkio_to_io_weight(blkio) == weight


@pytest.mark.parametrize("cpus,quota", [(0.5, 50000), (1.5, 150000), (2, 200000), (0, 0), (0.001, 100)])
def test_cpu_quota(cpus, quota):
    assert cpu_quota(cpus) == quota


@pytest.mark.parametrize("mem,swap,total,only", [
    (100, 0, 200, 100),  # Docker: unset swap = as much swap as memory
    (100, -1, -1, -1),  # unlimited
    (100, 150, 150, 50),
    (100, 100, 100, 0),  # no swap
    (0, 0, 0, 0),  # no memory limit: nothing written
])
def test_swap_rules(mem, swap, total, only):
    res = ResourceSpec(memory=mem, memory_swap=swap)
    assert (swap_total(res), swap_only(res)) == (total, only)


def test_device_rule_lines():
    assert DeviceRule("c", 1, 3).v1_line() == "c 1:3 rwm"
    assert DeviceRule("c", access="m").v1_line() == "c *:* m"
    assert DeviceRule("c", 136, -1, "rw").v1_line() == "c 136:* rw"
    with pytest.raises(ValueError):
        DeviceRule("x")
    with pytest.raises(ValueError):
        DeviceRule("c", 1, 3, "rwx")


def test_device_spec_is_stat_ed():
    assert rule_for(DeviceSpec("/dev/null")) == DeviceRule("c", 1, 3, "rwm")
    with pytest.raises(ValueError, match="not a device"):
        rule_for(DeviceSpec("/etc/hostname"))
    with pytest.raises(ValueError, match="No such file"):
        rule_for(DeviceSpec("/dev/does-not-exist"))


def test_privileged_allows_everything():
    assert device_rules([DeviceSpec("/dev/null")], privileged=True) == (DeviceRule("a"),)
    assert device_rules([]) == DEFAULT_RULES


def test_probe_tells_v1_from_v2(tmp_path):
    assert detect(FakeCgroupFS(str(tmp_path / "one"), 1).root) == 1
    assert detect(FakeCgroupFS(str(tmp_path / "two"), 2).root) == 2
    with pytest.raises(CgroupError, match="no cgroup filesystem"):
        detect(str(tmp_path))


def test_probe_on_this_host():
    import os

    if os.path.isfile("/sys/fs/cgroup/cgroup.controllers"):
        assert detect("/sys/fs/cgroup") == 2
    elif os.path.isdir("/sys/fs/cgroup/memory"):
        assert detect("/sys/fs/cgroup") == 1
    else:
        pytest.skip("no cgroup filesystem mounted")
