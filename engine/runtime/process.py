"""What runs in the forked child: set the container up, then execve its command.

Used for PID 1 (``container_child``) and for ``exec`` (``exec_child``). Both run
in a fork of the single-threaded monitor, never in a threaded process. Errors are
reported as one JSON object on a close-on-exec pipe (EOF on that pipe means the
execve succeeded), then the child exits 127 (command not found) or 126.
"""

from __future__ import annotations

import json
import os
import fcntl
import resource
import signal
import stat
import termios
from dataclasses import dataclass
from typing import Callable

from engine.runtime import namespaces, rootfs
from engine.runtime import syscalls as sc
from engine.runtime.users import Identity, resolve_identity

__all__ = ["Security", "Stdio", "container_child", "exec_child", "lookup_command", "DEFAULT_PATH"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RLIMITS = {"core": resource.RLIMIT_CORE, "cpu": resource.RLIMIT_CPU, "data": resource.RLIMIT_DATA,
           "fsize": resource.RLIMIT_FSIZE, "locks": 10,
           "memlock": resource.RLIMIT_MEMLOCK, "msgqueue": resource.RLIMIT_MSGQUEUE,
           "nice": resource.RLIMIT_NICE, "nofile": resource.RLIMIT_NOFILE,
           "nproc": resource.RLIMIT_NPROC, "rss": resource.RLIMIT_RSS, "rtprio": resource.RLIMIT_RTPRIO,
           "sigpending": resource.RLIMIT_SIGPENDING, "stack": resource.RLIMIT_STACK,
           "as": resource.RLIMIT_AS}


_PARENT = [0]  # getppid() at fork time (0 inside a new pid namespace)


class SetupError(Exception):
    """A setup failure with the exit code the container reports for it."""

    def __init__(self, message: str, code: int = 126, kind: str = "setup") -> None:
        super().__init__(message)
        self.code, self.kind = code, kind


@dataclass(slots=True)
class Security:
    """Privileges to apply just before execve (from engine.security, loaded before fork)."""

    caps: int | None = None
    bpf: bytes | None = None
    no_new_privs: bool = False
    apply_identity: Callable[[int, int, list[int], int], None] | None = None
    load_seccomp: Callable[[bytes], None] | None = None


@dataclass(slots=True)
class Stdio:
    """The fds that become the process's 0, 1, 2, and the error-report pipe."""

    stdin: int
    stdout: int
    stderr: int
    errw: int
    tty: bool = False


def lookup_command(name: str, path_env: str) -> str:
    """Find ``name`` like execvp; raise SetupError with Docker's wording when it is missing."""
    if "/" in name:
        try:
            st = os.stat(name)
        except OSError as exc:
            raise SetupError(f'exec: "{name}": stat {name}: {exc.strerror.lower()}', 127, "not_found")
        if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
            raise SetupError(f'exec: "{name}": permission denied', 126, "permission")
        return name
    for d in (path_env or DEFAULT_PATH).split(":"):
        cand = os.path.join(d or ".", name)
        if os.path.isfile(cand) and os.stat(cand).st_mode & 0o111:
            return cand
    raise SetupError(f'exec: "{name}": executable file not found in $PATH', 127, "not_found")


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _identity(user: str, group_add: list[str]) -> Identity:
    try:
        return resolve_identity(user, _read("/etc/passwd"), _read("/etc/group"), tuple(group_add))
    except Exception as exc:
        raise SetupError(str(exc), 126, "user") from None


def _env_with_defaults(env: list[str], ident: Identity, tty: bool) -> list[str]:
    keys = {e.split("=", 1)[0] for e in env}
    out = list(env)
    if "PATH" not in keys:
        out.insert(0, "PATH=" + DEFAULT_PATH)
    if "HOME" not in keys:
        out.append("HOME=" + ident.home)
    if tty and "TERM" not in keys:
        out.append("TERM=xterm")
    return out


def _drop_and_exec(path: str, argv: list[str], env: list[str], ident: Identity, sec: Security) -> None:
    """close fds, no_new_privs, seccomp and identity in the order seccomp needs, then execve."""
    sc.close_range(3, 0xFFFFFFFF, 4)  # CLOSE_RANGE_CLOEXEC: even the error pipe closes on exec
    os.umask(0o022)
    if sec.no_new_privs:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    if sec.bpf and sec.load_seccomp and not sec.no_new_privs:
        sec.load_seccomp(sec.bpf)  # without NNP, loading needs CAP_SYS_ADMIN: before the drop
    if sec.apply_identity is not None and sec.caps is not None:
        sec.apply_identity(ident.uid, ident.gid, list(ident.groups), sec.caps)
    else:
        os.setgroups(list(ident.groups))
        os.setresgid(ident.gid, ident.gid, ident.gid)
        os.setresuid(ident.uid, ident.uid, ident.uid)
    if sec.bpf and sec.load_seccomp and sec.no_new_privs:
        sec.load_seccomp(sec.bpf)
    # after the credential change (which clears it): if the monitor dies, so does this process
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != _PARENT[0]:
        os._exit(1)  # the monitor died before the line above
    os.execve(path, argv, dict(e.split("=", 1) for e in env if "=" in e))


def _report(io: Stdio, exc: BaseException) -> None:
    """Send the failure to the monitor, print it on stderr like Docker, and exit."""
    code = exc.code if isinstance(exc, SetupError) else 126
    kind = exc.kind if isinstance(exc, SetupError) else "setup"
    msg = str(exc) if isinstance(exc, SetupError) else f"{type(exc).__name__}: {exc}"
    try:
        os.write(io.errw, json.dumps({"kind": kind, "message": msg, "code": code}).encode())
        os.write(2, (msg + "\n").encode())
    finally:
        os._exit(code)


def _reset_signals() -> None:
    """Undo the monitor's (and Python's) ignored signals: SIG_IGN survives execve."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGXFSZ,
                signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)


def _stdio(io: Stdio) -> None:
    _reset_signals()
    os.setsid()
    for target, fd in ((0, io.stdin), (1, io.stdout), (2, io.stderr)):
        os.dup2(fd, target)
    if io.tty:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _close_inherited(keep: int) -> None:
    """Close every fd but 0-2 and ``keep`` (the error pipe) before any path inside the container
    is resolved: no host file or directory of the monitor stays reachable as /proc/self/fd/N
    (a workdir or symlink naming it would lead out of the rootfs, CVE-2024-21626)."""
    if keep > 3:
        sc.close_range(3, keep - 1)
    sc.close_range(max(keep + 1, 3))


def _enter_cwd(cwd: str) -> None:
    """chdir to the working directory (made if missing), refusing one outside the container's root."""
    os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
    try:
        here = os.getcwd()  # glibc reports a cwd not under our root as ENOENT ("(unreachable)")
    except OSError:
        here = ""
    if not here.startswith("/"):
        raise SetupError(f"working directory {cwd!r} is outside the container", 126, "cwd")


def _apply_limits(plan: dict) -> None:
    for name, soft, hard in plan.get("rlimits", []):
        resource.setrlimit(RLIMITS[name], (soft, hard))
    if plan.get("oom_score_adj"):
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(plan["oom_score_adj"]))


