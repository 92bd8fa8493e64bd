"""Create/start/remove cycles leave no mount, cgroup, process or file behind."""

from __future__ import annotations

import glob
import os

import pytest

from engine import Engine
from engine.spec import ContainerSpec, MountSpec, ResourceSpec

pytestmark = pytest.mark.root


def _mounts() -> list[str]:
    with open("/proc/mounts") as f:
        return sorted(f.read().splitlines())


def _cgroups() -> list[str]:
    return sorted(glob.glob("/sys/fs/cgroup/*/shoal/*") + glob.glob("/sys/fs/cgroup/shoal/*"))


def _processes(marker: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        out.append(pid)
            except OSError:
                pass
    return out


def test_100_cycles_leave_nothing(tmp_path, busybox_rootfs):
    root, run_dir = str(tmp_path / "root"), str(tmp_path / "run")
    eng = Engine(root, run_dir)
    src = tmp_path / "src"
    src.mkdir()
    before = (_mounts(), _cgroups())
    try:
        for i in range(100):
            spec = ContainerSpec(
                name=f"leak{i}", rootfs=busybox_rootfs,
                command=("sh", "-c", "echo hi; sleep 30") if i % 2 else ("true",),
                mounts=(MountSpec(type="bind", source=str(src), target="/src"),
                        MountSpec(type="volume", source="data", target="/data"),
                        MountSpec(type="tmpfs", target="/scratch")),
                resources=ResourceSpec(memory=64 << 20, pids_limit=50))
            cid = eng.create(spec)
            if i % 4 != 3:  # a quarter are created and removed without ever starting
                eng.start(cid)
            if i % 2:
                eng.stop(cid, timeout=0.2)
            eng.remove(cid, force=True)
    finally:
        for info in eng.list():
            eng.remove(info.id, force=True)
    assert eng.list() == []
    assert _mounts() == before[0]
    assert _cgroups() == before[1]
    assert _processes(root) == []
    assert os.listdir(os.path.join(root, "containers")) == []
    assert os.listdir(os.path.join(run_dir, "containers")) == []
    assert os.path.isdir(os.path.join(root, "volumes", "data", "_data"))  # volumes stay
