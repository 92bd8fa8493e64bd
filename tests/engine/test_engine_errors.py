"""Bad input fails at create/start with a clear EngineError and leaves nothing behind."""

from __future__ import annotations

import os

import pytest

from engine import (BindSourceNotFound, DeviceNotFound, Engine, ImageNotFound, InvalidSpec, MemoryTooLow,
                    NameInUse, RootfsNotFound, UserNotFound)
from engine.spec import ContainerSpec, DeviceSpec, MountSpec, ResourceSpec, SecuritySpec

pytestmark = pytest.mark.root


def _leftovers(eng: Engine) -> list[str]:
    return os.listdir(eng.containers_dir)


@pytest.mark.parametrize("kw, error, message", [
    ({"rootfs": "/nonexistent/rootfs"}, RootfsNotFound, "does not exist"),
    ({"user": "nobody-here"}, UserNotFound, "unable to find user nobody-here"),
    ({"user": "app:nogroup-x"}, UserNotFound, "unable to find group nogroup-x"),
    ({"mounts": (MountSpec(type="bind", source="/nonexistent/src", target="/x"),)},
     BindSourceNotFound, "bind source path does not exist: /nonexistent/src"),
    ({"resources": ResourceSpec(memory=4 * 1024 * 1024)}, MemoryTooLow, "Minimum memory limit"),
    ({"security": SecuritySpec(devices=(DeviceSpec("/dev/nonexistent-dev"),))}, DeviceNotFound,
     "/dev/nonexistent-dev"),
    ({"security": SecuritySpec(sysctls=(("kernel.panic", "1"),))}, InvalidSpec, "not namespaced"),
    ({"mounts": (MountSpec(type="bind", source="/tmp", target="relative"),)}, InvalidSpec, "absolute"),
    ({"working_dir": "relative/dir"}, InvalidSpec, "absolute path"),
    ({"name": "bad name/with slash"}, InvalidSpec, "Invalid container name"),
])
def test_bad_spec_is_refused_before_anything_is_made(eng, busybox_rootfs, kw, error, message):
    kw.setdefault("rootfs", busybox_rootfs)
    kw.setdefault("name", "bad")
    with pytest.raises(error, match=message):
        eng.create(ContainerSpec(command=("true",), **kw))
    assert _leftovers(eng) == []


def test_unknown_image_reference(eng):
    with pytest.raises(ImageNotFound):
        eng.create(ContainerSpec(name="img", rootfs="no-such-image:latest", command=("true",)))
    assert _leftovers(eng) == []


def test_name_in_use(eng, busybox_rootfs):
    eng.create(ContainerSpec(name="dup", rootfs=busybox_rootfs, command=("true",)))
    with pytest.raises(NameInUse, match='"dup" is already in use'):
        eng.create(ContainerSpec(name="dup", rootfs=busybox_rootfs, command=("true",)))


def test_create_host_path_makes_the_missing_source(eng, busybox_rootfs, tmp_path):
    src = tmp_path / "made" / "here"
    cid = eng.create(ContainerSpec(name="chp", rootfs=busybox_rootfs, command=("ls", "/data"),
                                   mounts=(MountSpec(type="bind", source=str(src), target="/data",
                                                     create_host_path=True),)))
    assert src.is_dir()
    eng.start(cid)
    assert eng.wait(cid, 10).exit_code == 0


def test_a_setup_failure_cleans_up_the_cgroup_and_socket(eng, busybox_rootfs, tmp_path):
    cid = eng.create(ContainerSpec(name="nf", rootfs=busybox_rootfs, command=("/no/such/binary",)))
    with pytest.raises(Exception, match="no such file or directory"):
        eng.start(cid)
    assert eng.inspect(cid).exit_code == 127
    assert not os.path.exists(tmp_path / "run" / "containers" / cid / "monitor.sock")
    assert not any(os.path.isdir(f"/sys/fs/cgroup/{c}/shoal/{cid}")
                   for c in ("memory", "pids", "cpu", "freezer", "devices"))
    assert not any(cid in line for line in open("/proc/mounts"))
    assert not any(cid in _cmdline(p) for p in os.listdir("/proc") if p.isdigit())


def _cmdline(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def test_setup_failure_mid_rootfs_leaves_nothing(eng, busybox_rootfs, tmp_path):
    from engine import StartFailed

    src = tmp_path / "vanishing"
    src.mkdir()
    cid = eng.create(ContainerSpec(name="mid", rootfs=busybox_rootfs, command=("true",),
                                   mounts=(MountSpec(type="bind", source=str(src), target="/v"),)))
    src.rmdir()  # gone between create and start: the bind fails inside the container's setup
    with pytest.raises(StartFailed, match="vanishing"):
        eng.start(cid)
    info = eng.inspect(cid)
    assert info.state == "exited" and info.exit_code != 0 and "vanishing" in info.error
    assert not any(cid in line for line in open("/proc/self/mountinfo"))
    assert not any(os.path.isdir(f"/sys/fs/cgroup/{c}/shoal/{cid}") for c in ("memory", "pids", "cpu"))
    assert not any(cid in _cmdline(p) for p in os.listdir("/proc") if p.isdigit())
    eng.remove(cid)
    assert _leftovers(eng) == []
