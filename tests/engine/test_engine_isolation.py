"""Isolation of real containers, checked from inside as a user would: pids, mounts, caps, /proc, /dev."""

from __future__ import annotations

import os
import shutil

import pytest

from engine.spec import ContainerSpec, MountSpec, SecuritySpec

from enginerun import run

pytestmark = pytest.mark.root




def test_ps_shows_only_the_containers_processes(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "ps -o pid,comm")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert {r[1] for r in rows} <= {"docker-init", "sh", "ps"}
    assert ["1", "docker-init"] in rows


def test_own_hostname_default_and_custom(eng, busybox_rootfs):
    cid = eng.create(ContainerSpec(name="h1", rootfs=busybox_rootfs, command=("hostname",)))
    eng.start(cid)
    eng.wait(cid, 10)
    assert [x.message for x in eng.logs(cid)] == [cid[:12] + "\n"]
    _, out, _ = run(eng, busybox_rootfs, "hostname; cat /etc/hostname", hostname="web-1")
    assert out == "web-1\nweb-1\n"
    assert os.uname().nodename != "web-1"


def test_no_host_mounts_visible(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "cat /proc/mounts")
    targets = {line.split()[1] for line in out.splitlines()}
    assert "/" in targets and "/proc" in targets and "/dev/pts" in targets
    assert not any(t.startswith(("/work", "/tmp/pytest", "/var/lib", "/home")) for t in targets)


def test_proc_sys_is_read_only_and_masked_paths_are_empty(eng, busybox_rootfs):
    code, out, err = run(eng, busybox_rootfs,
                         "echo 1 > /proc/sys/kernel/printk && echo WROTE; "
                         "for f in /proc/timer_list /proc/sched_debug /proc/keys /proc/kcore; do "
                         "[ -e $f ] && wc -c < $f; done; ls -A /sys/firmware 2>/dev/null | wc -l; "
                         "echo x > /proc/sysrq-trigger && echo SYSRQ")
    assert "WROTE" not in out and "SYSRQ" not in out
    assert "Read-only file system" in err
    sizes = out.split()
    assert len(sizes) >= 3 and set(sizes) == {"0"}  # host has timer_list and keys: both read empty


def test_sys_is_read_only(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "grep ' /sys ' /proc/mounts")
    assert out.split()[3].split(",")[0] == "ro"


def test_default_capabilities_match_docker(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "grep -E '^Cap(Eff|Bnd|Inh|Amb)' /proc/self/status")
    caps = dict(line.split(":\t") for line in out.splitlines())
    assert caps["CapEff"] == "00000000a80425fb"
    assert caps["CapBnd"] == "00000000a80425fb"
    assert caps["CapInh"] == caps["CapAmb"] == "0000000000000000"


def test_cap_add_and_drop_change_the_set(eng, busybox_rootfs):
    sec = SecuritySpec(cap_add=("NET_ADMIN",), cap_drop=("CHOWN", "MKNOD"))
    _, out, _ = run(eng, busybox_rootfs, "grep CapEff /proc/self/status", security=sec)
    eff = int(out.split()[1], 16)
    assert eff == (0xA80425FB | 1 << 12) & ~(1 << 0) & ~(1 << 27)


def test_non_root_user_from_passwd_has_no_effective_caps(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "id -u; id -g; echo $HOME; grep CapEff /proc/self/status",
                    user="app")
    lines = out.splitlines()
    assert lines[:3] == ["1000", "1000", "/home/app"]
    assert lines[3].split()[1] == "0000000000000000"


def test_seccomp_blocks_namespace_and_mount_syscalls(eng, busybox_rootfs):
    code, out, err = run(eng, busybox_rootfs,
                         "grep Seccomp: /proc/self/status; unshare -n true && echo UNSHARED; "
                         "mkdir -p /mnt/x; mount -t tmpfs none /mnt/x && echo MOUNTED; "
                         "hostname other && echo RENAMED; hostname")
    assert out.splitlines()[0].split() == ["Seccomp:", "2"]
    assert "UNSHARED" not in out and "MOUNTED" not in out and "RENAMED" not in out


