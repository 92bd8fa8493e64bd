"""Second review of the engine's riskiest code: each test is an attack or a crash a host must survive."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from engine import Engine
from engine.container import files, lifecycle
from engine.errors import InvalidSpec
from engine.spec import ContainerSpec


@pytest.fixture
def eng(tmp_path):
    """An Engine on private roots; every container is force-removed afterwards, even on failure."""
    e = Engine(str(tmp_path / "root"), str(tmp_path / "run"))
    yield e
    for info in e.list():
        e.remove(info.id, force=True)


def run(eng: Engine, rootfs: str, script: str, **kw) -> tuple[int, str, str]:
    """Run ``sh -c script`` to completion; (exit code, stdout, stderr)."""
    kw.setdefault("name", f"r{time.monotonic_ns()}")
    cid = eng.create(ContainerSpec(rootfs=rootfs, command=("sh", "-c", script), **kw))
    eng.start(cid)
    status = eng.wait(cid, 20)
    lines = list(eng.logs(cid))
    return (status.exit_code, "".join(x.message for x in lines if x.stream == "stdout"),
            "".join(x.message for x in lines if x.stream == "stderr"))


# -- create is atomic -------------------------------------------------------------------------

def _killed_create(eng: Engine, rootfs: str) -> None:
    """Fork a process that is SIGKILLed in the middle of Engine.create (while writing /etc files)."""
    pid = os.fork()
    if pid == 0:
        try:
            def die(*_a, **_k):
                os.kill(os.getpid(), signal.SIGKILL)
            files.hostname_file = die
            eng.create(ContainerSpec(name="killed", rootfs=rootfs, command=("true",)))
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def test_create_killed_midway_leaves_no_container_directory(eng, busybox_rootfs):
    _killed_create(eng, busybox_rootfs)
    entries = os.listdir(eng.containers_dir)
    incomplete = [d for d in entries if not os.path.isfile(os.path.join(eng.containers_dir, d, "config.json"))]
    assert incomplete in ([], [lifecycle.CREATING])
    assert eng.list() == []
    cid = eng.create(ContainerSpec(name="killed", rootfs=busybox_rootfs, command=("true",)))
    assert [i.id for i in eng.list()] == [cid]
    assert lifecycle.discard_partial(eng.containers_dir, older_than=0) != []
    assert sorted(os.listdir(eng.containers_dir)) == [cid]  # the leftover is gone too


def test_concurrent_creates_in_threads_all_complete(eng, busybox_rootfs):
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            eng.create(ContainerSpec(name=f"t{i}", rootfs=busybox_rootfs, command=("true",)))
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(eng.list()) == 12
    assert lifecycle.CREATING not in os.listdir(eng.containers_dir)


# -- seccomp ----------------------------------------------------------------------------------

def test_compile_cached_from_many_threads_at_once(tmp_path):
    from engine.security import seccomp
    from engine.security.default_profile import profile

    prof = profile()
    results: list[bytes] = []
    errors: list[BaseException] = []
    for round_ in range(5):
        cache = str(tmp_path / f"cache{round_}")
        barrier = threading.Barrier(8)

        def one() -> None:
            try:
                barrier.wait()
                results.append(seccomp.compile_cached(prof, cache))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)
        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [f for f in os.listdir(cache) if not f.endswith(".bpf")] == []  # no temp file left
    assert errors == []
    assert len(results) == 40 and len(set(results)) == 1
