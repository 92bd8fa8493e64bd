"""Second review of the engine's riskiest code: each test is an attack or a crash a host must survive."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from engine import Engine
from engine.container import files, lifecycle
from engine.errors import InvalidSpec
from engine.spec import ContainerSpec

from enginerun import run


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


# -- mounts -----------------------------------------------------------------------------------

@pytest.mark.root
def test_read_only_bind_is_read_only_in_its_submounts_too(eng, busybox_rootfs, tmp_path):
    from engine.runtime import syscalls as sc
    from engine.spec import MountSpec

    src = tmp_path / "hostdir"
    (src / "sub").mkdir(parents=True)
    sc.mount("tmpfs", str(src / "sub"), "tmpfs", 0, "size=1m")  # like /run under a "/:/host:ro" bind
    try:
        mount = MountSpec(type="bind", source=str(src), target="/host", read_only=True)
        _, out, _ = run(eng, busybox_rootfs, "touch /host/top && echo TOP; touch /host/sub/x && echo SUB; "
                                             "grep ' /host/sub ' /proc/mounts", mounts=(mount,))
        assert "TOP" not in out and "SUB" not in out
        assert out.split()[3].split(",")[0] == "ro"
        assert os.listdir(src / "sub") == []
    finally:
        sc.umount(str(src / "sub"), sc.MNT_DETACH)


# -- sysctls ----------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["kernel.shmmax", "kernel.msgmnb", "fs.mqueue.msg_max"])
def test_ipc_sysctl_refused_in_the_host_ipc_namespace(key):
    from engine.container.validate import check_sysctls
    from engine.spec import NamespaceSpec, SecuritySpec

    def spec(ipc: str) -> ContainerSpec:
        return ContainerSpec(name="s", rootfs="/", command=("true",), namespaces=NamespaceSpec(ipc=ipc),
                             security=SecuritySpec(sysctls=((key, "1"),)))
    check_sysctls(spec("private"))
    with pytest.raises(InvalidSpec, match="host IPC namespace"):
        check_sysctls(spec("host"))  # it would change the host's own kernel setting


# -- fds and cwd (CVE-2024-21626) -------------------------------------------------------------

@pytest.mark.root
def test_workdir_through_an_inherited_fd_never_lands_on_the_host(eng, busybox_rootfs):
    from engine.errors import EngineError

    for n in range(3, 10):
        try:
            code, out, err = run(eng, busybox_rootfs, "pwd; ls ..", working_dir=f"/proc/self/fd/{n}",
                                 init=False)
        except EngineError as exc:  # refused at setup: fine
            assert "outside the container" in str(exc) or f"/proc/self/fd/{n}" in str(exc)
            continue
        assert "unreachable" not in out and code == 0, (n, out, err)


@pytest.mark.root
def test_exec_sees_only_stdio_fds(eng, busybox_rootfs):
    cid = eng.create(ContainerSpec(name="fds", rootfs=busybox_rootfs, command=("sleep", "30")))
    eng.start(cid)
    res = eng.exec(cid, ("sh", "-c", "ls /proc/self/fd; readlink /proc/self/cwd"))
    assert res.exit_code == 0
    lines = res.stdout.decode().split()
    assert set(lines[:-1]) <= {"0", "1", "2", "3"} and lines[-1] == "/"


# Syscalls Docker's default profile refuses whatever capabilities the container holds (cap_add: ALL).
NEVER_ALLOWED = ("kexec_load", "kexec_file_load", "keyctl", "add_key", "request_key", "userfaultfd",
                 "io_uring_setup", "io_uring_enter", "io_uring_register", "pivot_root", "uselib",
                 "nfsservctl", "vm86", "vm86old", "swapon", "swapoff", "_sysctl", "create_module")


def test_default_profile_never_allows_host_breaking_syscalls_even_with_all_caps():
    from engine.security import _libseccomp
    from engine.security.caps import CAPABILITIES
    from engine.security.default_profile import profile

    every_cap = {f"CAP_{c}" for c in CAPABILITIES}
    allowed = set()
    for rule in profile()["syscalls"]:
        if rule["action"] == "SCMP_ACT_ALLOW" and _libseccomp._applies(rule, every_cap, "amd64"):
            allowed |= set(rule["names"])
    assert sorted(allowed & set(NEVER_ALLOWED)) == []
    assert {"mount", "unshare", "setns", "bpf", "perf_event_open", "open_by_handle_at"} <= allowed


@pytest.mark.root
def test_init_binary_from_the_host_is_read_only_and_proc_self_exe_cannot_be_reopened(eng, busybox_rootfs):
    # touch -c only updates the time when writable: nothing of the host binary can be damaged
    _, out, err = run(eng, busybox_rootfs, 'exe=$(readlink /proc/1/exe); echo "$exe"; '
                                           'touch -c "$exe" && echo WROTE_INIT; '
                                           'touch -c /proc/1/exe && echo WROTE_EXE')
    assert out.splitlines()[0].startswith("/")
    assert "WROTE_INIT" not in out and "WROTE_EXE" not in out
    assert "Read-only file system" in err


@pytest.mark.root
def test_dangling_symlink_targets_are_created_inside_the_rootfs(eng, busybox_rootfs, tmp_path):
    import shutil

    from engine.spec import MountSpec

    rootfs = str(tmp_path / "linkroot")
    shutil.copytree(busybox_rootfs, rootfs, symlinks=True)
    resolv = os.path.join(rootfs, "etc", "resolv.conf")
    if os.path.lexists(resolv):
        os.unlink(resolv)
    os.symlink("../run/systemd/resolve/stub-resolv.conf", resolv)  # as systemd-based images ship it
    host_dir = f"/shoal-dangling-{os.getpid()}"
    os.symlink(f"/../../..{host_dir}/deeper", os.path.join(rootfs, "dangling"))
    mount = MountSpec(type="tmpfs", target="/dangling/x")
    try:
        code, out, err = run(eng, rootfs, "grep -q nameserver /etc/resolv.conf && echo DNS; "
                                          f"mount | grep -c ' {host_dir}/deeper/x '", mounts=(mount,))
        assert (code, out) == (0, "DNS\n1\n"), err
        assert not os.path.lexists(host_dir)
        assert not os.path.exists(os.path.join(rootfs, "run", "systemd"))  # made in the overlay's upper dir
    finally:
        if os.path.lexists(host_dir):
            shutil.rmtree(host_dir)
