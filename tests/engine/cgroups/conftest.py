"""Cgroup driver implementations under test: every driver runs the same conformance suite."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Iterator

import pytest

from cgroup_fakefs import FakeCgroupFS
from engine.cgroups.base import CgroupDriver
from engine.cgroups.probe import open_driver

UNIFIED = "/sys/fs/cgroup/unified"
_counter = itertools.count()


@dataclass
class Impl:
    """A driver plus what its cgroupfs supports, so tests know what to expect."""

    id: str
    driver: CgroupDriver
    controllers: set[str]  # which limits can be applied
    fake: FakeCgroupFS | None
    root: str = "/sys/fs/cgroup"


def _writable_cgroup2(path: str) -> bool:
    return os.geteuid() == 0 and os.path.isfile(f"{path}/cgroup.controllers") and os.access(path, os.W_OK)


def _v1_real(tmp_path) -> Impl:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    if not os.path.isdir("/sys/fs/cgroup/freezer"):
        pytest.skip("no cgroup v1 hierarchies on this host")
    return Impl("v1-real", open_driver("/sys/fs/cgroup"), {"memory", "cpu", "pids", "cpuset", "freezer"}, None)


def _v2_real(tmp_path) -> Impl:
    root = "/sys/fs/cgroup" if os.path.isfile("/sys/fs/cgroup/cgroup.controllers") else UNIFIED
    if not _writable_cgroup2(root):
        pytest.skip("no writable cgroup2 mount (needs root)")
    driver = open_driver(root)
    return Impl("v2-real", driver, set(driver.available()) | {"freezer"}, None, root)  # type: ignore[attr-defined]


def _fake(version: int) -> Callable[..., Impl]:
    def make(tmp_path) -> Impl:
        fs = FakeCgroupFS(str(tmp_path / f"cgroupfs-v{version}"), version)
        return Impl(f"v{version}-fake", open_driver(fs.root, fs), {"memory", "cpu", "pids", "cpuset", "freezer"}, fs, fs.root)
    return make


# Every driver implementation and where it runs; test_registry checks nothing is missing.
IMPLEMENTATIONS = {"v1-real": _v1_real, "v1-fake": _fake(1), "v2-fake": _fake(2), "v2-real": _v2_real}
DRIVER_CLASSES = {"V1Driver": ("v1-real", "v1-fake"), "V2Driver": ("v2-fake", "v2-real")}


@pytest.fixture(params=[pytest.param(k, marks=pytest.mark.root) if k.endswith("-real") else k
                        for k in sorted(IMPLEMENTATIONS)])
def impl(request, tmp_path) -> Iterator[Impl]:
    """One driver implementation; cgroups the test left behind are killed and removed."""
    made = IMPLEMENTATIONS[request.param](tmp_path)
    before = set(made.driver.list())
    yield made
    for name in set(made.driver.list()) - before:
        cg = made.driver.open(name)
        cg.kill_all()
        cg.remove()


@pytest.fixture
def cgname() -> str:
    """A cgroup name unique to this test run."""
    return f"test-{os.getpid()}-{next(_counter)}"


@pytest.fixture
def sleeper() -> Iterator[Callable[[], subprocess.Popen]]:
    """Start sleeping Python children; all are killed and reaped at teardown."""
    procs: list[subprocess.Popen] = []

    def start(code: str = "import time; time.sleep(60)") -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-I", "-S", "-c", code])
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait()


@pytest.fixture(scope="session", autouse=True)
def _remove_shoal_parents_we_made() -> Iterator[None]:
    """At the end, rmdir the real ``shoal/`` parents this session created, if they are empty."""
    from engine.cgroups.base import PARENT

    def parents() -> set[str]:
        roots = ["/sys/fs/cgroup/" + c for c in os.listdir("/sys/fs/cgroup")] if os.path.isdir("/sys/fs/cgroup") else []
        return {f"{r}/{PARENT}" for r in roots + ["/sys/fs/cgroup"] if os.path.isdir(f"{r}/{PARENT}")}

    before = parents()
    yield
    for path in parents() - before:
        try:
            os.rmdir(path)  # fails harmlessly (EBUSY) if someone else's containers live there
        except OSError:
            pass
