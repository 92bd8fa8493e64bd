"""Spec features end to end: shared namespaces, sysctls, ulimits, devices, tty, volumes, images."""

from __future__ import annotations

import os

import pytest

from engine.spec import (ContainerSpec, DeviceSpec, MountSpec, NamespaceSpec, ResourceSpec, SecuritySpec,
                         Ulimit)

from enginerun import run

pytestmark = pytest.mark.root




def test_join_another_containers_network_and_uts(eng, busybox_rootfs):
    first = eng.create(ContainerSpec(name="first", rootfs=busybox_rootfs, command=("sleep", "30"),
                                     hostname="shared-host"))
    eng.start(first)
    ns = NamespaceSpec(network="container:first", uts="container:first")
    _, out, _ = run(eng, busybox_rootfs, "hostname; readlink /proc/self/ns/net", namespaces=ns)
    own_net = eng.exec(first, ["readlink", "/proc/self/ns/net"]).stdout.decode()
    hostname, net = out.split()
    assert hostname == "shared-host"
    assert net == own_net.strip()


def test_host_network_namespace(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "readlink /proc/self/ns/net",
                    namespaces=NamespaceSpec(network="host"))
    assert out.strip() == os.readlink("/proc/self/ns/net")


def test_private_network_has_loopback_up(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "ip -o link; ping -c 1 -W 1 127.0.0.1 >/dev/null && echo PING")
    assert "lo:" in out and "UP" in out and "PING" in out
    assert "eth0" not in out


def test_sysctls_and_ulimits(eng, busybox_rootfs):
    sec = SecuritySpec(sysctls=(("net.ipv4.ip_forward", "1"), ("kernel.shmmni", "1000")))
    res = ResourceSpec(ulimits=(Ulimit("nofile", 1000, 2000),))
    _, out, _ = run(eng, busybox_rootfs, "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; "
                                         "ulimit -n; ulimit -Hn", security=sec, resources=res)
    assert out.split() == ["1", "1000", "1000", "2000"]


def test_extra_device_is_usable(eng, busybox_rootfs):
    sec = SecuritySpec(devices=(DeviceSpec("/dev/zero", "/dev/myzero"),))
    code, out, err = run(eng, busybox_rootfs, "head -c 5 /dev/myzero | wc -c", security=sec)
    assert out.strip() == "5", err


def test_tty_for_container_and_exec(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "[ -t 0 ] && [ -t 1 ] && echo IS_TTY; echo $TERM", tty=True)
    assert out.replace("\r", "") == "IS_TTY\nxterm\n"
    cid = eng.create(ContainerSpec(name="tt", rootfs=busybox_rootfs, command=("sleep", "30")))
    eng.start(cid)
    res = eng.exec(cid, ["sh", "-c", "[ -t 1 ] && echo EXEC_TTY"], tty=True)
    assert res.stdout.replace(b"\r", b"") == b"EXEC_TTY\n"
    assert eng.exec(cid, ["sh", "-c", "[ -t 1 ] || echo NO_TTY"]).stdout == b"NO_TTY\n"


def test_named_volume_persists_across_containers(eng, busybox_rootfs, tmp_path):
    vol = (MountSpec(type="volume", source="keep", target="/data"),)
    run(eng, busybox_rootfs, "echo saved > /data/f", mounts=vol)
    _, out, _ = run(eng, busybox_rootfs, "cat /data/f", mounts=vol)
    assert out == "saved\n"
    assert (tmp_path / "root" / "volumes" / "keep" / "_data" / "f").read_text() == "saved\n"


def test_read_only_bind_and_env_and_workdir(eng, busybox_rootfs, tmp_path):
    src = tmp_path / "cfg"
    src.mkdir()
    (src / "a.conf").write_text("conf")
    mounts = (MountSpec(type="bind", source=str(src), target="/etc/app", read_only=True),)
    code, out, err = run(eng, busybox_rootfs, "cat /etc/app/a.conf; echo; echo $GREETING; pwd; "
                                              "touch /etc/app/x && echo WROTE",
                         mounts=mounts, env=(("GREETING", "hi"),), working_dir="/srv/app")
    assert out.split("\n")[:3] == ["conf", "hi", "/srv/app"]
    assert "WROTE" not in out and "Read-only" in err


def test_image_reference_uses_the_image_config(eng, busybox_rootfs, tmp_path):
    store_mod = pytest.importorskip("engine.images.store")
    archive = pytest.importorskip("engine.images.archive")
    store = store_mod.ImageStore(os.path.join(str(tmp_path / "root"), "images"))
    archive.import_rootfs(store, busybox_rootfs, "local/bb:test",
                          changes={"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo $FOO; pwd; id -u"],
                                   "Env": ["FOO=from-image"], "WorkingDir": "/tmp", "User": "app"})
    cid = eng.create(ContainerSpec(name="img", rootfs="local/bb:test"))
    eng.start(cid)
    assert eng.wait(cid, 20).exit_code == 0
    assert "".join(x.message for x in eng.logs(cid)) == "from-image\n/tmp\n1000\n"


def test_concurrent_first_starts_from_threads(eng, busybox_rootfs):
    from concurrent.futures import ThreadPoolExecutor

    ids = [eng.create(ContainerSpec(name=f"par{i}", rootfs=busybox_rootfs, command=("true",)))
           for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(eng.start, ids))
    assert [eng.wait(cid, 20).exit_code for cid in ids] == [0] * 6
