"""The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program built by hand.

``program`` is pure (rules -> instruction bytes) so it can be checked without
root; ``attach_device_filter`` loads it with bpf(2) and attaches it to a cgroup.
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Sequence

from engine.cgroups.base import CgroupError
from engine.cgroups.devices import WILDCARD, DeviceRule

__all__ = ["program", "attach_device_filter"]

_SYS_BPF = {"x86_64": 321, "aarch64": 280}
_BPF_PROG_LOAD, _BPF_PROG_ATTACH = 5, 8
_BPF_PROG_TYPE_CGROUP_DEVICE = 15
_BPF_CGROUP_DEVICE = 6  # attach type
_BPF_F_ALLOW_MULTI = 2
_DEV_TYPE = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK / _CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD / _READ / _WRITE

# opcodes (linux/bpf_common.h + bpf.h)
_LDXW = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_AND32_K = 0x54
_RSH32_K = 0x74
_AND64_K = 0x57
_MOV64_X = 0xBF
_MOV64_K = 0xB7
_JNE_K = 0x55
_EXIT = 0x95


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One struct bpf_insn (8 bytes, registers packed dst | src << 4)."""
    return struct.pack("<BBhi", code, dst | src << 4, off, imm)


_PROLOGUE = b"".join([
    _insn(_LDXW, 2, 1, 0),  # r2 = ctx->access_type
    _insn(_AND32_K, 2, imm=0xFFFF),  # r2 = device type
    _insn(_LDXW, 3, 1, 0),
    _insn(_RSH32_K, 3, imm=16),  # r3 = requested access bits
    _insn(_LDXW, 4, 1, 4),  # r4 = major
    _insn(_LDXW, 5, 1, 8),  # r5 = minor
])
_DENY = _insn(_MOV64_K, 0, imm=0) + _insn(_EXIT)
_ALLOW = _insn(_MOV64_K, 0, imm=1) + _insn(_EXIT)


def _block(rule: DeviceRule) -> bytes:
    """Instructions that return 1 when the request matches ``rule``, else fall through."""
    tests: list[tuple[int, int, int]] = []  # (code, dst, imm) jumps to the next block
    if rule.type != "a":
        tests.append((_JNE_K, 2, _DEV_TYPE[rule.type]))
    bits = sum(_ACCESS[c] for c in set(rule.access))
    if rule.type != "a" and bits != 7:
        tests.append((-1, 0, 7 & ~bits))  # r1 = r3 & ~allowed; must be 0
    if rule.type != "a" and rule.major != WILDCARD:
        tests.append((_JNE_K, 4, rule.major))
    if rule.type != "a" and rule.minor != WILDCARD:
        tests.append((_JNE_K, 5, rule.minor))
    insns: list[tuple[int, int, int, int]] = []  # code, dst, src, imm; off filled later
    for code, dst, imm in tests:
        if code == -1:
            insns += [(_MOV64_X, 1, 3, 0), (_AND64_K, 1, 0, imm), (_JNE_K, 1, 0, 0)]
        else:
            insns.append((code, dst, 0, imm))
    total = len(insns) + 2  # + the allow epilogue
    out = [_insn(c, d, s, total - i - 1 if c == _JNE_K else 0, imm) for i, (c, d, s, imm) in enumerate(insns)]
    return b"".join(out) + _ALLOW


def program(rules: Sequence[DeviceRule]) -> bytes:
    """Device program: allow a request when some rule matches it, deny otherwise."""
    return _PROLOGUE + b"".join(_block(r) for r in rules) + _DENY


def _bpf(cmd: int, attr: ctypes.Array) -> int:  # type: ignore[type-arg]
    """bpf(2) through libc's syscall(), raising OSError on failure."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.syscall.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint]
    nr = _SYS_BPF.get(os.uname().machine)
    if nr is None:
        raise CgroupError(f"bpf(2) number unknown for {os.uname().machine}")
    ret = libc.syscall(nr, cmd, ctypes.addressof(attr), len(attr))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(ret)


def _load(code: bytes) -> int:
    """BPF_PROG_LOAD the device program; returns its fd (verifier log in the error)."""
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"Apache-2.0")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into("<IIQQIIQ", attr, 0, _BPF_PROG_TYPE_CGROUP_DEVICE, len(code) // 8,
                     ctypes.addressof(insns), ctypes.addressof(license_), 1, len(log), ctypes.addressof(log))
    try:
        return _bpf(_BPF_PROG_LOAD, attr)
    except OSError as e:
        raise CgroupError(f"loading the device filter failed: {e.strerror}: {log.value.decode(errors='replace')}") from e


def attach_device_filter(path: str, rules: Sequence[DeviceRule]) -> None:
    """Load the program for ``rules`` and attach it to the cgroup directory ``path``."""
    prog_fd = _load(program(rules))
    try:
        cg_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            attr = ctypes.create_string_buffer(128)
            struct.pack_into("<IIII", attr, 0, cg_fd, prog_fd, _BPF_CGROUP_DEVICE, _BPF_F_ALLOW_MULTI)
            _bpf(_BPF_PROG_ATTACH, attr)
        except OSError as e:
            raise CgroupError(f"attaching the device filter to {path} failed: {e.strerror}") from e
        finally:
            os.close(cg_fd)
    finally:
        os.close(prog_fd)  # the attachment holds its own reference
