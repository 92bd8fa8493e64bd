"""cgroup limits seen from real containers: OOM kill reported, pids capped, CPU quota enforced."""

from __future__ import annotations

import time

import pytest

from engine import Engine
from engine.spec import ContainerSpec, ResourceSpec

pytestmark = pytest.mark.root


def start(eng: Engine, rootfs: str, script: str, **res) -> str:
    cid = eng.create(ContainerSpec(name=f"l{time.monotonic_ns()}", rootfs=rootfs,
                                   command=("sh", "-c", script), resources=ResourceSpec(**res)))
    eng.start(cid)
    return cid


def test_memory_hog_is_oom_killed_and_reported(eng, busybox_rootfs):
    cid = start(eng, busybox_rootfs, "head -c 400000000 /dev/zero | tail > /dev/null; echo survived",
                memory=32 * 1024 * 1024)
    status = eng.wait(cid, 30)
    assert status.oom_killed
    assert eng.inspect(cid).oom_killed


def test_fork_bomb_stops_at_the_pids_limit(eng, busybox_rootfs):
    cid = start(eng, busybox_rootfs, "exec sleep 300", pids_limit=20)
    res = eng.exec(cid, ["sh", "-c", "for i in $(seq 100); do sleep 300 >/dev/null 2>&1 & done"])
    assert res.exit_code != 0 and b"fork" in res.stderr.lower()
    stats = eng.stats(cid)
    assert stats.pids_limit == 20
    assert 15 <= stats.pids_current <= 20  # init + sleep + the bomb's survivors, never more
    assert eng.inspect(cid).state == "running"


def test_cpu_quota_caps_a_busy_loop(eng, busybox_rootfs):
    cid = start(eng, busybox_rootfs, "while true; do :; done", cpus=0.25)
    time.sleep(0.3)
    used0, t0 = eng.stats(cid).cpu_usage_ns, time.monotonic()
    time.sleep(1.5)
    used1, t1 = eng.stats(cid).cpu_usage_ns, time.monotonic()
    share = (used1 - used0) / 1e9 / (t1 - t0)
    assert 0.05 < share < 0.4, share
