"""Create/start/remove cycles leave no mount, cgroup, process or file behind."""

from __future__ import annotations

import glob
import os

import pytest

from engine import Engine
from engine.spec import ContainerSpec, MountSpec, ResourceSpec

pytestmark = pytest.mark.root


def _mounts(markers: list[str]) -> list[str]:
    """Host mounts that mention any marker (our root dir or a container id)."""
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if any(m in line for m in markers)]


def _cgroups(ids: list[str]) -> list[str]:
    """cgroup directories of our containers in any hierarchy (others may run tests meanwhile)."""
    dirs = glob.glob("/sys/fs/cgroup/*/shoal/*") + glob.glob("/sys/fs/cgroup/shoal/*")
    return [d for d in dirs if os.path.basename(d) in ids]


def _processes(marker: str, ids: list[str] = ()) -> list[str]:
    """Processes whose command line names ``marker``, or monitors (``mon-<id>``) of ``ids``.

    Monitors forked by the fork server keep the server's command line, so they are
    found by the name they give themselves instead.
    """
    names = {("mon-" + cid)[:15] for cid in ids}
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read()
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if marker.encode() in cmdline or comm in names:
                out.append(pid)
    return out


def test_100_cycles_leave_nothing(tmp_path, busybox_rootfs):
    root, run_dir = str(tmp_path / "root"), str(tmp_path / "run")
    eng = Engine(root, run_dir)
    src = tmp_path / "src"
    src.mkdir()
    ids: list[str] = []
    mounts_before = _mounts([root])
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
            ids.append(cid)
            if i % 4 != 3:  # a quarter are created and removed without ever starting
                eng.start(cid)
            if i % 2:
                eng.stop(cid, timeout=0.2)
            eng.remove(cid, force=True)
    finally:
        for info in eng.list():
            eng.remove(info.id, force=True)
    assert eng.list() == []
    assert mounts_before == [] and _mounts([root, *ids]) == []
    assert _cgroups(ids) == [] and len(set(ids)) == 100
    eng.close()  # the fork server goes with its Engine
    assert _processes(root, ids) == [] and _processes(run_dir) == []
    assert os.listdir(os.path.join(root, "containers")) == []
    assert os.listdir(os.path.join(run_dir, "containers")) == []
    assert os.path.isdir(os.path.join(root, "volumes", "data", "_data"))  # volumes stay
