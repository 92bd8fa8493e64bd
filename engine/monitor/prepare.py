"""Monitor-side preparation before the fork: cgroup, security objects, stdio pipes, pid namespace."""

from __future__ import annotations

import os
from dataclasses import dataclass

from engine.runtime import syscalls as sc
from engine.runtime.process import Security

__all__ = ["Pipes", "open_cgroup", "load_security", "make_pipes", "enter_pid_namespace"]


@dataclass(slots=True)
class Pipes:
    """Both ends of a child's stdio: the monitor reads ``out``/``err`` (``out`` only with a tty)."""

    child_in: int
    child_out: int
    child_err: int
    out: int
    err: int  # -1 with a tty (merged into out)
    stdin_w: int  # -1 unless the caller sends stdin
    tty: bool
    slave_path: str = ""

    def close_child_ends(self) -> None:
        """Called in the monitor after the fork."""
        for fd in {self.child_in, self.child_out, self.child_err}:
            os.close(fd)


def make_pipes(tty: bool, want_stdin: bool = False) -> Pipes:
    """Pipes (or a pty) for a child's stdio; the monitor's ends are close-on-exec."""
    if tty:
        master, slave = os.openpty()
        os.set_inheritable(master, False)
        path = os.ttyname(slave)
        return Pipes(slave, slave, slave, master, -1, master if want_stdin else -1, True, path)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    if want_stdin:
        in_r, in_w = os.pipe2(os.O_CLOEXEC)
    else:
        in_r, in_w = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), -1
    return Pipes(in_r, out_w, err_w, out_r, err_r, in_w, False)


def open_cgroup(plan: dict):
    """Create the container's cgroup with its limits; None when cgroups are not available."""
    if not plan.get("cgroup"):
        return None
    try:
        from engine import cgroups
    except ImportError:
        return None
    from engine.spec import DeviceSpec, ResourceSpec, Ulimit

    res = dict(plan["resources"])
    res["ulimits"] = tuple(Ulimit(**u) for u in res.get("ulimits", ()))
    devices = tuple(DeviceSpec(**d) for d in plan.get("cgroup_devices", ()))
    driver = cgroups.open_driver(plan.get("cgroup_root", "/sys/fs/cgroup"))
    return driver.create(plan["cgroup"], ResourceSpec(**res), devices)


def load_security(plan: dict) -> Security:
    """Capability and seccomp functions plus the cached BPF, all loaded before fork and pivot."""
    sec = Security(no_new_privs=bool(plan.get("no_new_privs")))
    if plan.get("caps") is not None:
        from engine.security import caps

        sec.caps, sec.apply_identity = int(plan["caps"]), caps.apply_identity
    if plan.get("seccomp_bpf"):
        from engine.security import seccomp

        with open(plan["seccomp_bpf"], "rb") as f:
            sec.bpf = f.read()
        sec.load_seccomp = seccomp.load
    return sec


def enter_pid_namespace(mode: str) -> None:
    """Make the next fork land in a fresh (or the given) pid namespace; the monitor stays outside."""
    if mode in ("private", ""):
        sc.unshare(sc.CLONE_NEWPID)
    elif mode.startswith("/"):
        fd = os.open(mode, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.setns(fd, sc.CLONE_NEWPID)
        finally:
            os.close(fd)
