"""Compile a Docker-format seccomp profile to classic BPF with libseccomp (ctypes, by soname).

Used by the daemon side only, once per (profile, arch, caps): the result is cached
and the container child loads the bytes with one seccomp(2) call.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
from typing import Any, Iterable

__all__ = ["SeccompError", "native_arch", "version", "extra_arches", "compile_profile"]

_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000, "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000, "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_LOG": 0x7FFC0000, "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_ERRNO, _TRACE = 0x00050000, 0x7FF00000
_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "x86": "x86", "x32": "x32", "arm": "arm"}
_NR_SCMP_ERROR = -1


class SeccompError(Exception):
    """A profile libseccomp cannot compile (bad action, operator, or a libseccomp failure)."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


def _lib() -> ctypes.CDLL:
    """libseccomp.so.2 with every signature set (a ctx without c_void_p restype segfaults)."""
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.restype = None
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_arch_add.restype = ctypes.c_int
    lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.restype = ctypes.c_int
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    lib.seccomp_version.argtypes = []
    return lib


def native_arch() -> str:
    """libseccomp's name of this machine's architecture ("x86_64", "aarch64")."""
    return platform.machine()


def version() -> str:
    """libseccomp's version, part of the cache key."""
    v = _lib().seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def _action(rule: dict[str, Any], key: str = "action", errno_key: str = "errnoRet") -> int:
    """Numeric libseccomp action of a rule or of the profile default."""
    name = rule.get(key, "")
    if name == "SCMP_ACT_ERRNO":
        return _ERRNO | int(rule.get(errno_key, 1) or 1)
    if name == "SCMP_ACT_TRACE":
        return _TRACE | int(rule.get(errno_key, 1) or 1)
    if name not in _ACTIONS:
        raise SeccompError(f"unknown seccomp action {name!r}")
    return _ACTIONS[name]


def _kernel_at_least(want: str, have: str | None = None) -> bool:
    """True if the running kernel ("6.18.44-x") is at least ``want`` ("4.8")."""
    def nums(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v)[:2])
    return nums(have or platform.release()) >= nums(want)


def _applies(rule: dict[str, Any], caps: set[str], arch: str, kernel: str | None = None) -> bool:
    """Whether a rule's includes (caps, arches, minKernel) and excludes select it here."""
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("caps") and not set(inc["caps"]) <= caps:
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"], kernel):
        return False
    if exc.get("caps") and set(exc["caps"]) & caps:
        return False
    return not (exc.get("arches") and arch in exc["arches"])


def _arg_groups(args: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """One rule for all args, or one per arg when an index repeats (libseccomp can't OR them)."""
    if len({a["index"] for a in args}) < len(args):
        return [[a] for a in args]
    return [args]


def _add_rule(lib: ctypes.CDLL, ctx: int, action: int, name: str, args: list[dict[str, Any]]) -> None:
    """Add one syscall rule; names this arch (and libseccomp) don't know are skipped."""
    nr = lib.seccomp_syscall_resolve_name(name.encode())
    if nr == _NR_SCMP_ERROR:
        return
    for group in _arg_groups(args) if args else [[]]:
        arr = (_ArgCmp * max(len(group), 1))()
        for i, a in enumerate(group):
            if a.get("op") not in _OPS:
                raise SeccompError(f"{name}: unknown operator {a.get('op')!r}")
            arr[i] = _ArgCmp(int(a["index"]), _OPS[a["op"]], int(a.get("value", 0)), int(a.get("valueTwo", 0)))
        rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), arr)
        if rc < 0:
            raise SeccompError(f"{name}: seccomp_rule_add failed: {os.strerror(-rc)}")


def extra_arches(profile: dict[str, Any], arch: str) -> list[str]:
    """libseccomp names of the non-native arches to filter: archMap's sub-architectures of
    the native one, or the old-style flat ``architectures`` list."""
    def bare(name: str) -> str:
        return name.removeprefix("SCMP_ARCH_").lower()
    for entry in profile.get("archMap") or []:
        if bare(entry["architecture"]) == arch:
            return [bare(s) for s in entry.get("subArchitectures") or []]
    return [bare(a) for a in profile.get("architectures") or [] if bare(a) != arch]


def _add_arches(lib: ctypes.CDLL, ctx: int, profile: dict[str, Any], arch: str) -> None:
    """Add the extra architectures (x86 and x32 on x86_64, as Docker does)."""
    for sub in extra_arches(profile, arch):
        token = lib.seccomp_arch_resolve_name(sub.encode())
        if not token:
            raise SeccompError(f"unknown architecture {sub!r}")
        if lib.seccomp_arch_add(ctx, token) not in (0, -17):  # -EEXIST: already there
            raise SeccompError(f"cannot add architecture {sub}")


def compile_profile(profile: dict[str, Any], caps: Iterable[str]) -> bytes:
    """Classic BPF program (struct sock_filter array) for ``profile`` given the held ``caps``."""
    lib, arch = _lib(), native_arch()
    capset = {c if c.startswith("CAP_") else f"CAP_{c}" for c in caps}
    ctx = lib.seccomp_init(_action(profile, "defaultAction", "defaultErrnoRet"))
    if not ctx:
        raise SeccompError("seccomp_init failed")
    try:
        _add_arches(lib, ctx, profile, arch)
        for rule in profile.get("syscalls") or []:
            if _applies(rule, capset, _GO_ARCH.get(arch, arch)):
                action = _action(rule)
                for name in rule.get("names") or [rule.get("name", "")]:
                    _add_rule(lib, ctx, action, name, list(rule.get("args") or []))
        return _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)


def _export(lib: ctypes.CDLL, ctx: int) -> bytes:
    """seccomp_export_bpf into a memfd and read it back."""
    fd = os.memfd_create("shoal-seccomp", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise SeccompError(f"seccomp_export_bpf failed: {os.strerror(-rc)}")
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)
