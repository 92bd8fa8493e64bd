"""Engine-side security inputs for a start: the capability mask and the cached seccomp BPF file.

Uses engine.security (caps, seccomp) when it is installed; without it the plan
carries no capability or seccomp settings and the monitor skips those steps.
"""

from __future__ import annotations

import os
import threading

from engine.spec import SecuritySpec

# Threads of one process share the cache's temp file name (it is per pid) and libseccomp: one at a time.
_COMPILE_LOCK = threading.Lock()

__all__ = ["capability_mask", "seccomp_file"]


def capability_mask(sec: SecuritySpec) -> int | None:
    """Effective capability bitmask for the container, or None when the module is missing."""
    try:
        from engine.security import caps
    except ImportError:
        return None
    return int(caps.resolve(tuple(sec.cap_add), tuple(sec.cap_drop), sec.privileged))


def seccomp_file(sec: SecuritySpec, caps: int | None, cache_dir: str, state_dir: str) -> str:
    """Write the container's compiled seccomp filter to its state dir; "" for none."""
    if sec.privileged or sec.seccomp == "unconfined":
        return ""
    try:
        from engine.security import seccomp
    except ImportError:
        return ""
    os.makedirs(cache_dir, exist_ok=True)
    with _COMPILE_LOCK:
        if sec.seccomp == "default":
            bpf = seccomp.default_bpf(cache_dir, caps) if caps is not None else seccomp.default_bpf(cache_dir)
        else:
            bpf = seccomp.profile_bpf(sec.seccomp, cache_dir)
    path = os.path.join(state_dir, "seccomp.bpf")
    with open(path, "wb") as f:
        f.write(bpf)
    return path
