"""Capabilities: Docker's resolution rules (pure) and the identity drop in a real child."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import pytest

from engine.security.caps import ALL_MASK, DEFAULT_CAPABILITIES, DEFAULT_MASK, mask, names, resolve

REPO = pathlib.Path(__file__).resolve().parents[3]


def test_docker_default_set():
    assert len(DEFAULT_CAPABILITIES) == 14
    assert DEFAULT_MASK == 0xA80425FB
    assert resolve([], [], False) == 0xA80425FB


@pytest.mark.parametrize("add,drop,expected", [
    (["NET_ADMIN"], [], DEFAULT_MASK | 1 << 12),
    (["CAP_NET_ADMIN"], [], DEFAULT_MASK | 1 << 12),
    (["cap_net_admin"], [], DEFAULT_MASK | 1 << 12),
    ([], ["CHOWN", "NET_RAW"], DEFAULT_MASK & ~(1 << 0 | 1 << 13)),
    (["ALL"], [], ALL_MASK),
    (["ALL"], ["SYS_ADMIN"], ALL_MASK & ~(1 << 21)),
    ([], ["ALL"], 0),
    (["NET_BIND_SERVICE"], ["ALL"], 1 << 10),
    (["CHOWN"], ["CHOWN"], DEFAULT_MASK),  # an add wins over a drop, as in Docker
])
def test_cap_add_and_drop(add, drop, expected):
    assert resolve(add, drop, False) == expected


def test_privileged_gets_everything_whatever_is_dropped():
    assert resolve([], ["ALL"], True) == ALL_MASK


def test_unknown_capability_names_the_culprit():
    with pytest.raises(ValueError, match="NET_ADMIM"):
        resolve(["NET_ADMIM"], [], False)
    with pytest.raises(ValueError, match="CAP_BOGUS"):
        resolve([], ["CAP_BOGUS"], False)


def test_names_round_trip():
    assert set(names(DEFAULT_MASK)) == set(DEFAULT_CAPABILITIES)
    assert mask(names(0x3000)) == 0x3000


def _child(code: str) -> dict[str, str]:
    """Run ``code`` in a fresh interpreter; returns its /proc/self/status fields after exec of cat."""
    prog = textwrap.dedent(code) + "\nos.execv('/bin/cat', ['cat', '/proc/self/status'])\n"
    out = subprocess.run([sys.executable, "-I", "-c", prog], capture_output=True, text=True,
                         cwd=REPO, env={"PYTHONPATH": str(REPO)}, timeout=30)
    assert out.returncode == 0, out.stderr
    return dict(line.split(":\t", 1) for line in out.stdout.splitlines() if ":\t" in line)


@pytest.mark.root
def test_root_keeps_exactly_the_default_caps():
    status = _child("""
        import os, sys; sys.path.insert(0, os.getcwd())
        from engine.security.caps import apply_identity, DEFAULT_MASK
        apply_identity(0, 0, [], DEFAULT_MASK)
    """)
    assert status["CapEff"].strip() == "00000000a80425fb"
    assert status["CapPrm"].strip() == "00000000a80425fb"
    assert status["CapBnd"].strip() == "00000000a80425fb"
    assert status["CapInh"].strip() == status["CapAmb"].strip() == "0000000000000000"


@pytest.mark.root
def test_non_root_user_has_no_effective_caps_after_exec_like_docker():
    status = _child("""
        import os, sys; sys.path.insert(0, os.getcwd())
        from engine.security.caps import apply_identity, DEFAULT_MASK
        apply_identity(1000, 1000, [1000, 5], DEFAULT_MASK)
        with open('/proc/self/status') as f:
            before = [l for l in f if l.startswith('CapEff')][0].split()[1]
        assert before == '00000000a80425fb', before  # held until exec, for the runtime's last steps
    """)
    assert status["Uid"].split() == ["1000"] * 4
    assert status["Gid"].split() == ["1000"] * 4
    assert status["Groups"].split() == ["5", "1000"]
    assert status["CapEff"].strip() == "0000000000000000"
    assert status["CapPrm"].strip() == "0000000000000000"
    assert status["CapBnd"].strip() == "00000000a80425fb"


@pytest.mark.root
def test_added_cap_is_held():
    status = _child("""
        import os, sys; sys.path.insert(0, os.getcwd())
        from engine.security.caps import apply_identity, resolve
        apply_identity(0, 0, [], resolve(['NET_ADMIN'], ['MKNOD'], False))
    """)
    eff = int(status["CapEff"], 16)
    assert eff >> 12 & 1 and not eff >> 27 & 1


def test_child_side_imports_stay_light():
    code = ("import sys; import engine.security.caps, engine.security.seccomp;"
            "bad = {'asyncio', 'ctypes.util', 'platform', 'json', 'hashlib', 'engine.security._libseccomp'} & set(sys.modules);"
            "sys.exit(str(bad) if bad else 0)")
    r = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); {code}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
