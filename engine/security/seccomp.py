"""Seccomp for containers: compile a profile once (cached on disk), load the BPF in the child.

``load`` is what the container child imports: it needs only ctypes and libc by
soname. Compiling goes through ``_libseccomp``, imported lazily by the daemon side.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from engine.security.caps import DEFAULT_MASK, names

__all__ = ["default_bpf", "profile_bpf", "compile_cached", "load"]

_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_SECCOMP_SET_MODE_FILTER = 1
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


def compile_cached(profile: dict[str, Any], cache_dir: str, caps: int = DEFAULT_MASK) -> bytes:
    """BPF for ``profile`` and ``caps``, from ``cache_dir`` when already compiled.

    The key hashes the profile, the arch, the caps and libseccomp's version, so
    a change in any of them compiles afresh. Files are written atomically, through a
    temp file unique to the call (threads of one process compile concurrently).
    """
    import hashlib
    import json

    from engine.security import _libseccomp

    blob = json.dumps(profile, sort_keys=True, separators=(",", ":"))
    key = hashlib.sha256(f"{blob}|{os.uname().machine}|{caps:x}|{_libseccomp.version()}".encode()).hexdigest()
    path = os.path.join(cache_dir, f"{key}.bpf")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        pass
    bpf = _libseccomp.compile_profile(profile, ["CAP_" + n for n in names(caps)])
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f"{key}.", suffix=".tmp", dir=cache_dir)  # unique per thread
    try:
        with open(fd, "wb") as f:
            f.write(bpf)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return bpf


def default_bpf(cache_dir: str, caps: int = DEFAULT_MASK) -> bytes:
    """BPF of shoal's Docker-equivalent default profile for a container holding ``caps``."""
    from engine.security.default_profile import profile

    return compile_cached(profile(), cache_dir, caps)


def profile_bpf(path: str, cache_dir: str, caps: int = DEFAULT_MASK) -> bytes:
    """BPF of a Docker-format JSON profile file (``security_opt: seccomp=<file>``)."""
    import json

    with open(path, encoding="utf-8") as f:
        try:
            profile = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not a JSON seccomp profile: {e}") from e
    if not isinstance(profile, dict) or "defaultAction" not in profile:
        raise ValueError(f"{path}: a seccomp profile needs a defaultAction")
    return compile_cached(profile, cache_dir, caps)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load(bpf: bytes) -> None:
    """Install ``bpf`` as this process's seccomp filter (needs no_new_privs or CAP_SYS_ADMIN)."""
    if not bpf or len(bpf) % 8:
        raise ValueError("seccomp BPF must be a non-empty array of 8-byte instructions")
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    nr = _SYS_SECCOMP.get(os.uname().machine)
    if nr is not None:
        libc.syscall.restype = ctypes.c_long
        libc.syscall.argtypes = [ctypes.c_long, ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p]
        ret = libc.syscall(nr, _SECCOMP_SET_MODE_FILTER, 0, ctypes.byref(prog))
    else:
        libc.prctl.restype = ctypes.c_int
        libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
        ret = libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0)
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp filter load failed: {os.strerror(err)}")
