"""Seccomp: the default profile blocks what Docker blocks, compiles once, and loads in a real child."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap
import time

import pytest

from engine.security import seccomp
from engine.security.caps import DEFAULT_MASK, mask
from engine.security.default_profile import ALWAYS_ALLOWED, CAP_ALLOWED, profile

REPO = pathlib.Path(__file__).resolve().parents[3]

# Run in the child after no_new_privs + seccomp.load(); prints "name errno" per probe (0 = allowed).
_PROBES = """
import ctypes, errno, os, socket
libc = ctypes.CDLL("libc.so.6", use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.syscall.argtypes = [ctypes.c_long] * 6
def probe(name, nr, *args):
    args = list(args) + [0] * (5 - len(args))
    ret = libc.syscall(nr, *args)
    print(name, 0 if ret >= 0 else ctypes.get_errno(), flush=True)
probe("unshare", 272, 0x20000)          # CLONE_NEWNS
probe("mount", 165, 0, 0, 0, 0, 0)
probe("keyctl", 250, 0, 0)
probe("setns", 308, 0, 0)
probe("clone3", 435, 0, 0)
probe("personality_query", 135, 0xFFFFFFFF)
probe("personality_bad", 135, 0x0004)
probe("getpid", 39)
probe("write", 1, 1, ctypes.cast(ctypes.c_char_p(b""), ctypes.c_void_p).value, 0)
r, w = os.pipe(); os.write(w, b"x")
print("read", 0 if os.read(r, 1) == b"x" else -1)
try:
    socket.socket(40, socket.SOCK_STREAM); print("vsock 0")
except OSError as e:
    print("vsock", e.errno)
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close(); print("inet 0")
"""


def _run_filtered(bpf_expr: str) -> dict[str, int]:
    """Child: compute the BPF (parent side work), set no_new_privs, load it, run the probes."""
    code = textwrap.dedent(f"""
        import ctypes, os, sys
        sys.path.insert(0, {str(REPO)!r})
        from engine.security import seccomp
        from engine.security.caps import DEFAULT_MASK, mask
        bpf = {bpf_expr}
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        libc.prctl.restype = ctypes.c_int
        assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
        seccomp.load(bpf)
    """) + _PROBES
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {k: int(v) for k, v in (line.split() for line in r.stdout.splitlines())}


@pytest.mark.root
def test_default_profile_blocks_namespaces_mounts_and_keys(tmp_path):
    got = _run_filtered(f"seccomp.default_bpf({str(tmp_path)!r})")
    assert got["unshare"] == got["mount"] == got["keyctl"] == got["setns"] == 1  # EPERM
    assert got["clone3"] == 38  # ENOSYS, so libc falls back to clone, which is filtered
    assert got["personality_bad"] == 1 and got["personality_query"] == 0
    assert got["vsock"] == 1 and got["inet"] == 0
    assert got["getpid"] == got["write"] == got["read"] == 0


@pytest.mark.root
def test_cap_sys_admin_unlocks_namespace_syscalls(tmp_path):
    expr = f"seccomp.default_bpf({str(tmp_path)!r}, DEFAULT_MASK | mask(['SYS_ADMIN']))"
    got = _run_filtered(expr)
    assert got["unshare"] == 0  # the child is root with SYS_ADMIN: the kernel allows it
    assert got["keyctl"] == 1  # never allowed


@pytest.mark.root
def test_custom_docker_format_profile(tmp_path):
    prof = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                         {"names": ["no_such_syscall_xyz"], "action": "SCMP_ACT_ERRNO"}]}
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(prof))
    got = _run_filtered(f"seccomp.profile_bpf({str(path)!r}, {str(tmp_path / 'c')!r})")
    assert got["getpid"] == 13  # EACCES from the profile
    assert got["unshare"] == 0 and got["keyctl"] != 1  # everything else allowed


def test_compiled_once_then_served_from_the_cache(tmp_path):
    t0 = time.perf_counter()
    first = seccomp.default_bpf(str(tmp_path))
    t1 = time.perf_counter()
    second = seccomp.default_bpf(str(tmp_path))
    t2 = time.perf_counter()
    print(f"compile {1000 * (t1 - t0):.2f} ms, cache hit {1000 * (t2 - t1):.2f} ms")
    assert first == second and len(first) % 8 == 0 and len(first) > 8 * 300
    assert [p.suffix for p in tmp_path.iterdir()] == [".bpf"]
    seccomp.default_bpf(str(tmp_path), DEFAULT_MASK | mask(["SYS_ADMIN"]))
    assert len(list(tmp_path.iterdir())) == 2  # caps are part of the key


def test_cached_file_is_what_load_gets(tmp_path):
    bpf = seccomp.default_bpf(str(tmp_path))
    (cached,) = tmp_path.iterdir()
    assert cached.read_bytes() == bpf


def test_bad_profiles_are_refused(tmp_path):
    (tmp_path / "p.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON"):
        seccomp.profile_bpf(str(tmp_path / "p.json"), str(tmp_path))
    (tmp_path / "p.json").write_text(json.dumps({"syscalls": []}))
    with pytest.raises(ValueError, match="defaultAction"):
        seccomp.profile_bpf(str(tmp_path / "p.json"), str(tmp_path))
    (tmp_path / "p.json").write_text(json.dumps({"defaultAction": "SCMP_ACT_DANCE"}))
    with pytest.raises(Exception, match="SCMP_ACT_DANCE"):
        seccomp.profile_bpf(str(tmp_path / "p.json"), str(tmp_path))


def test_load_refuses_malformed_programs():
    with pytest.raises(ValueError):
        seccomp.load(b"")
    with pytest.raises(ValueError):
        seccomp.load(b"123")


def test_profile_keeps_dangerous_syscalls_out_of_the_allow_list():
    for name in ("mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "bpf",
                 "kexec_load", "init_module", "reboot", "pivot_root", "open_by_handle_at", "clone3"):
        assert name not in ALWAYS_ALLOWED
    assert "mount" in CAP_ALLOWED["CAP_SYS_ADMIN"]
    assert len(set(ALWAYS_ALLOWED)) == len(ALWAYS_ALLOWED) > 300
    assert profile()["defaultAction"] == "SCMP_ACT_ERRNO"


def test_rule_selection_by_caps_arch_and_kernel():
    from engine.security._libseccomp import _applies

    caps = {"CAP_CHOWN"}
    assert _applies({"includes": {"caps": ["CAP_CHOWN"]}}, caps, "amd64")
    assert not _applies({"includes": {"caps": ["CAP_SYS_ADMIN"]}}, caps, "amd64")
    assert not _applies({"excludes": {"caps": ["CAP_CHOWN"]}}, caps, "amd64")
    assert not _applies({"includes": {"arches": ["s390x"]}}, caps, "amd64")
    assert not _applies({"excludes": {"arches": ["amd64"]}}, caps, "amd64")
    assert _applies({"includes": {"minKernel": "4.8"}}, caps, "amd64", kernel="6.18.44-fc")
    assert not _applies({"includes": {"minKernel": "4.8"}}, caps, "amd64", kernel="4.4.0-generic")
    assert _applies({"includes": {"minKernel": "4.8"}}, caps, "amd64", kernel="4.10.1")


def test_extra_arches_from_arch_map_or_flat_list():
    from engine.security._libseccomp import extra_arches

    assert extra_arches(profile(), "x86_64") == ["x86", "x32"]
    assert extra_arches(profile(), "aarch64") == ["arm"]
    flat = {"architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]}
    assert extra_arches(flat, "x86_64") == ["x86"]


def test_same_argument_twice_becomes_separate_rules():
    from engine.security._libseccomp import _arg_groups

    a = {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}
    b = {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}
    c = {"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}
    assert _arg_groups([a, b]) == [[a], [b]]  # OR: either value
    assert _arg_groups([a, c]) == [[a, c]]  # AND over different arguments


@pytest.mark.root
def test_ordinary_programs_still_run_under_the_default_filter(tmp_path):
    code = textwrap.dedent(f"""
        import ctypes, os, sys
        sys.path.insert(0, {str(REPO)!r})
        from engine.security import seccomp
        bpf = seccomp.default_bpf({str(tmp_path)!r})
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        libc.prctl.restype = ctypes.c_int
        assert libc.prctl(38, 1, 0, 0, 0) == 0
        seccomp.load(bpf)
        os.execv("/bin/sh", ["sh", "-c", "echo a | tr a b; ls / >/dev/null && {sys.executable} -I -S -c 'print(6*7)'"])
    """)
    r = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout.split()) == (0, ["b", "42"]), r.stderr
    status = subprocess.run(["grep", "Seccomp:", "/proc/self/status"], capture_output=True, text=True)
    assert status.stdout.split()[-1] == "0"  # the filter stayed in the child
