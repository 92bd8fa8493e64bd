"""The v2 device filter: instruction layout (pure) and enforcement on a real cgroup2 mount."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

from engine.cgroups import open_driver
from engine.cgroups.bpf import program
from engine.cgroups.devices import DEFAULT_RULES, DeviceRule
from engine.spec import DeviceSpec, ResourceSpec

UNIFIED = "/sys/fs/cgroup/unified" if not os.path.isfile("/sys/fs/cgroup/cgroup.controllers") else "/sys/fs/cgroup"


def _insns(code: bytes) -> list[tuple[int, int, int, int]]:
    return [struct.unpack_from("<BBhi", code, i) for i in range(0, len(code), 8)]


def _run(code: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    """A tiny interpreter for the opcodes the generator emits, to check rule semantics without root."""
    regs = [0] * 11
    ctx = (access << 16 | dev_type, major, minor)
    insns, pc = _insns(code), 0
    while True:
        op, r, off, imm = insns[pc]
        dst, src = r & 0xF, r >> 4
        pc += 1
        if op == 0x61:
            regs[dst] = ctx[off // 4]
        elif op in (0x54, 0x57):
            regs[dst] &= imm & 0xFFFFFFFF
        elif op == 0x74:
            regs[dst] >>= imm
        elif op == 0xBF:
            regs[dst] = regs[src]
        elif op == 0xB7:
            regs[dst] = imm
        elif op == 0x55:
            pc += off if regs[dst] != imm else 0
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")


CHR, BLK = 2, 1
R, W, M = 2, 4, 1


@pytest.mark.parametrize("dev,access,major,minor,allowed", [
    (CHR, R | W, 1, 3, 1),  # /dev/null
    (CHR, R, 1, 9, 1),  # urandom
    (CHR, R, 1, 11, 0),  # kmsg: not in the list
    (BLK, R, 8, 0, 0),  # a disk
    (BLK, M, 8, 0, 1),  # mknod of anything is allowed, as Docker
    (CHR, R | W, 136, 7, 1),  # any pts
    (CHR, R | W, 5, 2, 1),  # ptmx
])
def test_default_program_semantics(dev, access, major, minor, allowed):
    assert _run(program(DEFAULT_RULES), dev, access, major, minor) == allowed


def test_access_subset_is_enforced():
    code = program([DeviceRule("c", 1, 11, "r")])
    assert _run(code, CHR, R, 1, 11) == 1
    assert _run(code, CHR, R | W, 1, 11) == 0
    assert _run(code, CHR, R, 1, 12) == 0


def test_allow_all_rule_and_empty_list():
    assert _run(program([DeviceRule("a")]), BLK, R | W | M, 8, 0) == 1
    assert _run(program([]), CHR, R, 1, 3) == 0


def test_program_ends_with_deny():
    assert _insns(program(DEFAULT_RULES))[-2:] == [(0xB7, 0, 0, 0), (0x95, 0, 0, 0)]


@pytest.mark.root
def test_filter_is_enforced_by_the_kernel(cgname):
    if not os.path.isfile(f"{UNIFIED}/cgroup.controllers") or not os.access(UNIFIED, os.W_OK):
        pytest.skip("no writable cgroup2 mount")
    driver = open_driver(UNIFIED)
    cg = driver.create(cgname, ResourceSpec(), [DeviceSpec("/dev/kmsg", permissions="r")])
    try:
        script = (f"echo $$ > {UNIFIED}/shoal/{cgname}/cgroup.procs || exit 9; "
                  "head -c1 /dev/zero >/dev/null || exit 1; "  # default list: allowed
                  "(: </dev/kmsg) || exit 2; "  # added with "r": opening to read is allowed
                  "(: >/dev/kmsg) 2>/dev/null && exit 3; "  # ... but not to write
                  "(: </dev/mem) 2>/dev/null && exit 4; exit 0")  # never listed (subshells: a failed redirection ends sh)
        r = subprocess.run(["sh", "-c", script], capture_output=True, timeout=10)
        assert r.returncode == 0, r
    finally:
        cg.kill_all()
        cg.remove()