def container_child(plan: dict, io: Stdio, go_fd: int, sec: Security) -> None:
    """Become the container's PID 1: namespaces, rootfs, limits, identity, execve. Never returns."""
    _PARENT[0] = os.getppid()
    try:
        os.read(go_fd, 1)  # the monitor has put us in the cgroup
        namespaces.enter(plan["namespaces"])
        _stdio(io)
        _close_inherited(io.errw)
        _apply_limits(plan)
        merged = rootfs.prepare_rootfs(plan)
        if plan["namespaces"].get("uts", "private") == "private":
            sc.sethostname(plan["hostname"])
            if plan.get("domainname"):
                sc.setdomainname(plan["domainname"])
        if plan["namespaces"].get("net", "private") in ("private", "none"):
            namespaces.loopback_up()
        rootfs.pivot(merged)
        rootfs.finalize_rootfs(plan)
        _finish(plan["argv"], plan["env"], plan.get("cwd") or "/", plan.get("user", ""),
                plan.get("group_add", []), plan.get("init_path", ""), io.tty, sec)
    except BaseException as exc:  # noqa: BLE001 - everything must reach the monitor
        _report(io, exc)


def _finish(argv: list[str], env: list[str], cwd: str, user: str, group_add: list[str],
            init_path: str, tty: bool, sec: Security) -> None:
    """Resolve identity and command inside the container, then exec (through the init if any)."""
    ident = _identity(user, group_add)
    env = _env_with_defaults(env, ident, tty)
    _enter_cwd(cwd)
    if not argv:
        raise SetupError("no command specified", 126, "no_command")
    path_env = next((e[5:] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    path = lookup_command(argv[0], path_env)
    if init_path:
        path, argv = init_path, [init_path, "--", *argv]
    _drop_and_exec(path, argv, env, ident, sec)


def exec_child(pid1: int, req: dict, plan: dict, io: Stdio, go_fd: int, sec: Security) -> None:
    """Join PID 1's namespaces (mount last) and execve ``req['argv']`` there. Never returns."""
    _PARENT[0] = os.getppid()
    try:
        os.read(go_fd, 1)
        fds = [(os.open(f"/proc/{pid1}/ns/{k}", os.O_RDONLY | os.O_CLOEXEC), namespaces.NS_FLAGS[k])
               for k in ("ipc", "uts", "net", "cgroup", "mnt")]
        _stdio(io)
        _apply_limits(plan)
        namespaces.join(fds)
        _close_inherited(io.errw)
        env = list(plan["env"]) + list(req.get("env", []))
        _finish(list(req["argv"]), env, req.get("workdir") or plan.get("cwd") or "/",
                req.get("user") or plan.get("user", ""), plan.get("group_add", []), "",
                io.tty, sec)
    except BaseException as exc:  # noqa: BLE001
        _report(io, exc)