def test_cannot_use_a_host_disk_device(eng, busybox_rootfs):
    host_disk = next((d for d in ("/dev/vda", "/dev/sda", "/dev/nvme0n1") if os.path.exists(d)), None)
    if host_disk is None:
        pytest.skip("no host disk device to try")
    st = os.stat(host_disk)
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    _, out, err = run(eng, busybox_rootfs,
                      f"ls /dev; mknod /tmp/disk b {major} {minor}; head -c 512 /tmp/disk >/dev/null "
                      "&& echo READ_DISK")
    assert "READ_DISK" not in out
    devs = set(out.split())
    assert {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"} <= devs
    assert not any(d.startswith(("vd", "sd", "nvme", "loop")) for d in devs)


def test_proc_1_root_is_the_containers_root(eng, busybox_rootfs):
    marker = f"/hostmarker-{os.getpid()}"
    with open(marker, "w") as f:
        f.write("host")
    try:
        _, out, _ = run(eng, busybox_rootfs, f"cat /proc/1/root{marker} || echo NOT_VISIBLE; "
                                             "ls /proc/1/root/ | grep -c bin")
        assert "host" not in out and "NOT_VISIBLE" in out
    finally:
        os.unlink(marker)


def test_symlink_in_mount_target_cannot_escape(eng, busybox_rootfs, tmp_path):
    rootfs = str(tmp_path / "evilroot")
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    os.symlink("/../../../../", os.path.join(rootfs, "escape"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "file").write_text("from-volume")
    leak = f"/shoal-escape-{os.getpid()}"
    mount = MountSpec(type="bind", source=str(src), target=f"/escape{leak}", read_only=True)
    try:
        _, out, _ = run(eng, rootfs, f"cat {leak}/file", mounts=(mount,))
        assert out == "from-volume"
        assert not os.path.exists(leak)  # nothing was created or mounted on the host
    finally:
        if os.path.isdir(leak):
            os.rmdir(leak)


def test_only_stdio_fds_reach_the_command(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "ls /proc/self/fd", init=False)
    assert set(out.split()) <= {"0", "1", "2", "3"}  # 3 is ls's own directory handle


def test_readonly_rootfs_and_tmpfs_mount(eng, busybox_rootfs):
    sec = SecuritySpec(read_only_rootfs=True)
    mounts = (MountSpec(type="tmpfs", target="/scratch", tmpfs_size=1 << 20),)
    _, out, err = run(eng, busybox_rootfs, "touch /x && echo ROOTRW; touch /scratch/y && echo TMPFS_OK",
                      security=sec, mounts=mounts)
    assert "ROOTRW" not in out and "TMPFS_OK" in out


def test_cgroupfs_shows_only_the_containers_cgroup_read_only(eng, busybox_rootfs):
    from engine.spec import ResourceSpec

    if not os.path.isdir("/sys/fs/cgroup/memory"):
        pytest.skip("checks the v1 memory hierarchy layout")
    code, out, err = run(eng, busybox_rootfs,
                         "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
                         "wc -l < /sys/fs/cgroup/pids/cgroup.procs; "
                         "mkdir /sys/fs/cgroup/memory/x && echo MADE",
                         resources=ResourceSpec(memory=64 << 20))
    limit, procs = out.split()[:2]
    assert limit == str(64 << 20)
    assert int(procs) <= 3  # init, sh, wc: none of the host's processes
    assert "MADE" not in out and "Read-only" in err


def test_no_new_privileges_keeps_seccomp(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status",
                    security=SecuritySpec(no_new_privileges=True), user="app")
    assert dict(line.split(":\t") for line in out.splitlines()) == {"NoNewPrivs": "1", "Seccomp": "2"}


def test_privileged_drops_masks_and_seccomp(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "grep -E '^(CapEff|Seccomp):' /proc/self/status; "
                                         "grep -c ' /proc/sys ' /proc/mounts",
                    security=SecuritySpec(privileged=True))
    lines = out.splitlines()
    caps = int(lines[0].split()[1], 16)
    assert caps & 0xA80425FB == 0xA80425FB and caps & (1 << 21)  # CAP_SYS_ADMIN among all others
    assert lines[1].split() == ["Seccomp:", "0"]
    assert lines[2] == "0"  # /proc/sys is not re-mounted read-only


def test_unconfined_seccomp(eng, busybox_rootfs):
    _, out, _ = run(eng, busybox_rootfs, "grep Seccomp: /proc/self/status",
                    security=SecuritySpec(seccomp="unconfined"))
    assert out.split() == ["Seccomp:", "0"]
